"""``train`` of the processing image: the logistic-regression baseline candidate (scikit-learn).

Same training-job contract as the XGBoost algorithm (``/opt/ml/input/config``, label-first CSV
channels ``train`` and optional ``validation``, ``/opt/ml/output/failure`` on error). The fitted
model (standardisation folded into the weights) is written as an XGBoost *gblinear* model file,
``/opt/ml/model/xgboost-model``: a logistic regression is exactly a gblinear model with the
``binary:logistic`` objective, so the evaluation step, ``churn predict``, the XGBoost serving
image and the official XGBoost image all score it unchanged. Writing that file is plain JSON:
this image has no XGBoost.

Hyperparameters: ``C`` (inverse regularisation strength, > 0, default 1), ``max_iter``
(default 1000) and ``enabled`` (``true``/``false``; ``false`` records ``DISABLED`` in the
model folder without reading any data, see ``BaselineEnabled`` in the README). Keys starting
with ``sagemaker_`` (script mode on the official scikit-learn image) are ignored.

Runs as ``python3 -m churn.algorithm.baseline`` or, in script mode, as a file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

if __package__ in (None, ""):  # script mode: the bundle root holds the ``churn`` package
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np
from scipy.special import expit  # the logistic function: the model's probability

from churn.algorithm.hyperparameters import HyperparameterError
from churn.model_io import DISABLED_FILE, MODEL_FILE
from churn.algorithm.train import PREFIX, ChannelError, channel_content_type, load_csv_channel, read_json, run_job

DEFAULTS = {"C": 1.0, "max_iter": 1000, "enabled": True}


def parse(raw: dict) -> dict:
    """Typed, checked hyperparameters; unknown names are rejected."""
    values = dict(DEFAULTS)
    for name, text in raw.items():
        if name.startswith("sagemaker_"):
            continue
        text = str(text).strip().strip('"')
        if name == "C":
            try:
                values["C"] = float(text)
            except ValueError:
                raise HyperparameterError(f"C must be a number, got {text!r}") from None
            if not (np.isfinite(values["C"]) and values["C"] > 0):
                raise HyperparameterError(f"C must be a positive number, got {text!r}")
        elif name == "max_iter":
            if not text.isdigit() or int(text) < 1:
                raise HyperparameterError(f"max_iter must be a positive integer, got {text!r}")
            values["max_iter"] = int(text)
        elif name == "enabled":
            if text.lower() not in ("true", "false"):
                raise HyperparameterError(f"enabled must be true or false, got {text!r}")
            values["enabled"] = text.lower() == "true"
        else:
            raise HyperparameterError(f"unknown hyperparameter {name!r}; known: {', '.join(DEFAULTS)}")
    return values


def fit(features: np.ndarray, labels: np.ndarray, c: float, max_iter: int) -> tuple[np.ndarray, float]:
    """Weights and bias on the *raw* features of a standardised logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if len(np.unique(labels)) != 2:
        raise ChannelError("the train channel must hold both classes (0 and 1)")
    # A missing value is fitted as 0: exactly what a gblinear model does with a missing value when
    # it scores (its feature contributes nothing), so training and scoring agree.
    features = _missing_as_zero(features)
    scaler = StandardScaler().fit(features)
    model = LogisticRegression(C=c, max_iter=max_iter).fit(scaler.transform(features), labels)
    coefficients = model.coef_[0] / scaler.scale_
    bias = float(model.intercept_[0] - np.sum(coefficients * scaler.mean_))
    return coefficients, bias


def has_missing(features: np.ndarray) -> bool:
    """Whether any value is missing (NaN), without a second array of the matrix's size: the
    split files of a large input make matrices of several GB."""
    return bool(np.isnan(np.sum(features)))


def _missing_as_zero(features: np.ndarray) -> np.ndarray:
    """The matrix with missing values as 0 (a copy only when one is missing)."""
    return np.nan_to_num(features, nan=0.0) if has_missing(features) else features


def linear_margin(weights: np.ndarray, bias: float, features: np.ndarray) -> np.ndarray:
    """The model's margin; a missing feature contributes nothing (as gblinear scores it)."""
    return _missing_as_zero(features) @ weights + bias


def gblinear_model(weights: np.ndarray, bias: float) -> dict:
    """An XGBoost JSON model (gblinear, binary:logistic) with these weights and bias.

    base_score 0.5 is a zero margin, so the margin is exactly ``features @ weights + bias``.
    """
    return {
        "learner": {
            "attributes": {},
            "feature_names": [],
            "feature_types": [],
            "gradient_booster": {
                "model": {"boosted_rounds": 1, "weights": [float(w) for w in weights] + [float(bias)]},
                "name": "gblinear",
            },
            "learner_model_param": {
                "base_score": "5E-1",
                "boost_from_average": "0",
                "num_class": "0",
                "num_feature": str(len(weights)),
                "num_target": "1",
            },
            "objective": {"name": "binary:logistic", "reg_loss_param": {"scale_pos_weight": "1"}},
        },
        "version": [1, 7, 6],
    }


def _auc(labels: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if len(np.unique(labels)) == 2 else float("nan")


def train(prefix: Path = PREFIX) -> Path:
    """Run one training job under ``prefix``; return the model file (or the DISABLED marker)."""
    config_dir = prefix / "input" / "config"
    settings = parse(read_json(config_dir / "hyperparameters.json", {}))
    model_dir = prefix / "model"
    model_dir.mkdir(parents=True, exist_ok=True)
    if not settings["enabled"]:
        marker = model_dir / DISABLED_FILE
        marker.write_text("the logistic-regression baseline was turned off (BaselineEnabled=false)\n")
        print("baseline candidate turned off: no model trained", flush=True)
        return marker
    data_config = read_json(config_dir / "inputdataconfig.json", {})
    data_dir = prefix / "input" / "data"
    if not (data_dir / "train").is_dir():
        raise ChannelError("the required 'train' channel is missing")
    labels, features = load_csv_channel(data_dir / "train", "train", channel_content_type(data_config, "train"))
    print(f"training logistic regression on {len(labels)} rows x {features.shape[1]} features, C={settings['C']:g}", flush=True)
    if has_missing(features):
        print(f"note: {int(np.isnan(features).sum())} missing value(s) fitted as 0, as the model scores them", flush=True)
    weights, bias = fit(features, labels, settings["C"], settings["max_iter"])
    line = f"train-auc:{_auc(labels, expit(linear_margin(weights, bias, features))):.5f}"
    if (data_dir / "validation").is_dir():
        v_labels, v_features = load_csv_channel(
            data_dir / "validation", "validation", channel_content_type(data_config, "validation")
        )
        if v_features.shape[1] != features.shape[1]:
            raise ChannelError(f"validation has {v_features.shape[1]} feature columns but train has {features.shape[1]}")
        line += f"\tvalidation-auc:{_auc(v_labels, expit(linear_margin(weights, bias, v_features))):.5f}"
    print(line, flush=True)
    path = model_dir / MODEL_FILE
    path.write_text(json.dumps(gblinear_model(weights, bias)))
    return path


def main() -> None:
    run_job("TrainBaseline", train)


if __name__ == "__main__":
    main()
