"""Binary classification metrics in SageMaker's model-quality ``evaluation.json`` format."""

from __future__ import annotations

import math

import numpy as np
from sklearn import metrics as skm

METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "auc")


def _point_metrics(y_true: np.ndarray, y_score: np.ndarray, threshold: float) -> dict[str, float]:
    predicted = (y_score >= threshold).astype(int)
    return {
        "accuracy": skm.accuracy_score(y_true, predicted),
        "precision": skm.precision_score(y_true, predicted, zero_division=0),
        "recall": skm.recall_score(y_true, predicted, zero_division=0),
        "f1": skm.f1_score(y_true, predicted, zero_division=0),
        # ROC-AUC is computed on the scores, never on the rounded predictions.
        "auc": skm.roc_auc_score(y_true, y_score) if len(np.unique(y_true)) == 2 else math.nan,
    }


def bootstrap_standard_deviations(
    y_true: np.ndarray, y_score: np.ndarray, threshold: float, rounds: int, seed: int
) -> dict[str, float]:
    """Standard deviation of each metric over ``rounds`` bootstrap resamples of the test rows."""
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {name: [] for name in METRIC_NAMES}
    for _ in range(rounds):
        index = rng.integers(0, len(y_true), len(y_true))
        for name, value in _point_metrics(y_true[index], y_score[index], threshold).items():
            if not math.isnan(value):
                samples[name].append(value)
    return {name: float(np.std(values)) if len(values) > 1 else 0.0 for name, values in samples.items()}


def evaluation_report(
    y_true, y_score, *, threshold: float = 0.5, bootstrap_rounds: int = 200, seed: int = 0
) -> dict:
    """The model-quality report of scores ``y_score`` (probabilities) against 0/1 labels."""
    y_true = np.asarray(y_true, dtype=int)
    y_score = np.asarray(y_score, dtype=float)
    if y_true.shape != y_score.shape or y_true.ndim != 1:
        raise ValueError(f"labels and scores must be 1-d of equal length, got {y_true.shape} and {y_score.shape}")
    if len(y_true) == 0:
        raise ValueError("cannot evaluate on an empty test set")
    if not set(np.unique(y_true)) <= {0, 1}:
        raise ValueError("labels must be 0 or 1")
    if len(np.unique(y_true)) < 2:
        raise ValueError("the test set has a single class: ROC-AUC is undefined; use more data or another SplitSeed")
    if not np.all(np.isfinite(y_score)) or y_score.min() < 0 or y_score.max() > 1:
        raise ValueError("scores must be probabilities in [0, 1]")

    point = _point_metrics(y_true, y_score, threshold)
    spread = bootstrap_standard_deviations(y_true, y_score, threshold, bootstrap_rounds, seed)
    tn, fp, fn, tp = skm.confusion_matrix(y_true, (y_score >= threshold).astype(int), labels=[0, 1]).ravel()
    fpr, tpr, _ = skm.roc_curve(y_true, y_score)
    precisions, recalls, _ = skm.precision_recall_curve(y_true, y_score)
    metrics = {name: {"value": float(point[name]), "standard_deviation": spread[name]} for name in METRIC_NAMES}
    return {
        "binary_classification_metrics": {
            **metrics,
            "confusion_matrix": {"0": {"0": int(tn), "1": int(fp)}, "1": {"0": int(fn), "1": int(tp)}},
            "receiver_operating_characteristic_curve": {
                "false_positive_rates": [float(x) for x in fpr],
                "true_positive_rates": [float(x) for x in tpr],
            },
            "precision_recall_curve": {
                "precisions": [float(x) for x in precisions],
                "recalls": [float(x) for x in recalls],
            },
        }
    }
