"""Print the model card's and the README's tables of figures from the committed evaluation runs in models/.

Every figure in those tables comes from a JSON file that a `bin/facecoach` command wrote (the file records the
command); this prints them as the Markdown the documents hold, so re-made models give re-made tables, and
`test/test_model_card.py` checks that the documents hold what this prints.

    python tools/card_tables.py            # every table, each under its name
    python tools/card_tables.py results    # one of them
    python tools/card_tables.py --write    # put every table into its document, in place of the old one
"""

import json
import sys
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Sequence

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "models"
CLASSES = ("fear", "happy", "neutral", "sad", "surprise")
VARIANTS = ("baseline", "int16", "int8", "int4", "pruned", "int8_native")
PAPER = {
    "baseline": "67.5 % (its own val split), 10.41 MB",
    "int16": "67.5 %, 4.96 MB",
    "int8": "67.5 %, 2.48 MB",
    "int4": "64.5 %, 2.48 MB",
    "pruned": "steep loss past ratio 0.4–0.5 without fine-tuning",
    "int8_native": "static int8 lost half its accuracy (no calibration)",
}
WHAT = {
    "baseline": "the paper's CNN, float32",
    "int16": "symmetric per-tensor int16 codes, float compute",
    "int8": "symmetric per-channel int8 codes, float compute",
    "int4": "symmetric per-channel int4 codes (packed), float compute",
    "int8_native": "calibrated static int8, integer kernels (CPU only): 1.9× faster than float in `make bench`",
}


def _load(name: str) -> dict:
    return json.loads((MODELS / name).read_text())


def _pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def _pt(x: float) -> str:
    """A signed difference in points, with a real minus sign."""
    return f"{100 * x:+.2f}".replace("-", "−")


def _mb(v: dict) -> str:
    return f"{v['file_bytes'] / 1e6:.2f} MB"


def _row(cells: List[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: List[str], rows: List[List[str]]) -> str:
    return "\n".join([_row(header), _row(["---"] * len(header))] + [_row(r) for r in rows])


# Stored-code variants: (accuracy tolerance, largest file in MB, the target as the card states it).
QUANT_TARGETS = {
    "int16": (0.001, 5.3, "baseline ± 0.1 pt"),
    "int8": (0.003, 2.7, "≥ baseline − 0.3 pt"),
    "int4": (0.015, 1.4, "≥ baseline − 1.5 pt"),
}


def target(name: str, v: dict, base: dict) -> str:
    """The variant's acceptance target (issue 18's where it is stricter than the first issues') and its result."""
    d = v["accuracy"] - base["accuracy"]
    size = v["file_bytes"] / 1e6
    if name == "baseline":
        ok = v["accuracy"] >= 0.72 and size <= 10.5
        return f"≥ 72.0 % (issue 18), ≤ 10.5 MB — {'met' if ok else 'not met'}"
    if name == "pruned":
        ratio = base["macs"] / v["macs"]
        ok = d >= -0.025 and ratio >= 4
        return f"≥ baseline − 2.5 pt with ≥ 4× fewer MACs — {'met' if ok else 'not met'} ({_pt(d)}, {ratio:.2f}×)"
    if name == "int8_native":
        return f"within 1 pt of fp32 (issue 5) — {'met' if abs(d) <= 0.01 else 'not met'} ({_pt(d)})"
    tol, max_mb, text = QUANT_TARGETS[name]
    ok = (abs(d) if name == "int16" else -d) <= tol + 1e-9 and size <= max_mb
    return f"{text}, ≤ {max_mb} MB — {'met' if ok else 'not met'} ({_pt(d)})"


def results() -> str:
    """The test split without flips: accuracy, size, MACs, latency and each variant's target."""
    runs = _load("eval_test.json")["variants"]
    base = runs["baseline"]
    rows = []
    for name in VARIANTS:
        v = runs[name]
        rows.append(
            [name, f"**{_pct(v['accuracy'])}**", _pct(v["macro_f1"]), _mb(v), f"{v['macs'] / 1e6:.2f}"]
            + [f"{v['latency_ms_per_face']:.2f}", target(name, v, base), PAPER[name]]
        )
    return _table(["variant", "accuracy", "macro F1", "size", "MMAC", "ms/face", "issue target", "paper"], rows)


def per_class() -> str:
    """Per-class recall (%) on the test split without flips."""
    runs = _load("eval_test.json")["variants"]
    rows = [[n] + [f"{100 * runs[n]['per_class_recall'][c]:.1f}" for c in CLASSES] for n in VARIANTS]
    return _table(["variant"] + list(CLASSES), rows)


def flips() -> str:
    """The test split with test-time flips, and the gain over no flips."""
    plain, flip = _load("eval_test.json")["variants"], _load("eval_test_flip.json")["variants"]
    rows = []
    for n in VARIANTS:
        v = flip[n]
        acc = f"**{_pct(v['accuracy'])}**" if n == "baseline" else _pct(v["accuracy"])
        gain = _pt(v["accuracy"] - plain[n]["accuracy"]) + " pt"
        rows.append([n, acc, _pct(v["macro_f1"]), f"{v['latency_ms_per_face']:.2f}", gain])
    return _table(["variant", "accuracy", "macro F1", "ms/face", "vs. without flips"], rows)


def coaching() -> str:
    """What the coach makes of it: per-category recall / precision and the two bad-frame rules (flips)."""
    runs = _load("eval_test_flip.json")["variants"]
    threshold = runs["baseline"]["coaching"]["bad_probability_rule"]["threshold"]
    rows = []
    for n in VARIANTS:
        c = runs[n]["coaching"]
        cats = [c["per_category"][k] for k in ("good", "acceptable", "bad")]
        cats = [f"{k['recall']:.3f} / {k['precision']:.3f}" for k in cats]
        p, lab = c["bad_probability_rule"], c["bad_label_rule"]
        rows.append(
            [n]
            + cats
            + [f"{c['bad_average_precision']:.3f}"]
            + [f"{p['recall']:.3f} / {p['precision']:.3f} / **{p['f1']:.3f}**"]
            + [f"{lab['recall']:.3f} / {lab['precision']:.3f} / {lab['f1']:.3f}"]
        )
    header = ["variant", "good", "acceptable", "bad", "bad AP", f"P(bad) ≥ {threshold}: recall / precision / F1"]
    return _table(header + ["label rule: recall / precision / F1"], rows)


def onnx() -> str:
    """ONNX Runtime: the float export and int8_qdq, with and without flips."""
    plain, flip = _load("eval_test_onnx.json")["variants"], _load("eval_test_onnx_flip.json")["variants"]
    rows = []
    for n, label in (("baseline", "baseline (fp32)"), ("int8_qdq", "int8_qdq")):
        v = plain[n]
        acc = _pct(v["accuracy"])
        if n == "int8_qdq":
            acc = f"**{acc}** ({_pt(v['accuracy'] - plain['baseline']['accuracy'])} pt)"
        lat = [f"{v['latency_ms_per_face']:.2f}", f"{flip[n]['latency_ms_per_face']:.2f}"]
        rows.append([label, acc, _pct(flip[n]["accuracy"]), _mb(v)] + lat)
    return _table(["onnxruntime", "accuracy", "with flips", "size", "ms/face", "ms/face with flips"], rows)


def variants_readme() -> str:
    """The README's table of the weight variants."""
    plain, flip = _load("eval_test.json")["variants"], _load("eval_test_flip.json")["variants"]
    what = dict(WHAT)
    ratio = plain["baseline"]["macs"] / plain["pruned"]["macs"]
    what["pruned"] = f"52 % of channels/neurons pruned, fine-tuned: {ratio:.2f}× fewer MACs"
    rows = [
        [f"`{n}`", _pct(plain[n]["accuracy"]), _pct(flip[n]["accuracy"]), _mb(plain[n])]
        + [f"{plain[n]['macs'] / 1e6:.1f}", what[n]]
        for n in VARIANTS
    ]
    return _table(["variant", "accuracy", "with `flip_tta`", "file", "MMAC", "what"], rows)


HOLDS = (("faces", "20 faces"), ("one_face", "one face"))
# (kind in eval_calibration.json, the card's name, the README's name)
KINDS = (
    ("none", "plain", "the plain test set"),
    ("camera", "camera", "camera"),
    ("camera+resting", "camera + resting", "camera + resting face"),
)


def _arrow(r: dict, get: Callable[[dict], float], unit: str = "") -> str:
    return f"{100 * get(r['without']):.1f} → {100 * get(r['with']):.1f}{unit}"


def _calibration_rows(classes: Sequence[str], unit: str = "") -> Iterator[tuple]:
    """(kind names, hold, cells) per kind of user and hold: accuracy, macro recall, classes' recall, without → with."""
    res = _load("eval_calibration.json")["results"]
    metrics = [lambda m: m["accuracy"], lambda m: m["macro_recall"]]
    metrics += [lambda m, c=c: m["recall"][c] for c in classes]
    for names in KINDS:
        for hold, hold_text in HOLDS:
            yield names, hold_text, [_arrow(res[f"{names[0]}/{hold}"], get, unit) for get in metrics]


def calibration() -> str:
    """Calibration to the user, without → with, every class (the model card's table)."""
    rows = [[f"{names[1]} / {hold}"] + cells for names, hold, cells in _calibration_rows(CLASSES)]
    return _table(["user / hold", "accuracy", "macro recall"] + list(CLASSES), rows)


def calibration_readme() -> str:
    """Calibration to the user, without → with (the README's shorter table)."""
    rows = [[names[2], hold] + cells for names, hold, cells in _calibration_rows(("neutral", "sad"), " %")]
    header = ["user", "hold", "accuracy without → with", "macro recall", "neutral recall", "sad recall"]
    return _table(header, rows)


def hold_check() -> str:
    """The share of 20-face holds of each expression that the hold check accepts, per kind of user."""
    accepted = _load("eval_calibration.json")["hold_check"]["accepted"]
    order = ("neutral", "fear", "sad", "happy", "surprise")
    names = {"none": "plain test set", "camera": "camera", "camera+resting": "camera + resting face"}
    rows = [[names[k]] + [f"{100 * accepted[k][c]:.0f} %" for c in order] for k, _, _ in KINDS]
    return _table(["kind of user"] + list(order), rows)


def prune_sweep() -> str:
    """The pruning sweep (docs/prune_sweep/prune_sweep.json, written by `facecoach prune-sweep`)."""
    rows = json.loads((REPO / "docs" / "prune_sweep" / "prune_sweep.json").read_text())["rows"]
    return _table(
        ["ratio", "params", "MMAC", "MB", "val % no fine-tuning", "val % fine-tuned"],
        [
            [f"{r['ratio']:.1f}", f"{r['params']:,}", f"{r['macs'] / 1e6:.2f}", f"{r['file_bytes'] / 1e6:.2f}"]
            + [f"{100 * r['val_accuracy']:.2f}", f"{100 * r['val_accuracy_finetuned']:.2f}"]
            for r in rows
        ],
    )


# name -> (document, table): the document that holds the table verbatim.
TABLES: Dict[str, tuple] = {
    "results": ("models/README.md", results),
    "per_class": ("models/README.md", per_class),
    "flips": ("models/README.md", flips),
    "coaching": ("models/README.md", coaching),
    "onnx": ("models/README.md", onnx),
    "prune_sweep": ("models/README.md", prune_sweep),
    "calibration": ("models/README.md", calibration),
    "hold_check": ("models/README.md", hold_check),
    "variants": ("README.md", variants_readme),
    "calibration_readme": ("README.md", calibration_readme),
}


def _key(header_line: str) -> str:
    """What finds a table in its document: its first four column names (the rest may hold figures)."""
    return "|".join(header_line.split("|")[:5])


def write(name: str) -> None:
    """Replace the table ``name`` in its document (found by its first four column names) with the new one."""
    doc, make = TABLES[name]
    new = make().splitlines()
    lines = (REPO / doc).read_text().split("\n")
    starts = [i for i, line in enumerate(lines) if _key(line) == _key(new[0])]
    if len(starts) != 1:
        raise SystemExit(f"{doc}: {len(starts)} tables start like {name!r}'s, expected one")
    end = starts[0]
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    lines[starts[0] : end] = new
    (REPO / doc).write_text("\n".join(lines))


def main(argv: List[str]) -> int:
    """Print the named tables, or all of them; with --write, put them into their documents instead."""
    names = [a for a in argv if a != "--write"] or list(TABLES)
    for name in names:
        if name not in TABLES:
            print(f"unknown table {name!r}; one of {', '.join(TABLES)}", file=sys.stderr)
            return 2
        doc, make = TABLES[name]
        if "--write" in argv:
            write(name)
            print(f"wrote table {name!r} into {doc}")
        else:
            print(f"{name} ({doc}):\n\n{make()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
