"""The step code on the official images' own library stacks (Python 3.9), outside Docker.

The cloud backend runs the processing steps and the baseline on SageMaker's scikit-learn 1.2-1
image (pandas 1.1.3, numpy 1.24.1, scikit-learn 1.2.1) and XGBoost's training and both
evaluations on the XGBoost 1.7-1 image (pandas 1.2.4, xgboost 1.7.4). No image registry is
reachable here, so each stack is a Python 3.9 virtual environment with those pins
(``tests/parity/stacks/*.txt``), kept under ``.tox/official-<stack>/``, and the steps run there
as the images run them: the staged code bundle on ``PYTHONPATH``; the baseline through the real
``sagemaker-training`` toolkit in script mode; XGBoost 1.7.4's model saved as the official
container saves it. Run by ``tox -e official-stacks`` (CI), never by the default env.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import jsonschema
import pytest

from churn.backends.code_bundle import BASELINE_PROGRAM, SOURCE_ARCHIVE, write_bundle
from tests.conftest import SAMPLE_CSV
from tests.parity import goldens
from tests.parity.test_golden_splits import assert_matches_golden

pytestmark = pytest.mark.official_stack
REPO = Path(__file__).resolve().parents[2]
STACKS = Path(__file__).with_name("stacks")
SCHEMA = json.loads((REPO / "churn" / "schemas" / "evaluation.schema.json").read_text())


def _python39() -> str:
    """Python 3.9: $CHURN_PYTHON39, else pyenv's (a pyenv shim is not enough: it answers only
    where 3.9 is selected), else one on PATH."""
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    candidates = sorted(glob.glob(f"{root}/versions/3.9*/bin/python3.9"))
    found = os.environ.get("CHURN_PYTHON39") or (candidates[-1] if candidates else None) or shutil.which("python3.9")
    if not found:
        pytest.fail("no Python 3.9 (the official images' Python): install it (pyenv install 3.9) or set CHURN_PYTHON39")
    return found


def _stack(name: str) -> Path:
    """The Python of a stack's virtual environment, made (once per requirements) on first use."""
    requirements = STACKS / f"{name}.txt"
    stamp = hashlib.sha256(requirements.read_bytes()).hexdigest()[:16]
    venv = REPO / ".tox" / f"official-{name}"
    python = venv / "bin" / "python"
    if (venv / "stamp").is_file() and (venv / "stamp").read_text() == stamp:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([_python39(), "-m", "venv", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements)], check=True)
    (venv / "stamp").write_text(stamp)
    return python


@pytest.fixture(scope="module")
def sklearn_stack() -> Path:
    return _stack("sklearn-1.2-1")


@pytest.fixture(scope="module")
def xgboost_stack() -> Path:
    return _stack("xgboost-1.7-1")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    return write_bundle(tmp_path_factory.mktemp("code"))


def _step(python: Path, bundle: Path, module: str, *args, env=None) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(python), "-m", module, *map(str, args)], capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(bundle), "PYTHONDONTWRITEBYTECODE": "1", **(env or {})},
    )
    assert done.returncode == 0, f"{module} failed on {python}:\n{done.stderr[-3000:]}"
    return done


def test_the_stacks_are_the_official_images_versions(sklearn_stack, xgboost_stack):
    code = "import sys, pandas, numpy; print(sys.version_info[:2], pandas.__version__, numpy.__version__)"
    assert subprocess.run([str(sklearn_stack), "-c", code], capture_output=True, text=True).stdout.strip() == "(3, 9) 1.1.3 1.24.1"
    assert subprocess.run([str(xgboost_stack), "-c", code + "; import xgboost; print(xgboost.__version__)"],
                          capture_output=True, text=True).stdout.split() == ["(3,", "9)", "1.2.4", "1.24.1", "1.7.4"]


@pytest.fixture(scope="module")
def splits(sklearn_stack, bundle, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("splits")
    _step(sklearn_stack, bundle, "churn.steps.preprocess", "--input", SAMPLE_CSV, "--output", out)
    return out


def _digests(folder: Path) -> dict[str, str]:
    return {name: hashlib.sha256((folder / name / f"{name}.csv").read_bytes()).hexdigest() for name in ("train", "validation", "test")}


def test_preprocessing_writes_the_golden_bytes_on_the_scikit_learn_stack(splits, sklearn_stack, bundle, tmp_path):
    assert_matches_golden("default", _digests(splits), "pandas 1.1.3 on Python 3.9")
    other = goldens.CASES["train-0.6-seed-7"]
    _step(sklearn_stack, bundle, "churn.steps.preprocess", "--input", SAMPLE_CSV, "--output", tmp_path,
          "--train-ratio", other["TrainRatio"], "--validation-ratio", other["ValidationRatio"], "--split-seed", other["SplitSeed"])
    assert_matches_golden("train-0.6-seed-7", _digests(tmp_path), "pandas 1.1.3 on Python 3.9")


def _training_job(root: Path, splits: Path, hyperparameters: dict) -> Path:
    """A SageMaker training job's /opt/ml under ``root``, as the service lays it out."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    (config / "inputdataconfig.json").write_text(json.dumps({c: {"ContentType": "text/csv"} for c in ("train", "validation")}))
    # A host name that resolves here (the toolkit waits until every host in the list resolves).
    (config / "resourceconfig.json").write_text(json.dumps({"current_host": "localhost", "hosts": ["localhost"], "network_interface_name": "lo"}))
    for channel in ("train", "validation"):
        shutil.copytree(splits / channel, root / "input" / "data" / channel)
    (root / "model").mkdir()
    (root / "output").mkdir()
    return root


#: What the official scikit-learn image's training entry does with the toolkit: fetch and unpack
#: ``sagemaker_submit_directory``, then run ``sagemaker_program`` with the hyperparameters.
SCRIPT_MODE = (
    "from sagemaker_training import entry_point, environment\n"
    "env = environment.Environment()\n"
    "entry_point.run(uri=env.module_dir, user_entry_point=env.user_entry_point, args=env.to_cmd_args(), env_vars=env.to_env_vars())\n"
)


def _archive(model_file: Path, target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target / "model.tar.gz", "w:gz") as tar:
        tar.add(model_file, arcname="xgboost-model")
    return target


@pytest.fixture(scope="module")
def baseline_model(sklearn_stack, bundle, splits, tmp_path_factory) -> Path:
    """The baseline trained on the scikit-learn stack in script mode, hyperparameters as the
    cloud definition gives them (strings; the toolkit's own keys)."""
    root = _training_job(tmp_path_factory.mktemp("baseline") / "opt_ml", splits, {
        "C": "1.0", "enabled": "true", "sagemaker_program": BASELINE_PROGRAM,
        "sagemaker_submit_directory": str(bundle / SOURCE_ARCHIVE), "sagemaker_region": "eu-west-1",
    })
    env = {**os.environ, "SAGEMAKER_BASE_DIR": str(root), "SM_PREFIX": str(root), "PATH": f"{sklearn_stack.parent}:{os.environ['PATH']}"}
    done = subprocess.run([str(sklearn_stack), "-c", SCRIPT_MODE], capture_output=True, text=True, env=env, timeout=600, cwd=root)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "validation-auc:" in done.stdout + done.stderr
    return _archive(root / "model" / "xgboost-model", root.parent / "archive")


@pytest.fixture(scope="module")
def xgboost_model(xgboost_stack, splits, tmp_path_factory) -> Path:
    """A model trained by XGBoost 1.7.4 and saved as the official 1.7-1 container saves it
    (``Booster.save_model`` to ``xgboost-model``: XGBoost's binary format)."""
    folder = tmp_path_factory.mktemp("xgboost")
    code = (
        "import sys, numpy as np, xgboost as xgb\n"
        "d = np.loadtxt(sys.argv[1], delimiter=',')\n"
        "b = xgb.train({'objective': 'binary:logistic', 'max_depth': 5, 'eta': 0.2, 'eval_metric': 'auc'},"
        " xgb.DMatrix(d[:, 1:], label=d[:, 0]), 50)\n"
        "b.save_model(sys.argv[2])\n"
    )
    subprocess.run([str(xgboost_stack), "-c", code, str(splits / "train" / "train.csv"), str(folder / "xgboost-model")], check=True, timeout=600)
    assert (folder / "xgboost-model").read_bytes()[:4] == b"binf"  # the legacy binary format
    return _archive(folder / "xgboost-model", folder / "archive")


@pytest.fixture(scope="module")
def evaluations(xgboost_stack, bundle, splits, baseline_model, xgboost_model, tmp_path_factory) -> Path:
    """Both candidates evaluated on the XGBoost stack, laid out as SelectModel reads them."""
    root = tmp_path_factory.mktemp("candidates")
    for name, model in (("xgboost", xgboost_model), ("logistic-regression", baseline_model)):
        shutil.copytree(model, root / name / "model")
        _step(xgboost_stack, bundle, "churn.steps.evaluate", "--model", root / name / "model", "--test", splits / "test",
              "--output", root / name / "evaluation")
    return root


def test_both_candidates_evaluate_on_the_xgboost_stack(evaluations):
    for name in ("xgboost", "logistic-regression"):
        report = json.loads((evaluations / name / "evaluation" / "evaluation.json").read_text())
        jsonschema.validate(report, SCHEMA)
        assert report["binary_classification_metrics"]["auc"]["value"] > 0.7, name


def test_selection_on_the_scikit_learn_stack_ships_the_winner_with_its_features(sklearn_stack, bundle, evaluations, splits, tmp_path):
    from churn import model_io

    _step(sklearn_stack, bundle, "churn.steps.select", "--metric", "auc", "--candidate", "xgboost",
          "--candidate", "logistic-regression", "--candidates-dir", evaluations,
          "--manifest", splits / "manifest" / "manifest.json", "--output", tmp_path)
    selection = json.loads((tmp_path / "selection" / "selection.json").read_text())
    assert selection["winner"] == "xgboost" and " / " in selection["summary"]
    shipped = tmp_path / "model" / "model.tar.gz"
    assert model_io.read_model_bytes(shipped) == model_io.read_model_bytes(evaluations / "xgboost" / "model" / "model.tar.gz")
    assert model_io.read_features(shipped)["feature_names"] == json.loads((splits / "manifest" / "manifest.json").read_text())["feature_names"]


def test_the_official_xgboost_reader_takes_an_empty_field_as_missing(sklearn_stack, xgboost_stack, bundle, tmp_path):
    """A split file of a table with blank cells, written on the scikit-learn stack, read as the
    official XGBoost 1.7-1 image reads a CSV channel in file mode (XGBoost's own parser,
    ``<dir>?format=csv&label_column=0``: sagemaker-xgboost-container's data_utils) and as churn's
    images read it (churn.algorithm.train): the same values, and every empty field missing."""
    from churn.dataset_infer import infer_spec
    from churn.tables import read_raw_chunks
    from tests.own_data import customers_csv

    (tmp_path / "customers.csv").write_text(customers_csv(400))
    inferred = infer_spec(read_raw_chunks(tmp_path / "customers.csv", 10_000), "Churn")
    (tmp_path / "spec.json").write_text(json.dumps(inferred.spec.to_json()))
    _step(sklearn_stack, bundle, "churn.steps.preprocess", "--input", tmp_path / "customers.csv", "--dataset", tmp_path / "spec.json",
          "--output", tmp_path / "out")
    train = tmp_path / "out" / "train"
    empty = sum(line.split(",").count("") for line in (train / "train.csv").read_text().splitlines())
    assert empty > 0
    code = (
        "import sys, numpy as np, xgboost as xgb\n"
        "from pathlib import Path\n"
        "from churn.algorithm.train import load_csv_channel\n"
        "d = xgb.DMatrix(sys.argv[1] + '?format=csv&label_column=0&delimiter=,')\n"
        "m = d.get_data()\n"
        "dense = np.full(m.shape, np.nan)\n"
        "for row in range(m.shape[0]):\n"
        "    cells = slice(m.indptr[row], m.indptr[row + 1])\n"
        "    dense[row, m.indices[cells]] = m.data[cells]\n"
        "labels, features = load_csv_channel(Path(sys.argv[1]), 'train', 'text/csv')\n"
        "assert (labels == d.get_label()).all()\n"
        "np.testing.assert_array_equal(dense, features.astype(np.float32))\n"
        "print(int(np.isnan(dense).sum()))\n"
    )
    done = subprocess.run(
        [str(xgboost_stack), "-c", code, str(train)], capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONPATH": str(bundle), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) == empty


def test_the_official_containers_model_scores_with_the_hosts_churn(xgboost_model, xgboost_stack, splits):
    """A model the XGBoost 1.7-1 image wrote (binary format) loads in this churn (churn predict,
    churn report) and scores as XGBoost 1.7.4 itself does, to float32 rounding."""
    import numpy as np
    import xgboost

    from churn.model_io import load_booster

    test = np.loadtxt(splits / "test" / "test.csv", delimiter=",")
    ours = load_booster(xgboost_model / "model.tar.gz").predict(xgboost.DMatrix(test[:, 1:]))
    code = (
        "import sys, numpy as np, xgboost as xgb\n"
        "b = xgb.Booster(); b.load_model(sys.argv[1])\n"
        "d = np.loadtxt(sys.argv[2], delimiter=',')\n"
        "print(' '.join(repr(float(v)) for v in b.predict(xgb.DMatrix(d[:, 1:]))))\n"
    )
    theirs = subprocess.run([str(xgboost_stack), "-c", code, str(xgboost_model.parent / "xgboost-model"), str(splits / "test" / "test.csv")],
                            capture_output=True, text=True, check=True).stdout.split()
    assert np.allclose(ours, np.array(theirs, dtype=float), atol=1e-6)
