import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    rows = len(train.load_csv_channel(sample_splits / "train", "train", "text/csv")[0])
    assert out.splitlines()[0] == f"training on {rows} rows x 73 features, 5 rounds"
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
    with pytest.raises(train.HyperparameterError, match=r"^early_stopping_rounds needs a validation channel$"):
        train.train(prefix)
    assert not (prefix / "model").exists()


def test_early_stopping_stops_when_validation_auc_stops_improving(tmp_path, sample_splits):
    params = {"num_round": "60", "eta": "1", "max_depth": "6", "objective": "binary:logistic", "eval_metric": "auc"}
    full = write_training_job(tmp_path / "full", sample_splits, params)
    assert booster_from_bytes(train.train(full).read_bytes()).num_boosted_rounds() == 60
    early = write_training_job(tmp_path / "early", sample_splits, params | {"early_stopping_rounds": "3"})
    assert 1 <= booster_from_bytes(train.train(early).read_bytes()).num_boosted_rounds() < 60


def test_without_hyperparameters_num_round_is_missing(tmp_path, sample_splits):
    prefix = write_training_job(tmp_path, sample_splits, {})
    (prefix / "input" / "config" / "hyperparameters.json").unlink()
    with pytest.raises(train.HyperparameterError, match=r"^missing required hyperparameter\(s\): num_round$"):
        train.train(prefix)


def _raise(error):
    def job():
        raise error
    return job


@pytest.mark.parametrize(
    "error",
    [train.HyperparameterError("num_round must be an integer"), train.ChannelError("channel 'train' has no rows"),
     OSError("No space left on device"), json.JSONDecodeError("Expecting value", "{", 1)],
    ids=["hyperparameter", "channel", "os", "json"],
)
def test_a_known_error_becomes_the_jobs_failure_reason(tmp_path, monkeypatch, capsys, error):
    """In-process: the failure file under the job's prefix (made if missing), one stderr line, exit 1."""
    prefix = tmp_path / "opt" / "ml"
    monkeypatch.setattr(train, "PREFIX", prefix)
    with pytest.raises(SystemExit) as exit_:
        train.run_job("TrainModel", _raise(error))
    assert exit_.value.code == 1
    reason = (prefix / "output" / "failure").read_text()
    assert reason == f"TrainModel: {error}"
    assert capsys.readouterr() == ("", f"ERROR {reason}\n")


def test_a_long_failure_reason_is_cut_to_what_sagemaker_keeps(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "PREFIX", tmp_path)
    (tmp_path / "output").mkdir()  # SageMaker makes /opt/ml/output before the job starts
    with pytest.raises(SystemExit):
        train.run_job("TrainModel", _raise(train.ChannelError("x" * 3000)))
    assert (tmp_path / "output" / "failure").read_text() == ("TrainModel: " + "x" * 3000)[:1024]


def test_an_unexpected_error_is_not_recorded_as_a_known_one(tmp_path, monkeypatch):
    monkeypatch.setattr(train, "PREFIX", tmp_path)
    with pytest.raises(RuntimeError):
        train.run_job("TrainModel", _raise(RuntimeError("bug")))
    assert not (tmp_path / "output").exists()


def test_a_finished_job_says_where_its_model_is(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(train, "PREFIX", tmp_path)
    train.run_job("TrainModel", lambda: tmp_path / "model" / "xgboost-model")
    assert capsys.readouterr().out == f"model written to {tmp_path / 'model' / 'xgboost-model'}\n"
    assert not (tmp_path / "output").exists()


@pytest.mark.parametrize("module_name, step", [("train", "TrainModel"), ("baseline", "TrainBaseline")])
def test_each_training_entrypoint_names_its_step(tmp_path, monkeypatch, module_name, step):
    import importlib

    module = importlib.import_module(f"churn.algorithm.{module_name}")
    monkeypatch.setattr(train, "PREFIX", tmp_path)
    monkeypatch.setattr(module, "train", _raise(train.ChannelError("channel 'train' has no rows")))
    with pytest.raises(SystemExit):
        module.main()
    assert (tmp_path / "output" / "failure").read_text() == f"{step}: channel 'train' has no rows"


def test_a_channel_reads_nested_files_skips_hidden_ones_and_takes_type_parameters(tmp_path):
    channel = tmp_path / "train"
    (channel / "part-2").mkdir(parents=True)
    (channel / "a.csv").write_text("1,0.5\n0,1.5\n")
    (channel / "part-2" / "b.csv").write_text("1,2.5\n")
    (channel / ".DS_Store").write_text("not,csv,at all\n")
    label, features = train.load_csv_channel(channel, "train", "text/csv;charset=utf-8")
    assert label.tolist() == [1.0, 0.0, 1.0] and features.tolist() == [[0.5], [1.5], [2.5]]
    assert train.load_csv_channel(channel, "train", "CSV")[0].tolist() == [1.0, 0.0, 1.0]


@pytest.mark.parametrize(
    "files, message",
    [
        ({}, r"^channel 'validation' has no files in .*validation$"),
        ({"a.csv": ""}, r"^channel 'validation' has no rows$"),
        ({"a.csv": "1,2,3\n", "b.csv": "1,2,3,4\n"}, r"^channel 'validation': files have different numbers of columns \[3, 4\]$"),
        ({"a.csv": "1\n0\n"}, r"^channel 'validation' needs a label column and at least one feature column$"),
    ],
)
def test_channel_problems_are_named(tmp_path, files, message):
    channel = tmp_path / "validation"
    channel.mkdir()
    for name, text in files.items():
        (channel / name).write_text(text)
    with pytest.raises(train.ChannelError, match=message):
        train.load_csv_channel(channel, "validation", "text/csv")


def test_a_missing_content_type_means_csv():
    assert train.channel_content_type({}, "train") == "text/csv"
    assert train.channel_content_type({"train": {}}, "train") == "text/csv"
    assert train.channel_content_type({"train": {"ContentType": "application/x-parquet"}}, "train") == "application/x-parquet"


def _channel_with_missing(tmp_path, rows):
    folder = tmp_path / "train"
    folder.mkdir(parents=True)
    (folder / "train.csv").write_text("".join(row + "\n" for row in rows))
    return folder


def test_an_empty_field_is_a_missing_value(tmp_path):
    labels, features = train.load_csv_channel(_channel_with_missing(tmp_path, ["1,2.5,", "0,,1", "1,3,0"]), "train", "text/csv")
    assert labels.tolist() == [1, 0, 1]
    assert np.isnan(features[0, 1]) and np.isnan(features[1, 0]) and features[2].tolist() == [3, 0]
    with pytest.raises(train.ChannelError, match="not numeric label-first CSV"):
        train.load_csv_channel(_channel_with_missing(tmp_path / "x", ["1,2,", "0,a,1"]), "train", "text/csv")
    with pytest.raises(train.ChannelError, match=r"the label \(first column\) is missing on 1 row"):
        train.load_csv_channel(_channel_with_missing(tmp_path / "y", ["1,2,3", ",1,1"]), "train", "text/csv")


def test_xgboost_trains_on_missing_values_and_scores_them_as_missing(tmp_path):
    """XGBoost's native handling: a missing value takes each split's learned default branch."""
    import xgboost

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    x[rng.random(x.shape) < 0.2] = np.nan
    rows = [",".join([str(label), *("" if np.isnan(v) else repr(float(v)) for v in row)]) for label, row in zip(y, x)]
    folder = tmp_path / "job"
    (folder / "input" / "config").mkdir(parents=True)
    (folder / "input" / "config" / "hyperparameters.json").write_text(json.dumps({"num_round": "5", "objective": "binary:logistic"}))
    (folder / "input" / "config" / "inputdataconfig.json").write_text(json.dumps({"train": {"ContentType": "text/csv"}}))
    (folder / "input" / "data" / "train").mkdir(parents=True)
    (folder / "input" / "data" / "train" / "train.csv").write_text("\n".join(rows) + "\n")
    booster = booster_from_bytes(train.train(folder).read_bytes())
    scores = booster.predict(xgboost.DMatrix(x))
    assert np.isfinite(scores).all() and not np.allclose(scores, scores[0])


# --- the fast reader gives what numpy's reader gives, or steps aside --------------------------


_FIELDS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda x: f"{x:.17g}"),
    st.integers(-10**20, 10**20).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=4).map(str),
    st.sampled_from(["", " 1.5", "2.5 ", "+3", "-.5", "5.", "1e5", "1E-5", "inf", "-inf", "nan", "NA", "a", '"1"', "1_0", "0x10", "#1", " ", "True", "false", "TRUE", "\ufeff1"]),
)


def _rows(draw_rows):
    return "".join(",".join(row) + "\n" for row in draw_rows)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.lists(_FIELDS, min_size=1, max_size=4), min_size=0, max_size=6),
    widths=st.booleans(),
    trailer=st.sampled_from(["", "\n", "# a comment\n", "\n\n"]),
)
def test_the_fast_reader_gives_numpys_array_or_its_error(tmp_path, rows, widths, trailer):
    """pandas' reader (used for speed) is kept only where it is numpy's: same values to the bit
    (the numbers parsed exactly), same shape, and a file numpy refuses is refused the same way."""
    if widths and rows:  # mostly rectangular tables, as the splits are
        width = len(rows[0])
        rows = [(row * width)[:width] for row in rows]
    path = tmp_path / "block.csv"
    path.write_text(_rows(rows) + trailer)

    def outcome(reader):
        try:
            return reader(path)
        except ValueError as error:
            return f"ValueError: {error}"

    expected, got = outcome(train._read_csv_numpy), outcome(train._read_csv_block)
    if isinstance(expected, str):
        assert got == expected
    else:
        assert isinstance(got, np.ndarray) and got.dtype == np.float64 and got.shape == expected.shape
        assert np.array_equal(got.view(np.uint64), expected.view(np.uint64)) or np.array_equal(got, expected, equal_nan=True)
    fast = train._read_csv_fast(path)
    if fast is not None:  # whenever the fast reader answers, it is numpy's answer bit for bit
        assert not isinstance(expected, str) and np.array_equal(fast.view(np.uint64), np.ascontiguousarray(expected).view(np.uint64))


def test_the_fast_reader_reads_the_splits(sample_splits):
    """It is the reader that serves real splits (not numpy's every time), with numpy's values."""
    path = sample_splits / "train" / "train.csv"
    fast = train._read_csv_fast(path)
    assert fast is not None and np.array_equal(fast, train._read_csv_numpy(path))


@pytest.mark.parametrize(("version", "exact"), [("3.1.1", True), ("3.1.0rc0", True), ("4.0.0", True), ("3.0.2", False), ("1.1.3", False), ("2.2", False)])
def test_only_pandas_3_1_on_parses_exactly_by_default(version, exact):
    assert train._pandas_parses_exactly(version) is exact


def test_whatever_stops_the_fast_reader_numpys_reader_decides(sample_splits, monkeypatch):
    """On pandas 1.1.3 (the official scikit-learn image) the chunk reader was no context manager
    and the baseline failed with AttributeError: any error of the fast reader falls back."""
    import pandas as pd

    path = sample_splits / "train" / "train.csv"

    class NoContextManager:
        def __init__(self, *args, **kwargs):
            self.chunks = iter(pd.read_csv(path, header=None, chunksize=100))

        def __iter__(self):
            return self.chunks

        def close(self):
            pass

    monkeypatch.setattr(pd, "read_csv", NoContextManager)
    assert np.array_equal(train._read_csv_block(path), train._read_csv_numpy(path))

    def broken(*args, **kwargs):
        raise RuntimeError("a reader that breaks")

    monkeypatch.setattr(pd, "read_csv", broken)
    assert train._read_csv_fast(path) is None
    assert np.array_equal(train._read_csv_block(path), train._read_csv_numpy(path))


@pytest.mark.parametrize("text", ["1,True,3\n0,False,1\n", "1,true,3\n", "\ufeff1,2,3\n4,5,6\n"])
def test_words_pandas_reads_as_numbers_and_a_byte_order_mark_are_numpys_to_judge(tmp_path, text):
    """A hostile pass found pandas reading True as 1.0 and skipping a byte-order mark where numpy
    refuses both: the fast reader takes plain numeric bytes only, so numpy's error stands."""
    path = tmp_path / "train.csv"
    path.write_text(text, encoding="utf-8")
    assert train._read_csv_fast(path) is None
    with pytest.raises(ValueError):
        train._read_csv_numpy(path)
    with pytest.raises(ValueError):
        train._read_csv_block(path)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=2, max_size=60).filter(lambda rows: len({c for _, c in rows}) == 2))
def test_the_exact_auc_counts_every_pair(rows):
    """exact_auc is the share of (positive, negative) pairs ranked right, a tie counting half,
    to the last bit (few distinct scores: ties everywhere)."""
    from fractions import Fraction

    scores = np.array([s / 7 for s, _ in rows], dtype=np.float32)
    positive = np.array([c for _, c in rows])
    pairs = [(p, n) for p, cp in zip(scores, positive) if cp for n, cn in zip(scores, positive) if not cn]
    expected = Fraction(sum(2 if p > n else 1 if p == n else 0 for p, n in pairs), 2 * len(pairs))
    assert train.exact_auc(scores, positive) == float(expected)


@pytest.mark.parametrize("where", ["positive", "negative"])
def test_a_nan_score_gives_a_nan_auc(where):
    """NaN sorts last and ranks nowhere: the AUC is NaN (logged as XGBoost logs one), not a count."""
    scores = np.array([0.1, 0.9, 0.4, 0.6], dtype=np.float32)
    positive = np.array([False, True, False, True])
    assert train.exact_auc(scores, positive) == 1.0
    scores[1 if where == "positive" else 0] = np.nan
    assert np.isnan(train.exact_auc(scores, positive))


def _own_copy(splits, tmp_path):
    import shutil

    return shutil.copytree(splits, tmp_path / "splits")


def _train_log(tmp_path, sample_splits, capsys, hyperparameters, name, channels):
    prefix = write_training_job(tmp_path / name, sample_splits, hyperparameters, channels=channels)
    model = train.train(prefix).read_bytes()
    return capsys.readouterr().out.splitlines(), model


@pytest.mark.parametrize("objective", ["binary:logistic", "binary:logitraw", "reg:logistic"])
@pytest.mark.parametrize("channels", [("train", "validation"), ("train",)])
def test_the_auc_monitor_logs_what_xgboost_logs_and_changes_no_model(tmp_path, sample_splits, capsys, monkeypatch, objective, channels):
    """eval_metric=auc is logged by the exact monitor: the same lines as XGBoost's own metric
    and monitor, to the character, and the same model bytes."""
    hyperparameters = {"num_round": "30", "objective": objective, "eval_metric": "auc", "max_depth": "4", "eta": "0.3"}
    monitored = []
    real = train._auc_monitor
    monkeypatch.setattr(train, "_auc_monitor", lambda *args: monitored.append(1) or real(*args))
    fast = _train_log(tmp_path, sample_splits, capsys, hyperparameters, "fast", channels)
    monkeypatch.setattr(train, "BINARY_OBJECTIVES", ())  # XGBoost's own metric and monitor
    native = _train_log(tmp_path, sample_splits, capsys, hyperparameters, "native", channels)
    assert monitored == [1]
    assert fast == native and len(fast[0]) == 31 and fast[0][30].startswith("[29]\ttrain-auc:")
    assert ("\tvalidation-auc:" in fast[0][30]) == (channels == ("train", "validation"))


@pytest.mark.parametrize(
    "hyperparameters, labels",
    [
        ({"eval_metric": "auc,logloss"}, None),
        ({"eval_metric": "logloss"}, None),
        ({"eval_metric": "auc", "early_stopping_rounds": "3"}, None),
        ({"eval_metric": "auc", "objective": "reg:squarederror"}, None),
        ({"eval_metric": "auc"}, ("train", "0.5")),  # a label neither 0 nor 1
        ({"eval_metric": "auc"}, ("validation", "0")),  # one class only
    ],
)
@pytest.mark.filterwarnings("ignore:.*only positive or negative samples")
def test_other_metrics_objectives_or_labels_keep_xgboosts_own_monitor(tmp_path, sample_splits, monkeypatch, hyperparameters, labels):
    monkeypatch.setattr(train, "_auc_monitor", lambda *args: pytest.fail("the exact monitor was used"))
    sample_splits = _own_copy(sample_splits, tmp_path)
    if labels is not None:
        channel, label = labels
        path = sample_splits / channel / f"{channel}.csv"
        lines = path.read_text().splitlines(True)
        path.write_text("".join(f"{label}{line[line.index(','):]}" if i % 2 == 0 or label == "0" else line for i, line in enumerate(lines)))
    prefix = write_training_job(tmp_path, sample_splits, {"num_round": "3", "objective": "binary:logistic", **hyperparameters})
    assert train.train(prefix).is_file()
