"""Starts the graph's processes and keeps them running (what `ros2 launch` does, where it is not installed).

Each node runs in its own process, except nodes that share a ``process`` in the graph description: those
run together in one ``facecoach.single_process`` child (``SingleProcess`` puts every node in one).
``GraphProcesses`` starts them (``children``), has them watched and restarted (``supervisor``) and always
stops them in order, SIGINT then SIGKILL (``children.stop_all``).
"""

import json
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import yaml

from facecoach.graph import PROCESS_NAME, Graph, NodeSpec, spec_dict

from .children import HOLDS_SIGINT, STOP_TIMEOUT_S, Child, executable_path, stop_all
from .supervision import ProcessEvent, describe_exit, print_event
from .supervisor import Supervisor


class GraphProcesses:
    """The running nodes of one graph, supervised; a context manager that always stops them (SIGINT, then SIGKILL).

    ``on_event(ProcessEvent)`` is called from the supervisor thread (default: print on stderr); ``restart=False``
    only reports deaths. Start and use it from one thread that outlives it (the main thread): the kernel kills
    the children when the thread that started them ends.
    """

    def __init__(
        self,
        graph: Graph,
        nodes: List[NodeSpec],
        log_dir: Optional[Path] = None,
        extra_args=(),
        on_event: Optional[Callable[[ProcessEvent], None]] = None,
        restart: bool = True,
    ) -> None:
        self.graph = graph
        self.nodes = nodes
        self.log_dir = Path(log_dir) if log_dir else None
        self.extra_args = list(extra_args)
        self._children: Dict[str, Child] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="facecoach-")
        self._supervisor = Supervisor(self._children, restart, on_event or print_event)

    @property
    def events(self) -> List[ProcessEvent]:
        """What the supervisor saw so far, in order."""
        return self._supervisor.events

    def start(self) -> "GraphProcesses":
        """Start every process of the graph: a lone node as its executable, a group in one single_process."""
        tmp = Path(self._tmp.name)
        params_file = tmp / "params.yaml"
        params_file.write_text(yaml.safe_dump(self.graph.params_file_content(self.nodes)), encoding="utf-8")
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        try:
            for name, specs in self.graph.processes(self.nodes):
                if len(specs) == 1:
                    spec = specs[0]
                    cmd = [executable_path(spec.package, spec.executable)] + spec.ros_args(str(params_file))
                    held = spec.package in HOLDS_SIGINT
                else:
                    spec_file = tmp / f"{name}.json"
                    spec_file.write_text(json.dumps([spec_dict(s) for s in specs]), encoding="utf-8")
                    cmd = [executable_path("facecoach", "facecoach_single_process"), "--spec", str(spec_file)]
                    held = True
                cmd += self.extra_args
                child = Child(name, cmd, self.log_dir / f"{name}.log" if self.log_dir else None, held)
                self._children[name] = child
                child.spawn()
        except BaseException:  # a missing executable, Ctrl-C ...: stop what already runs (__exit__ will not)
            self.stop()
            raise
        self._supervisor.start()
        return self

    @property
    def procs(self) -> Dict[str, subprocess.Popen]:
        """The current Popen of each process."""
        return {name: p.popen for name, p in self._children.items() if p.popen is not None}

    def dead(self) -> Dict[str, int]:
        """Processes that died since the start, restarted or not, with the exit code of their latest death."""
        with self._supervisor.lock:
            out = {n: p.last_exit for n, p in self._children.items() if p.last_exit is not None}
            for name, p in self._children.items():
                code = p.popen.poll() if p.popen is not None and not self._supervisor.stopping.is_set() else None
                if code is not None:
                    out[name] = code  # died, and the supervisor has not looked yet
        return out

    def given_up(self) -> Dict[str, ProcessEvent]:
        """Processes the supervisor will not start again, with the event that said so."""
        with self._supervisor.lock:
            names = {n for n, p in self._children.items() if p.gave_up}
            return {e.name: e for e in self._supervisor.events if e.kind == "gave_up" and e.name in names}

    def down(self) -> List[str]:
        """Processes not running now (dead and waiting for their restart, or given up)."""
        with self._supervisor.lock:
            return [n for n, p in self._children.items() if p.gave_up or p.due is not None or p.popen is None]

    def status(self) -> List[Tuple[str, str, str, Dict[str, object]]]:
        """Each process as (name, level 'ok' | 'error', message, values): what /diagnostics reports."""
        out = []
        with self._supervisor.lock:
            for name, p in self._children.items():
                values: Dict[str, object] = {"pid": p.popen.pid if p.popen else 0, "restarts": p.restarts}
                if p.last_exit is not None:
                    values["last_exit"] = describe_exit(p.last_exit)
                if p.gave_up:
                    level, message = "error", f"not running: gave up after {values.get('last_exit', 'its start')}"
                elif p.due is not None:
                    level, message = "error", f"died ({values['last_exit']}); restarting"
                else:
                    level, message = "ok", "running" + (f", restarted {p.restarts}x" if p.restarts else "")
                out.append((name, level, message, values))
        return out

    def restarts(self) -> Dict[str, int]:
        """How many times each process was started again."""
        return {name: p.restarts for name, p in self._children.items()}

    def pids(self) -> Dict[str, int]:
        """Process id of each node."""
        return {name: p.pid for name, p in self.procs.items()}

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> Dict[str, int]:
        """SIGINT every process (a clean DDS shutdown), then SIGKILL what is left; return exit codes.

        A KeyboardInterrupt while waiting (a second Ctrl-C) skips the rest of the wait: what is left is killed.
        """
        with self._supervisor.lock:
            self._supervisor.stopping.set()  # the supervisor restarts nothing from here on
            popens = [c.popen for c in self._children.values() if c.popen is not None]
        try:
            stop_all(popens, timeout)
        finally:
            self._supervisor.finish()
            for c in self._children.values():
                if c.reader is not None:
                    c.reader.join(1.0)
            self._tmp.cleanup()
        return {name: p.returncode for name, p in self.procs.items()}

    def __enter__(self) -> "GraphProcesses":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class SingleProcess(GraphProcesses):
    """Every node of the graph in one child process on one executor (the memory saver for a 4 GB Jetson)."""

    def __init__(
        self, graph: Graph, nodes: List[NodeSpec], log_dir: Optional[Path] = None, extra_args=(), **kw
    ) -> None:
        super().__init__(graph, [replace(n, process=PROCESS_NAME) for n in nodes], log_dir, extra_args, **kw)
