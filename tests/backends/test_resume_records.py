"""Which executions can be resumed (no Docker): failed ones from their summary, and those
killed or interrupted before their summary from the run.json they wrote when they started."""

from __future__ import annotations

import json

import pytest

from churn.runner.local_jobs import write_run_record
from churn.runner.local import Resume, resume_parameters
from churn.runner.runs import RunError

RECORD = {
    "execution_id": "abc", "parameters": {"NumRound": 5, "InputData": "file:///data/x.csv"}, "input_sha256": "f" * 64,
    "definition_sha256": "d" * 64, "code_version": "0123456789abcdef",
}
RESUME = Resume(RECORD["parameters"], "f" * 64, "d" * 64, "0123456789abcdef")


def test_a_killed_run_is_resumed_from_its_run_record(tmp_path):
    write_run_record(tmp_path / "abc", RECORD)
    assert resume_parameters(tmp_path, "abc") == RESUME


def test_an_interrupted_run_is_found_by_its_id(tmp_path):
    write_run_record(tmp_path / "abc.interrupted", RECORD)
    assert resume_parameters(tmp_path, "abc") == RESUME


def test_a_failed_run_is_resumed_from_its_summary(tmp_path):
    (tmp_path / "abc").mkdir()
    summary = {"status": "Failed", "parameters": {"NumRound": 7}, "input_sha256": None, "definition_sha256": "e" * 64}
    (tmp_path / "abc" / "summary.json").write_text(json.dumps(summary))
    code = {"InputName": "code", "S3Input": {"S3Uri": {"Std:Join": {"On": "/", "Values": ["file:///runs/.code", "fedcba9876543210"]}}}}
    (tmp_path / "abc" / "definition.json").write_text(json.dumps({"Steps": [{"Arguments": {"ProcessingInputs": [code]}}]}))
    assert resume_parameters(tmp_path, "abc") == Resume({"NumRound": 7}, None, "e" * 64, "fedcba9876543210")


@pytest.mark.parametrize(
    "files, says",
    [
        ({}, "no execution abc under"),
        ({"abc/summary.json": json.dumps({"status": "Succeeded", "parameters": {}})}, "abc Succeeded: there is nothing to resume"),
        ({"abc/summary.json": "{broken"}, "cannot resume abc: .*summary.json is damaged"),
        ({"abc/run.json": "[]"}, "cannot resume abc: .*run.json is damaged"),
        ({"abc/notes.txt": "x"}, "has neither summary.json nor run.json"),
    ],
)
def test_what_cannot_be_resumed_is_said(tmp_path, files, says):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    with pytest.raises(RunError, match=says):
        resume_parameters(tmp_path, "abc")


@pytest.mark.parametrize("tuning", [True, False])
def test_a_killed_run_resumes_with_or_without_tuning_as_it_started(tmp_path, tuning):
    write_run_record(tmp_path / "abc", {**RECORD, "tuning": tuning})
    assert resume_parameters(tmp_path, "abc").tuning is tuning


def test_a_run_record_of_an_older_churn_resumes_without_tuning(tmp_path):
    """Runs before the tuning branch compiled none: their definitions stay rebuildable."""
    write_run_record(tmp_path / "abc", RECORD)
    assert resume_parameters(tmp_path, "abc").tuning is False


@pytest.mark.parametrize("tuning", [True, False])
def test_a_failed_run_resumes_with_or_without_tuning_as_its_definition_says(tmp_path, tuning):
    from churn.definition import compile_definition

    (tmp_path / "abc").mkdir()
    summary = {"status": "Failed", "parameters": {"NumRound": 7}, "input_sha256": None, "definition_sha256": "e" * 64}
    (tmp_path / "abc" / "summary.json").write_text(json.dumps(summary))
    (tmp_path / "abc" / "definition.json").write_text(json.dumps(compile_definition("local", tuning=tuning, runs_dir=tmp_path)))
    assert resume_parameters(tmp_path, "abc").tuning is tuning
