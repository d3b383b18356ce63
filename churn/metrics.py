"""Binary classification metrics in SageMaker's model-quality ``evaluation.json`` format.

Plain numpy (no scikit-learn): the evaluation container starts faster, and the same code runs
in the project's images and in the official XGBoost image. The test suite checks every metric
against scikit-learn's.
"""

from __future__ import annotations

import math

import numpy as np

from churn.rules import DECISION_THRESHOLD, METRIC_NAMES, report_values  # noqa: F401 - the step code's names


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator else 0.0


def roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the ROC curve: the Mann-Whitney U statistic with tied scores ranked on average."""
    positives = int(y_true.sum())
    negatives = len(y_true) - positives
    if positives == 0 or negatives == 0:
        return math.nan
    _, inverse, counts = np.unique(y_score, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average_ranks = ends - (counts - 1) / 2.0  # 1-based ranks, averaged over ties
    rank_sum = average_ranks[inverse][y_true == 1].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


def point_metrics(y_true: np.ndarray, y_score: np.ndarray, threshold: float) -> dict[str, float]:
    predicted = y_score >= threshold
    actual = y_true == 1
    tp = int(np.sum(predicted & actual))
    fp = int(np.sum(predicted & ~actual))
    fn = int(np.sum(~predicted & actual))
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    return {
        "accuracy": _ratio(int(np.sum(predicted == actual)), len(y_true)),
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        # ROC-AUC is computed on the scores, never on the rounded predictions.
        "auc": roc_auc(y_true, y_score),
    }


def curves(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, ...]:
    """ROC (false and true positive rates) and precision-recall points at every distinct score."""
    order = np.argsort(-y_score, kind="mergesort")
    scores, labels = y_score[order], y_true[order]
    last_of_each_score = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tps = np.cumsum(labels)[last_of_each_score]
    fps = (last_of_each_score + 1) - tps
    positives, negatives = tps[-1], fps[-1]
    fpr = np.r_[0.0, fps / negatives]
    tpr = np.r_[0.0, tps / positives]
    # Increasing thresholds, ending at (precision 1, recall 0): scikit-learn's convention.
    precision = np.r_[(tps / (tps + fps))[::-1], 1.0]
    recall = np.r_[(tps / positives)[::-1], 0.0]
    return fpr, tpr, precision, recall


#: The most points a curve of ``evaluation.json`` holds. A test set with more distinct scores
#: gets this many points of its full curve, evenly spaced along it, both ends included: every
#: score of a million-row test set would make a file of 100 MB and more, for a plot.
CURVE_POINTS = 2001


def thinned(*arrays: np.ndarray, points: int = CURVE_POINTS) -> tuple[np.ndarray, ...]:
    """The same points of each curve coordinate (arrays of one length): all of them up to
    ``points``, else ``points`` of them evenly spaced by index, the first and the last included."""
    length = len(arrays[0])
    if length <= points:
        return arrays
    keep = np.unique(np.linspace(0, length - 1, points).round().astype(np.int64))
    return tuple(array[keep] for array in arrays)


def bootstrap_standard_deviations(
    y_true: np.ndarray, y_score: np.ndarray, threshold: float, rounds: int, seed: int
) -> dict[str, float]:
    """Standard deviation of each metric over ``rounds`` bootstrap resamples of the test rows.

    A resample is counted, not sorted: each row falls in a cell (its score among the distinct
    scores, its class), a resample is its cells' counts, and every metric follows from those
    counts exactly as from the resampled rows (AUC's rank sum is a sum of half-integers, exact
    in either order below 2**26 rows), so the values are those of :func:`point_metrics` on
    each resample, to the bit, at O(rows) a round instead of a sort."""
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {name: [] for name in METRIC_NAMES}
    rows = len(y_true)
    if rows >= _EXACT_COUNTING_ROWS:
        resampled = (point_metrics(y_true[i], y_score[i], threshold) for i in (rng.integers(0, rows, rows) for _ in range(rounds)))
    else:
        distinct, code = np.unique(y_score, return_inverse=True)
        cells = code.reshape(-1) * 2 + (y_true == 1)
        predicted = distinct >= threshold
        resampled = (
            _counted_metrics(np.bincount(cells[rng.integers(0, rows, rows)], minlength=2 * len(distinct)).reshape(-1, 2), predicted, rows)
            for _ in range(rounds)
        )
    for values in resampled:
        for name, value in values.items():
            if not math.isnan(value):
                samples[name].append(value)
    return {name: float(np.std(values)) if len(values) > 1 else 0.0 for name, values in samples.items()}


#: Below this many rows a resample's AUC rank sum (at most rows**2 / 2, in halves) is exact in
#: float64 whatever the order of the sum.
_EXACT_COUNTING_ROWS = 2**26


def _counted_metrics(counts: np.ndarray, predicted: np.ndarray, rows: int) -> dict[str, float]:
    """:func:`point_metrics` of a resample given as ``counts[score, class]`` (the distinct
    scores in increasing order; ``predicted``: which of them are at or above the threshold)."""
    negatives_at, positives_at = counts[:, 0], counts[:, 1]
    tp, fn = int(positives_at[predicted].sum()), int(positives_at[~predicted].sum())
    fp, tn = int(negatives_at[predicted].sum()), int(negatives_at[~predicted].sum())
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    positives = tp + fn
    negatives = rows - positives
    if positives == 0 or negatives == 0:
        auc = math.nan
    else:
        at = negatives_at + positives_at
        average_ranks = np.cumsum(at) - (at - 1) / 2.0  # 1-based, averaged over ties (unused where none)
        rank_sum = float((positives_at * average_ranks).sum())
        auc = float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))
    return {
        "accuracy": _ratio(tp + tn, rows),
        "precision": precision,
        "recall": recall,
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "auc": auc,
    }


def evaluation_report(
    y_true, y_score, *, threshold: float = DECISION_THRESHOLD, bootstrap_rounds: int = 200, seed: int = 0
) -> dict:
    """The model-quality report of scores ``y_score`` (probabilities) against 0/1 labels."""
    y_true = np.asarray(y_true)  # not dtype=int: that would turn a 0.7 into a 0
    y_score = np.asarray(y_score, dtype=float)
    if y_true.shape != y_score.shape or y_true.ndim != 1:
        raise ValueError(f"labels and scores must be 1-d of equal length, got {y_true.shape} and {y_score.shape}")
    if len(y_true) == 0:
        raise ValueError("cannot evaluate on an empty test set")
    if not set(np.unique(y_true)) <= {0, 1}:
        raise ValueError("labels must be 0 or 1")
    y_true = y_true.astype(int)
    if len(np.unique(y_true)) < 2:
        raise ValueError("the test set has a single class: ROC-AUC is undefined; use more data or another SplitSeed")
    if not np.all(np.isfinite(y_score)) or y_score.min() < 0 or y_score.max() > 1:
        raise ValueError("scores must be probabilities in [0, 1]")

    point = point_metrics(y_true, y_score, threshold)
    spread = bootstrap_standard_deviations(y_true, y_score, threshold, bootstrap_rounds, seed)
    predicted, actual = y_score >= threshold, y_true == 1
    tn, fp = int(np.sum(~predicted & ~actual)), int(np.sum(predicted & ~actual))
    fn, tp = int(np.sum(~predicted & actual)), int(np.sum(predicted & actual))
    fpr, tpr, precisions, recalls = curves(y_true, y_score)
    fpr, tpr = thinned(fpr, tpr)
    precisions, recalls = thinned(precisions, recalls)
    metrics = {name: {"value": float(point[name]), "standard_deviation": spread[name]} for name in METRIC_NAMES}
    return {
        "binary_classification_metrics": {
            **metrics,
            "confusion_matrix": {"0": {"0": tn, "1": fp}, "1": {"0": fn, "1": tp}},
            "receiver_operating_characteristic_curve": {
                "false_positive_rates": fpr.tolist(),
                "true_positive_rates": tpr.tolist(),
            },
            "precision_recall_curve": {"precisions": precisions.tolist(), "recalls": recalls.tolist()},
        }
    }

