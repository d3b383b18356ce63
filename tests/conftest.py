from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_CSV = REPO / "data" / "sample" / "churn.csv"


def read_text_frame(text: str) -> pd.DataFrame:
    """A raw frame from CSV text, every value a string (as ``churn.tables.read_raw`` reads)."""
    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_filter=False)


@pytest.fixture(scope="session")
def sample_raw() -> pd.DataFrame:
    from churn.tables import read_raw

    return read_raw(SAMPLE_CSV)


@pytest.fixture()
def small_raw(sample_raw) -> pd.DataFrame:
    """The first 40 sample rows (both classes present) as a fresh copy."""
    frame = sample_raw.head(40).copy()
    assert set(frame["Churn?"]) == {"True.", "False."}
    return frame


def write_model_archive(path: Path, model_bytes: bytes, member: str = "xgboost-model") -> Path:
    """A SageMaker-style model.tar.gz holding ``model_bytes`` as ``member``."""
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(member)
        info.size = len(model_bytes)
        tar.addfile(info, io.BytesIO(model_bytes))
    return path


@pytest.fixture(scope="session")
def sample_splits(tmp_path_factory) -> Path:
    """The preprocessing entrypoint's output for the sample with default parameters."""
    from churn.steps import preprocess

    out = tmp_path_factory.mktemp("splits")
    preprocess.main(["--input", str(SAMPLE_CSV), "--output", str(out)])
    return out


@pytest.fixture(scope="session")
def trained_booster(sample_splits):
    """A small XGBoost model trained in-process on the sample train split."""
    import numpy as np
    import xgboost

    data = np.loadtxt(sample_splits / "train" / "train.csv", delimiter=",")
    matrix = xgboost.DMatrix(data[:, 1:], label=data[:, 0])
    return xgboost.train({"objective": "binary:logistic", "max_depth": 4, "eta": 0.3}, matrix, num_boost_round=20)
