"""Starts the graph's processes (what `ros2 launch` does, where it is not installed).

Each node runs in its own process, except nodes that share a ``process`` in the graph description: those
run together in one ``facecoach.single_process`` child (``SingleProcess`` puts every node in one).
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
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

    def start(self) -> "GraphProcesses":
        """Start every process of the graph: a lone node as its executable, a group in one single_process."""
        tmp = Path(self._tmp.name)
        params_file = tmp / "params.yaml"
        params_file.write_text(yaml.safe_dump(self.graph.params_file_content(self.nodes)), encoding="utf-8")
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        for name, specs in self.graph.processes(self.nodes):
            if len(specs) == 1:
                spec = specs[0]
                cmd = [executable_path(spec.package, spec.executable)] + spec.ros_args(str(params_file))
                cmd += self.extra_args
            else:
                spec_file = tmp / f"{name}.json"
                spec_file.write_text(json.dumps([spec_dict(s) for s in specs]), encoding="utf-8")
                cmd = [sys.executable, "-m", "facecoach.single_process", "--spec", str(spec_file)] + self.extra_args
            out = open(self.log_dir / f"{name}.log", "wb") if self.log_dir else None  # noqa: SIM115 - child owns it
            self.procs[name] = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT if out else None)
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

    def __enter__(self) -> "GraphProcesses":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class SingleProcess(GraphProcesses):
    """Every node of the graph in one child process on one executor (the memory saver for a 4 GB Jetson)."""

    def __init__(self, graph: Graph, nodes: List[NodeSpec], log_dir: Optional[Path] = None, extra_args=()) -> None:
        super().__init__(graph, [replace(n, process=PROCESS_NAME) for n in nodes], log_dir, extra_args)


PROCESS_NAME = "single_process"


def spec_dict(spec: NodeSpec) -> dict:
    """A node spec as JSON data (what a single_process child reads with --spec)."""
    return {
        "name": spec.name,
        "package": spec.package,
        "executable": spec.executable,
        "modes": list(spec.modes),
        "parameters": spec.parameters,
        "remappings": spec.remappings,
        "process": spec.process,
    }


def spec_from_dict(d: dict) -> NodeSpec:
    """The inverse of :func:`spec_dict`."""
    return NodeSpec(
        d["name"],
        d["package"],
        d["executable"],
        tuple(d["modes"]),
        dict(d["parameters"]),
        dict(d["remappings"]),
        d.get("process", ""),
    )
