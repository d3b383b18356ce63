"""End-to-end: the whole pipeline in real containers under Docker, with no AWS account.

Run by ``tox -e local-pipeline`` (and so by CI); needs Docker and the project's images
(``churn images build``). Each run takes a few seconds on the sample data.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from churn.backends import docker
from churn.backends.local import local_backend
from churn.runner.local import run_local
from churn.runner.runs import RunError
from churn.registry import Registry
from churn.summary import ARTIFACTS
from tests import network_audit
from tests.conftest import SAMPLE_CSV

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="module")
def default_run(runs_dir):
    """One run with default parameters, with every socket the process opens recorded."""
    with network_audit.recording() as connections:
        result = run_local(local_backend(runs_dir), {})
    return result, None, connections


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_run_folder_is_named_by_the_execution_and_holds_its_definition(default_run, runs_dir):
    result, _, _ = default_run
    assert result.status == "Succeeded", result.failure_reason
    assert result.run_dir == runs_dir / result.execution_id
    summary = json.loads((result.run_dir / "summary.json").read_text())
    assert all(s["duration_seconds"] >= 0 for s in summary["steps"] if s["status"] == "Succeeded")
    definition = json.loads((result.run_dir / "definition.json").read_text())
    assert [s["Name"] for s in definition["Steps"]] == [
        "PreprocessData", "TuneModel", "EvaluateTuned", "TrainModel", "EvaluateModel", "TrainBaseline", "EvaluateBaseline", "SelectModel", "CheckAccuracy",
    ]
    # The SDK's definition text is json.dumps of the document: the recorded hash is of that text.
    assert summary["definition_sha256"] == hashlib.sha256(json.dumps(definition).encode()).hexdigest()


def test_the_model_is_registered_in_the_local_registry(default_run, runs_dir):
    result, _, _ = default_run
    accuracy = result.summary["metrics"]["accuracy"]
    [package] = Registry(runs_dir).list("churn")
    assert (package.version, package.approval_status, package.execution_id) == (1, "PendingManualApproval", result.execution_id)
    assert package.metrics["accuracy"] == accuracy
    assert package.model_data == (result.run_dir / ARTIFACTS["model"]).as_uri()
    assert result.summary["registered_model"]["version"] == 1
    # The registry records how the model won: the same selection as the run's summary.
    assert package.selection == result.summary["selection"] and package.winner == result.summary["selection"]["winner"]
    assert package.winner == "xgboost-tuned"  # on the sample, the tuned candidate wins


def test_no_network_beyond_loopback_and_docker(default_run):
    _, _, connections = default_run
    assert connections, "the audit hook recorded nothing: the Docker socket at least should show"
    outside = [c for c in connections if not network_audit.is_local(*c)]
    assert not outside, f"connections beyond loopback and the Docker socket: {outside}"


def test_containers_and_scratch_files_are_cleaned_up(default_run, runs_dir):
    assert docker.job_containers(runs_dir / ".code") == set()
    assert not [p for p in (runs_dir / ".code").iterdir() if p.name.startswith("jobs-")]


def test_model_scores_new_rows_with_churn_predict(default_run, tmp_path):
    result, _, _ = default_run
    customers = tmp_path / "customers.csv"
    lines = SAMPLE_CSV.read_text().splitlines()
    customers.write_text("\n".join(",".join(line.split(",")[:-1]) for line in lines[:6]) + "\n")
    out = tmp_path / "scores.txt"
    done = subprocess.run(
        [sys.executable, "-m", "churn.cli", "predict", "--model", str(result.run_dir / ARTIFACTS["model"]),
         "--input", str(customers), "--output", str(out)],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    scores = [float(x) for x in out.read_text().split()]
    assert len(scores) == 5 and all(0 <= s <= 1 for s in scores)


def test_the_created_model_is_served_by_the_image(default_run, tmp_path):
    result, _, _ = default_run
    import tarfile

    model_dir = tmp_path / "model"
    with tarfile.open(result.run_dir / ARTIFACTS["model"]) as tar:
        tar.extractall(model_dir, filter="data")
    image = local_backend().images.training
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    container = subprocess.run(
        ["docker", "run", "-d", "--rm", "-p", f"127.0.0.1:{port}:8080", "-v", f"{model_dir}:/opt/ml/model:ro", image, "serve"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(60):
            try:
                if urllib.request.urlopen(f"{base}/ping", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.5)
        test_rows = (result.run_dir / "PreprocessData/test/test.csv").read_text().splitlines()[:4]
        body = "\n".join(",".join(row.split(",")[1:]) for row in test_rows).encode()
        request = urllib.request.Request(f"{base}/invocations", data=body, headers={"Content-Type": "text/csv"})
        scores = urllib.request.urlopen(request, timeout=10).read().decode().split()
        assert len(scores) == 4 and all(0 <= float(s) <= 1 for s in scores)
        bad = urllib.request.Request(f"{base}/invocations", data=b"1,2,3\n", headers={"Content-Type": "text/csv"})
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(bad, timeout=10)
        assert error.value.code == 400 and b"or the model's 73 feature values" in error.value.read()
    finally:
        subprocess.run(["docker", "rm", "-f", container], capture_output=True)


def test_churn_serve_answers_raw_rows_as_churn_predict_and_leaves_nothing_after_ctrl_c(default_run, tmp_path):
    """The deployable model hosted through local mode: raw CSV (with and without a header) and
    JSON records get churn predict's probabilities; a bad row gets its message as a 400; Ctrl-C
    stops the endpoint and removes its container."""
    import queue
    import signal
    import threading

    import numpy as np

    result, _, _ = default_run
    model = result.run_dir / ARTIFACTS["model"]
    header, *rows = SAMPLE_CSV.read_text().splitlines()
    (tmp_path / "rows.csv").write_text("\n".join([header, *rows[:60]]) + "\n")
    predicted = _churn("predict", "--model", str(model), "--input", str(tmp_path / "rows.csv"))
    assert predicted.returncode == 0, predicted.stderr
    expected = np.array(predicted.stdout.split(), dtype=np.float32)
    before = docker.job_containers()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "churn.cli", "serve", "--model", str(model), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    said: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [said.put(line) for line in server.stderr], daemon=True).start()
    try:
        while "serving " not in (line := said.get(timeout=180)):
            assert "error" not in line, line
        url = f"http://localhost:{port}/invocations"

        def post(body: bytes, content_type: str, accept: str = "text/csv"):
            request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type, "Accept": accept})
            return urllib.request.urlopen(request, timeout=30).read()

        assert np.array_equal(np.array(post((tmp_path / "rows.csv").read_bytes(), "text/csv").split(), dtype=np.float32), expected)
        headerless = "\n".join(row.rsplit(",", 1)[0] for row in rows[:60]).encode()
        assert np.array_equal(np.array(post(headerless, "text/csv").split(), dtype=np.float32), expected)
        records = [dict(zip(header.split(","), row.split(","))) for row in rows[:60]]
        answer = json.loads(post(json.dumps(records).encode(), "application/json", "application/json"))
        assert np.array_equal(np.array([p["score"] for p in answer["predictions"]], dtype=np.float32), expected)
        bad = "\n".join([header, rows[0].replace(",128,", ",abc,", 1)]).encode()
        with pytest.raises(urllib.error.HTTPError) as refused:
            post(bad, "text/csv")
        assert refused.value.code == 400
        assert refused.value.read().decode() == "column 'Account Length' must be numeric; bad values at row 1: 'abc'\n"
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    assert server.returncode == 0
    assert docker.job_containers() == before, "the endpoint's container was left behind"


def test_a_later_run_never_overwrites_an_earlier_one(default_run, runs_dir):
    first, _, _ = default_run
    before = {p: _sha(p) for p in first.run_dir.rglob("*") if p.is_file()}
    result = run_local(local_backend(runs_dir), {"NumRound": 10})
    assert result.status == "Succeeded", result.failure_reason
    assert result.execution_id != first.execution_id
    assert {p: _sha(p) for p in first.run_dir.rglob("*") if p.is_file()} == before
    assert [p.version for p in Registry(runs_dir).list("churn")] == [1, 2]


def test_each_step_keeps_its_log_and_the_training_steps_their_curves(default_run):
    from churn.training_metrics import read_series

    result, _, _ = default_run
    run = result.run_dir
    log = (run / "TrainModel" / "logs.txt").read_text()
    rounds = re.findall(r"^\[(\d+)\]\ttrain-auc:([0-9.]+)\tvalidation-auc:([0-9.]+)$", log, re.M)
    assert [int(r) for r, _, _ in rounds] == list(range(100))  # NumRound's default
    series = read_series(run / "TrainModel" / "metrics.json")
    assert series["train:auc"] == [float(t) for _, t, _ in rounds] and series["validation:auc"] == [float(v) for _, _, v in rounds]
    assert read_series(run / "TrainBaseline" / "metrics.json").keys() == {"train:auc", "validation:auc"}
    for step in ("PreprocessData", "TrainBaseline", "EvaluateModel", "EvaluateBaseline", "SelectModel"):
        assert (run / step / "logs.txt").stat().st_size > 0, step
    report = (run / "report.html").read_text()
    assert 'alt="TrainModel: training curves"' in report and '<a href="TrainModel/logs.txt">log</a>' in report
    assert 'alt="ROC curves of the candidates"' in report
    # Each tuning trial is a training job of its own: its log, its curves, its objective the last
    # validation-auc of its log (the metric definitions SageMaker reads it with).
    trials = result.summary["tuning"]["trials"]
    assert len(trials) == 6 and 'alt="TuneModel: validation:auc per trial"' in report
    for trial in trials:
        folder = run / "TuneModel" / trial["job"]
        assert f"{trial['hyperparameters']['num_round']} rounds" in (folder / "logs.txt").read_text()
        assert read_series(folder / "metrics.json")["validation:auc"][-1] == trial["objective"], trial["job"]


def test_bad_input_file_fails_in_preprocessing_with_a_clear_reason(runs_dir, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(SAMPLE_CSV.read_text().replace("\n", "\nXX,1,415,no,no,0,1,1,1,1,1,1,1,1,1,1,1,1,1,False.\n", 1))
    result = run_local(local_backend(runs_dir), {"InputData": str(bad)})
    assert result.status == "Failed"
    assert "column 'State' has values outside its vocabulary at row 1: 'XX'" in result.failure_reason
    # The failed step's outputs are gone; its log stays, ending with the reason.
    assert [p.name for p in (result.run_dir / "PreprocessData").iterdir()] == ["logs.txt"]
    log = (result.run_dir / "PreprocessData" / "logs.txt").read_text()
    assert log.splitlines()[-1].startswith("churn: the step failed: PreprocessData: column 'State' has values outside its vocabulary")


def test_missing_input_is_rejected_before_any_container_starts(runs_dir):
    before = {p.name for p in runs_dir.iterdir()}
    with pytest.raises(RunError, match="input not found"):
        run_local(local_backend(runs_dir), {"InputData": "/nonexistent/churn.csv"})
    assert {p.name for p in runs_dir.iterdir()} == before


def _churn(*args, env_extra=None, prefix=()):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(env_extra or {})
    return subprocess.run([*prefix, sys.executable, "-m", "churn.cli", *args], capture_output=True, text=True, env=env, timeout=600)


def test_cli_run_offline_in_a_namespace_without_network(tmp_path):
    """`churn run` needs nothing but the Docker socket: it succeeds with no network at all."""
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.fail("unshare -n is unavailable: the offline guarantee cannot be checked here")
    done = _churn("run", "--runs-dir", str(tmp_path), "--param", "NumRound=5", env_extra={"HOME": str(tmp_path)}, prefix=("unshare", "-n"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert done.stdout.startswith("  PreprocessData   Succeeded ")
    assert "registered: churn version 1 (PendingManualApproval)" in done.stdout
    # A first run to a non-terminal: a line per step and a short summary; no container output,
    # no Compose chatter, no escape codes, nothing on stderr.
    lines = done.stdout.splitlines()
    assert len(lines) <= 25 and "\x1b" not in done.stdout and done.stderr == "", done.stdout + done.stderr
    assert "  CheckAccuracy    Succeeded           accuracy " in done.stdout and ">= AccuracyThreshold 0.8: true" in done.stdout
    assert not [line for line in lines if "train-auc" in line or "Creating" in line or "Attaching" in line or "|" in line]
    assert [line for line in lines if "RegisterModel" in line] and "CreateModel-CreateModel" not in done.stdout


def test_cli_run_json_quiet_and_verbose(tmp_path):
    """--json prints the summary (valid against its schema) and nothing else; --quiet one line;
    --verbose every container's lines prefixed by their step, but not Compose's chatter."""
    import jsonschema

    import churn

    schema = json.loads((Path(churn.__file__).parent / "schemas" / "summary.schema.json").read_text())
    verbose = _churn("run", "--runs-dir", str(tmp_path), "--param", "NumRound=3", "-v")
    assert verbose.returncode == 0, verbose.stderr[-3000:]
    assert "TrainModel | [2]\ttrain-auc:" in verbose.stdout and "SelectModel | selection: " in verbose.stdout
    assert "Creating" not in verbose.stdout and "Attaching" not in verbose.stdout and "exited with code" not in verbose.stdout
    as_json = _churn("run", "--runs-dir", str(tmp_path), "--param", "NumRound=3", "--json")
    assert as_json.returncode == 0 and as_json.stderr == ""
    document = json.loads(as_json.stdout)
    jsonschema.validate(document, schema)
    assert document["status"] == "Succeeded" and all(step["cache_hit"] for step in document["steps"] if step["name"] == "TrainModel")
    quiet = _churn("run", "--runs-dir", str(tmp_path), "--param", "NumRound=3", "--quiet")
    assert quiet.returncode == 0 and re.fullmatch(r"execution \S+: Succeeded in \d+\.\d s\n", quiet.stdout), quiet.stdout
    both = _churn("run", "--runs-dir", str(tmp_path), "--quiet", "--json")
    assert both.returncode == 2 and "choose one of --verbose, --quiet and --json" in both.stderr


def test_cli_run_exits_non_zero_with_failing_step(tmp_path):
    done = _churn("run", "--runs-dir", str(tmp_path), "--param", "AccuracyThreshold=1")
    assert done.returncode == 1
    assert "error: step AccuracyTooLow failed" in done.stderr
    [log] = tmp_path.glob("*/AccuracyTooLow/logs.txt")  # a step without a container keeps its reason too
    assert log.read_text().startswith("churn: the step failed: Test accuracy of the winning model is below the AccuracyThreshold of 1")


def test_cli_rejects_bad_parameters_before_starting(tmp_path):
    done = _churn("run", "--runs-dir", str(tmp_path), "--param", "ValidationRatio=0.5", "--param", "TrainRatio=0.6")
    assert done.returncode == 2 and "must be below 1" in done.stderr
    assert not any(tmp_path.iterdir())


def test_doctor_reports_everything_ready(runs_dir):
    done = _churn("doctor", "--runs-dir", str(runs_dir))
    assert done.returncode == 0, done.stdout
    assert [line.split("]")[0] for line in done.stdout.splitlines() if line.startswith("[")] == ["[ok"] * 5
    assert f"[ok] leftovers: no step containers of dead runs in {runs_dir}" in done.stdout
    # the default (engine) container runner needs no Compose: doctor names what still uses it
    assert "(used by --container-runner compose, churn serve and image builds)" in done.stdout
    compose = _churn("doctor", "--runs-dir", str(runs_dir), "--container-runner", "compose")
    assert compose.returncode == 0 and "[ok] compose: " in compose.stdout and "used by" not in compose.stdout


SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIACHURNSECRET00001",
    "AWS_SECRET_ACCESS_KEY": "churnSecretAccessKey0123456789abcdef",
    "AWS_SESSION_TOKEN": "churnSessionToken0123456789",
    "GITHUB_TOKEN": "ghp_churnsecrettoken0123456789",
}


def test_no_secret_reaches_logs_summaries_reports_or_definitions(tmp_path):
    """Credentials and tokens in the environment appear in no output of a run."""
    env = {**os.environ, **SECRETS, "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "churn.cli", "run", "--runs-dir", str(tmp_path / "runs"), "--param", "NumRound=5"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    texts = {"stdout": done.stdout, "stderr": done.stderr}
    for path in (tmp_path / "runs").rglob("*"):
        if path.is_file() and path.suffix in (".json", ".html", ".csv", ".txt", ".sqlite", ""):
            texts[str(path)] = path.read_bytes().decode("utf-8", "replace")
    leaks = [(where, name) for where, text in texts.items() for name, value in SECRETS.items() if value in text]
    assert not leaks, leaks
    assert any(p.name == "report.html" for p in (tmp_path / "runs").rglob("report.html"))
