"""The runtime (what a node process, single-process mode and the launch files import) is Python 3.6 code.

The Jetson Nano's JetPack 4.6 runs CPython 3.6.9; newer Jetsons 3.10; this machine 3.11. Every runtime
module is compiled by CPython 3.6, 3.8, 3.10 and 3.12 (pyenv's interpreters; a missing one is a skip
that says how to get it), every standard-library name it uses is looked up in each of them, and the
annotations that those versions evaluate at import time are checked for 3.9/3.10-only forms.
The device-profile test (test_device_profile.py) then runs the runtime's unit tests on 3.6.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Set, Tuple

import pytest

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
# The runtime is a package boundary: the bring-up package (what `ros2 launch facecoach ...` runs) and every package
# of this workspace it depends on, directly or not (package.xml). A runtime package's tooling/ subpackage is
# development-only (train, quantize, evaluate ...; never imported by a node). The facecoach command
# (facecoach_cli) depends on the runtime, never the other way round, so it is not part of it.
BRING_UP = "facecoach"
DEVELOPMENT_ONLY = "tooling"
VERSIONS = ("3.6", "3.8", "3.10", "3.12")  # the Nano, Focal, Orin/Jammy, Noble
# Provided by a backport on 3.6 (requirements-device.txt), so not looked up in pyenv's bare 3.6.
BACKPORTED = {"3.6": {"dataclasses"}}
# Calls whose keyword arguments appeared after 3.6: (function name, keyword) -> version that added it.
NEW_KEYWORDS = {
    ("run", "capture_output"): "3.7",
    ("run", "text"): "3.7",
    ("Popen", "text"): "3.7",
    ("check_output", "text"): "3.7",
    ("unlink", "missing_ok"): "3.8",
    ("copytree", "dirs_exist_ok"): "3.8",
    ("basicConfig", "force"): "3.8",
    ("dataclass", "slots"): "3.10",
    ("dataclass", "kw_only"): "3.10",
    ("zip", "strict"): "3.10",
    ("add_subparsers", "required"): "3.7",
}
# Methods of builtins / pathlib that appeared after 3.6 (called as x.name(...)).
NEW_METHODS = {
    "removeprefix": "3.9",
    "removesuffix": "3.9",
    "is_relative_to": "3.9",
    "with_stem": "3.9",
    "isascii": "3.7",
    "bit_count": "3.10",
    "readlink": "3.9",
    "hardlink_to": "3.10",
}
BUILTIN_GENERICS = {"list", "dict", "tuple", "set", "frozenset", "type"}


def _runtime_dependencies(package: str) -> Set[str]:
    """The packages of this workspace that ``package`` needs at run time (depend and exec_depend)."""
    return {n for n in _declared(package, RUN_TAGS) if (SRC / n / "package.xml").is_file()}


def runtime_packages() -> List[str]:
    """The bring-up and what it depends on, transitively: the Python packages whose modules run on the device."""
    todo, seen = [BRING_UP], set()
    while todo:
        package = todo.pop()
        if package not in seen:
            seen.add(package)
            todo.extend(_runtime_dependencies(package))
    return sorted(p for p in seen if (SRC / p / p / "__init__.py").is_file())  # facecoach_msgs has no Python here


def runtime_files() -> List[Path]:
    """Every runtime source file: the runtime packages' modules (but their tooling/), and the launch files."""
    files = []
    for name in runtime_packages():
        package_dir = SRC / name / name
        for path in sorted(package_dir.rglob("*.py")):
            if DEVELOPMENT_ONLY not in path.relative_to(package_dir).parts[:-1]:
                files.append(path)
    files += sorted((REPO / "launch").glob("*.launch.py"))
    return files


def find_python(version: str) -> Optional[str]:
    """pyenv's CPython ``version`` (pyenv root, $PYENV_ROOT, ~/.pyenv), else python<version> on PATH."""
    roots = []
    if shutil.which("pyenv"):
        done = subprocess.run(["pyenv", "root"], capture_output=True, text=True)
        roots.append(done.stdout.strip())
    roots += [os.environ.get("PYENV_ROOT", ""), str(Path.home() / ".pyenv"), "/root/.pyenv"]
    for root in filter(None, roots):
        for exe in sorted(Path(root, "versions").glob(f"{version}.*/bin/python{version}")):
            return str(exe)
    return shutil.which(f"python{version}")


def _interpreter(version: str) -> str:
    exe = find_python(version)
    if exe is None:
        pytest.skip(
            f"CPython {version} not found (looked in pyenv's versions and for python{version} on PATH); "
            f"get it with: pyenv install {version} (https://github.com/pyenv/pyenv)"
        )
    return exe


def test_the_runtime_is_what_the_nodes_import():
    assert runtime_packages() == [
        "alert_player",
        "emotion_classifier",
        "face_detector",
        "facecoach",
        "facecoach_bag",
        "facecoach_common",
    ]
    names = {str(p.relative_to(REPO)) for p in runtime_files()}
    for expected in (
        "src/emotion_classifier/emotion_classifier/weight_file.py",
        "src/emotion_classifier/emotion_classifier/node.py",
        "src/emotion_classifier/emotion_classifier/calibration.py",
        "src/face_detector/face_detector/capture.py",
        "src/alert_player/alert_player/voice.py",
        "src/facecoach_common/facecoach_common/settings.py",
        "src/facecoach/facecoach/entry.py",
        "src/facecoach_common/facecoach_common/startup.py",
        "src/facecoach/facecoach/single_process.py",
        "src/facecoach/facecoach/graph.py",
        "src/facecoach/facecoach/executors.py",
        "src/facecoach/facecoach/launch_description.py",
        "src/facecoach_bag/facecoach_bag/player.py",
        "src/facecoach_bag/facecoach_bag/replay.py",
        "src/facecoach_common/facecoach_common/stopping.py",
        "launch/jetson.launch.py",
    ):
        assert expected in names
    assert not any("/tooling/" in n for n in names)
    assert not any(n.startswith("src/facecoach_cli/") for n in names)


# Compiles each file given on the command line; prints a JSON list of "file:line: error".
_COMPILE = """
import json, sys
errors = []
for path in sys.argv[1:]:
    with open(path, "rb") as fh:
        source = fh.read()
    try:
        compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        errors.append("%s:%s: %s" % (path, exc.lineno, exc.msg))
print(json.dumps(errors))
"""


@pytest.mark.parametrize("version", VERSIONS)
def test_runtime_compiles_on(version):
    """Byte-compile every runtime module (py_compile's check, without writing .pyc files into the tree)."""
    exe = _interpreter(version)
    files = [str(p) for p in runtime_files()]
    done = subprocess.run([exe, "-c", _COMPILE] + files, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    errors = json.loads(done.stdout)
    assert not errors, f"does not compile on CPython {version}:\n" + "\n".join(errors)


def _stdlib_names(tree: ast.AST) -> Set[Tuple[str, str]]:
    """(module, attribute) pairs of the standard library that a module uses: ``from m import a``, ``m.a``."""
    stdlib = sys.stdlib_module_names
    aliases: Dict[str, str] = {}  # local name -> module, for "import m" / "import m.sub as x"
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                top = a.name.split(".")[0]
                if top in stdlib:
                    used.add((a.name, ""))
                    aliases[a.asname or top] = a.name if a.asname else top
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module.split(".")[0] in stdlib:
            used.update((node.module, a.name) for a in node.names)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            used.add((aliases[node.value.id], node.attr))
    return used


# Looks up each (module, attribute) read from stdin; prints a JSON list of the missing ones.
_LOOKUP = """
import importlib, json, sys
missing = []
for module, attr in json.loads(sys.stdin.read()):
    try:
        m = importlib.import_module(module)
    except ImportError:
        missing.append([module, attr])
        continue
    if attr and not hasattr(m, attr):
        try:  # "from package import submodule"
            importlib.import_module(module + "." + attr)
        except ImportError:
            missing.append([module, attr])
print(json.dumps(missing))
"""


@pytest.mark.parametrize("version", VERSIONS)
def test_runtime_uses_only_stdlib_names_that_exist_on(version):
    """``time.monotonic_ns``, ``math.prod``, ``functools.cached_property``, ``asyncio.run`` ... must not appear."""
    exe = _interpreter(version)
    where: Dict[Tuple[str, str], List[str]] = {}
    for path in runtime_files():
        for pair in _stdlib_names(ast.parse(path.read_text(), str(path))):
            if pair[0].split(".")[0] not in BACKPORTED.get(version, ()):
                where.setdefault(pair, []).append(str(path.relative_to(REPO)))
    done = subprocess.run(
        [exe, "-c", _LOOKUP],
        input=json.dumps(sorted(where)).encode(),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()
    missing = [tuple(m) for m in json.loads(done.stdout)]
    report = [f"{m}{'.' + a if a else ''} (used in {', '.join(where[(m, a)])})" for m, a in missing]
    assert not report, f"not in CPython {version}'s standard library:\n" + "\n".join(report)


def _annotations(node: ast.AST):
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = node.args
        every = args.args + args.kwonlyargs + getattr(args, "posonlyargs", [])
        every += [a for a in (args.vararg, args.kwarg) if a is not None]
        yield from (a.annotation for a in every if a.annotation is not None)
        if node.returns is not None:
            yield node.returns
    elif isinstance(node, ast.AnnAssign):
        yield node.annotation


def _problems(path: Path) -> List[str]:
    """What CPython 3.6 would refuse at import time or at the call, though it compiles."""
    tree = ast.parse(path.read_text(), str(path))
    future = any(
        isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
        for n in tree.body
    )
    out = [] if future else _early_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            if any(a.name == "annotations" for a in node.names):
                out.append(f"{node.lineno}: 'from __future__ import annotations' is Python 3.7+")
        for ann in _annotations(node):
            for sub in ast.walk(ann):
                if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.BitOr):
                    out.append(f"{ann.lineno}: 'X | Y' annotation (Python 3.10+; use Optional/Union)")
                if isinstance(sub, ast.Subscript) and isinstance(sub.value, ast.Name):
                    if sub.value.id in BUILTIN_GENERICS:
                        out.append(f"{ann.lineno}: '{sub.value.id}[...]' annotation (Python 3.9+; use typing)")
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            for kw in node.keywords:
                if (name, kw.arg) in NEW_KEYWORDS:
                    out.append(f"{node.lineno}: {name}({kw.arg}=...) is Python {NEW_KEYWORDS[(name, kw.arg)]}+")
            if isinstance(func, ast.Attribute) and func.attr in NEW_METHODS:
                out.append(f"{node.lineno}: .{func.attr}() is Python {NEW_METHODS[func.attr]}+")
            if name in ("read_text", "write_text") and not any(kw.arg == "encoding" for kw in node.keywords):
                # Before 3.7 (PEP 538/540) a C-locale container decodes files as ASCII: config YAML would fail.
                out.append(f"{node.lineno}: .{name}() without encoding= (Python 3.6 uses the locale's codec)")
    return out


def _early_names(tree: ast.Module) -> List[str]:
    """Annotations that name what does not exist yet when they are evaluated (no postponed evaluation on 3.6).

    The enclosing class (``def copy(self) -> Box`` inside ``class Box``) and module-level classes and
    functions defined further down; both need quotes.
    """
    later = {}
    for n in tree.body:
        if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            later.setdefault(n.name, n.lineno)
    out = []

    def visit(body, enclosing: Set[str]) -> None:
        for n in body:
            if isinstance(n, ast.ClassDef):
                visit(n.body, enclosing | {n.name})
                continue
            for ann in _annotations(n):
                for sub in ast.walk(ann):
                    if isinstance(sub, ast.Name) and (sub.id in enclosing or later.get(sub.id, 0) > n.lineno):
                        out.append(f"{sub.lineno}: annotation {sub.id} is evaluated before it exists (quote it)")

    visit(tree.body, set())
    return out


def test_runtime_has_no_annotations_or_calls_newer_than_python36():
    found = []
    for path in runtime_files():
        found += [f"{path.relative_to(REPO)}:{p}" for p in _problems(path)]
    assert not found, "\n".join(found)


def test_the_checks_catch_what_they_are_for(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "from __future__ import annotations\n"
        "import subprocess, time\n"
        "def f(x: int | None, y: list[str]) -> dict[str, int]:\n"
        "    subprocess.run(['true'], capture_output=True, text=True)\n"
        "    open('x').read_text()\n"
        "    return 'a'.removeprefix('b'), time.monotonic_ns()\n"
        "class Box:\n"
        "    def grown(self) -> Box: ...\n"
        "def g(x: Later): ...\n"
        "class Later: ...\n"
    )
    problems = "\n".join(_problems(bad))
    needles = ("__future__", "'X | Y'", "'list[...]'", "'dict[...]'", "capture_output", "text=", "removeprefix")
    needles += ("encoding",)
    assert "annotation Box is evaluated before it exists" in "\n".join(_early_names(ast.parse(bad.read_text())))
    assert "annotation Later is evaluated before it exists" in "\n".join(_early_names(ast.parse(bad.read_text())))
    for needle in needles:
        assert needle in problems
    assert ("time", "monotonic_ns") in _stdlib_names(ast.parse(bad.read_text()))


# --------------------------------------------------------------------------------------------------
# package.xml: what the runtime imports is declared, and every key resolves with rosdep on Humble
# (the Nano's bionic containers included: python3-torch is undefined there, so torch is not a key).
IMPORT_KEYS = {"numpy": "python3-numpy", "cv2": "python3-opencv", "yaml": "python3-yaml"}
ROS_PACKAGES = {
    "rclpy",
    "rcl_interfaces",
    "std_msgs",
    "std_srvs",
    "sensor_msgs",
    "diagnostic_msgs",
    "builtin_interfaces",
    "ament_index_python",
    "launch",
    "launch_ros",
    "ament_cmake",
    "rosidl_default_generators",
    "rosidl_default_runtime",
}
SYSTEM_KEYS = {"python3-numpy", "python3-opencv", "python3-yaml", "python3-pytest", "alsa-utils"}
FROM_THE_IMAGE = {"torch"}  # NVIDIA's wheel / the jetson-containers image; README "On the Jetson Nano"
# Used when installed, imported where they are used: weight_file's numpy reader does without safetensors;
# the ONNX backend needs onnxruntime (NVIDIA's onnxruntime-gpu wheel on a Jetson: no rosdep key either);
# facecoach_bag reads and writes bags with rosbags (pip, the development machine; the device plays with `ros2 bag`),
# and inflates compressed bags with the zstd module rosbags depends on (backports.zstd, Python 3.14's compression)
# or with lz4 (an MCAP chunk's size checked before rosbags inflates it, mcap_chunks);
# image_conversions converts raw images with cv_bridge where it imports, with its own code elsewhere (a declared
# cv_bridge would make rosdep fail in the Nano's source-built Humble container, where no apt package has it).
OPTIONAL = {"safetensors", "onnxruntime", "rosbags", "backports", "compression", "lz4", "cv_bridge"}


RUN_TAGS = ("depend", "exec_depend")
ALL_TAGS = RUN_TAGS + ("build_depend", "buildtool_depend", "test_depend")


def _declared(package: str, tags: Sequence[str] = ALL_TAGS) -> Set[str]:
    import xml.etree.ElementTree as ET

    root = ET.parse(SRC / package / "package.xml").getroot()
    return {e.text.strip() for tag in tags for e in root.iter(tag)}


def _package_of(path: Path) -> str:
    return "launch" if path.parent == REPO / "launch" else path.relative_to(SRC).parts[0]


def test_every_package_xml_key_resolves_on_humble():
    ours = {p.name for p in SRC.iterdir() if (p / "package.xml").is_file()}
    for package in sorted(ours):
        unknown = _declared(package) - ours - ROS_PACKAGES - SYSTEM_KEYS
        assert not unknown, f"{package}/package.xml: {sorted(unknown)} may not resolve with rosdep on Humble"
        assert "python3-torch" not in _declared(package)


def test_what_the_runtime_imports_is_declared():
    stdlib = sys.stdlib_module_names
    missing = []
    for path in runtime_files():
        package = _package_of(path)
        declared = _declared("facecoach" if package == "launch" else package)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module.split(".")[0]]
            for name in names:
                if name in stdlib or name in FROM_THE_IMAGE | OPTIONAL or name in (package, "facecoach"):
                    continue
                key = IMPORT_KEYS.get(name, name)
                if key not in declared:
                    missing.append(f"{path.relative_to(REPO)}: imports {name}, {package}/package.xml lacks {key}")
    assert not missing, "\n".join(sorted(set(missing)))
