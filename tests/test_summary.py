"""summary.json is written from typed records and read back into the same records."""

import json

import pytest

from churn.summary import SUMMARY_KEYS, RegisteredModel, RunSummary, StepRecord, read_summary, step_records, write_summary


def _summary(**changes) -> RunSummary:
    steps = step_records(
        [
            {"StepName": "PreprocessData", "StepStatus": "Succeeded", "StartTime": 0.0, "EndTime": 1.5},
            {"StepName": "TrainModel", "StepStatus": "Failed", "StartTime": 1.5, "EndTime": 2.0, "FailureReason": "bad"},
            {"StepName": "TrainBaseline", "StepStatus": "Succeeded", "StartTime": 1.5, "EndTime": 2.5, "CacheHitResult": {"x": 1}},
        ],
        ["PreprocessData", "TrainModel", "TrainBaseline", "SelectModel"],
    )
    fields = dict(
        execution_id="abc", backend="local", status="Failed", failure_reason="Step 'TrainModel' failed with message: bad",
        started_at="2026-01-01T00:00:00.000+00:00", finished_at="2026-01-01T00:00:02.500+00:00", duration_seconds=2.5,
        parameters={"NumRound": 7}, steps=tuple(steps), metrics={}, artifacts={}, registered_model=None, churn_version="0.1.0",
        definition_sha256="e" * 64, resumed_from=None, selection=None, input_sha256="f" * 64,
    )
    return RunSummary(**{**fields, **changes})


def test_steps_are_recorded_in_the_given_order_with_their_shape():
    steps = [step.to_json() for step in _summary().steps]
    assert [s["name"] for s in steps] == ["PreprocessData", "TrainModel", "TrainBaseline", "SelectModel"]
    assert steps[0] == {
        "name": "PreprocessData", "status": "Succeeded", "started_at": "1970-01-01T00:00:00.000+00:00",
        "finished_at": "1970-01-01T00:00:01.500+00:00", "duration_seconds": 1.5, "cache_hit": False,
    }
    assert steps[1]["failure_reason"] == "bad" and steps[2]["cache_hit"] is True and "failure_reason" not in steps[2]
    assert steps[3] == {"name": "SelectModel", "status": "NotStarted"}


@pytest.mark.parametrize(
    "model",
    [None, RegisteredModel("churn", 3, "arn:aws:sagemaker:us-east-1:1:model-package/churn/3"), RegisteredModel("churn", 1, "local:churn/1", "Approved")],
)
def test_a_summary_survives_writing_and_reading(tmp_path, model):
    summary = _summary(registered_model=model)
    write_summary(tmp_path, summary)
    document = json.loads((tmp_path / "summary.json").read_text())
    assert tuple(document) == SUMMARY_KEYS
    assert read_summary(tmp_path) == summary
    assert RunSummary.from_json(document).to_json() == document


def test_the_registered_model_keeps_its_keys():
    assert RegisteredModel("churn", 3, "arn").to_json() == {"group": "churn", "version": 3, "arn": "arn"}
    assert list(RegisteredModel("churn", 1, "local", "Approved").to_json()) == ["group", "version", "approval_status", "arn"]


def test_a_summary_missing_a_field_is_refused():
    document = _summary().to_json()
    del document["metrics"]
    with pytest.raises(KeyError, match="metrics"):
        RunSummary.from_json(document)


def test_what_readers_ask_of_a_summary():
    summary = _summary(selection={"winner": "xgboost"})
    assert [s.name for s in summary.failed_steps] == ["TrainModel"]
    assert summary.step("TrainBaseline") == StepRecord(
        "TrainBaseline", "Succeeded", "1970-01-01T00:00:01.500+00:00", "1970-01-01T00:00:02.500+00:00", 1.0, True,
    )
    assert summary.step("Nope") is None and summary.winner == "xgboost" and _summary().winner is None
