"""The local step cache and resume, end to end in Docker (`tox -e local-pipeline`)."""

from __future__ import annotations

import json
import re

import pytest

from churn.backends.local import local_backend
from churn.runner.local import resume_parameters, run_local
from churn.runner.runs import RunError
from churn.diff import split_digests
from churn.summary import ARTIFACTS
from churn.progress import LineProgress
from churn.runner.events import Events
from tests.parity.test_golden_splits import assert_matches_golden

pytestmark = pytest.mark.docker
JOB_STEPS = ("PreprocessData", "TuneModel", "EvaluateTuned", "TrainModel", "EvaluateModel", "TrainBaseline", "EvaluateBaseline", "SelectModel")
#: What a changed XGBoost hyperparameter reruns: its branch and the selection, not the baseline's
#: nor the tuning branch's (every trial is a cache hit).
XGBOOST_RERUN = {
    "PreprocessData": True, "TuneModel": True, "EvaluateTuned": True, "TrainModel": False, "EvaluateModel": False,
    "TrainBaseline": True, "EvaluateBaseline": True, "SelectModel": False,
}


def _hits(result) -> dict[str, bool]:
    return {s["name"]: s["cache_hit"] for s in result.summary["steps"] if s["name"] in JOB_STEPS}


def _run(runs_dir, overrides=None, **kwargs):
    lines: list[str] = []
    result = run_local(local_backend(runs_dir), overrides or {}, events=Events(LineProgress(lines.append)), **kwargs)
    return result, lines


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("cache-runs")


@pytest.fixture(scope="module")
def first(runs_dir):
    result, _ = _run(runs_dir)
    assert result.status == "Succeeded", result.failure_reason
    return result


def test_a_first_run_hits_nothing(first):
    assert _hits(first) == {name: False for name in JOB_STEPS}


def test_an_unchanged_rerun_reuses_every_job_step(first, runs_dir):
    again, lines = _run(runs_dir)
    assert again.status == "Succeeded"
    assert _hits(again) == {name: True for name in JOB_STEPS}
    assert any(re.fullmatch(r"  PreprocessData +Cached +0\.\d s", line) for line in lines), lines
    assert split_digests(again.run_dir) == split_digests(first.run_dir)
    assert (again.run_dir / ARTIFACTS["model"]).read_bytes() == (first.run_dir / ARTIFACTS["model"]).read_bytes()
    assert again.summary["selection"] == first.summary["selection"]
    assert again.summary["metrics"] == first.summary["metrics"]
    assert again.summary["registered_model"]["version"] == first.summary["registered_model"]["version"] + 1


def test_changing_num_round_reruns_training_and_what_follows_only(first, runs_dir):
    changed, _ = _run(runs_dir, {"NumRound": 37})
    assert changed.status == "Succeeded"
    assert _hits(changed) == XGBOOST_RERUN


def test_a_corrupted_cache_entry_is_a_miss_never_a_wrong_result(first, runs_dir):
    for cached in (runs_dir / ".cache").glob("*/outputs/train/train.csv"):
        cached.write_text("0,1,2\n")  # damaged in place
    result, _ = _run(runs_dir)
    assert result.status == "Succeeded"
    assert _hits(result)["PreprocessData"] is False
    assert_matches_golden("default", split_digests(result.run_dir), "a run after cache corruption")


def test_no_cache_runs_every_step(first, runs_dir):
    result, _ = _run(runs_dir, use_cache=False)
    assert _hits(result) == {name: False for name in JOB_STEPS}


def test_resume_reruns_a_failed_execution_from_its_failed_step(first, runs_dir, monkeypatch):
    from sagemaker.local.local_session import LocalSagemakerClient

    from churn.runner.local_executor import _ChurnLocalClient

    calls = []

    def capacity_error_once(original):
        def create_training_job(self, TrainingJobName, AlgorithmSpecification, *args, **kwargs):  # noqa: N803 - the SDK's names
            if "xgboost" in AlgorithmSpecification["TrainingImage"]:
                calls.append(1)
            if calls == [1]:
                raise RuntimeError("simulated: container killed")
            return original(self, TrainingJobName, AlgorithmSpecification, *args, **kwargs)

        return create_training_job

    # local mode's client (--container-runner compose) and churn's (engine): whichever runs the job
    for client in (LocalSagemakerClient, _ChurnLocalClient):
        monkeypatch.setattr(client, "create_training_job", capacity_error_once(client.__dict__["create_training_job"]))
    failed, _ = _run(runs_dir, {"NumRound": 23})
    assert failed.status == "Failed" and "simulated: container killed" in failed.failure_reason

    resume = resume_parameters(runs_dir, failed.execution_id)
    assert resume.input_sha256 == failed.summary["input_sha256"]
    resumed, _ = _run(runs_dir, resume.parameters, resumed_from=failed.execution_id, expected_input_sha256=resume.input_sha256)
    assert resumed.status == "Succeeded", resumed.failure_reason
    assert resumed.summary["resumed_from"] == failed.execution_id
    assert resumed.summary["parameters"] == failed.summary["parameters"]
    assert _hits(resumed) == XGBOOST_RERUN
    assert json.loads((failed.run_dir / "summary.json").read_text())["status"] == "Failed"  # untouched


def test_only_failed_executions_can_be_resumed(first, runs_dir):
    with pytest.raises(RunError, match="Succeeded: there is nothing to resume"):
        resume_parameters(runs_dir, first.execution_id)
    with pytest.raises(RunError, match="no execution nope"):
        resume_parameters(runs_dir, "nope")


def test_an_unchanged_rerun_from_the_shell_is_replayed_without_the_sdk(first, runs_dir):
    """Issue 19 item 2 in real containers: ``churn run`` with nothing changed, in a new process,
    replays the recorded run (every job step cached) without importing the SageMaker SDK."""
    import subprocess
    import sys

    from tests.conftest import REPO

    script = (
        "import json, sys\nfrom pathlib import Path\nfrom churn.runner.request import RunRequest\nfrom churn.runner.run import run\n"
        f"result = run(RunRequest(runs_dir=Path({str(runs_dir)!r})))\n"
        "print(json.dumps({'status': result.status, 'sdk': 'sagemaker' in sys.modules, "
        "'hits': sorted({s['cache_hit'] for s in result.summary['steps'] if s['name'] in %r})}))\n" % (list(JOB_STEPS),)
    )
    _run(runs_dir)  # the record of a cached run (the tests above changed the cache)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"status": "Succeeded", "sdk": False, "hits": [True]}
