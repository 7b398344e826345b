"""Training: the train command on tiny separable generated faces, and its distillation options."""

import json

import pytest
from emotion_testutil import TRAIN_EPOCHS, TRAINABLE, make_faces

from emotion_classifier.tooling.data import load_faces
from emotion_classifier.tooling.train import accuracy, predict_proba
from emotion_classifier.weights import load_model, read_metadata


def test_train_command_learns_separable_faces(trained, fer_npz):
    rows = [json.loads(line) for line in (trained.workdir / "train_log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, TRAIN_EPOCHS + 1))
    assert rows[-1]["loss"] < rows[0]["loss"]
    assert (trained.workdir / "checkpoint.pt").exists()
    model, info = load_model(trained.weights)
    assert info["widths"] == {"conv": list(TRAINABLE["conv_widths"]), "fc": list(TRAINABLE["fc_widths"])}
    assert info["init"] == trained.init.name and info["teachers"] == []
    assert info["train_config"]["distill_alpha"] == 0.0  # no teacher, no distillation
    assert info["data_sha256"] == load_faces(fer_npz, "train").sha256
    val, test = load_faces(fer_npz, "val"), load_faces(fer_npz, "test")
    assert info["val_accuracy"] == round(accuracy(model, val), 4)
    assert info["val_accuracy"] == pytest.approx(max(r["val_acc"] for r in rows), abs=1e-4)  # the best epoch
    assert accuracy(model, test) > 0.9
    proba = predict_proba(model, make_faces(3, seed=5).images)
    assert proba.shape == (3, 5) and abs(proba.sum(1) - 1).max() < 1e-5


def test_train_command_distils_from_a_teacher(trained, fer_npz, tmp_path):
    from emotion_classifier.tooling import cli

    out = tmp_path / "student.safetensors"
    args = ["train", "--data", str(fer_npz), "--init", str(trained.init), "--teacher", str(trained.weights)]
    args += ["--distill-alpha", "0.5", "--distill-temperature", "2", "--mixup-alpha", "0.2", "--epochs", "1"]
    args += ["--lr", "1e-3", "--warmup-epochs", "0", "--threads", "1", "--workdir", str(tmp_path / "run")]
    assert cli.main(args + ["--out", str(out), "--variant", "student", "--no-progress"]) == 0
    info = read_metadata(out)
    assert info["variant"] == "student" and info["teachers"] == [trained.weights.name]
    cfg = info["train_config"]
    assert (cfg["distill_alpha"], cfg["distill_temperature"], cfg["mixup_alpha"], cfg["lr"]) == (0.5, 2.0, 0.2, 1e-3)
    assert cfg["warmup_epochs"] == 0 and cfg["epochs"] == 1


@pytest.mark.parametrize("swa_lr", [5e-4, 1.0], ids=["either", "a ruinous rate: the best epoch is kept"])
def test_swa_averages_the_last_epochs_at_a_constant_rate(trained, fer_npz, tmp_path, capsys, swa_lr):
    """--swa-epochs: the averaged epochs run at --swa-lr, their mean is a candidate, validation chooses."""
    from emotion_classifier.tooling import cli

    out, run = tmp_path / "swa.safetensors", tmp_path / "run"
    args = ["train", "--data", str(fer_npz), "--init", str(trained.weights), "--epochs", "3", "--swa-epochs", "2"]
    args += ["--swa-lr", str(swa_lr), "--lr", "1e-3", "--warmup-epochs", "0", "--threads", "1", "--workdir", str(run)]
    args += ["--dropout", "0.3", "--erase-prob", "0.1"]
    assert cli.main(args + ["--out", str(out), "--no-progress"]) == 0
    rows = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    epochs, (summary,) = rows[:-1], rows[-1:]
    assert [r.get("swa_epochs_averaged") for r in epochs] == [None, 1, 2]
    assert [r["lr"] for r in epochs[1:]] == [swa_lr, swa_lr]
    assert summary["swa_epochs_averaged"] == 2
    model, info = load_model(out)
    val = accuracy(model, load_faces(fer_npz, "val"))
    best = max(r["val_acc"] for r in epochs)
    assert val == pytest.approx(max(best, summary["swa_val_acc"]), abs=1e-4)
    assert (summary["kept"] == "the average") == (summary["swa_val_acc"] > best)
    if swa_lr == 1.0:  # AdamW at lr 1 ruins the weights: epoch 1 (before the averaged ones) is the best
        assert summary["kept"] == "epoch 1" and val == pytest.approx(epochs[0]["val_acc"], abs=1e-4) and val > 0.9
    cfg = info["train_config"]
    assert (cfg["swa_epochs"], cfg["swa_lr"], cfg["dropout"], cfg["erase_prob"]) == (2, swa_lr, 0.3, 0.1)
    assert cli.main(args + ["--out", str(out), "--swa-epochs", "4"]) == 2  # more than --epochs: one line
    assert "swa_epochs must be in [0, epochs]" in capsys.readouterr().err


def test_a_checkpoint_of_other_starting_weights_is_refused(trained, fer_npz, tmp_path, capsys):
    """A workdir left by a run from another --init is not resumed (the remake once fine-tuned a stale pruned model)."""
    from emotion_classifier.tooling import cli

    run = tmp_path / "run"
    args = ["train", "--data", str(fer_npz), "--epochs", "1", "--lr", "1e-3", "--warmup-epochs", "0"]
    args += ["--threads", "1", "--workdir", str(run), "--out", str(tmp_path / "a.safetensors"), "--no-progress"]
    assert cli.main(args + ["--init", str(trained.init)]) == 0
    assert cli.main(args + ["--init", str(trained.init), "--epochs", "2"]) == 0  # the same start: resumed
    assert "resuming at epoch 2" in capsys.readouterr().out
    assert cli.main(args + ["--init", str(trained.weights), "--epochs", "3"]) == 2
    assert "was made from other starting weights; remove it or use another workdir" in capsys.readouterr().err
