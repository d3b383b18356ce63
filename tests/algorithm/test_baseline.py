"""The logistic-regression baseline: scikit-learn's fit, written as an XGBoost gblinear model."""

import json

import numpy as np
import pytest
import xgboost
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from churn.algorithm import baseline
from churn.algorithm.hyperparameters import HyperparameterError
from churn.model_io import DISABLED_FILE, booster_from_bytes
from tests.conftest import write_training_job


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(0.01, 100), shift=st.floats(-50, 50))
def test_the_xgboost_model_scores_like_scikit_learn_to_float32_rounding(seed, scale, shift):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(300, 4)) * [1, scale, 1, 0] + [0, shift, 0, 3]  # last column constant
    labels = (features[:, 0] + rng.normal(size=300) > 0).astype(float)
    if len(set(labels)) < 2:
        return
    weights, bias = baseline.fit(features, labels)
    booster = booster_from_bytes(json.dumps(baseline.gblinear_model(weights, bias)).encode())
    reference = make_pipeline(StandardScaler(), LogisticRegression()).fit(features, labels)
    margin = booster.predict(xgboost.DMatrix(features), output_margin=True)
    # XGBoost keeps features and weights in float32: the margin agrees up to float32 rounding
    # of the terms it adds up (large when features sit far from zero relative to their spread).
    size = np.abs(features * weights).sum(axis=1) + abs(bias)
    assert np.all(np.abs(margin - reference.decision_function(features)) <= 8 * np.finfo(np.float32).eps * size + 1e-6)
    probabilities = booster.predict(xgboost.DMatrix(features))
    assert np.allclose(probabilities, reference.predict_proba(features)[:, 1], atol=2 * np.finfo(np.float32).eps * size.max() + 1e-6)


def test_trains_a_job_and_logs_auc(tmp_path, sample_splits, capsys):
    path = baseline.train(write_training_job(tmp_path, sample_splits, {"C": "0.5", "enabled": "true"}))
    assert path == tmp_path / "model" / "xgboost-model"
    booster = booster_from_bytes(path.read_bytes())
    assert booster.num_features() == 73
    assert json.loads(booster.save_config())["learner"]["gradient_booster"]["name"] == "gblinear"
    out = capsys.readouterr().out
    assert "train-auc:" in out and "\tvalidation-auc:" in out


def test_turned_off_it_reads_no_data_and_writes_the_marker(tmp_path):
    config = tmp_path / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({"enabled": "false"}))
    path = baseline.train(tmp_path)  # no channels at all
    assert path.name == DISABLED_FILE and "BaselineEnabled=false" in path.read_text()
    assert not (tmp_path / "model" / "xgboost-model").exists()


def test_script_mode_hyperparameters_are_ignored(tmp_path, sample_splits):
    hyperparameters = {"C": '"1.0"', "sagemaker_program": '"churn/algorithm/baseline.py"', "sagemaker_submit_directory": '"s3://b/k"'}
    assert baseline.train(write_training_job(tmp_path, sample_splits, hyperparameters)).is_file()


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"C": "0"}, "C must be a positive number"),
        ({"C": "abc"}, "C must be a number"),
        ({"max_iter": "-3"}, "max_iter must be a positive integer"),
        ({"enabled": "maybe"}, "enabled must be true or false"),
        ({"penalty": "l1"}, "unknown hyperparameter 'penalty'"),
    ],
)
def test_bad_hyperparameters_are_named(raw, message):
    with pytest.raises(HyperparameterError, match=message):
        baseline.parse(raw)


def test_a_single_class_is_a_clear_error():
    with pytest.raises(ValueError, match="both classes"):
        baseline.fit(np.ones((10, 2)), np.zeros(10))


def test_failure_is_recorded_for_sagemaker(tmp_path, sample_splits, monkeypatch):
    write_training_job(tmp_path, sample_splits, {"C": "-1"})
    monkeypatch.setattr("churn.algorithm.train.PREFIX", tmp_path)
    with pytest.raises(SystemExit) as stopped:
        baseline.run_job("TrainBaseline", lambda: baseline.train(tmp_path))
    assert stopped.value.code == 1
    assert (tmp_path / "output" / "failure").read_text().startswith("TrainBaseline: C must be a positive number")
