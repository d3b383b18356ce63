"""The cloud runner records a SageMaker tuning job's trials as a local run does
(``<run>/TuneModel/trials.json``), from DescribeHyperParameterTuningJob and every page of
ListTrainingJobsForHyperParameterTuningJob (which moto lacks: botocore's Stubber answers, and
checks each request and answer against the service model)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.stub import Stubber

from churn.layout import TRIALS_FILE, TUNE_STEP
from churn.runner.cloud import record_trials
from churn.runner.events import Events, Note

NAME = "w4y4ft8j4z7u-TuneModel-abc123"
ARN = f"arn:aws:sagemaker:us-east-1:123456789012:hyper-parameter-tuning-job/{NAME.lower()}"
T0 = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def _summary(number: int, objective: float | None, status: str = "Completed", **extra) -> dict:
    summary = {
        "TrainingJobName": f"{NAME}-{number:03d}-0123abcd", "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/t{number}",
        "CreationTime": T0 + timedelta(minutes=number), "TrainingStartTime": T0 + timedelta(minutes=number, seconds=30),
        "TrainingEndTime": T0 + timedelta(minutes=number, seconds=72.5), "TrainingJobStatus": status,
        "TunedHyperParameters": {"max_depth": str(number + 2), "eta": "0.1"}, **extra,
    }
    if objective is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {"Type": "Maximize", "MetricName": "validation:auc", "Value": objective}
    return summary


def _describe(best: dict) -> dict:
    return {
        "HyperParameterTuningJobName": NAME, "HyperParameterTuningJobArn": ARN,
        "HyperParameterTuningJobConfig": {
            "Strategy": "Bayesian", "RandomSeed": 42,
            "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2},
        },
        "HyperParameterTuningJobStatus": "Completed", "CreationTime": T0,
        "TrainingJobStatusCounters": {"Completed": 2, "NonRetryableError": 1},
        "ObjectiveStatusCounters": {"Succeeded": 2, "Failed": 1}, "BestTrainingJob": best,
    }


@pytest.fixture
def sm():
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")  # noqa: S106 - inert
    with Stubber(client) as stubber:
        yield client, stubber


def _steps(arn: str | None = ARN) -> list[dict]:
    return [{"StepName": "PreprocessData", "StepStatus": "Succeeded"},
            {"StepName": TUNE_STEP, "StepStatus": "Succeeded", **({"Metadata": {"TuningJob": {"Arn": arn}}} if arn else {})}]


def test_every_trial_of_every_page_is_recorded_numbered_by_creation(sm, tmp_path):
    client, stubber = sm
    best = _summary(2, 0.93)
    failed = _summary(3, None, "Failed", FailureReason="AlgorithmError: out of memory")
    stubber.add_response("describe_hyper_parameter_tuning_job", _describe(best), {"HyperParameterTuningJobName": NAME.lower()})
    # Listed best first, as SortBy=FinalObjectiveMetricValue would; numbered by creation.
    stubber.add_response("list_training_jobs_for_hyper_parameter_tuning_job",
                         {"TrainingJobSummaries": [best, _summary(1, 0.91)], "NextToken": "page-2"},
                         {"HyperParameterTuningJobName": NAME.lower()})
    stubber.add_response("list_training_jobs_for_hyper_parameter_tuning_job", {"TrainingJobSummaries": [failed]},
                         {"HyperParameterTuningJobName": NAME.lower(), "NextToken": "page-2"})
    notes: list = []
    record_trials(client, _steps(), tmp_path, Events(notes.append))
    stubber.assert_no_pending_responses()
    document = json.loads((tmp_path / TUNE_STEP / TRIALS_FILE).read_text())
    assert {k: v for k, v in document.items() if k != "trials"} == {
        "tuning_job": NAME, "strategy": "Bayesian", "max_jobs": 3, "max_parallel": 2, "seed": 42,
        "objective": {"metric": "validation:auc", "type": "Maximize"}, "best": best["TrainingJobName"],
    }
    trials = document["trials"]
    assert [(t["number"], t["job"][-12:], t["status"], t["objective"]) for t in trials] == [
        (1, "001-0123abcd", "Completed", 0.91), (2, "002-0123abcd", "Completed", 0.93), (3, "003-0123abcd", "Failed", None),
    ]
    assert trials[0]["seconds"] == 42.5 and trials[0]["hyperparameters"] == {"max_depth": "3", "eta": "0.1"}
    assert trials[2]["failure"] == "AlgorithmError: out of memory" and trials[0]["created"] == "2026-11-28T12:01:00+00:00"
    assert notes == []


def test_the_best_is_the_first_as_sagemaker_sorts_them_and_a_cached_step_says_so(sm, tmp_path):
    """``best`` is the trial TrainingJobSummaries[0] names (EvaluateTuned's model), whatever
    BestTrainingJob says on a tie; a NaN objective is never best; a step served from
    SageMaker's cache marks its trials cached."""
    client, stubber = sm
    first, tied, broken = _summary(1, 0.93), _summary(2, 0.93), _summary(3, float("nan"))
    stubber.add_response("describe_hyper_parameter_tuning_job", _describe(tied), {"HyperParameterTuningJobName": NAME.lower()})
    stubber.add_response("list_training_jobs_for_hyper_parameter_tuning_job", {"TrainingJobSummaries": [broken, tied, first]},
                         {"HyperParameterTuningJobName": NAME.lower()})
    steps = _steps()
    steps[1]["CacheHitResult"] = {"SourcePipelineExecutionArn": "arn:aws:sagemaker:us-east-1:123456789012:pipeline/churn/execution/old"}
    record_trials(client, steps, tmp_path, Events())
    document = json.loads((tmp_path / TUNE_STEP / TRIALS_FILE).read_text())
    assert document["best"] == first["TrainingJobName"]
    assert [t["number"] for t in document["trials"] if t["objective"] != t["objective"]] == [3]  # the NaN, kept as recorded
    assert all(t["cached"] for t in document["trials"])


def test_a_record_that_cannot_be_read_is_a_note_not_a_failure(sm, tmp_path):
    client, stubber = sm
    stubber.add_client_error("describe_hyper_parameter_tuning_job", "AccessDeniedException", "not authorized to DescribeHyperParameterTuningJob")
    notes: list = []
    record_trials(client, _steps(), tmp_path, Events(notes.append))
    assert not (tmp_path / TUNE_STEP).exists()
    assert [n.text for n in notes if isinstance(n, Note)] == [
        f"the trials of tuning job {NAME.lower()} were not recorded: AccessDeniedException: not authorized to DescribeHyperParameterTuningJob"
    ]


def test_a_pipeline_without_a_tuning_job_records_nothing(sm, tmp_path):
    client, _ = sm
    record_trials(client, _steps(arn=None), tmp_path, Events())
    record_trials(client, _steps()[:1], tmp_path, Events())
    assert list(tmp_path.iterdir()) == []
