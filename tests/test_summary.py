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


def _run_folder(tmp_path, name, **changes):
    """A run folder holding a summary (with ``changes``) and a definition."""
    run_dir = tmp_path / "runs" / name
    run_dir.mkdir(parents=True)
    document = {**_summary(execution_id=name).to_json(), **changes}
    (run_dir / "summary.json").write_text(json.dumps(document))
    (run_dir / "definition.json").write_text(json.dumps({"Steps": []}))
    return run_dir


def test_a_summary_of_an_older_churn_without_the_later_keys_is_read(tmp_path):
    from churn.summary import LATER_KEYS

    run_dir = _run_folder(tmp_path, "old")
    document = json.loads((run_dir / "summary.json").read_text())
    for key in LATER_KEYS:
        del document[key]
    (run_dir / "summary.json").write_text(json.dumps(document))
    summary = read_summary(run_dir)
    assert (summary.resumed_from, summary.selection, summary.input_sha256) == (None, None, None)
    assert summary.status == "Failed" and summary.steps == _summary().steps


def _one_line_error(result, says):
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1, result.output
    assert says in result.output


@pytest.mark.parametrize(
    "changes, says",
    [
        ({"resumed_from": 5}, "resumed_from must be text or null"),
        ({"failure_reason": ["x"]}, "failure_reason must be text or null"),
        ({"artifacts": {"model": 5}}, "artifacts must map names to paths"),
        ({"steps": [{"name": "x"}]}, "a step must have a name and a status"),
        ({"metrics": {"auc": "high"}}, "metrics must map names to numbers"),
    ],
)
def test_a_report_of_a_damaged_summary_names_the_problem(tmp_path, changes, says):
    from click.testing import CliRunner

    from churn.cli import main

    run_dir = _run_folder(tmp_path, "damaged", **changes)
    _one_line_error(CliRunner().invoke(main, ["report", str(run_dir)]), says)


def test_a_diff_with_a_damaged_selection_names_the_problem(tmp_path):
    from click.testing import CliRunner

    from churn.cli import main

    good, bad = _run_folder(tmp_path, "good"), _run_folder(tmp_path, "bad", selection=["xgboost"])
    _one_line_error(CliRunner().invoke(main, ["diff", str(bad), str(good)]), "selection must be an object or null")


@pytest.mark.parametrize("changes", [{"definition_sha256": ["b" * 64]}, {"started_at": 5}, {"steps": 3}])
def test_versions_skip_a_damaged_summary(tmp_path, changes):
    from churn.versions import list_versions

    _run_folder(tmp_path, "good")
    _run_folder(tmp_path, "bad", **changes)
    [version] = list_versions(tmp_path / "runs")
    assert version.runs == ["good"]
