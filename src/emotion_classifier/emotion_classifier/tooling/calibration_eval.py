"""What calibration to the user does, measured on synthetic "users" built from FER2013 test faces.

FER2013 has one face per person, so a user is simulated: one seeded set of conditions applied to every
face of that user (a camera: gamma, contrast, brightness, a lighting gradient across the face, blur, a
slight rotation and scale), and, for the "camera+resting" kind, also a per-user shift of the class
log-probabilities (a resting face that reads towards some classes: the case calibration models). The
"none" kind is the plain test set: what calibration costs when there is nothing to correct.

For each user: calibrate on a neutral hold (``hold`` of the user's neutral faces, or one neutral face
held for 30 jittered frames, as a live hold is), then evaluate per-class recall, macro recall and
accuracy on every other test face of the user, with and without. A grid of (target, strength) is
evaluated on the same predictions: it is how calibration.TARGET and STRENGTH were chosen.
"""

import math
from typing import Any, Dict, List, Sequence, Tuple

import cv2
import numpy as np

from .. import calibration
from ..labels import CLASSES
from .data import FaceSet
from .smoothing_eval import perturbed_clip

KINDS = ("none", "camera", "camera+resting")
HOLDS = ("faces", "one_face")
HOLD_FRAMES = 30  # the one-face hold: 1 s at 30 fps
RESTING_SIGMA = 0.8  # per-class log-probability shift of a simulated resting face
# (goal, strength): goal "reference" (calibration.REFERENCE) or a flat goal's neutral target.
GRID = tuple((g, s) for g in ("reference", 0.5, 0.6, 0.8) for s in (0.25, 0.5, 0.75, 1.0))


def user_conditions(rng: np.random.Generator) -> Dict[str, Any]:
    """One simulated user's camera and resting face."""
    return {
        "gamma": float(rng.uniform(0.6, 1.6)),
        "contrast": float(rng.uniform(0.7, 1.3)),
        "brightness": float(rng.uniform(-25, 25)),
        "gradient": float(rng.uniform(0, 60)),  # grey levels from one side of the face to the other
        "gradient_angle": float(rng.uniform(0, 2 * math.pi)),
        "blur_sigma": float(rng.uniform(0, 1.2)),
        "angle_deg": float(rng.uniform(-8, 8)),
        "scale": float(rng.uniform(0.9, 1.1)),
        "resting_shift": [float(v) for v in rng.normal(0, RESTING_SIGMA, len(CLASSES))],
    }


def render(images: np.ndarray, c: Dict[str, Any]) -> np.ndarray:
    """The 48x48 gray faces as this user's camera shows them."""
    n, h, w = images.shape
    m = cv2.getRotationMatrix2D((w / 2, h / 2), c["angle_deg"], c["scale"])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ramp = (xx / w - 0.5) * math.cos(c["gradient_angle"]) + (yy / h - 0.5) * math.sin(c["gradient_angle"])
    out = np.empty_like(images)
    for i in range(n):
        x = cv2.warpAffine(images[i], m, (w, h), borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        if c["blur_sigma"] > 0.3:
            x = cv2.GaussianBlur(x, (0, 0), c["blur_sigma"])
        x = 255.0 * (x / 255.0) ** c["gamma"]
        x = (x - 128.0) * c["contrast"] + 128.0 + c["brightness"] + c["gradient"] * ramp
        out[i] = np.clip(x, 0, 255).astype(np.uint8)
    return out


def _predict(classifier, images: np.ndarray, batch: int = 256) -> np.ndarray:
    return np.concatenate([classifier.predict_batch(list(images[i : i + batch])) for i in range(0, len(images), batch)])


def neutral_profile(classifier, train: FaceSet, faces: int = 1500, seed: int = 0) -> Dict[str, float]:
    """The model's geometric-mean profile of ``faces`` neutral training faces (seeded).

    calibration.REFERENCE's measure: a new model is checked against the reference it is calibrated towards.
    """
    neutral = np.flatnonzero(train.labels == CLASSES.index(calibration.NEUTRAL))
    pick = np.random.default_rng(seed).choice(neutral, min(faces, len(neutral)), replace=False)
    g = np.exp(np.log(np.clip(_predict(classifier, train.images[pick]), 1e-8, 1.0)).mean(axis=0))
    return {c: round(float(v), 4) for c, v in zip(CLASSES, g / g.sum())}


def _shift(p: np.ndarray, shift: Sequence[float]) -> np.ndarray:
    return calibration.Calibration(CLASSES, tuple(shift)).apply(p)


def _fit(hold_probs: np.ndarray, goal: Any, strength: float) -> calibration.Calibration:
    """calibration.fit towards ``goal``: 'reference' or a flat goal's neutral target."""
    if goal == "reference":
        return calibration.fit(hold_probs, CLASSES, strength=strength, min_frames=1)
    return calibration.fit(hold_probs, CLASSES, target=goal, strength=strength, min_frames=1, reference=None)


def metrics(p: np.ndarray, labels: np.ndarray) -> Dict[str, Any]:
    """Accuracy, macro recall and per-class recall of probabilities ``p`` against ``labels``."""
    pred = p.argmax(axis=1)
    recall = {c: float(np.mean(pred[labels == i] == i)) for i, c in enumerate(CLASSES) if np.any(labels == i)}
    return {
        "accuracy": float(np.mean(pred == labels)),
        "macro_recall": float(np.mean(list(recall.values()))),
        "recall": recall,
        "read_as_neutral": float(np.mean(pred == CLASSES.index("neutral"))),
    }


def _mean(rows: List[Dict[str, Any]]) -> Dict[str, Any]:
    out = {k: float(np.mean([r[k] for r in rows])) for k in ("accuracy", "macro_recall", "read_as_neutral")}
    out["recall"] = {c: float(np.mean([r["recall"][c] for r in rows])) for c in rows[0]["recall"]}
    return out


def _user_probs(classifier, faces: FaceSet, users: int, seed: int, progress: bool) -> List[Dict[str, Any]]:
    """Per user: conditions, the probabilities of every test face and of a one-face hold, per kind."""
    from tqdm import tqdm

    neutral = np.flatnonzero(faces.labels == CLASSES.index("neutral"))
    plain = _predict(classifier, faces.images)
    out = []
    for u in tqdm(range(users), desc="users", unit="user", disable=not progress):
        rng = np.random.default_rng([seed, u])
        c = user_conditions(rng)
        hold_face = int(rng.choice(neutral))
        held = perturbed_clip(faces.images[hold_face], HOLD_FRAMES, rng)  # webcam jitter of one held face
        camera = _predict(classifier, render(faces.images, c))
        camera_hold = _predict(classifier, render(held, c))
        out.append(
            {
                "conditions": c,
                "hold_face": hold_face,
                "probs": {
                    "none": (plain, _predict(classifier, held)),
                    "camera": (camera, camera_hold),
                    "camera+resting": (_shift(camera, c["resting_shift"]), _shift(camera_hold, c["resting_shift"])),
                },
            }
        )
    return out


def evaluate_calibration(
    classifier,
    faces: FaceSet,
    users: int = 12,
    hold: int = 20,
    seed: int = 0,
    grid: Sequence[Tuple[Any, float]] = GRID,
    progress: bool = True,
) -> Dict[str, Any]:
    """With and without calibration (the defaults), per kind of user and hold, and the (target, strength) grid."""
    if tuple(classifier.class_names) != CLASSES:
        raise ValueError(f"the model's classes {classifier.class_names} are not {CLASSES}")
    labels = faces.labels
    neutral = np.flatnonzero(labels == CLASSES.index("neutral"))
    per_user = _user_probs(classifier, faces, users, seed, progress)
    results: Dict[str, Any] = {}
    grid_rows: Dict[Tuple[Any, float], List[Dict[str, Any]]] = {g: [] for g in grid}
    for kind in KINDS:
        for mode in HOLDS:
            without, with_cal, users_out = [], [], []
            for u, user in enumerate(per_user):
                probs, one_face = user["probs"][kind]
                if mode == "faces":
                    ids = np.random.default_rng([seed, u, 1]).choice(neutral, size=hold, replace=False)
                    hold_probs, rest = probs[ids], np.setdiff1d(np.arange(len(labels)), ids)
                else:
                    hold_probs, rest = one_face, np.flatnonzero(np.arange(len(labels)) != user["hold_face"])
                cal = calibration.fit(hold_probs, CLASSES, min_frames=1)
                a, b = metrics(probs[rest], labels[rest]), metrics(cal.apply(probs[rest]), labels[rest])
                without.append(a)
                with_cal.append(b)
                users_out.append(
                    {
                        "user": u,
                        "accuracy": [a["accuracy"], b["accuracy"]],
                        "macro_recall": [a["macro_recall"], b["macro_recall"]],
                        "neutral_recall": [a["recall"]["neutral"], b["recall"]["neutral"]],
                        "bias": list(cal.bias),
                    }
                )
                for goal, s in grid:
                    g = _fit(hold_probs, goal, s)
                    grid_rows[(goal, s)].append(dict(metrics(g.apply(probs[rest]), labels[rest]), kind=kind, hold=mode))
            results[f"{kind}/{mode}"] = {"without": _mean(without), "with": _mean(with_cal), "users": users_out}
    results_check = hold_check(per_user, labels, hold, seed)
    grid_out = []
    for (goal, s), rows in grid_rows.items():
        entry = {"goal": goal, "strength": s}
        for kind in KINDS:
            entry[kind] = _mean([r for r in rows if r["kind"] == kind])
        grid_out.append(entry)
    return {
        "users": users,
        "hold_faces": hold,
        "hold_frames_one_face": HOLD_FRAMES,
        "test_faces": len(faces),
        "method": {
            "goal": "reference",
            "reference": calibration.REFERENCE,
            "strength": calibration.STRENGTH,
            "margin": calibration.MARGIN,
            "max_bias": calibration.MAX_BIAS,
        },
        "conditions": [u["conditions"] for u in per_user],
        "results": results,
        "hold_check": results_check,
        "grid": grid_out,
    }


HOLD_CLASSES = ("neutral", "fear", "sad", "happy", "surprise")


def hold_check(per_user: List[Dict[str, Any]], labels: np.ndarray, hold: int, seed: int) -> Dict[str, Any]:
    """The share of holds calibration.check_hold accepts, per expression held and kind of user.

    A hold is ``hold`` faces of one expression, drawn per user; neutral holds should be accepted, the others
    refused (the user held something else than a resting face, e.g. the hold fell on a fearful stretch).
    """
    out: Dict[str, Any] = {
        "max_other": calibration.HOLD_MAX_OTHER,
        "max_bias": calibration.HOLD_MAX_BIAS,
        "accepted": {},
    }
    for kind in KINDS:
        rates = {}
        for name in HOLD_CLASSES:
            ids_all = np.flatnonzero(labels == CLASSES.index(name))
            accepted = 0
            for u, user in enumerate(per_user):
                ids = np.random.default_rng([seed, u, 2]).choice(ids_all, size=min(hold, len(ids_all)), replace=False)
                p = user["probs"][kind][0][ids]
                cal = calibration.fit(p, CLASSES, min_frames=1)
                accepted += calibration.check_hold(p, cal) is None
            rates[name] = accepted / max(1, len(per_user))
        out["accepted"][kind] = rates
    return out


def format_report(doc: Dict[str, Any]) -> str:
    """The printed tables: with/without per kind and hold, then the grid's macro recall and accuracy."""
    names = ", ".join(f"{c[:4]}" for c in CLASSES)
    head = f"{'kind/hold':<26}{'':>8}{'acc %':>7}{'macro %':>8}   recall % ({names})"
    lines = [head, "-" * len(head)]
    for key, r in doc["results"].items():
        for which in ("without", "with"):
            m = r[which]
            rec = " ".join(f"{100 * m['recall'][c]:5.1f}" for c in CLASSES)
            lines.append(
                f"{key if which == 'without' else '':<26}{which:>8}{100 * m['accuracy']:>7.1f}"
                f"{100 * m['macro_recall']:>8.1f}   {rec}"
            )
    check = doc.get("hold_check")
    if check:
        lines.append("")
        lines.append(
            f"hold check (refuse: one other expression >= {check['max_other']:.0%} of the hold, or neutral raised / "
            f"another expression lowered by > {check['max_bias']:g} log units): holds accepted %"
        )
        lines.append(f"{'kind':<16}" + "".join(f"{c:>10}" for c in HOLD_CLASSES))
        for kind, rates in check["accepted"].items():
            lines.append(f"{kind:<16}" + "".join(f"{100 * rates[c]:>10.0f}" for c in HOLD_CLASSES))
    lines.append("")
    lines.append("grid (hold: both kinds of hold): macro recall % / accuracy % per kind of user")
    lines.append(f"{'goal':>10}{'strength':>9}" + "".join(f"{k:>22}" for k in KINDS))
    for g in doc["grid"]:
        cells = "".join(f"{100 * g[k]['macro_recall']:>14.1f} / {100 * g[k]['accuracy']:4.1f}" for k in KINDS)
        goal = g["goal"] if isinstance(g["goal"], str) else f"flat {g['goal']:.1f}"
        lines.append(f"{goal:>10}{g['strength']:>9.2f}{cells}")
    return "\n".join(lines)
