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


def test_main_writes_the_failure_file_and_exits_non_zero(tmp_path, sample_splits, monkeypatch, capsys):
    prefix = write_training_job(tmp_path, sample_splits, {"num_round": "-1"})
    monkeypatch.setattr(train, "PREFIX", prefix)
    monkeypatch.setattr(train, "train", lambda: train.__dict__["parse"]({"num_round": "-1"}))
    with pytest.raises(SystemExit) as exit_:
        train.main()
    assert exit_.value.code == 1
    reason = (prefix / "output" / "failure").read_text()
    assert reason == "TrainModel: hyperparameter num_round must be an integer in [1, inf], got '-1'"
    assert reason in capsys.readouterr().err


def test_loaded_features_keep_every_row(tmp_path, sample_splits):
    label, features = train.load_csv_channel(sample_splits / "test", "test", "text/csv")
    assert features.shape == (499, 73) and set(np.unique(label)) == {0.0, 1.0}
