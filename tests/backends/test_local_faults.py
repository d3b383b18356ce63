"""Faults during local runs: each ends with a clear message, removes its containers, leaves no
artifact a later run or the cache could pick up, and never touches earlier runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import docker as docker_sdk
import pytest

from churn.backends import docker
from churn.backends.local import local_backend
from churn.runner.local import run_local
from churn.runner.runs import RunError

pytestmark = pytest.mark.docker


def _wait_for_training_container(scratch_root, step="TrainModel", timeout=120):
    """The container of training step ``step`` (not a tuning trial's, which runs the same image
    at the same time): its job's name, in TRAINING_JOB_NAME, starts with the step's."""
    client = docker_sdk.from_env()
    deadline = time.time() + timeout
    while time.time() < deadline:
        for container_id in docker.job_containers(scratch_root):  # whichever container runner started it
            try:
                container = client.containers.get(container_id)
            except docker_sdk.errors.NotFound:
                continue
            if container.status == "running" and f"TRAINING_JOB_NAME={step}-" in " ".join(container.attrs["Config"]["Env"] or []):
                return container
        time.sleep(0.1)
    raise AssertionError("no training container appeared")


def test_a_killed_step_container_fails_the_execution_and_is_not_cached(tmp_path):
    runs = tmp_path / "runs"
    killer = threading.Thread(target=lambda: (time.sleep(0.5), _wait_for_training_container(runs).kill()))
    killer.start()
    result = run_local(local_backend(runs), {"NumRound": 5000})
    killer.join()
    assert result.status == "Failed"
    train = next(s for s in result.summary["steps"] if s["name"] == "TrainModel")
    assert train["status"] == "Failed" and "exit code 137" in train["failure_reason"]
    assert docker.job_containers(runs / ".code") == set()
    again = run_local(local_backend(runs), {"NumRound": 5})
    assert again.status == "Succeeded"
    steps = {s["name"]: s["cache_hit"] for s in again.summary["steps"] if s["name"] in ("PreprocessData", "TrainModel")}
    assert steps == {"PreprocessData": True, "TrainModel": False}


def test_ctrl_c_stops_the_run_and_marks_its_folder(tmp_path):
    runs = tmp_path / "runs"
    process = subprocess.Popen(
        [sys.executable, "-m", "churn.cli", "run", "--runs-dir", str(runs), "--param", "NumRound=5000", "--no-cache"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    _wait_for_training_container(runs)
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=180)
    assert process.returncode == 130, err[-2000:]
    assert "interrupted by Ctrl-C: the execution was stopped and its containers removed" in err
    assert docker.job_containers(runs / ".code") == set()
    folders = [p for p in runs.iterdir() if not p.name.startswith(".")]
    assert folders and all(p.name.endswith(".interrupted") for p in folders)
    assert not any((p / "summary.json").exists() for p in folders)


def test_an_unreachable_docker_daemon_is_a_clear_error_before_anything_runs(tmp_path):
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-docker.sock"}
    done = subprocess.run(
        [sys.executable, "-m", "churn.cli", "run", "--runs-dir", str(tmp_path / "runs")],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 2
    assert f"error: docker: cannot reach Docker at DOCKER_HOST={env['DOCKER_HOST']}: " in done.stderr
    assert not [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]


def test_a_missing_image_is_named_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(docker, "image_tag", lambda: "0.0.0-not-built")
    with pytest.raises(RunError, match=r"images missing: churn-processing:0.0.0-not-built, .*build them: churn images build"):
        run_local(local_backend(tmp_path), {}, build_missing_images=False)


def test_a_full_disk_fails_the_step_and_leaves_no_partial_artifact(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs to fill needs root (CI runs as root)")
    disk = tmp_path / "small-disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=900k", "tmpfs", str(disk)], check=True)
    try:
        result = run_local(local_backend(disk / "runs"), {"NumRound": 5})
        assert result.status == "Failed"
        assert "No space left on device" in result.failure_reason
        # Nothing of the step's outputs is left: its log at most (when the full disk let it be written).
        assert {p.name for p in (result.run_dir / "PreprocessData").glob("*")} <= {"logs.txt"}
        assert result.summary["artifacts"] == {}
        assert docker.job_containers(disk / "runs" / ".code") == set()
    finally:
        subprocess.run(["umount", str(disk)], check=False)
