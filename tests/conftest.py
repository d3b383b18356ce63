from __future__ import annotations

import io
import os
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE_CSV = REPO / "data" / "sample" / "churn.csv"


def sample_with_value(row: int, column: str, value: str) -> str:
    """The sample CSV's text with one cell (1-based data ``row``, ``column``) replaced."""
    header, *rows = SAMPLE_CSV.read_text().splitlines()
    index = header.split(",").index(column)
    cells = rows[row - 1].split(",")
    cells[index] = value
    rows[row - 1] = ",".join(cells)
    return "\n".join([header, *rows]) + "\n"


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


def write_training_job(prefix: Path, splits: Path, hyperparameters: dict, channels=("train", "validation")) -> Path:
    """A SageMaker training job's ``/opt/ml`` under ``prefix``: config files and data channels."""
    import json
    import shutil

    config = prefix / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(json.dumps({c: {"ContentType": "text/csv"} for c in channels}))
    for channel in channels:
        shutil.copytree(splits / channel, prefix / "input" / "data" / channel)
    return prefix


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


@pytest.fixture(scope="session")
def baseline_model(sample_splits) -> bytes:
    """The logistic-regression baseline fitted in-process on the sample, as its model file."""
    import json

    import numpy as np

    from churn.algorithm import baseline

    data = np.loadtxt(sample_splits / "train" / "train.csv", delimiter=",")
    weights, bias = baseline.fit(data[:, 1:], data[:, 0], 1.0, 1000)
    return json.dumps(baseline.gblinear_model(weights, bias)).encode()


@pytest.fixture(scope="session")
def candidate_outputs(sample_splits, trained_booster, baseline_model, tmp_path_factory) -> Path:
    """``<root>/<candidate>/{model,evaluation}`` for both candidates, ``<root>/selected``
    (SelectModel's output) and ``<root>/manifest`` (PreprocessData's), made by the step
    entrypoints in-process from the sample."""
    from churn.selection import CANDIDATES
    from churn.steps import evaluate, select

    root = tmp_path_factory.mktemp("candidates")
    (root / "manifest").mkdir()  # PreprocessData's, which the execution's Manifest property file reads
    (root / "manifest" / "manifest.json").write_bytes((sample_splits / "manifest" / "manifest.json").read_bytes())
    models = {CANDIDATES[0]: bytes(trained_booster.save_raw("json")), CANDIDATES[1]: baseline_model}
    for name, model in models.items():
        (root / name / "model").mkdir(parents=True)
        write_model_archive(root / name / "model" / "model.tar.gz", model)
        evaluate.main(["--model", str(root / name / "model"), "--test", str(sample_splits / "test"), "--output", str(root / name / "evaluation")])
    trained_with = {CANDIDATES[0]: "max_depth=5 num_round=100 eta=0.2", CANDIDATES[1]: "C=1.0"}
    select.main(["--metric", "auc", *(a for name in CANDIDATES for a in ("--candidate", name)),
                 *(a for name in CANDIDATES for a in ("--hyperparameters", name, trained_with[name])),
                 "--candidates-dir", str(root), "--manifest", str(sample_splits / "manifest" / "manifest.json"),
                 "--output", str(root / "selected")])
    return root


# --- the shared end-to-end suite (tests/e2e), run against the backend given by --backend ---

CLOUD_SKIP_VARIABLE = "CHURN_SKIP_CLOUD"


def pytest_addoption(parser):
    parser.addoption(
        "--backend", choices=("local", "cloud"), default="local",
        help="backend the end-to-end suite (-m e2e) runs the pipeline on",
    )


def missing_cloud_configuration() -> list[str]:
    """What `tox -e cloud` needs and this environment lacks."""
    import os

    missing = [name for name in ("CHURN_ROLE_ARN", "CHURN_S3_BUCKET") if not os.environ.get(name)]
    if not any(os.environ.get(n) for n in ("CHURN_AWS_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")):
        missing.append("CHURN_AWS_REGION (or AWS_REGION)")
    if not any(os.environ.get(n) for n in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE")):
        missing.append("AWS credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE)")
    return missing


def _hypothesis_profile() -> None:
    """Hypothesis without per-example deadlines: a deadline is a timing assertion, which fails
    on a busy machine and proves nothing about behaviour (speed is measured in benchmarks/).
    Under mutmut (``MUTANT_UNDER_TEST`` set) also with fixed examples and no example database,
    so that a mutant's verdict does not vary by run."""
    from hypothesis import settings

    settings.register_profile("churn", deadline=None)
    settings.register_profile("mutation", deadline=None, derandomize=True, database=None)
    settings.load_profile("mutation" if "MUTANT_UNDER_TEST" in os.environ else "churn")


_hypothesis_profile()


def pytest_collection_modifyitems(config, items):
    """With --backend cloud and no AWS configuration: fail fast naming what is missing, or,
    where CHURN_SKIP_CLOUD is set (machines without AWS), skip the suite saying why."""
    import os

    if config.getoption("--backend") != "cloud":
        return
    missing = missing_cloud_configuration()
    if not missing:
        return
    message = "the cloud end-to-end suite needs: " + "; ".join(missing)
    if not os.environ.get(CLOUD_SKIP_VARIABLE):
        raise pytest.UsageError(message + f" (or set {CLOUD_SKIP_VARIABLE}=1 to skip it on a machine without AWS)")
    skip = pytest.mark.skip(reason=f"{message}; skipped because {CLOUD_SKIP_VARIABLE} is set")
    for item in items:
        if "e2e" in item.keywords:
            item.add_marker(skip)
