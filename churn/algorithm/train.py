"""``train``: the XGBoost algorithm's training entrypoint (SageMaker training-job contract).

Reads ``/opt/ml/input/config/hyperparameters.json`` and ``inputdataconfig.json``, the
``train`` (required) and ``validation`` (optional) channels under ``/opt/ml/input/data`` as
headerless CSV with the label first, logs each round as the official container does
(``[N]\\ttrain-auc:...\\tvalidation-auc:...``), and writes ``/opt/ml/model/xgboost-model``
(XGBoost's JSON model format). On error it writes ``/opt/ml/output/failure`` (SageMaker's
FailureReason) and exits 1.
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from churn.algorithm.hyperparameters import HyperparameterError, parse

PREFIX = Path(os.environ.get("SM_PREFIX", "/opt/ml"))
MODEL_FILE = "xgboost-model"
CSV_TYPES = ("text/csv", "csv")
#: Objectives whose AUC :func:`exact_auc` logs (a prediction per row, ranked the same as its margin).
BINARY_OBJECTIVES = ("binary:logistic", "binary:logitraw", "reg:logistic")


class ChannelError(ValueError):
    """A data channel is missing, empty, of an unsupported type or malformed."""


def read_json(path: Path, default):
    return json.loads(path.read_text()) if path.exists() else default


def channel_content_type(config: dict, channel: str) -> str:
    return str(config.get(channel, {}).get("ContentType") or "text/csv")


def missing_or_float(text: str) -> float:
    """A CSV field: an empty one is a missing value (NaN), as XGBoost reads it."""
    return float(text) if text.strip() else math.nan


def _read_csv_block(path: Path) -> np.ndarray:
    """A headerless numeric CSV file as float64; empty fields are missing values (NaN). pandas'
    C reader first (about 3x numpy's at a million rows), kept only where it gives what numpy's
    reader gives; numpy's reader for everything else (and for the error of a malformed file)."""
    fast = _read_csv_fast(path)
    if fast is not None:
        return fast
    return _read_csv_numpy(path)


def _read_csv_numpy(path: Path) -> np.ndarray:
    """The reference reader: numpy's, then the per-field one for a file with empty fields."""
    with warnings.catch_warnings():  # an empty file: no rows, counted by the caller, not a warning
        warnings.simplefilter("ignore", UserWarning)
        try:
            return np.loadtxt(path, delimiter=",", ndmin=2)  # float64
        except ValueError:
            return np.loadtxt(path, delimiter=",", ndmin=2, converters=missing_or_float)


#: Rows pandas parses at a time into the preallocated matrix (bounds the reader's own memory).
_FAST_CHUNK_ROWS = 100_000


def _read_csv_fast(path: Path) -> np.ndarray | None:
    """``path`` read by pandas, or None where that might differ from :func:`_read_csv_numpy`: a
    file with a byte other than plain numbers, commas and line ends, a file pandas cannot read as one float table (an empty file, a malformed row, a quote), or one
    with a missing value (pandas pads a short row with them, numpy refuses it; blank and comment
    lines are read as such rows, since numpy reads a line of spaces as a row). Numbers are
    parsed exactly, as numpy parses them: pandas 3.1's one converter is fast_float, before it
    ``round_trip`` is Python's own. Chunks are copied into one matrix sized from the file's line
    count, so the peak is the matrix and a chunk (a matrix of several GB is not held twice)."""
    try:
        import pandas as pd
    except ImportError:
        return None
    rows = _plain_numeric_lines(path)
    if rows is None:
        return None
    precision = {} if _pandas_parses_exactly(pd.__version__) else {"float_precision": "round_trip"}
    block: np.ndarray | None = None
    filled = 0
    try:
        chunks = pd.read_csv(
            path, header=None, dtype=np.float64, na_filter=False, comment="#", quoting=3, skip_blank_lines=False,  # 3: QUOTE_NONE
            engine="c", chunksize=_FAST_CHUNK_ROWS, **precision,
        )
        try:  # not a context manager before pandas 1.2 (the official scikit-learn image has 1.1.3)
            for chunk in chunks:
                values = chunk.to_numpy(dtype=np.float64)
                if block is None:
                    block = np.empty((rows, values.shape[1]), dtype=np.float64)
                if values.shape[1] != block.shape[1] or filled + len(values) > rows or np.isnan(values).any():
                    return None
                block[filled:filled + len(values)] = values
                filled += len(values)
        finally:
            chunks.close()
    except Exception:  # noqa: BLE001 - whatever stops the fast reader, numpy's reader decides (and words the error)
        return None
    if block is None or filled != rows or not block.size:
        return None
    return block


#: The bytes of the CSV files the fast reader takes: numbers written plainly, commas, line ends.
#: Anything else (a word pandas reads as a number, such as ``True``; a byte-order mark; a space,
#: quote or comment) is left to numpy's reader, which decides and words the error.
_PLAIN_NUMERIC_BYTES = b"0123456789.,+-eE\r\n"


def _plain_numeric_lines(path: Path) -> int | None:
    """The lines of a file of plain numeric CSV (a last line without its newline counts), or
    None when it holds any other byte."""
    count, last = 0, b"\n"
    with path.open("rb") as handle:
        for piece in iter(lambda: handle.read(1 << 22), b""):
            if piece.translate(None, _PLAIN_NUMERIC_BYTES):
                return None
            count += piece.count(b"\n")
            last = piece[-1:]
    return count + (last != b"\n")


def _pandas_parses_exactly(version: str) -> bool:
    """Whether this pandas' default float converter is correctly rounded (fast_float, 3.1 on)."""
    major, minor = (int(part) if part.isdigit() else 0 for part in (version.split(".") + ["0"])[:2])
    return (major, minor) >= (3, 1)


def load_csv_channel(directory: Path, channel: str, content_type: str) -> tuple[np.ndarray, np.ndarray]:
    """Label and features of every file in a channel directory (headerless CSV, label first;
    an empty feature field is a missing value)."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in CSV_TYPES:
        raise ChannelError(f"channel {channel!r} has content type {content_type!r}; this image supports text/csv only")
    files = sorted(p for p in directory.rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ChannelError(f"channel {channel!r} has no files in {directory}")
    blocks = []
    for path in files:
        try:
            block = _read_csv_block(path)
        except ValueError as error:
            raise ChannelError(f"channel {channel!r}: {path.name} is not numeric label-first CSV: {error}") from None
        if block.size:
            blocks.append(block)
    if not blocks:
        raise ChannelError(f"channel {channel!r} has no rows")
    widths = {b.shape[1] for b in blocks}
    if len(widths) != 1:
        raise ChannelError(f"channel {channel!r}: files have different numbers of columns {sorted(widths)}")
    data = blocks[0] if len(blocks) == 1 else np.vstack(blocks)  # one file: no second copy of a matrix of GBs
    if data.shape[1] < 2:
        raise ChannelError(f"channel {channel!r} needs a label column and at least one feature column")
    if np.isnan(data[:, 0]).any():
        raise ChannelError(f"channel {channel!r}: the label (first column) is missing on {int(np.isnan(data[:, 0]).sum())} row(s)")
    return data[:, 0], data[:, 1:]


def exact_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """The ROC AUC of ``scores`` for the classes ``positive`` (booleans; both classes present):
    the share of (positive, negative) pairs the positive scores above, a tie counting half.
    Counted exactly in integers (two sorts and two binary searches), then divided once."""
    positives, negatives = np.sort(scores[positive]), np.sort(scores[~positive])
    if np.isnan(positives[-1]) or np.isnan(negatives[-1]):  # (NaN sorts last)
        return math.nan
    below = int(np.searchsorted(negatives, positives, side="left").sum(dtype=np.int64))
    up_to = int(np.searchsorted(negatives, positives, side="right").sum(dtype=np.int64))
    return (below + up_to) / (2 * len(positives) * len(negatives))


def _binary_labels(label: np.ndarray) -> np.ndarray | None:
    """``label`` as booleans when it is 0/1 with both classes present, else None."""
    positive = label == 1
    both = bool(positive.any()) and not bool(positive.all())
    return positive if both and bool(((label == 0) | positive).all()) else None


def _auc_monitor(xgboost, channels: Sequence[tuple[object, str, np.ndarray]]):
    """An XGBoost callback that logs each round's AUC of every channel as XGBoost's own monitor
    logs ``eval_metric=auc`` (``[N]\\ttrain-auc:0.91234\\tvalidation-auc:...``, five decimals),
    computed by :func:`exact_auc` on the predictions XGBoost keeps of each channel (its prediction
    cache: no tree is evaluated again). XGBoost's own AUC sorts with OpenMP, which a second
    container on the same cores slows several times over; this one is single-threaded numpy."""

    class AucMonitor(xgboost.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log) -> bool:
            line = f"[{epoch}]" + "".join(f"\t{name}-auc:{exact_auc(model.predict(matrix), positive):.5f}" for matrix, name, positive in channels)
            print(line, flush=True)
            return False

    return AucMonitor()


def train(prefix: Path = PREFIX) -> Path:
    """Run one training job under ``prefix`` (``/opt/ml`` in a container); return the model path."""
    import xgboost

    config_dir = prefix / "input" / "config"
    params, num_round, early_stopping = parse(read_json(config_dir / "hyperparameters.json", {}))
    data_config = read_json(config_dir / "inputdataconfig.json", {})
    data_dir = prefix / "input" / "data"
    if not (data_dir / "train").is_dir():
        raise ChannelError("the required 'train' channel is missing")
    label, features = load_csv_channel(data_dir / "train", "train", channel_content_type(data_config, "train"))
    rows, width = features.shape
    evals = [(xgboost.DMatrix(features, label=label), "train")]
    classes = [_binary_labels(label)]
    del label, features  # the DMatrix holds its own copy: the arrays' GBs are not kept through training
    if (data_dir / "validation").is_dir():
        v_label, v_features = load_csv_channel(
            data_dir / "validation", "validation", channel_content_type(data_config, "validation")
        )
        if v_features.shape[1] != width:
            raise ChannelError(f"validation has {v_features.shape[1]} feature columns but train has {width}")
        evals.append((xgboost.DMatrix(v_features, label=v_label), "validation"))
        classes.append(_binary_labels(v_label))
        del v_label, v_features
    if early_stopping and len(evals) < 2:
        raise HyperparameterError("early_stopping_rounds needs a validation channel")
    print(f"training on {rows} rows x {width} features, {num_round} rounds", flush=True)
    callbacks = []
    # AUC alone, without early stopping (which reads XGBoost's own metric), of a binary objective
    # on 0/1 labels of both classes in every channel: logged by the exact, faster monitor. XGBoost
    # keeps a prediction cache of every matrix in ``evals``; with no metric of its own it logs nothing.
    binary = [(matrix, name, positive) for (matrix, name), positive in zip(evals, classes) if positive is not None]
    if params.get("eval_metric") == ["auc"] and not early_stopping and params["objective"] in BINARY_OBJECTIVES and len(binary) == len(evals):
        params = {**{k: v for k, v in params.items() if k != "eval_metric"}, "disable_default_eval_metric": 1}
        callbacks.append(_auc_monitor(xgboost, binary))
    booster = xgboost.train(
        params, evals[0][0], num_boost_round=num_round, evals=evals,
        early_stopping_rounds=early_stopping, verbose_eval=not callbacks, callbacks=callbacks,
    )
    model_dir = prefix / "model"
    model_dir.mkdir(exist_ok=True)  # under the prefix that holds the channels
    model_path = model_dir / MODEL_FILE
    model_path.write_bytes(bytes(booster.save_raw(raw_format="json")))
    return model_path


def run_job(step: str, job: Callable[[], Path]) -> None:
    """Run a training job; on a known error record it as SageMaker's FailureReason and exit 1."""
    try:
        path = job()
    except (HyperparameterError, ChannelError, OSError, json.JSONDecodeError) as error:
        message = f"{step}: {error}"
        print(f"ERROR {message}", file=sys.stderr, flush=True)
        failure = PREFIX / "output" / "failure"
        failure.parent.mkdir(parents=True, exist_ok=True)
        failure.write_text(message[:1024])
        sys.exit(1)
    print(f"model written to {path}", flush=True)


def main() -> None:
    run_job("TrainModel", train)


if __name__ == "__main__":
    main()
