"""Integrity of local runs (real containers): a step's status comes from its container, no run
shares bytes with another run, the cache or the user's input, registration and summary go
together, and dead or interrupted runs leave nothing that confuses the next one."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from churn.backends import docker
from churn.backends.local import local_backend
from churn.runner.local_jobs import JOBS_DIR
from churn.runner.local import run_local
from churn.runner.runs import RunError
from churn.registry import Registry
from churn.summary import ARTIFACTS
from tests.conftest import SAMPLE_CSV, sample_with_value

pytestmark = pytest.mark.docker



def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _churn(*args: str, **kwargs) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run([sys.executable, "-m", "churn.cli", *args], capture_output=True, text=True, env=env, timeout=900, **kwargs)


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory) -> Path:
    """A runs folder with a space and a non-ASCII character (local mode once failed on both)."""
    return tmp_path_factory.mktemp("integrity") / "my runs é"


@pytest.fixture(scope="module")
def two_runs(runs_dir, tmp_path_factory):
    """A first run of a copy of the sample, then the same again (every job step from the cache)."""
    data = tmp_path_factory.mktemp("input") / "customers.csv"
    data.write_bytes(SAMPLE_CSV.read_bytes())
    first = run_local(local_backend(runs_dir), {"InputData": str(data), "NumRound": 5})
    second = run_local(local_backend(runs_dir), {"InputData": str(data), "NumRound": 5})
    assert first.status == second.status == "Succeeded", (first.failure_reason, second.failure_reason)
    return data, first, second


def test_a_huge_field_fails_preprocessing_and_nothing_is_cached(tmp_path):
    """A 50 MB field made the preprocessing container exit 2 while local mode recorded
    Succeeded, cached an empty entry, and failed both trainers on every later run."""
    bad = tmp_path / "huge.csv"
    bad.write_text(sample_with_value(7, "Day Mins", "x" * 50_000_000))
    runs = tmp_path / "runs"
    for attempt in range(2):
        result = run_local(local_backend(runs), {"InputData": str(bad), "NumRound": 5})
        steps = {s["name"]: s for s in result.summary["steps"]}
        assert result.status == "Failed"
        assert steps["PreprocessData"]["status"] == "Failed" and not steps["PreprocessData"]["cache_hit"], attempt
        assert steps["TrainModel"]["status"] == steps["TrainBaseline"]["status"] == "NotStarted"
        reason = steps["PreprocessData"]["failure_reason"]
        assert "column 'Day Mins' must be numeric" in reason and "row 7" in reason and len(reason) <= 1024
        assert (result.run_dir / "summary.json").stat().st_size < 20_000
        assert "/opt/ml" not in reason
        log = (result.run_dir / "PreprocessData" / "logs.txt").read_text()
        assert "ERROR PreprocessData: column 'Day Mins'" in log
        assert log.splitlines()[-1].startswith("churn: the step failed: PreprocessData: column 'Day Mins' must be numeric")
    assert not list((runs / ".cache").glob("*")), "a failed step was cached"


def test_run_folders_and_the_cache_share_no_file(two_runs, runs_dir):
    _data, first, second = two_runs
    assert {s["name"] for s in second.summary["steps"] if s.get("cache_hit")} >= {"PreprocessData", "TrainModel", "SelectModel"}
    a, b = first.run_dir / ARTIFACTS["train"], second.run_dir / ARTIFACTS["train"]
    before = _sha(b)
    assert a.stat().st_nlink == b.stat().st_nlink == 1
    with a.open("a") as handle:
        handle.write("1," + ",".join(["0"] * 73) + "\n")
    assert _sha(b) == before
    for cached in (runs_dir / ".cache").rglob("train.csv"):
        assert cached.stat().st_nlink == 1 and _sha(cached) == before
    # A third run still gets the true split from the cache.
    third = run_local(local_backend(runs_dir), {"InputData": str(_data), "NumRound": 5})
    assert _sha(third.run_dir / ARTIFACTS["train"]) == before


def test_the_users_input_is_never_linked_and_its_sha256_is_recorded(two_runs):
    data, first, _second = two_runs
    assert data.stat().st_nlink == 1
    assert first.summary["input_sha256"] == _sha(data)
    assert first.summary["parameters"]["InputData"] == "file://" + str(data)


def test_a_resume_refuses_an_input_that_changed(tmp_path):
    data = tmp_path / "customers.csv"
    data.write_text(sample_with_value(3, "Churn?", "Maybe."))
    runs = tmp_path / "runs"
    failed = _churn("run", "--runs-dir", str(runs), "--input", str(data), "--param", "NumRound=5")
    assert failed.returncode == 1
    [execution] = [p.name for p in runs.iterdir() if not p.name.startswith(".")]
    data.write_bytes(SAMPLE_CSV.read_bytes())
    done = _churn("run", "--runs-dir", str(runs), "--resume", execution)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: the input {data} changed since the run being resumed "
        f"(sha256 {json.loads((runs / execution / 'summary.json').read_text())['input_sha256'][:12]}… then, "
        f"{_sha(data)[:12]}… now): a resume would not continue the same run; start a new run instead"
    ]


def test_a_summary_that_cannot_be_written_registers_nothing(two_runs, runs_dir, monkeypatch):
    import churn.runner.runs as runs_module

    registered = len(Registry(runs_dir).list())

    def disk_full(run_dir, summary):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(runs_module, "write_summary", disk_full)
    with pytest.raises(RunError, match=r"cannot write .*summary.json: No space left on device; the model was not registered"):
        run_local(local_backend(runs_dir), {"InputData": str(two_runs[0]), "NumRound": 5})
    assert len(Registry(runs_dir).list()) == registered


def test_a_registration_that_cannot_be_committed_is_not_claimed_by_the_summary(two_runs, runs_dir, monkeypatch):
    """The registry refuses the commit after the summary was written: the summary is rewritten
    with a failed RegisterModel step and no registered model, never naming a version the
    registry does not have."""
    import sqlite3

    from churn.registry import PendingRegistration

    registered = len(Registry(runs_dir).list())

    def disk_error(self):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(PendingRegistration, "commit", disk_error)
    result = run_local(local_backend(runs_dir), {"InputData": str(two_runs[0]), "NumRound": 5})
    assert result.status == "Failed" and result.summary["registered_model"] is None
    register = next(s for s in result.summary["steps"] if s["name"] == "RegisterModel-RegisterModel")
    assert register["status"] == "Failed"
    assert register["failure_reason"] == f"cannot register the model in {runs_dir / 'registry.sqlite'}: disk I/O error"
    on_disk = json.loads((result.run_dir / "summary.json").read_text())
    assert on_disk["registered_model"] is None and on_disk["status"] == "Failed"
    assert len(Registry(runs_dir).list()) == registered


def test_a_registry_that_cannot_be_written_fails_the_registration_step(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("this test mounts a read-only file over the registry and needs root (CI runs as root)")
    runs = tmp_path / "runs"
    runs.mkdir()
    registry = runs / "registry.sqlite"
    import sqlite3

    sqlite3.connect(registry).executescript("CREATE TABLE x (y INTEGER);").close()
    subprocess.run(["mount", "--bind", str(registry), str(registry)], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", str(registry)], check=True)
    try:
        done = _churn("run", "--runs-dir", str(runs), "--param", "NumRound=5")
    finally:
        subprocess.run(["umount", str(registry)], check=False)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith("error: step RegisterModel-RegisterModel failed: cannot register the model in ")
    assert "Traceback" not in done.stderr
    [run_dir] = [p for p in runs.iterdir() if not p.name.startswith(".") and p.is_dir()]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "Failed" and summary["registered_model"] is None


def _wait_for(predicate, timeout=180):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def _long_run(runs: Path, rounds: int = 20000) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.Popen(
        [sys.executable, "-m", "churn.cli", "run", "--runs-dir", str(runs), "--param", f"NumRound={rounds}", "--no-cache"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )


def _training_started(runs: Path):
    """The run's folder once its TrainModel job has a container."""
    if not (runs / JOBS_DIR).is_dir():
        return None
    containers = docker.job_containers(runs / JOBS_DIR)
    folders = [p for p in runs.iterdir() if not p.name.startswith(".") and (p / "run.json").is_file()]
    return folders[0] if containers and folders and any((runs / JOBS_DIR).glob("*/TrainModel/*")) else None


def test_a_killed_run_leaves_nothing_behind_and_can_be_resumed(tmp_path):
    runs = tmp_path / "runs"
    process = _long_run(runs, rounds=1500)
    run_dir = _wait_for(lambda: _training_started(runs))
    process.kill()  # kill -9: no clean-up of its own
    process.wait(timeout=60)
    assert docker.job_containers(runs / JOBS_DIR)  # what it left
    done = _churn("run", "--runs-dir", str(runs), "--resume", run_dir.name)
    assert done.returncode == 0, done.stderr
    assert "no execution" not in done.stderr
    assert docker.job_containers(runs / JOBS_DIR) == set()
    assert list((runs / JOBS_DIR).iterdir()) == []
    resumed = [p for p in runs.iterdir() if (p / "summary.json").is_file()]
    assert [json.loads((p / "summary.json").read_text())["resumed_from"] for p in resumed] == [run_dir.name]


def test_ctrl_c_marks_only_its_own_run_folder(tmp_path):
    runs = tmp_path / "runs"
    first = _long_run(runs)
    first_dir = _wait_for(lambda: _training_started(runs))
    second = _long_run(runs)
    second_dir = _wait_for(lambda: next((p for p in sorted(runs.iterdir()) if not p.name.startswith(".") and p != first_dir and (p / "run.json").is_file()), None))
    first.send_signal(signal.SIGINT)
    _out, err = first.communicate(timeout=180)
    assert first.returncode == 130, err[-2000:]
    assert f"churn run --resume {first_dir.name}" in err
    assert (runs / f"{first_dir.name}.interrupted").is_dir() and not first_dir.exists()
    assert second_dir.is_dir() and second.poll() is None  # the other run goes on, its folder untouched
    second.send_signal(signal.SIGINT)
    second.communicate(timeout=180)
    assert (runs / f"{second_dir.name}.interrupted").is_dir()
    resumed = _churn("run", "--runs-dir", str(runs), "--resume", first_dir.name, "--param", "NumRound=5")
    assert resumed.returncode == 2 and "--resume runs the failed execution as it was" in resumed.stderr
