"""Facts the repository states twice stay equal: the alert node's default P(bad) threshold is the one
chosen on the validation split by the committed `bad-threshold` run, and the model card's and README's
tables are those that `tools/card_tables.py` prints from the committed evaluation runs."""

import json
import sys
from pathlib import Path

from alert_player.policy import PolicyConfig

REPO = Path(__file__).resolve().parents[1]


def test_the_default_bad_probability_is_the_one_chosen_on_validation():
    chosen = json.loads((REPO / "models" / "bad_threshold.json").read_text())
    assert chosen["split"] == "val" and chosen["flip_tta"] is True  # chosen on validation, as the node runs
    assert PolicyConfig().bad_probability == chosen["best_threshold"]
    row = next(r for r in chosen["curve"] if r["threshold"] == chosen["best_threshold"])
    assert row["f1"] == max(r["f1"] for r in chosen["curve"])


def test_the_documents_hold_the_tables_that_the_committed_runs_give():
    sys.path.insert(0, str(REPO / "tools"))
    import card_tables

    for name, (doc, make) in card_tables.TABLES.items():
        text = (REPO / doc).read_text()
        stale = [line for line in make().splitlines() if line not in text]
        assert not stale, f"{doc}: table {name!r} differs from `python tools/card_tables.py {name}`: {stale}"


def test_the_calibration_reference_is_the_committed_baselines_neutral_profile():
    from emotion_classifier import calibration

    run = json.loads((REPO / "models" / "eval_calibration.json").read_text())
    assert run["variant"] == "baseline" and run["method"]["model_profile"] == calibration.REFERENCE
