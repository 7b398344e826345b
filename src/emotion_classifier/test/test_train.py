"""Training on a tiny generated dataset."""

import json

from emotion_testutil import SMALL, make_faces

from emotion_classifier.model import EmotionRecognitionModel
from emotion_classifier.train import TrainConfig, accuracy, predict_proba, train


def test_loss_goes_down_on_tiny_data(tmp_path):
    faces = make_faces(100)
    cfg = TrainConfig(epochs=4, batch_size=25, lr=3e-3, warmup_epochs=0, erase_prob=0.0, patience=10, threads=1)
    model = train(
        faces, make_faces(50, seed=1), cfg, tmp_path, model=EmotionRecognitionModel(5, **SMALL), progress=False
    )
    rows = [json.loads(line) for line in (tmp_path / "train_log.jsonl").read_text().splitlines()]
    assert len(rows) == 4
    assert rows[-1]["loss"] < rows[0]["loss"]
    assert (tmp_path / "checkpoint.pt").exists()
    assert predict_proba(model, faces.images[:3]).shape == (3, 5)
    assert 0.0 <= accuracy(model, faces) <= 1.0
