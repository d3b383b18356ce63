"""Choosing the registered model among the candidates: the pure part of SelectModel.

Each candidate is either evaluated (its model-quality ``evaluation.json``) or turned off by a
parameter. The winner is the evaluated candidate with the highest value of the selection
metric; a tie goes to the candidate listed first (XGBoost, the primary model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from churn.metrics import METRIC_NAMES, report_values

#: Candidate names in graph and tie-break order.
CANDIDATES = ("xgboost", "logistic-regression")
#: The candidate of the tuning branch (TuneModel's best training job), after the others.
TUNED_CANDIDATE = "xgboost-tuned"


class SelectionError(ValueError):
    """No candidate can win, or a candidate's report lacks the selection metric."""


@dataclass(frozen=True)
class Candidate:
    name: str
    #: The candidate's evaluation.json document; None when it was turned off.
    report: dict | None
    disabled_reason: str | None = None
    #: The hyperparameters it was trained with, ``"name=value name=value"`` ("" when not given).
    hyperparameters: str = ""


def select(candidates: list[Candidate], metric: str) -> dict:
    """The selection document: metric, winner and every candidate's metrics."""
    if metric not in METRIC_NAMES:
        raise SelectionError(f"selection metric must be one of {', '.join(METRIC_NAMES)}, got {metric!r}")
    names = [c.name for c in candidates]
    if len(set(names)) != len(names):
        raise SelectionError(f"candidate names must be unique, got {names}")
    records: dict[str, dict] = {}
    best: tuple[float, Candidate] | None = None
    for candidate in candidates:
        if candidate.report is None:
            records[candidate.name] = {"enabled": False, "reason": candidate.disabled_reason or "turned off"}
            continue
        values = report_values(candidate.report)
        if metric not in values or not math.isfinite(values[metric]):
            raise SelectionError(f"the evaluation of candidate {candidate.name!r} has no finite {metric!r} value")
        records[candidate.name] = {"enabled": True, "metrics": values}
        if candidate.hyperparameters:
            records[candidate.name]["hyperparameters"] = hyperparameter_values(candidate.hyperparameters)
        if best is None or values[metric] > best[0]:
            best = (values[metric], candidate)
    if best is None:
        raise SelectionError(f"no candidate was evaluated (all turned off: {', '.join(names)})")
    winner = best[1]
    return {
        "metric": metric,
        "winner": winner.name,
        "candidates": records,
        "summary": summary_line(metric, winner.name, records),
        # One line for the registry (CustomerMetadata, as the summary; never empty there): what
        # the winner was trained with.
        "hyperparameters": " ".join(winner.hyperparameters.split())[:MAX_SUMMARY_CHARS] or NOT_RECORDED,
    }


#: The ``hyperparameters`` line of a winner whose hyperparameters were not given.
NOT_RECORDED = "not recorded"


def hyperparameter_values(text: str) -> dict[str, str]:
    """``"max_depth=5 eta=0.2"`` -> ``{"max_depth": "5", "eta": "0.2"}``; a malformed pair is an error."""
    values: dict[str, str] = {}
    for pair in text.split():
        name, sep, value = pair.partition("=")
        if not (name and sep and value) or name in values:
            raise SelectionError(f"hyperparameters must be distinct name=value pairs separated by spaces, got {pair!r} in {text!r}")
        values[name] = value
    return values


#: SageMaker's CustomerMetadataValue: at most 256 characters of letters, separators, digits and
#: ``_ . : / = + - @`` (no parentheses, semicolons or commas).
MAX_SUMMARY_CHARS = 256


def summary_line(metric: str, winner: str, records: dict[str, dict]) -> str:
    """One line for registries that hold only strings (SageMaker's customer metadata), in the
    characters SageMaker allows there: ``xgboost auc=0.9212 winner / logistic-regression auc=0.8233``."""
    parts = [
        f"{name} {metric}={record['metrics'][metric]:.4f}{' winner' if name == winner else ''}"
        if record["enabled"] else f"{name} off"
        for name, record in records.items()
    ]
    return " / ".join(parts)[:MAX_SUMMARY_CHARS]
