"""What the coach makes of the classifier: per-category recall/precision and the 'bad' decision.

The five classes are mapped to good / acceptable / bad (the user's mapping; the paper's by default). A
frame is bad by one of the alert node's rules: 'probability' (the summed probability of the classes
mapped to bad reaches a threshold) or 'label' (the top class is mapped to bad with a minimum confidence).
"""

from __future__ import annotations

from typing import Dict, Mapping, Sequence

import numpy as np

from ..labels import CLASSES

CATEGORIES = ("good", "acceptable", "bad")


def bad_probability(probs: np.ndarray, mapping: Mapping[str, str], classes: Sequence[str] = CLASSES) -> np.ndarray:
    """P(bad) per row: the summed probability of the classes mapped to bad."""
    cols = [i for i, c in enumerate(classes) if mapping[c] == "bad"]
    return probs[:, cols].sum(1)


def average_precision(scores: np.ndarray, truth: np.ndarray) -> float:
    """Area under the precision-recall curve as the mean precision at each true positive, best score first."""
    order = np.argsort(-scores, kind="stable")
    hits = truth[order].astype(np.float64)
    if hits.sum() == 0:
        return 0.0
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def binary_scores(predicted: np.ndarray, truth: np.ndarray) -> Dict[str, float]:
    """Recall, precision and F1 of a yes/no prediction."""
    tp = float((predicted & truth).sum())
    recall = tp / max(1.0, float(truth.sum()))
    precision = tp / max(1.0, float(predicted.sum()))
    f1 = 2 * recall * precision / (recall + precision) if recall + precision else 0.0
    return {"recall": round(recall, 4), "precision": round(precision, 4), "f1": round(f1, 4)}


def threshold_curve(probs: np.ndarray, labels: np.ndarray, mapping: Mapping[str, str], step: float = 0.01) -> list:
    """Recall / precision / F1 of the probability rule at every threshold from ``step`` to 1 - ``step``."""
    p_bad = bad_probability(probs, mapping)
    truth = np.array([mapping[CLASSES[i]] == "bad" for i in labels])
    return [
        {"threshold": round(float(t), 4), **binary_scores(p_bad >= t, truth)}
        for t in np.arange(step, 1.0 - step / 2, step)
    ]


def best_threshold(curve: list) -> float:
    """The threshold of the curve with the highest F1 (the lowest one on a tie)."""
    return max(curve, key=lambda row: (row["f1"], -row["threshold"]))["threshold"]


def coaching_metrics(
    labels: np.ndarray,
    probs: np.ndarray,
    mapping: Mapping[str, str],
    bad_threshold: float,
    min_confidence: float = 0.4,
) -> Dict[str, object]:
    """Per-category recall/precision of the top label, and the bad decision by both rules.

    ``bad_threshold`` is the probability rule's threshold, ``min_confidence`` the label rule's.
    """
    true_cat = np.array([mapping[CLASSES[i]] for i in labels])
    top = probs.argmax(1)
    pred_cat = np.array([mapping[CLASSES[i]] for i in top])
    per_category = {c: binary_scores(pred_cat == c, true_cat == c) for c in CATEGORIES}
    truth = true_cat == "bad"
    p_bad = bad_probability(probs, mapping)
    label_rule = (pred_cat == "bad") & (probs.max(1) >= min_confidence)
    return {
        "mapping": dict(mapping),
        "per_category": per_category,
        "bad_average_precision": round(average_precision(p_bad, truth), 4),
        "bad_probability_rule": {"threshold": bad_threshold, **binary_scores(p_bad >= bad_threshold, truth)},
        "bad_label_rule": {"min_confidence": min_confidence, **binary_scores(label_rule, truth)},
    }
