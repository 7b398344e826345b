"""The calibration measurement (eval-calibration): synthetic users of generated faces, a stand-in classifier."""

import json
from pathlib import Path

import numpy as np
import pytest

from emotion_classifier.labels import CLASSES

REPO = Path(__file__).resolve().parents[3]
NEUTRAL = CLASSES.index("neutral")


class ByBrightness:
    """Reads a face's class from its mean grey level (faces of class i are 40 + 35 i): a camera shifts it."""

    class_names = CLASSES

    def predict_batch(self, frames):
        out = []
        for f in frames:
            score = -0.002 * (float(np.mean(f)) - (40 + 35 * np.arange(len(CLASSES)))) ** 2
            p = np.exp(score)
            out.append(p / p.sum())
        return np.array(out)


def _faces(n=150, seed=0):
    from emotion_classifier.tooling.data import FaceSet

    rng = np.random.default_rng(seed)
    labels = np.arange(n) % len(CLASSES)
    images = np.clip(40 + 35 * labels[:, None, None] + rng.normal(0, 8, (n, 48, 48)), 0, 255).astype(np.uint8)
    return FaceSet(images, labels, "generated", "", n)


def test_evaluate_calibration_reports_every_kind_and_hold_and_the_grid():
    from emotion_classifier.tooling.calibration_eval import GRID, HOLDS, KINDS, evaluate_calibration, format_report

    doc = evaluate_calibration(ByBrightness(), _faces(), users=3, hold=10, progress=False)
    assert set(doc["results"]) == {f"{k}/{h}" for k in KINDS for h in HOLDS}
    for r in doc["results"].values():
        for which in ("without", "with"):
            m = r[which]
            assert 0 <= m["accuracy"] <= 1 and 0 <= m["macro_recall"] <= 1 and set(m["recall"]) == set(CLASSES)
        assert len(r["users"]) == 3 and all(len(u["bias"]) == len(CLASSES) for u in r["users"])
    assert len(doc["grid"]) == len(GRID) and doc["method"]["goal"] == "reference"
    # The simulated resting face hides neutral; the neutral hold brings it back.
    r = doc["results"]["camera+resting/faces"]
    assert r["with"]["recall"]["neutral"] >= r["without"]["recall"]["neutral"]
    assert doc == evaluate_calibration(ByBrightness(), _faces(), users=3, hold=10, progress=False)  # seeded
    text = format_report(doc)
    assert "camera+resting/one_face" in text and "grid" in text
    json.dumps(doc)  # the --json file


def test_metrics_on_known_predictions():
    from emotion_classifier.tooling.calibration_eval import metrics

    labels = np.array([0, 1, 2, 2])
    p = np.eye(5)[[0, 2, 2, 3]]
    m = metrics(p, labels)
    assert m["accuracy"] == 0.5 and m["recall"] == {"fear": 1.0, "happy": 0.0, "neutral": 0.5}
    assert m["macro_recall"] == pytest.approx(0.5) and m["read_as_neutral"] == 0.5


@pytest.mark.skipif(not (REPO / "models" / "baseline.safetensors").is_file(), reason="models/baseline missing")
def test_eval_calibration_command(tmp_path, capsys):
    from emotion_testutil import write_fer_npz

    from emotion_classifier.tooling import cli

    data = tmp_path / "fer.npz"
    write_fer_npz(data, {"train": 5, "val": 5, "test": 60})
    out = tmp_path / "cal.json"
    argv = ["eval-calibration", "--data", str(data), "--models-dir", str(REPO / "models"), "--users", "2"]
    assert cli.main(argv + ["--hold", "5", "--json", str(out), "--no-progress"]) == 0
    doc = json.loads(out.read_text())
    assert doc["users"] == 2 and doc["test_faces"] == 60 and doc["variant"] == "baseline" and doc["flip_tta"]
    assert "eval-calibration" in doc["command"]
    assert "camera+resting/faces" in capsys.readouterr().out


def test_neutral_profile_is_the_geometric_mean_of_seeded_neutral_faces():
    from emotion_classifier.tooling.calibration_eval import neutral_profile

    faces = _faces(200)
    profile = neutral_profile(ByBrightness(), faces, faces=20)
    assert list(profile) == list(CLASSES) and abs(sum(profile.values()) - 1) < 1e-3
    assert max(profile, key=profile.get) == "neutral"  # neutral faces read as neutral by the stand-in
    assert profile == neutral_profile(ByBrightness(), faces, faces=20)  # seeded
    assert profile != neutral_profile(ByBrightness(), faces, faces=20, seed=1)
