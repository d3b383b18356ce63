"""Per-round training metrics, read from a training job's log the way SageMaker reads them.

SageMaker turns an estimator's metric definitions (``{"Name", "Regex"}``) into metrics by
searching each line the training container writes: a line that matches a definition adds one
value (the regex's first group) to that metric's series. Both of churn's training images write
lines that these definitions match: XGBoost one per round (``[7]  train-auc:0.93  validation-auc:0.91``,
tab-separated), the baseline one after its fit. SageMaker's XGBoost built-in algorithm publishes
metrics of the same names from the same lines on its own (and refuses user definitions), so on
the cloud backend only the baseline's estimator carries them (see ``Backend.metric_definitions``).

Pure: :func:`metric_series` takes the log's text; the run folder's ``<Step>/metrics.json`` is
written and read by :func:`write_series` / :func:`read_series`.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

#: A number as training logs write it (``0.93``, ``-1``, ``1e-05``).
_NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"
#: The metrics both candidates' training logs carry, named as SageMaker's XGBoost algorithm
#: names them (``train:auc``, ``validation:auc``).
METRIC_DEFINITIONS: list[dict] = [
    {"Name": "train:auc", "Regex": rf"train-auc:{_NUMBER}"},
    {"Name": "validation:auc", "Regex": rf"validation-auc:{_NUMBER}"},
]
#: The image name of SageMaker's XGBoost algorithm (``…/sagemaker-xgboost:1.7-1``).
_XGBOOST_ALGORITHM = "/sagemaker-xgboost:"
#: In ``runs/<id>/<TrainStep>/``: the series read from the step's log.
METRICS_FILE = "metrics.json"


def job_metric_definitions(algorithm: dict) -> list[dict]:
    """The definitions a training job's metrics come from: its own, else, for SageMaker's XGBoost
    algorithm image, the metrics that algorithm publishes by itself (the same names and lines)."""
    if algorithm.get("MetricDefinitions"):
        return list(algorithm["MetricDefinitions"])
    return list(METRIC_DEFINITIONS) if _XGBOOST_ALGORITHM in str(algorithm.get("TrainingImage", "")) else []


def metric_series(log_text: str, definitions: list[dict]) -> dict[str, list[float]]:
    """Metric name -> its values in log order (one per matching line; a value that is not a
    finite number is skipped, as SageMaker skips it). Every defined name is present."""
    compiled = [(d["Name"], re.compile(d["Regex"])) for d in definitions]
    series: dict[str, list[float]] = {name: [] for name, _ in compiled}
    for line in log_text.splitlines():
        for name, pattern in compiled:
            found = pattern.search(line)
            if found is None or not found.groups():
                continue
            try:
                value = float(found.group(1))
            except (TypeError, ValueError):
                continue
            if math.isfinite(value):
                series[name].append(value)
    return series


def series_document(definitions: list[dict], series: dict[str, list[float]]) -> str:
    """The text of a ``metrics.json``: the definitions, each series and its final value."""
    final = {name: values[-1] for name, values in series.items() if values}
    return json.dumps({"definitions": definitions, "series": series, "final": final}, indent=1) + "\n"


def write_series(path: Path, definitions: list[dict], series: dict[str, list[float]]) -> None:
    from churn.atomic import AtomicTextWriter

    with AtomicTextWriter(path) as out:
        out.write(series_document(definitions, series))


def read_series(path: Path) -> dict[str, list[float]]:
    """The series of a ``metrics.json``; empty when the file is missing or unreadable (an older
    run, a cloud run)."""
    try:
        document = json.loads(path.read_text())
        return {str(name): [float(v) for v in values] for name, values in document["series"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
