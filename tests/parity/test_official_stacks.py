"""The step code on the official images' own library stacks (Python 3.9), outside Docker.

The cloud backend runs the processing steps and the baseline on SageMaker's scikit-learn 1.2-1
image (pandas 1.1.3, numpy 1.24.1, scikit-learn 1.2.1) and XGBoost's training and both
evaluations on the XGBoost 1.7-1 image (pandas 1.2.4, xgboost 1.7.4). No image registry is
reachable here, so each stack is a Python 3.9 virtual environment with those pins
(``tests/parity/stacks/*.txt``), kept under ``.tox/official-<stack>/``, and the steps run there
as the images run them: the staged code bundle on ``PYTHONPATH``; the baseline through the real
``sagemaker-training`` toolkit in script mode; XGBoost 1.7.4's model saved as the official
container saves it; the cloud endpoint through the XGBoost image's real serving toolkit
(``sagemaker-containers``) in script mode. Run by ``tox -e official-stacks`` (CI), never by the
default env.
"""

from __future__ import annotations

import base64
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
    serving = "import flask, pkg_resources as p; from sagemaker_containers.beta.framework import encoders, transformer, worker; print(p.get_distribution('sagemaker-containers').version, flask.__version__)"
    assert subprocess.run([str(xgboost_stack), "-c", serving], capture_output=True, text=True).stdout.split() == ["2.8.6.post2", "1.1.1"]


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


@pytest.fixture(scope="module")
def selected(sklearn_stack, bundle, evaluations, splits, tmp_path_factory) -> Path:
    """SelectModel's outputs, run on the scikit-learn stack."""
    out = tmp_path_factory.mktemp("selected")
    _step(sklearn_stack, bundle, "churn.steps.select", "--metric", "auc", "--candidate", "xgboost",
          "--candidate", "logistic-regression", "--candidates-dir", evaluations,
          "--manifest", splits / "manifest" / "manifest.json", "--output", out)
    return out


def test_selection_on_the_scikit_learn_stack_ships_the_winner_with_its_features(selected, evaluations, splits):
    from churn import model_io

    selection = json.loads((selected / "selection" / "selection.json").read_text())
    assert selection["winner"] == "xgboost" and " / " in selection["summary"]
    shipped = selected / "model" / "model.tar.gz"
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


#: What SageMaker's XGBoost 1.7-1 image does with a model whose environment names a program
#: (``serving_entrypoint`` and ``main`` of sagemaker-xgboost-container's serving.py, on the
#: sagemaker-containers toolkit): fetch ``SAGEMAKER_SUBMIT_DIRECTORY`` into /opt/ml/code, make it
#: a module and pip-install it (here into ``PIP_TARGET``, not the stack), import
#: ``SAGEMAKER_PROGRAM`` by name, wrap its ``model_fn`` and ``transform_fn`` in the toolkit's
#: Transformer, load the model from /opt/ml/model, and serve it as the toolkit's Flask Worker.
#: Requests go through Flask's test client instead of gunicorn; answers go to ``argv[2]``.
ENDPOINT_DRIVER = (
    "import base64, json, os, sys\n"
    "from sagemaker_containers.beta.framework import env, modules, transformer, worker\n"
    "serving = env.ServingEnv()\n"
    "program = modules.import_module(serving.module_dir, serving.module_name)\n"
    "handlers = transformer.Transformer(model_fn=program.model_fn, transform_fn=program.transform_fn)\n"
    "handlers.initialize()\n"
    "app = worker.Worker(transform_fn=handlers.transform, module_name=serving.module_name)\n"
    "import churn\n"
    "client = app.test_client()\n"
    "answers = []\n"
    "for request in json.load(open(sys.argv[1])):\n"
    "    r = client.open(request['path'], method=request['method'], data=base64.b64decode(request['body']), headers=request['headers'])\n"
    "    answers.append({'status': r.status_code, 'headers': dict(r.headers), 'body': base64.b64encode(r.get_data()).decode()})\n"
    "json.dump({'program': program.__file__, 'churn': churn.__file__, 'code': sorted(os.listdir(env.code_dir)),\n"
    "           'model_dir': env.model_dir, 'answers': answers}, open(sys.argv[2], 'w'))\n"
)


def _endpoint_environment(bundle: Path) -> dict[str, str]:
    """The environment the cloud backend gives the deployed model (the compiled CreateModel
    step's container), its code archive this bundle's, staged here instead of in S3."""
    from churn.definition import compile_definition

    definition = compile_definition("cloud", bucket="my-bucket", region="eu-west-1", role_arn="arn:aws:iam::123456789012:role/x")
    gate = next(s for s in definition["Steps"] if s["Name"] == "CheckAccuracy")["Arguments"]
    container = next(s for s in gate["IfSteps"] if s["Name"].startswith("CreateModel"))["Arguments"]["PrimaryContainer"]
    assert "sagemaker-xgboost:1.7-1" in container["Image"]
    environment = dict(container["Environment"])
    archive = environment.pop("SAGEMAKER_SUBMIT_DIRECTORY")["Std:Join"]["Values"]
    assert archive[-2:] == [bundle.name, SOURCE_ARCHIVE], "the model runs the code bundle of this commit"
    assert all(isinstance(value, str) for value in environment.values()), environment
    return {**environment, "SAGEMAKER_SUBMIT_DIRECTORY": str(bundle / SOURCE_ARCHIVE)}


def _scores(answer: dict) -> list[float]:
    body = base64.b64decode(answer["body"])
    if answer["headers"]["Content-Type"] == "application/json":
        return [p["score"] for p in json.loads(body)["predictions"]]
    return [float(v) for v in body.split()]


def test_the_official_xgboost_images_serving_toolkit_answers_raw_rows_as_churn_predict(xgboost_stack, bundle, selected, splits, tmp_path):
    """A churn endpoint on SageMaker's XGBoost 1.7-1 image, run as the image runs it in script
    mode (its sagemaker-containers toolkit, the cloud model's environment, the code archive and
    SelectModel's deployable archive) on the image's library stack: raw customer rows, CSV with or
    without a header and label, and JSON records, get ``churn predict``'s scores, and every
    request the status and message ``churn serve`` gives it."""
    import numpy as np
    import pandas as pd

    from churn.algorithm import serve
    from churn.dataset import DEFAULT_SPEC
    from churn.predict import churn_probabilities
    from churn.schema import SchemaError

    archive = selected / "model" / "model.tar.gz"
    root = tmp_path / "opt_ml"  # SAGEMAKER_BASE_DIR: the toolkit's /opt/ml
    with tarfile.open(archive) as tar:
        tar.extractall(root / "model", filter="data")  # as SageMaker unpacks ModelDataUrl
    assert (root / "model" / "churn" / "features.json").is_file()
    (tmp_path / "site").mkdir()  # where the toolkit's `pip install` of the code goes

    header, *rows = SAMPLE_CSV.read_text().splitlines()
    with_header = "\n".join([header, *rows[:40]]) + "\n"
    (tmp_path / "rows.csv").write_text(with_header)
    expected = churn_probabilities(archive, tmp_path / "rows.csv", spec=DEFAULT_SPEC)
    bad = {  # churn predict's message for each
        "not a number": "\n".join([header, rows[0], rows[1].replace("OH,107,", "OH,abc,", 1)]) + "\n",
        "not in a category's vocabulary": "\n".join([header, rows[0], rows[1].replace(",415,", ",abc,", 1)]) + "\n",
    }
    predicted = {}
    for name, text in bad.items():
        (tmp_path / "bad.csv").write_text(text)
        with pytest.raises(SchemaError) as refused:
            churn_probabilities(archive, tmp_path / "bad.csv", spec=DEFAULT_SPEC)
        predicted[name] = f"{refused.value}\n"
    records = json.dumps(pd.read_csv(tmp_path / "rows.csv", dtype=str, keep_default_na=False).to_dict(orient="records")).encode()
    headerless = "\n".join(row.rsplit(",", 1)[0] for row in rows[:40]).encode()
    features = "\n".join(row.split(",", 1)[1] for row in (splits / "test" / "test.csv").read_text().splitlines()[:5]).encode()
    cases = {  # name: (body, Content-Type, Accept or None), all POST /invocations
        "csv with a header and the label": (with_header.encode(), "text/csv", None),
        "csv without header or label": (headerless, "text/csv", "*/*"),
        "csv as bytes (a charset)": (with_header.encode(), "text/csv; charset=utf-8", "text/csv"),
        "json records, json asked for": (records, "application/json", "application/json"),
        "json records, no Accept": (records, "application/json", None),
        "not a number": (bad["not a number"].encode(), "text/csv", None),
        "not in a category's vocabulary": (bad["not in a category's vocabulary"].encode(), "text/csv", None),
        "an unseen category": ("\n".join([header, rows[0].replace("KS,", "XX,", 1), rows[1]]).encode(), "text/csv", None),
        "not UTF-8": (b"\xff\xfe", "text/csv", None),
        "a duplicate header column": (f"{header},State\n{rows[0]},KS\n".encode(), "text/csv", None),
        "an answer type it cannot give": (rows[0].encode(), "text/csv", "application/x-protobuf"),
        "an unsupported content type": (b"x", "application/x-npy", None),
        "feature rows, as the algorithm mode takes": (features, "text/csv", None),
        "csv without a Content-Type": (with_header.encode(), None, None),  # the toolkit would say JSON
    }
    requests = [{"method": "GET", "path": "/ping", "body": "", "headers": {}}] + [
        {"method": "POST", "path": "/invocations", "body": base64.b64encode(body).decode(),
         "headers": {**({"Content-Type": kind} if kind else {}), **({"Accept": accept} if accept else {})}}
        for body, kind, accept in cases.values()
    ]
    (tmp_path / "requests.json").write_text(json.dumps(requests))

    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "PIP_", "SAGEMAKER_", "SM_"))}
    env.update(_endpoint_environment(bundle), SAGEMAKER_BASE_DIR=str(root), OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=str(tmp_path / "site"), PIP_TARGET=str(tmp_path / "site"), PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    assert env["SAGEMAKER_PROGRAM"] == "churn_endpoint.py" and env["SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"] == "text/csv"
    done = subprocess.run([str(xgboost_stack), "-c", ENDPOINT_DRIVER, str(tmp_path / "requests.json"), str(tmp_path / "answers.json")],
                          capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    served = json.loads((tmp_path / "answers.json").read_text())
    # The program and churn's code were imported from the installed code archive, not this checkout.
    assert served["program"] == str(tmp_path / "site" / "churn_endpoint.py")
    assert served["churn"] == str(tmp_path / "site" / "churn" / "__init__.py")
    assert {"churn", "churn_endpoint.py"} <= set(served["code"]) and served["model_dir"] == str(root / "model")

    ping, *answers = served["answers"]
    assert ping["status"] == 200
    # Every answer is churn serve's for the same request: its status, type, header and message.
    booster, spec = serve.load_model(root / "model", allow_pickle=False), serve.load_spec(root / "model")
    for (name, (body, kind, accept)), answer in zip(cases.items(), answers):
        status, message, answer_type, headers = serve.answer(booster, spec, body, kind, accept)
        assert answer["status"] == status, (name, base64.b64decode(answer["body"]))
        assert answer["headers"]["Content-Type"] == answer_type, name
        assert answer["headers"].get(serve.UNSEEN_HEADER) == headers.get(serve.UNSEEN_HEADER), name
        if status == 200:
            ours = _scores({"headers": {"Content-Type": answer_type}, "body": base64.b64encode(message).decode()})
            np.testing.assert_allclose(_scores(answer), ours, rtol=1e-6, err_msg=name)
            assert len(ours) > 1
        else:
            assert base64.b64decode(answer["body"]) == message, name
    # ... and its scores churn predict's for the same rows, whatever the form they came in.
    answered = dict(zip(cases, answers))
    for name in ("csv with a header and the label", "csv without header or label", "csv as bytes (a charset)",
                 "json records, json asked for", "json records, no Accept"):
        np.testing.assert_allclose(np.array(_scores(answered[name]), dtype=np.float32), expected, rtol=1e-6, err_msg=name)
    assert answered["json records, json asked for"]["headers"]["Content-Type"] == "application/json"
    assert answered["json records, no Accept"]["headers"]["Content-Type"] == "text/csv"  # SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT
    for name, message in predicted.items():
        assert (answered[name]["status"], base64.b64decode(answered[name]["body"]).decode()) == (400, message)
    assert "'abc'" in predicted["not a number"] and predicted["not a number"] != predicted["not in a category's vocabulary"]
    assert answered["an unseen category"]["headers"][serve.UNSEEN_HEADER] == "State=1"
    # InvokeEndpoint passes no other header on: the note reaches the caller as CustomAttributes.
    assert answered["an unseen category"]["headers"]["X-Amzn-SageMaker-Custom-Attributes"] == "X-Churn-Unseen-Categories: State=1"
    np.testing.assert_allclose(np.array(_scores(answered["csv without a Content-Type"]), dtype=np.float32), expected, rtol=1e-6)
