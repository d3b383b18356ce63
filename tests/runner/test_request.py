"""A run request is checked for its backend before anything starts: an option of the other
backend is an error naming it, never silently ignored."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from churn.runner.request import ONLY, RunRequest, check_request
from churn.runner.runs import RunError


@pytest.mark.parametrize(
    ("settings", "option"),
    [
        ({"resume": "abc123"}, "--resume"),
        ({"use_cache": False}, "--no-cache"),
        ({"build_images": False}, "--no-build"),
        ({"max_parallel_steps": 2}, "--max-parallel-steps"),
        ({"aws_images": True}, "--aws-images"),
    ],
)
def test_a_local_option_on_the_cloud_is_refused(settings, option):
    with pytest.raises(RunError) as refused:
        check_request(RunRequest(backend="cloud", **settings))
    assert str(refused.value) == f"{option} is for the local backend only; the cloud backend does not support it"


@pytest.mark.parametrize(
    ("settings", "option"),
    [
        ({"region": "eu-west-1"}, "--region"), ({"role_arn": "arn:aws:iam::1:role/r"}, "--role-arn"),
        ({"bucket": "b"}, "--bucket"), ({"prefix": "p"}, "--prefix"), ({"cache_expiry": "P1D"}, "--cache-expiry"),
        ({"poll_seconds": 5.0}, "--poll-seconds"), ({"timeout_seconds": 60.0}, "--timeout"),
    ],
)
def test_a_cloud_option_on_the_local_backend_is_refused(settings, option):
    with pytest.raises(RunError) as refused:
        check_request(RunRequest(backend="local", **settings))
    assert str(refused.value) == f"{option} is for the cloud backend only; the local backend does not support it"


def test_several_wrong_options_are_named_together():
    with pytest.raises(RunError) as refused:
        check_request(RunRequest(backend="cloud", resume="abc", max_parallel_steps=3))
    assert str(refused.value) == "--resume and --max-parallel-steps are for the local backend only; the cloud backend does not support them"


def test_every_backend_only_setting_is_a_field_with_a_not_given_default():
    fields = RunRequest.__dataclass_fields__
    for settings in ONLY.values():
        for name in settings:
            assert name in fields
    assert sorted(set(ONLY["local"]) & set(ONLY["cloud"])) == []


@pytest.mark.parametrize("backend", ["local", "cloud"])
def test_shared_settings_are_accepted_on_both_backends(backend):
    check_request(RunRequest(backend=backend, parameters={"NumRound": 5}, runs_dir=Path("runs"), version="abc123"))


@pytest.mark.parametrize(
    ("settings", "conflicts"),
    [
        ({"parameters": {"NumRound": 5}}, "--param"),
        ({"parameters": {"InputData": "x.csv"}}, "--input"),
        ({"parameters": {"InputData": "x.csv", "Eta": 0.1}, "use_cache": False}, "--param, --input, --no-cache"),
        ({"version": "abc"}, "--pipeline-version"),
    ],
)
def test_a_resume_takes_nothing_that_would_change_the_run(settings, conflicts):
    with pytest.raises(RunError) as refused:
        check_request(RunRequest(resume="abc123", **settings))
    assert str(refused.value) == f"--resume runs the failed execution as it was: it takes no {conflicts}"


def test_an_unknown_backend_and_bad_numbers_are_refused():
    with pytest.raises(RunError, match=r"^unknown backend 'azure': choose one of local, cloud$"):
        check_request(RunRequest(backend="azure"))
    with pytest.raises(RunError, match=r"^--max-parallel-steps must be a positive integer, got 0$"):
        check_request(RunRequest(max_parallel_steps=0))
    with pytest.raises(RunError, match=r"^--poll-seconds must be positive, got 0.0$"):
        check_request(RunRequest(backend="cloud", poll_seconds=0.0))
    with pytest.raises(RunError, match=r"^--timeout must be positive, got -1.0$"):
        check_request(RunRequest(backend="cloud", timeout_seconds=-1.0))


@pytest.mark.parametrize(
    "request_, says",
    [
        (dict(resume="abc", dataset=Path("spec.json")), "--resume runs the failed execution as it was: it takes no --dataset"),
        (dict(version="abc", dataset=Path("spec.json")), "--pipeline-version runs a recorded version with the dataset spec it ran with: it takes no --dataset"),
    ],
)
def test_a_dataset_spec_cannot_change_a_recorded_run(request_, says):
    with pytest.raises(RunError, match=re.escape(says)):
        check_request(RunRequest(**request_))


def test_a_bad_dataset_spec_is_refused_before_anything_starts(tmp_path):
    from churn.runner.run import run

    (tmp_path / "spec.json").write_text(json.dumps({"name": "x", "label": {"column": "y", "positive": ["1"], "negative": ["0"]}, "columns": []}))
    with pytest.raises(RunError, match=r"^dataset spec .*spec.json: columns must be a non-empty list of feature columns$"):
        run(RunRequest(dataset=tmp_path / "spec.json", runs_dir=tmp_path / "runs"))
    with pytest.raises(RunError, match=r"^dataset spec not found: .*missing.json$"):
        run(RunRequest(dataset=tmp_path / "missing.json", runs_dir=tmp_path / "runs"))


@pytest.mark.parametrize("backend", ["local", "cloud"])
def test_a_tuning_parameter_without_the_tuning_branch_is_refused(backend):
    with pytest.raises(RunError) as refused:
        check_request(RunRequest(backend=backend, tuning=False, parameters={"TuningMaxJobs": 3, "NumRound": 5, "TuningSeed": 1}))
    assert str(refused.value) == "TuningMaxJobs, TuningSeed are parameters of the tuning branch, which --no-tuning leaves out"
    check_request(RunRequest(backend=backend, tuning=False, parameters={"NumRound": 5}))
    check_request(RunRequest(backend=backend, parameters={"TuningMaxJobs": 3}))


@pytest.mark.parametrize(("settings", "says"), [
    ({"resume": "abc123"}, "--resume runs the failed execution as it was: it takes no --no-tuning"),
    ({"version": "0123abcd"}, "--pipeline-version runs a recorded version with or without tuning as it was compiled: it takes no --no-tuning"),
])
def test_no_tuning_does_not_change_a_recorded_run(settings, says):
    with pytest.raises(RunError, match=re.escape(says)):
        check_request(RunRequest(tuning=False, **settings))
