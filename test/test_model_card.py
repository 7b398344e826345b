"""Facts the repository states twice stay equal: the alert node's default P(bad) threshold is the one
chosen on the validation split by the committed `bad-threshold` run."""

import json
from pathlib import Path

from alert_player.policy import PolicyConfig

REPO = Path(__file__).resolve().parents[1]


def test_the_default_bad_probability_is_the_one_chosen_on_validation():
    chosen = json.loads((REPO / "models" / "bad_threshold.json").read_text())
    assert chosen["split"] == "val" and chosen["flip_tta"] is True  # chosen on validation, as the node runs
    assert PolicyConfig().bad_probability == chosen["best_threshold"]
    row = next(r for r in chosen["curve"] if r["threshold"] == chosen["best_threshold"])
    assert row["f1"] == max(r["f1"] for r in chosen["curve"])
