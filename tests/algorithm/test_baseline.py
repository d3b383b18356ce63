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
    weights, bias = baseline.fit(features, labels, 1.0, 1000)
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
    assert path.name == DISABLED_FILE
    assert path.read_text() == "the logistic-regression baseline was turned off (BaselineEnabled=false)\n"
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
    with pytest.raises(ValueError, match=r"^the train channel must hold both classes \(0 and 1\)$"):
        baseline.fit(np.ones((10, 2)), np.zeros(10), 1.0, 100)


def test_failure_is_recorded_for_sagemaker(tmp_path, sample_splits, monkeypatch):
    write_training_job(tmp_path, sample_splits, {"C": "-1"})
    monkeypatch.setattr("churn.algorithm.train.PREFIX", tmp_path)
    with pytest.raises(SystemExit) as stopped:
        baseline.run_job("TrainBaseline", lambda: baseline.train(tmp_path))
    assert stopped.value.code == 1
    assert (tmp_path / "output" / "failure").read_text().startswith("TrainBaseline: C must be a positive number")


def test_the_log_states_the_job_and_each_channels_auc(tmp_path, sample_splits, capsys):
    """The lines SageMaker's metric definitions would read: sizes, C, and the AUC of the fitted
    model on each channel (as scikit-learn computes it from the model's probabilities)."""
    from sklearn.metrics import roc_auc_score

    from churn.algorithm.train import load_csv_channel

    path = baseline.train(write_training_job(tmp_path, sample_splits, {"C": "0.5"}))
    booster = booster_from_bytes(path.read_bytes())
    expected = []
    for channel in ("train", "validation"):
        labels, features = load_csv_channel(sample_splits / channel, channel, "text/csv")
        expected.append(f"{channel}-auc:{roc_auc_score(labels, booster.predict(xgboost.DMatrix(features))):.5f}")
    rows = len(load_csv_channel(sample_splits / "train", "train", "text/csv")[0])
    assert capsys.readouterr().out.splitlines() == [
        f"training logistic regression on {rows} rows x 73 features, C=0.5", "\t".join(expected)
    ]


def test_the_margin_is_scikit_learns_decision_function(sample_splits):
    from churn.algorithm.train import load_csv_channel

    labels, features = load_csv_channel(sample_splits / "train", "train", "text/csv")
    weights, bias = baseline.fit(features, labels, 0.5, 1000)
    reference = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=1000)).fit(features, labels)
    assert abs(bias) > 0.1  # the check below would not see a sign error on a zero bias
    assert np.allclose(baseline.linear_margin(weights, bias, features), reference.decision_function(features), atol=1e-6)


def test_auc_of_a_single_class_is_nan():
    assert np.isnan(baseline._auc(np.array([1.0, 1.0]), np.array([0.2, 0.7])))
    assert baseline._auc(np.array([0.0, 1.0, 1.0]), np.array([0.3, 0.2, 0.9])) == 0.5


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"sagemaker_program": '"baseline.py"', "C": '"2.5"'}, {"C": 2.5, "max_iter": 1000, "enabled": True}),
        ({"max_iter": "1", "enabled": " FALSE "}, {"C": 1.0, "max_iter": 1, "enabled": False}),
        ({"max_iter": '"7"'}, {"C": 1.0, "max_iter": 7, "enabled": True}),
    ],
)
def test_hyperparameters_are_parsed_as_script_mode_writes_them(raw, expected):
    assert baseline.parse(raw) == expected


@pytest.mark.parametrize("text", ["0", "-3", "2.5", "many"])
def test_max_iter_must_be_a_positive_integer(text):
    with pytest.raises(HyperparameterError, match=rf"^max_iter must be a positive integer, got {text!r}$"):
        baseline.parse({"max_iter": text})


def test_an_unknown_hyperparameter_lists_the_known_ones():
    with pytest.raises(HyperparameterError, match=r"^unknown hyperparameter 'tol'; known: C, max_iter, enabled$"):
        baseline.parse({"tol": "1e-4"})


@pytest.mark.parametrize("module_name", ["train", "baseline"])
def test_without_config_files_the_defaults_and_text_csv_apply(tmp_path, sample_splits, module_name):
    """SageMaker may omit hyperparameters.json (no hyperparameters) and inputdataconfig.json."""
    import importlib

    module = importlib.import_module(f"churn.algorithm.{module_name}")
    prefix = write_training_job(tmp_path, sample_splits, {"num_round": "3"})
    (prefix / "input" / "config" / "inputdataconfig.json").unlink()
    if module_name == "baseline":
        (prefix / "input" / "config" / "hyperparameters.json").unlink()
    (prefix / "model").mkdir()  # SageMaker makes /opt/ml/model before the job starts
    assert module.train(prefix).name == "xgboost-model"


@pytest.mark.parametrize("module_name", ["train", "baseline"])
def test_channel_problems_name_the_channel(tmp_path, sample_splits, module_name):
    import importlib

    from churn.algorithm.train import ChannelError

    module = importlib.import_module(f"churn.algorithm.{module_name}")
    hyperparameters = {"num_round": "3"} if module_name == "train" else {}
    with pytest.raises(ChannelError, match=r"^the required 'train' channel is missing$"):
        module.train(write_training_job(tmp_path / "empty", sample_splits, hyperparameters, channels=()))
    prefix = write_training_job(tmp_path / "job", sample_splits, hyperparameters)
    (prefix / "input" / "data" / "validation" / "validation.csv").write_text("1,2,3\n")
    with pytest.raises(ChannelError, match=r"^validation has 2 feature columns but train has 73$"):
        module.train(prefix)
    (prefix / "input" / "data" / "validation" / "validation.csv").write_text("1,a\n")
    with pytest.raises(ChannelError, match=r"^channel 'validation': validation.csv is not numeric"):
        module.train(prefix)
    (prefix / "input" / "data" / "train" / "train.csv").write_text("1,a\n")
    with pytest.raises(ChannelError, match=r"^channel 'train': train.csv is not numeric"):
        module.train(prefix)


def test_turned_off_it_says_so_in_the_log(tmp_path, capsys):
    (tmp_path / "input" / "config").mkdir(parents=True)
    (tmp_path / "input" / "config" / "hyperparameters.json").write_text(json.dumps({"enabled": "false"}))
    baseline.train(tmp_path)
    assert capsys.readouterr().out == "baseline candidate turned off: no model trained\n"


def test_a_job_folder_without_anything_gets_its_model_folder_then_fails_on_the_channel(tmp_path):
    from churn.algorithm.train import ChannelError

    with pytest.raises(ChannelError, match=r"^the required 'train' channel is missing$"):
        baseline.train(tmp_path / "opt" / "ml")
    assert (tmp_path / "opt" / "ml" / "model").is_dir()


@pytest.mark.parametrize("module_name", ["train", "baseline"])
@pytest.mark.parametrize("channel", ["train", "validation"])
def test_each_channels_declared_content_type_is_read(tmp_path, sample_splits, module_name, channel):
    import importlib

    from churn.algorithm.train import ChannelError

    module = importlib.import_module(f"churn.algorithm.{module_name}")
    prefix = write_training_job(tmp_path, sample_splits, {"num_round": "3"} if module_name == "train" else {})
    config = prefix / "input" / "config" / "inputdataconfig.json"
    config.write_text(json.dumps({"train": {"ContentType": "text/csv"}, "validation": {"ContentType": "text/csv"},
                                  channel: {"ContentType": "application/x-parquet"}}))
    with pytest.raises(ChannelError, match=rf"^channel '{channel}' has content type 'application/x-parquet'"):
        module.train(prefix)


@pytest.mark.filterwarnings("ignore:lbfgs failed to converge")
def test_max_iter_reaches_the_solver(sample_splits):
    from churn.algorithm.train import load_csv_channel

    labels, features = load_csv_channel(sample_splits / "train", "train", "text/csv")
    one, _ = baseline.fit(features, labels, 1.0, 1)
    many, _ = baseline.fit(features, labels, 1.0, 1000)
    assert not np.allclose(one, many)


def test_the_model_file_is_laid_out_as_xgboost_writes_a_gblinear_model():
    """Same keys and same settings as XGBoost's own JSON of a one-round gblinear
    ``binary:logistic`` model with base_score 0.5; the format version is 1.7.6's, which the
    official SageMaker XGBoost 1.7-1 image reads (and later versions too)."""

    def keys(document, prefix=""):
        for key, value in document.items():
            yield f"{prefix}/{key}"
            if isinstance(value, dict):
                yield from keys(value, f"{prefix}/{key}")

    rng = np.random.default_rng(0)
    features = rng.random((50, 3))
    reference = xgboost.train({"booster": "gblinear", "objective": "binary:logistic", "base_score": 0.5},
                              xgboost.DMatrix(features, label=(features[:, 0] > 0.5).astype(int)), 1)
    theirs = json.loads(bytes(reference.save_raw("json")))
    ours = baseline.gblinear_model(np.array([0.5, -1.0, 2.0]), 0.25)
    assert sorted(keys(ours)) == sorted(keys(theirs))
    for section in ("learner_model_param", "objective", "attributes", "feature_names", "feature_types"):
        assert ours["learner"][section] == theirs["learner"][section], section
    assert ours["learner"]["gradient_booster"]["name"] == "gblinear"
    assert ours["learner"]["gradient_booster"]["model"] == {"boosted_rounds": 1, "weights": [0.5, -1.0, 2.0, 0.25]}
    assert ours["version"] == [1, 7, 6]


def test_a_missing_value_is_fitted_and_scored_as_a_zero_contribution():
    """gblinear scores a missing feature as contributing nothing; the baseline fits it so."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 3))
    y = (x[:, 0] - x[:, 2] > 0).astype(int)
    holes = x.copy()
    holes[rng.random(x.shape) < 0.15] = np.nan
    weights, bias = baseline.fit(holes, y, 1.0, 1000)
    assert np.allclose((weights, bias)[0], baseline.fit(np.nan_to_num(holes), y, 1.0, 1000)[0])
    booster = booster_from_bytes(json.dumps(baseline.gblinear_model(weights, bias)).encode())
    scored = booster.predict(xgboost.DMatrix(holes), output_margin=True)
    assert np.allclose(scored, baseline.linear_margin(weights, bias, holes), atol=1e-4)


def test_complete_data_is_not_copied_to_replace_missing_values():
    """The 1 GB input's train split is a matrix of several GB: a copy of it per check ran the
    baseline out of memory (the large-input test of tox -e local-pipeline). Only a matrix with
    a missing value is copied."""
    complete = np.arange(12.0).reshape(4, 3)
    assert not baseline.has_missing(complete) and baseline._missing_as_zero(complete) is complete
    holes = complete.copy()
    holes[1, 2] = np.nan
    assert baseline.has_missing(holes)
    filled = baseline._missing_as_zero(holes)
    assert filled is not holes and filled[1, 2] == 0 and np.isnan(holes[1, 2])
