"""Hyperparameters of the XGBoost built-in algorithm: parsing strings and checking ranges.

The ranges follow the official SageMaker XGBoost container's validation; names outside this
table are rejected, as the official container does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


class HyperparameterError(ValueError):
    """A hyperparameter is missing, unknown, of the wrong type or out of range."""


@dataclass(frozen=True)
class Range:
    kind: type
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.choices:
            return "one of " + ", ".join(self.choices)
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{'an integer' if self.kind is int else 'a number'} in {left}{low}, {high}{right}"

    def contains(self, value) -> bool:
        if self.choices:
            return value in self.choices
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return False
        return True


OBJECTIVES = (
    "binary:logistic", "binary:logitraw", "binary:hinge", "reg:squarederror", "reg:logistic",
    "reg:pseudohubererror", "reg:absoluteerror", "count:poisson", "multi:softmax", "multi:softprob",
    "rank:pairwise", "rank:ndcg", "rank:map", "reg:gamma", "reg:tweedie", "survival:cox",
)
EVAL_METRICS = ("rmse", "rmsle", "mae", "logloss", "error", "merror", "mlogloss", "auc", "aucpr", "ndcg", "map", "poisson-nloglik", "gamma-nloglik", "cox-nloglik", "tweedie-nloglik")

RANGES: dict[str, Range] = {
    "num_round": Range(int, 1),
    "eta": Range(float, 0, 1),
    "gamma": Range(float, 0),
    "max_depth": Range(int, 0),
    "min_child_weight": Range(float, 0),
    "max_delta_step": Range(float, 0),
    "subsample": Range(float, 0, 1, low_open=True),
    "colsample_bytree": Range(float, 0, 1, low_open=True),
    "colsample_bylevel": Range(float, 0.1, 1),
    "colsample_bynode": Range(float, 0, 1, low_open=True),
    "lambda": Range(float, 0),
    "alpha": Range(float, 0),
    "scale_pos_weight": Range(float, 0, low_open=True),
    "base_score": Range(float),
    "seed": Range(int),
    "num_class": Range(int, 2),
    "early_stopping_rounds": Range(int, 1),
    "objective": Range(str, choices=OBJECTIVES),
    "eval_metric": Range(str),  # comma-separated list, checked item by item
    "tree_method": Range(str, choices=("auto", "exact", "approx", "hist")),
    "verbosity": Range(int, 0, 3),
}
REQUIRED = ("num_round",)
#: What the algorithm assumes when a hyperparameter is not given.
DEFAULTS = {"objective": "reg:squarederror", "seed": 0}


def _parse_value(name: str, text: str, spec: Range):
    if spec.kind is str:
        return text.strip()
    try:
        number = float(text)
    except (TypeError, ValueError):
        raise HyperparameterError(f"hyperparameter {name} must be {spec.describe()}, got {text!r}") from None
    if not math.isfinite(number) or (spec.kind is int and not number.is_integer()):
        raise HyperparameterError(f"hyperparameter {name} must be {spec.describe()}, got {text!r}")
    return int(number) if spec.kind is int else number


def parse(raw: dict[str, str]) -> tuple[dict, int, int | None]:
    """Strings from hyperparameters.json -> (XGBoost params, num_round, early_stopping_rounds)."""
    unknown = sorted(set(raw) - set(RANGES))
    if unknown:
        raise HyperparameterError(f"unknown hyperparameter(s): {', '.join(unknown)}")
    missing = [name for name in REQUIRED if name not in raw]
    if missing:
        raise HyperparameterError(f"missing required hyperparameter(s): {', '.join(missing)}")
    values: dict = dict(DEFAULTS)
    for name, text in raw.items():
        spec = RANGES[name]
        value = _parse_value(name, str(text), spec)
        if name == "eval_metric":
            metrics = [m.strip() for m in value.split(",") if m.strip()]
            bad = [m for m in metrics if m.split("@")[0] not in EVAL_METRICS]
            if not metrics:
                raise HyperparameterError(f"hyperparameter eval_metric names no metric: {text!r}")
            if bad:
                raise HyperparameterError(f"hyperparameter eval_metric has unknown metric(s): {', '.join(bad)}")
            value = metrics
        elif not spec.contains(value):
            raise HyperparameterError(f"hyperparameter {name} must be {spec.describe()}, got {text!r}")
        values[name] = value
    if values["objective"].startswith("multi:") and "num_class" not in values:
        raise HyperparameterError(f"objective {values['objective']} needs the num_class hyperparameter")
    num_round = values.pop("num_round")
    early_stopping = values.pop("early_stopping_rounds", None)
    return values, num_round, early_stopping
