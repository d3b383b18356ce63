"""MLflow tracking (churn.tracking, churn run --track, churn track): a finished run folder logged
into temporary local stores and read back with MLflow's client; failures are one warning line."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time
import types
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from churn import tracking
from churn.cli import main
from churn.training_metrics import METRIC_DEFINITIONS, write_series
from tests.test_report import _make_run

mlflow = pytest.importorskip("mlflow")

#: The per-round series each candidate's training step wrote (different lengths: one is the baseline).
SERIES = {
    "TrainModel": {"train:auc": [0.81, 0.86, 0.9, 0.93], "validation:auc": [0.8, 0.84, 0.87, 0.88]},
    "TrainBaseline": {"train:auc": [0.77], "validation:auc": [0.76]},
}
ARTIFACTS_OF_A_FINISHED_RUN = {"report.html", "summary.json", "definition.json", "evaluation.json", "selection.json", "model/model.tar.gz"}


def _run_folder(root: Path, name: str, splits: Path, candidates: Path, failed: bool = False) -> Path:
    run_dir = _make_run(root / name, splits, candidates, failed=failed)
    for step, series in SERIES.items():
        if not failed:
            write_series(run_dir / step / "metrics.json", METRIC_DEFINITIONS, series)
    (run_dir / "report.html").write_text("<html><title>churn run</title></html>")
    summary = _summary(run_dir)  # a start time MLflow keeps (it takes 0, the epoch, for "now")
    (run_dir / "summary.json").write_text(json.dumps({**summary, "started_at": "2026-11-28T09:00:00.000+00:00", "finished_at": "2026-11-28T09:01:03.500+00:00"}))
    return run_dir


@pytest.fixture(scope="module")
def runs(tmp_path_factory, sample_splits, candidate_outputs) -> Path:
    """A runs folder with a succeeded and a failed run, made in-process (no Docker)."""
    root = tmp_path_factory.mktemp("runs")
    _run_folder(root, "20261128-090000-aaaaaa", sample_splits, candidate_outputs)
    _run_folder(root, "20261128-091000-bbbbbb", sample_splits, candidate_outputs, failed=True)
    return root


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """One SQLite store for the module (creating its tables takes seconds)."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"


@pytest.fixture(scope="module")
def first_tracking(runs, store) -> tuple[dict[str, str], str, list[str]]:
    """Both runs tracked once into the module's new store: execution id -> MLflow run id, what
    was printed meanwhile (MLflow reports creating a database's tables), the warnings raised."""
    with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()) as out:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            ids = {name: tracking.log_run(runs / name, store).run_id for name in ("20261128-090000-aaaaaa", "20261128-091000-bbbbbb")}
    return ids, err.getvalue() + out.getvalue(), [str(w.message) for w in caught]


@pytest.fixture(scope="module")
def tracked(first_tracking) -> dict[str, str]:
    return first_tracking[0]


def _client(uri: str):
    return mlflow.MlflowClient(tracking_uri=uri)


def _artifacts(client, run_id: str, path: str | None = None) -> set[str]:
    found = set()
    for item in client.list_artifacts(run_id, path):
        found |= _artifacts(client, run_id, item.path) if item.is_dir else {item.path}
    return found


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def _unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- what is logged ---


def test_a_finished_run_is_one_mlflow_run_with_its_params_metrics_tags_and_artifacts(runs, store, tracked):
    run_dir = runs / "20261128-090000-aaaaaa"
    summary = _summary(run_dir)
    client = _client(store)
    run = client.get_run(tracked[run_dir.name])
    assert client.get_experiment(run.info.experiment_id).name == "churn"
    assert run.info.run_name == run_dir.name and run.info.status == "FINISHED"
    assert run.data.params == {"NumRound": "100", "InputData": "file:///data/churn.csv"}
    metrics = run.data.metrics
    assert {f"test_{k}": v for k, v in summary["metrics"].items()}.items() <= metrics.items() and "test_auc" in metrics
    for candidate, record in summary["selection"]["candidates"].items():
        assert {f"{candidate}.test_{k}": v for k, v in record["metrics"].items()}.items() <= metrics.items()
    assert not any(":" in name for name in metrics)
    tags = run.data.tags
    assert tags["churn.execution_id"] == run_dir.name and tags["churn.status"] == "Succeeded"
    assert tags["churn.winner"] == summary["selection"]["winner"]
    assert tags["churn.pipeline_version"] == "0" * 12 and tags["churn.definition_sha256"] == "0" * 64
    assert tags["churn.backend"] == "local" and tags["churn.version"] == summary["churn_version"]
    assert tags["churn.registered_model"] == "churn:3"
    assert tags["mlflow.note.content"] == summary["selection"]["summary"]
    assert _artifacts(client, run.info.run_id) == ARTIFACTS_OF_A_FINISHED_RUN
    model = Path(client.download_artifacts(run.info.run_id, "model/model.tar.gz", str(run_dir.parent.parent / "download")))
    assert model.read_bytes() == (run_dir / "SelectModel/model/model.tar.gz").read_bytes()


def test_tracking_prints_nothing_and_warns_nothing(first_tracking):
    """MLflow's own log lines and Python warnings (a new database's tables, deprecations) stay
    off the terminal: a run's output ends with its summary and one tracking line."""
    _, printed, warned = first_tracking
    assert printed == "" and warned == []


def test_a_fresh_process_tracking_into_a_new_store_prints_only_its_line(runs, tmp_path):
    """In a new process MLflow is imported while tracking, and its import sets up its own log
    handler on the real stderr (a new database's "Creating initial MLflow database tables..."),
    which redirecting sys.stderr in-process cannot see: checked in a subprocess."""
    import subprocess
    import sys

    script = (
        "import sys; from churn import tracking; "
        "print(tracking.log_run(sys.argv[1], sys.argv[2]).run_id)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(runs / "20261128-090000-aaaaaa"), f"sqlite:///{tmp_path}/new.db"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and len(done.stdout.split()) == 1, (done.stdout, done.stderr)


def test_the_training_curves_are_logged_per_round_under_the_candidates_names(runs, store, tracked):
    client = _client(store)
    run_id = tracked["20261128-090000-aaaaaa"]
    history = client.get_metric_history(run_id, "xgboost.train_auc")
    assert [(m.step, m.value) for m in history] == list(enumerate(SERIES["TrainModel"]["train:auc"]))
    assert [m.value for m in client.get_metric_history(run_id, "xgboost.validation_auc")] == SERIES["TrainModel"]["validation:auc"]
    assert [m.value for m in client.get_metric_history(run_id, "logistic-regression.train_auc")] == [0.77]
    assert client.get_run(run_id).data.metrics["xgboost.train_auc"] == 0.93  # the latest round


def test_the_run_keeps_the_churn_runs_times(runs, store, tracked):
    from datetime import datetime

    run = _client(store).get_run(tracked["20261128-090000-aaaaaa"])
    summary = _summary(runs / "20261128-090000-aaaaaa")
    assert run.info.start_time == int(datetime.fromisoformat(summary["started_at"]).timestamp() * 1000)
    assert run.info.end_time == int(datetime.fromisoformat(summary["finished_at"]).timestamp() * 1000)
    assert run.info.end_time - run.info.start_time == 63_500


def test_a_failed_run_is_a_failed_mlflow_run(runs, store, tracked):
    client = _client(store)
    run = client.get_run(tracked["20261128-091000-bbbbbb"])
    assert run.info.status == "FAILED" and run.data.tags["churn.status"] == "Failed"
    assert "churn.winner" not in run.data.tags and "<num_round> & more" in run.data.tags["churn.failure_reason"]
    assert run.data.metrics == {}
    assert _artifacts(client, run.info.run_id) == {"report.html", "summary.json", "definition.json"}


def test_a_sqlite_store_keeps_the_artifacts_beside_the_database(store, tracked):
    database = tracking.sqlite_path(store)
    run = _client(store).get_run(tracked["20261128-090000-aaaaaa"])
    assert run.info.artifact_uri.startswith((database.parent / "mlflow-artifacts").as_uri())
    assert list((database.parent / "mlflow-artifacts").rglob("model.tar.gz"))


def test_tracking_an_execution_again_logs_nothing_twice(runs, store, tracked):
    again = tracking.log_run(runs / "20261128-090000-aaaaaa", store)
    assert again.existing and again.run_id == tracked["20261128-090000-aaaaaa"]
    found = _client(store).search_runs([again.experiment_id], "tags.`churn.execution_id` = '20261128-090000-aaaaaa'")
    assert [r.info.run_id for r in found] == [again.run_id]


def test_a_half_logged_run_is_logged_anew(runs, store, tracked):
    """Tracking stopped half-way leaves a run without the completion tag: the next tracking
    replaces it instead of taking it for done."""
    client = _client(store)
    experiment = client.get_experiment_by_name("churn").experiment_id
    run_dir = _copy(runs, "20261128-090000-aaaaaa", "20261128-092000-cccccc")
    half = client.create_run(experiment, tags={"churn.execution_id": run_dir.name}).info.run_id
    done = tracking.log_run(run_dir, store)
    assert not done.existing and done.run_id != half
    assert client.get_run(half).info.lifecycle_stage == "deleted"
    assert client.get_run(done.run_id).data.tags["churn.tracking"] == "complete"


def _copy(runs: Path, source: str, name: str) -> Path:
    """Another run folder like ``source``, of execution ``name``."""
    import shutil

    shutil.copytree(runs / source, runs / name)
    summary = _summary(runs / name)
    (runs / name / "summary.json").write_text(json.dumps({**summary, "execution_id": name}))
    return runs / name


def test_a_new_experiment_opens_on_its_runs_in_the_mlflow_ui(runs, store, tracked):
    experiment = _client(store).get_experiment_by_name("churn")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"


def test_another_experiment_name(runs, store):
    done = tracking.log_run(runs / "20261128-090000-aaaaaa", store, "churn-nightly")
    assert not done.existing and _client(store).get_experiment(done.experiment_id).name == "churn-nightly"


def test_a_folder_store_works_offline_and_leaves_mlflow_as_it_was(runs, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    before = mlflow.get_tracking_uri()
    uri = f"file:{tmp_path}/mlruns"
    run_id = tracking.track_run(runs / "20261128-090000-aaaaaa", uri)
    assert run_id is not None
    assert "MLFLOW_TRACKING_URI" not in os.environ and "MLFLOW_ALLOW_FILE_STORE" not in os.environ
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ
    assert mlflow.get_tracking_uri() == before
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow refuses its file store unless asked
    run = _client(uri).get_run(run_id)
    assert run.info.status == "FINISHED" and run.data.params["NumRound"] == "100"
    assert len(_client(uri).get_metric_history(run_id, "xgboost.train_auc")) == 4
    assert _artifacts(_client(uri), run_id) == ARTIFACTS_OF_A_FINISHED_RUN


# --- tracking never fails a run: one warning line ---


def _one_warning(capsys, *texts) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: tracking: "), captured.err
    assert captured.out == ""
    for text in texts:
        assert text in lines[0], lines[0]
    return lines[0]


def test_an_unreachable_server_is_one_warning_line(runs, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    port = _unused_port()
    started = time.monotonic()
    assert tracking.track_run(runs / "20261128-090000-aaaaaa", f"http://me:secret@127.0.0.1:{port}") is None
    assert time.monotonic() - started < 30
    line = _one_warning(capsys, f"http://me:***@127.0.0.1:{port}: cannot reach the tracking server", "Connection refused")
    assert "secret" not in line


def test_mlflow_retries_an_unreachable_server_briefly_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "7")
    with tracking._environment("http://tracking.example:5000"):
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "2"  # MLflow's default, 7, retries for about four minutes
        assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"  # the user's setting stands
        assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ and os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"


def test_a_uri_mlflow_cannot_use_is_one_warning_line(runs, capsys):
    assert tracking.track_run(runs / "20261128-090000-aaaaaa", "nosuchscheme://somewhere") is None
    _one_warning(capsys, "nosuchscheme://somewhere")


def test_a_folder_that_is_not_a_finished_run_is_one_warning_line(tmp_path, capsys):
    assert tracking.track_run(tmp_path, "sqlite:///unused.db") is None
    _one_warning(capsys, "is not a finished run")
    assert not Path("unused.db").exists()


def test_without_mlflow_tracking_is_a_warning_naming_the_extra(runs, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    assert tracking.track_run(runs / "20261128-090000-aaaaaa", "sqlite:///unused.db") is None
    _one_warning(capsys, "mlflow is not installed", "pip install churn[mlflow]")


def test_churn_loads_without_importing_mlflow():
    code = "import sys, churn.cli, churn.tracking, churn.runner.run, churn.report; print('mlflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr


# --- SageMaker managed MLflow: the ARN goes to MLflow unchanged, through AWS's plugin ---

ARN = "arn:aws:sagemaker:eu-west-1:123456789012:mlflow-tracking-server/churn-tracking"


def test_an_arn_without_aws_plugin_is_a_warning_naming_it(runs, capsys, monkeypatch):
    calls = []
    monkeypatch.setitem(sys.modules, "sagemaker_mlflow", None)
    monkeypatch.setattr(mlflow, "set_tracking_uri", calls.append)
    assert tracking.track_run(runs / "20261128-090000-aaaaaa", ARN) is None
    _one_warning(capsys, ARN, "pip install sagemaker-mlflow")
    assert calls == []  # nothing was tried


def test_an_arn_reaches_mlflow_unchanged(runs, capsys, monkeypatch):
    """The contract with AWS's plugin: MLflow is given the ARN as its tracking URI, process-wide
    too (the plugin signs requests for the server mlflow.get_tracking_uri() names)."""
    set_uris, client_uris = [], []

    class Client:
        def __init__(self, tracking_uri=None):
            client_uris.append(tracking_uri)
            assert mlflow.get_tracking_uri() == ARN
            raise ConnectionError("no AWS here")

    monkeypatch.setitem(sys.modules, "sagemaker_mlflow", types.ModuleType("sagemaker_mlflow"))
    real = mlflow.set_tracking_uri
    monkeypatch.setattr(mlflow, "set_tracking_uri", lambda uri: (set_uris.append(uri), real(uri)))
    monkeypatch.setattr(mlflow, "MlflowClient", Client)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking.track_run(runs / "20261128-090000-aaaaaa", ARN) is None
    assert set_uris == [ARN] and client_uris == [ARN]
    _one_warning(capsys, "no AWS here")
    assert "MLFLOW_TRACKING_URI" not in os.environ and mlflow.get_tracking_uri() != ARN


def test_the_arn_pattern():
    assert tracking.SAGEMAKER_ARN.fullmatch(ARN)
    assert tracking.SAGEMAKER_ARN.fullmatch("arn:aws-cn:sagemaker:cn-north-1:123456789012:mlflow-app/app-abc")
    assert not tracking.SAGEMAKER_ARN.fullmatch("arn:aws:s3:::bucket") and not tracking.SAGEMAKER_ARN.fullmatch("sqlite:///arn.db")


# --- pure parts ---


def test_the_training_steps_are_named_by_their_candidates(runs):
    assert tracking.training_steps(runs / "20261128-090000-aaaaaa") == {
        "TrainModel": "xgboost", "TrainBaseline": "logistic-regression", "TuneModel": "xgboost-tuned",  # its model's Join names the step
    }
    assert tracking.training_steps(runs / "nowhere") == {}


def test_where_churn_run_tracks():
    assert tracking.tracking_uri("sqlite:///a.db", {"MLFLOW_TRACKING_URI": "http://b"}) == "sqlite:///a.db"
    assert tracking.tracking_uri(None, {"MLFLOW_TRACKING_URI": "http://b"}) == "http://b"
    assert tracking.tracking_uri(None, {"MLFLOW_TRACKING_URI": " "}) is None and tracking.tracking_uri(None, {}) is None
    assert tracking.experiment_name(None, {}) == "churn" and tracking.experiment_name(None, {"MLFLOW_EXPERIMENT_NAME": "x"}) == "x"
    assert tracking.experiment_name("y", {"MLFLOW_EXPERIMENT_NAME": "x"}) == "y"


def test_store_paths_and_redaction():
    assert tracking.sqlite_path("sqlite:///runs/mlflow.db") == Path("runs/mlflow.db")
    assert tracking.sqlite_path("sqlite:////abs/m.db") == Path("/abs/m.db") and tracking.sqlite_path("http://x") is None
    assert tracking.local_folder("file:/data/mlruns") == Path("/data/mlruns") and tracking.local_folder("mlruns") == Path("mlruns")
    assert tracking.local_folder("http://x") is None and tracking.local_folder(ARN) is None
    assert tracking.redacted("https://me:secret@host/x") == "https://me:***@host/x"


# --- the command line ---


def _fake_run(monkeypatch, run_dir: Path):
    """churn run without Docker: the runner returns the finished run folder's result."""
    import churn.runner.run
    from churn.runner.runs import RunResult
    from churn.summary import read_summary

    summary = read_summary(run_dir)
    result = RunResult(summary.execution_id, summary.status, summary.failure_reason, run_dir, summary)
    monkeypatch.setattr(churn.runner.run, "run", lambda request, events=None: result)


def _experiment_runs(uri: str, experiment: str) -> list:
    found = _client(uri).get_experiment_by_name(experiment)
    return [] if found is None else _client(uri).search_runs([found.experiment_id])


def test_run_track_logs_the_run_and_says_where(runs, store, monkeypatch):
    _fake_run(monkeypatch, runs / "20261128-090000-aaaaaa")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    done = CliRunner().invoke(main, ["run", "--track", store, "--track-experiment", "cli-run"])
    assert done.exit_code == 0, done.output
    [logged] = _experiment_runs(store, "cli-run")
    assert done.stdout.splitlines()[-1] == f"  tracked: {store} run {logged.info.run_id}"
    assert done.stderr == ""


def test_run_json_and_quiet_print_nothing_more(runs, store, monkeypatch):
    _fake_run(monkeypatch, runs / "20261128-090000-aaaaaa")
    as_json = CliRunner().invoke(main, ["run", "--json", "--track", store, "--track-experiment", "cli-json"])
    assert as_json.exit_code == 0 and json.loads(as_json.stdout)["execution_id"] == "20261128-090000-aaaaaa"
    quiet = CliRunner().invoke(main, ["run", "-q", "--track", store, "--track-experiment", "cli-quiet"])
    assert quiet.exit_code == 0 and len(quiet.stdout.splitlines()) == 1 and "tracked" not in quiet.stdout
    assert len(_experiment_runs(store, "cli-json")) == 1 and len(_experiment_runs(store, "cli-quiet")) == 1


def test_run_tracks_a_failed_run_and_keeps_its_exit_code(runs, store, monkeypatch):
    _fake_run(monkeypatch, runs / "20261128-091000-bbbbbb")
    done = CliRunner().invoke(main, ["run", "--track", store, "--track-experiment", "cli-failed"])
    assert done.exit_code == 1 and "error: step TrainModel failed" in done.stderr
    [logged] = _experiment_runs(store, "cli-failed")
    assert logged.info.status == "FAILED" and f"tracked: {store} run {logged.info.run_id}" in done.stdout


def test_run_tracks_where_mlflow_tracking_uri_says_unless_no_track(runs, store, monkeypatch):
    _fake_run(monkeypatch, runs / "20261128-090000-aaaaaa")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "cli-env")
    assert CliRunner().invoke(main, ["run", "--no-track"]).exit_code == 0
    assert _experiment_runs(store, "cli-env") == []
    done = CliRunner().invoke(main, ["run"])
    assert done.exit_code == 0 and "tracked: " in done.stdout and len(_experiment_runs(store, "cli-env")) == 1
    both = CliRunner().invoke(main, ["run", "--no-track", "--track", store])
    assert both.exit_code == 2 and "choose one of --track and --no-track" in both.output


def test_run_without_tracking_asked_imports_no_mlflow(runs, monkeypatch):
    _fake_run(monkeypatch, runs / "20261128-090000-aaaaaa")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setitem(sys.modules, "mlflow", None)
    done = CliRunner().invoke(main, ["run"])
    assert done.exit_code == 0 and "tracked" not in done.output and done.stderr == ""


def test_run_with_tracking_that_fails_is_a_warning_and_the_run_s_exit_code(runs, monkeypatch):
    _fake_run(monkeypatch, runs / "20261128-090000-aaaaaa")
    monkeypatch.setitem(sys.modules, "mlflow", None)
    done = CliRunner().invoke(main, ["run", "--track", "sqlite:///unused.db"])
    assert done.exit_code == 0 and "tracked" not in done.stdout
    assert done.stderr == "warning: tracking: mlflow is not installed: pip install churn[mlflow]\n"


def test_track_command_logs_an_existing_run_once(runs, store, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    args = ["track", "20261128-090000-aaaaaa", "--runs-dir", str(runs), "--uri", store, "--experiment", "cli-track"]
    first = CliRunner().invoke(main, args)
    [logged] = _experiment_runs(store, "cli-track")
    assert first.exit_code == 0 and first.stdout == f"tracked: {store} run {logged.info.run_id} (execution 20261128-090000-aaaaaa)\n"
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0 and again.stdout.startswith(f"already tracked: {store} run {logged.info.run_id}")
    assert len(_experiment_runs(store, "cli-track")) == 1


def test_track_command_errors(runs, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    nowhere = CliRunner().invoke(main, ["track", "latest", "--runs-dir", str(runs)])
    assert nowhere.exit_code == 2 and "give --uri URI" in nowhere.stderr
    missing = CliRunner().invoke(main, ["track", "nope", "--runs-dir", str(runs), "--uri", "sqlite:///unused.db"])
    assert missing.exit_code == 2 and "no run 'nope'" in missing.stderr
    monkeypatch.setitem(sys.modules, "mlflow", None)
    failed = CliRunner().invoke(main, ["track", "latest", "--runs-dir", str(runs), "--uri", "sqlite:///unused.db"])
    assert failed.exit_code == 1 and failed.stderr == "error: tracking: mlflow is not installed: pip install churn[mlflow]\n"


def test_a_damaged_summary_is_one_warning_line(runs, tmp_path, capsys):
    import shutil

    run_dir = shutil.copytree(runs / "20261128-090000-aaaaaa", tmp_path / "20261128-090000-aaaaaa")
    summary = _summary(run_dir)
    (run_dir / "summary.json").write_text(json.dumps({**summary, "metrics": {"auc": "high"}}))
    assert tracking.track_run(run_dir, "sqlite:///unused.db") is None
    _one_warning(capsys, "summary.json is damaged (TypeError: metrics must map names to numbers)")


def test_a_broken_mlflow_install_is_one_warning_line(runs, capsys, monkeypatch):
    def broken(name, *args, **kwargs):
        raise AttributeError("module 'sqlalchemy' has no attribute 'Engine'")

    monkeypatch.setattr("importlib.import_module", broken)
    assert tracking.track_run(runs / "20261128-090000-aaaaaa", "sqlite:///unused.db") is None
    _one_warning(capsys, "sqlite:///unused.db: module 'sqlalchemy' has no attribute 'Engine'")
