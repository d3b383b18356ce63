import json

import numpy as np
import pytest

from churn.algorithm import train
from churn.model_io import booster_from_bytes
from tests.conftest import write_training_job


def test_trains_and_logs_rounds_like_the_official_container(tmp_path, sample_splits, capsys):
    prefix = write_training_job(tmp_path, sample_splits, {"num_round": "5", "objective": "binary:logistic", "eval_metric": "auc", "max_depth": "3"})
    path = train.train(prefix)
    assert path == prefix / "model" / "xgboost-model"
    booster = booster_from_bytes(path.read_bytes())
    assert booster.num_boosted_rounds() == 5 and booster.num_features() == 73
    out = capsys.readouterr().out
    assert "[0]\ttrain-auc:" in out and "\tvalidation-auc:" in out and "[4]\t" in out


def test_validation_channel_is_optional(tmp_path, sample_splits):
    prefix = write_training_job(tmp_path, sample_splits, {"num_round": "2"}, channels=("train",))
    assert train.train(prefix).is_file()


def test_missing_train_channel(tmp_path, sample_splits):
    prefix = write_training_job(tmp_path, sample_splits, {"num_round": "2"}, channels=("validation",))
    with pytest.raises(train.ChannelError, match="'train' channel is missing"):
        train.train(prefix)


def test_unsupported_content_type(tmp_path, sample_splits):
    prefix = write_training_job(tmp_path, sample_splits, {"num_round": "2"})
    (prefix / "input/config/inputdataconfig.json").write_text(json.dumps({"train": {"ContentType": "application/x-parquet"}}))
    with pytest.raises(train.ChannelError, match="supports text/csv only"):
        train.train(prefix)


def test_non_numeric_csv(tmp_path, sample_splits):
    prefix = write_training_job(tmp_path, sample_splits, {"num_round": "2"}, channels=("train",))
    (prefix / "input/data/train/train.csv").write_text("1,a,b\n")
    with pytest.raises(train.ChannelError, match="not numeric label-first CSV"):
        train.train(prefix)


def test_main_writes_the_failure_file_and_exits_non_zero(tmp_path, sample_splits):
    """The real entrypoint (``python -m churn.algorithm.train``) under a SageMaker-like prefix."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import churn

    prefix = write_training_job(tmp_path, sample_splits, {"num_round": "-1"})
    result = subprocess.run(
        [sys.executable, "-m", "churn.algorithm.train"], capture_output=True, text=True,
        cwd=Path(churn.__file__).resolve().parents[1], env=dict(os.environ, SM_PREFIX=str(prefix)),
    )
    assert result.returncode == 1, result.stderr
    reason = (prefix / "output" / "failure").read_text()
    assert reason == "TrainModel: hyperparameter num_round must be an integer in [1, inf], got '-1'"
    assert result.stderr.strip().splitlines() == [f"ERROR {reason}"]
    assert not (prefix / "model").exists()


def test_loaded_features_keep_every_row(tmp_path, sample_splits):
    label, features = train.load_csv_channel(sample_splits / "test", "test", "text/csv")
    assert features.shape == (499, 73) and set(np.unique(label)) == {0.0, 1.0}


def test_early_stopping_needs_a_validation_channel(tmp_path, sample_splits):
    prefix = write_training_job(tmp_path, sample_splits, {"num_round": "5", "early_stopping_rounds": "2"}, channels=("train",))
    with pytest.raises(train.HyperparameterError, match="early_stopping_rounds needs a validation channel"):
        train.train(prefix)
    assert not (prefix / "model").exists()


def test_early_stopping_with_a_validation_channel_trains(tmp_path, sample_splits):
    params = {"num_round": "5", "early_stopping_rounds": "2", "objective": "binary:logistic", "eval_metric": "auc"}
    prefix = write_training_job(tmp_path, sample_splits, params)
    assert booster_from_bytes(train.train(prefix).read_bytes()).num_boosted_rounds() >= 1
