"""Expected failures end in one clear ``error:`` line and a non-zero exit, before anything is
written; an unexpected one says where its traceback went. No traceback on the terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from churn import cli

CHURN = [sys.executable, "-m", "churn.cli"]


def _churn(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHURN_"))}
    return subprocess.run([*CHURN, *args], capture_output=True, text=True, env=env, timeout=300)


def _one_error_line(done: subprocess.CompletedProcess, code: int) -> str:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


@pytest.mark.parametrize(
    "uri, says",
    [
        ("s3://bucket/churn.csv", "the local backend cannot read s3:// URIs; give a local file or folder"),
        ("https://example.com/churn.csv", "cannot read https:// URIs; give a local file or folder (download it first)"),
        ("ftp://example.com/churn.csv", "cannot read ftp:// URIs"),
    ],
)
def test_unsupported_inputs_are_refused_before_anything_is_created(tmp_path, uri, says):
    runs = tmp_path / "runs"
    line = _one_error_line(_churn("run", "--runs-dir", str(runs), "--input", uri), 2)
    assert says in line
    assert not runs.exists()


def test_a_runs_dir_that_is_a_file(tmp_path):
    target = tmp_path / "not-a-folder"
    target.write_text("x")
    line = _one_error_line(_churn("run", "--runs-dir", str(target)), 2)
    assert line == f"error: the runs folder {target} is a file, not a folder"
    assert target.read_text() == "x"


def test_a_runs_dir_local_mode_cannot_mount(tmp_path):
    line = _one_error_line(_churn("run", "--runs-dir", str(tmp_path / "a#b")), 2)
    assert "holds '#', which SageMaker local mode cannot mount" in line


def test_a_read_only_runs_folder(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    if os.geteuid() == 0:  # root writes through permissions: a read-only file system
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(runs)], check=True)
    else:
        runs.chmod(0o555)
    try:
        line = _one_error_line(_churn("run", "--runs-dir", str(runs)), 2)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(runs)], check=False)
    assert line.startswith(f"error: the runs folder {runs} cannot be written: ")
    assert "Read-only file system" in line or "Permission denied" in line


def _damaged_run(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(text)
    return folder


@pytest.mark.parametrize("text, says", [("{not json", "is not valid JSON (Expecting property name"), ("[1]", "is not a churn summary")])
def test_report_and_diff_of_a_damaged_summary(tmp_path, text, says):
    bad = _damaged_run(tmp_path / "bad", text)
    good = _damaged_run(tmp_path / "other", "{}")
    assert says in _one_error_line(_churn("report", str(bad)), 2)
    assert says in _one_error_line(_churn("diff", str(bad), str(good)), 2)
    assert not (bad / "report.html").exists()


def test_report_of_a_run_folder_with_damaged_files(tmp_path):
    bad = _damaged_run(tmp_path / "bad", json.dumps({"execution_id": "x", "status": "Failed", "parameters": {}, "steps": []}))
    line = _one_error_line(_churn("report", str(bad)), 2)
    assert line.startswith(f"error: cannot build the report of {bad}: a file of the run is damaged (KeyError")


def test_an_unexpected_error_says_where_its_traceback_is(tmp_path, monkeypatch):
    import churn.diff

    def bug(*_args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(churn.diff, "diff_runs", bug)
    result = CliRunner().invoke(cli.main, ["diff", str(tmp_path), str(tmp_path)])
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: internal error (ZeroDivisionError: a bug); the full traceback is in ")
    log = Path(line.rsplit(" ", 1)[1])
    assert "ZeroDivisionError: a bug" in log.read_text() and "Traceback" in log.read_text()


def test_file_system_errors_are_one_line(tmp_path, monkeypatch):
    import churn.diff

    def unreadable(*_args):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x"))

    monkeypatch.setattr(churn.diff, "diff_runs", unreadable)
    result = CliRunner().invoke(cli.main, ["diff", str(tmp_path), str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip() == f"error: Permission denied: {tmp_path / 'x'}"


def test_two_failed_steps_are_each_named():
    from churn.summary import StepRecord

    failed = [
        StepRecord("EvaluateModel", "Failed", failure_reason="bad model (container exit code 2)"),
        StepRecord("EvaluateBaseline", "Failed", failure_reason="bad baseline (container exit code 2)"),
    ]
    assert cli.failure_line(failed, "Step 'EvaluateModel' failed") == (
        "2 steps failed: EvaluateModel: bad model (container exit code 2); "
        "EvaluateBaseline: bad baseline (container exit code 2)"
    )
    one = [StepRecord("PreprocessData", "Failed", failure_reason="input is empty: /data/x.csv")]
    assert cli.failure_line(one, "x") == "step PreprocessData failed: input is empty: /data/x.csv"


def test_summary_json_reader_names_the_problem(tmp_path):
    from churn.summary import SummaryError, read_summary

    with pytest.raises(SummaryError, match="is not a finished run: no summary.json"):
        read_summary(tmp_path)
    (tmp_path / "summary.json").write_text(json.dumps({"execution_id": "x", "status": "Failed", "parameters": {}}))
    with pytest.raises(SummaryError, match="lacks steps"):
        read_summary(tmp_path)


@pytest.mark.parametrize(
    "args, says",
    [
        (["--backend", "cloud", "--resume", "abc123"], "--resume is for the local backend only; the cloud backend does not support it"),
        (["--backend", "cloud", "--no-cache", "--max-parallel-steps", "2"],
         "--no-cache and --max-parallel-steps are for the local backend only; the cloud backend does not support them"),
        (["--bucket", "my-bucket"], "--bucket is for the cloud backend only; the local backend does not support it"),
        (["--poll-seconds", "5"], "--poll-seconds is for the cloud backend only; the local backend does not support it"),
    ],
)
def test_an_option_of_the_other_backend_is_an_error_not_ignored(tmp_path, args, says):
    done = _churn("run", "--runs-dir", str(tmp_path / "runs"), *args)
    assert _one_error_line(done, 2) == f"error: {says}"
    assert not (tmp_path / "runs").exists()  # refused before anything is written


_SIGTERM_PROBE = """
import os, signal, sys, time
from churn import cli
from churn.runner import local_jobs
held = []
if sys.argv[1] == "ignored":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
elif sys.argv[1] == "deferred":
    signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
cli._sigterm_as_ctrl_c()
try:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(2)
    print("held" if held == [signal.SIGINT] else "ran on", local_jobs.interrupted_by)
except KeyboardInterrupt:
    print("interrupted", local_jobs.interrupted_by)
"""


@pytest.mark.parametrize("sigint, says", [("default", "interrupted SIGTERM"), ("ignored", "interrupted SIGTERM"), ("deferred", "held SIGTERM")])
def test_a_sigterm_stops_a_local_run_as_ctrl_c_does(sigint, says):
    """SIGTERM killed `churn run` at once, its trial containers running on as orphans; it now
    takes Ctrl-C's path (held where the executor holds a Ctrl-C), also where SIGINT is ignored,
    and what the run says names SIGTERM, not Ctrl-C (:data:`local_jobs.interrupted_by`)."""
    done = subprocess.run([sys.executable, "-c", _SIGTERM_PROBE, sigint], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == says


def test_a_local_run_takes_sigterm_as_ctrl_c(monkeypatch, tmp_path):
    import signal

    import churn.runner.run
    from churn.runner.runs import RunError

    seen = []

    def record_the_handler(request, events):
        seen.append(signal.getsignal(signal.SIGTERM))
        raise RunError("stop here")

    monkeypatch.setattr(churn.runner.run, "run", record_the_handler)
    before = signal.getsignal(signal.SIGTERM)
    try:
        CliRunner().invoke(cli.main, ["run", "--runs-dir", str(tmp_path / "runs")])
    finally:
        signal.signal(signal.SIGTERM, before)
    assert len(seen) == 1 and seen[0] not in (signal.SIG_DFL, before) and seen[0].__qualname__.startswith("_sigterm_as_ctrl_c")
