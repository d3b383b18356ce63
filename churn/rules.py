"""The rules a run's parameters are checked against before anything runs and that the steps
apply again: the metric names and the decision threshold, the split's ratios and seed, what a sharded PreprocessData
cannot do. Plain Python (no numpy, no pandas): :mod:`churn.parameters` checks with it on
every run, the replay path included, which must start fast; the steps reach it through
:mod:`churn.split` and :mod:`churn.metrics`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from churn import sizing

#: The point metrics of an ``evaluation.json``, the ones a run can select and gate on.
METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "auc")
#: The score at or above which a row counts as churn: accuracy, precision, recall, F1 and the
#: confusion matrix are taken at it (AUC and the curves are not).
DECISION_THRESHOLD = 0.5


def report_values(report: dict) -> dict[str, float]:
    """``{metric: value}`` of an ``evaluation.json`` document (the point values only)."""
    section = report.get("binary_classification_metrics", {})
    return {name: value["value"] for name, value in section.items() if isinstance(value, dict) and "value" in value}


def validate_ratios(train_ratio: float, validation_ratio: float) -> None:
    """Raise ``ValueError`` naming the parameter unless both ratios are in (0, 1) and leave
    a non-empty share for the test split."""
    for name, value in (("TrainRatio", train_ratio), ("ValidationRatio", validation_ratio)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
        if not 0 < value < 1:
            raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    if train_ratio + validation_ratio >= 1:
        raise ValueError(
            f"TrainRatio + ValidationRatio must be below 1 to leave rows for the test split, "
            f"got {train_ratio!r} + {validation_ratio!r}"
        )


def validate_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"SplitSeed must be a non-negative integer, got {seed!r}")


def sharding_problem(count: object, training_instance_type: object, collected: Iterable[str]) -> str | None:
    """What a PreprocessData on ``count`` instances (each with a share of the input's files)
    cannot do, in words naming the parameter (None: nothing): size the training instances from
    the whole train split (``auto``), or collect a vocabulary (``collected``: the spec's columns
    that need one) from the whole input. Checked before a run (:mod:`churn.parameters`) and by
    the step itself (:mod:`churn.steps.preprocess`)."""
    if training_instance_type == sizing.AUTO:
        return (
            f"ProcessingInstanceCount={count} shards preprocessing, so no instance counts the whole train split that "
            f"TrainingInstanceType={sizing.AUTO} sizes from: give TrainingInstanceType, such as ml.m5.xlarge"
        )
    columns = list(collected)
    if columns:
        return (
            f"ProcessingInstanceCount={count} shards preprocessing, but the dataset spec collects the vocabulary of "
            f"{', '.join(columns)} from the whole input, which no instance sees: list the values in the spec, or use 1"
        )
    return None
