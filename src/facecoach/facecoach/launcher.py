"""Starts the graph's nodes as separate processes (what `ros2 launch` does, where it is not installed)."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from .graph import Graph, NodeSpec


class LaunchError(RuntimeError):
    """A node could not be started or died."""


def executable_path(package: str, executable: str) -> str:
    """install/<package>/lib/<package>/<executable>, found through the ament index like `ros2 run`."""
    from ament_index_python.packages import PackageNotFoundError, get_package_prefix

    try:
        path = Path(get_package_prefix(package)) / "lib" / package / executable
    except PackageNotFoundError as exc:
        raise LaunchError(f"package {package!r} is not installed (run `make setup`, then `source env.sh`)") from exc
    if not os.access(path, os.X_OK):
        raise LaunchError(f"{path}: no such executable (run `make setup` to rebuild the workspace)")
    return str(path)


class GraphProcesses:
    """The running nodes of one graph; a context manager that always stops them (SIGINT, then SIGKILL)."""

    def __init__(self, graph: Graph, nodes: List[NodeSpec], log_dir: Optional[Path] = None, extra_args=()) -> None:
        self.graph = graph
        self.nodes = nodes
        self.log_dir = Path(log_dir) if log_dir else None
        self.extra_args = list(extra_args)
        self.procs: Dict[str, subprocess.Popen] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="facecoach-")

    def start(self) -> GraphProcesses:
        """Start every node, each in its own process."""
        params_file = Path(self._tmp.name) / "params.yaml"
        params_file.write_text(yaml.safe_dump(self.graph.params_file_content(self.nodes)))
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        for spec in self.nodes:
            cmd = [executable_path(spec.package, spec.executable)] + spec.ros_args(str(params_file)) + self.extra_args
            out = open(self.log_dir / f"{spec.name}.log", "wb") if self.log_dir else None
            self.procs[spec.name] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT if out else None)
        return self

    def dead(self) -> Dict[str, int]:
        """Nodes that exited, with their exit codes."""
        return {name: p.returncode for name, p in self.procs.items() if p.poll() is not None}

    def pids(self) -> Dict[str, int]:
        """Process id of each node."""
        return {name: p.pid for name, p in self.procs.items()}

    def stop(self, timeout: float = 10.0) -> Dict[str, int]:
        """SIGINT every node (a clean DDS shutdown), then SIGKILL what is left; return exit codes."""
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        for p in self.procs.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self._tmp.cleanup()
        return {name: p.returncode for name, p in self.procs.items()}

    def __enter__(self) -> GraphProcesses:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
