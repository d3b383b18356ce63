"""Every request SageMaker Pipelines would make for the cloud definition passes SageMaker's own
validation (botocore's service model with patterns, enums and lengths), with real values: the
execution's parameters and id, earlier steps' outputs, and the property files as the real
SelectModel step writes them. The emulator does not check these; SageMaker does."""

from __future__ import annotations

import json

import pytest

from churn.definition import compile_definition
from tests.aws_contract import execution_property_files, pipeline_requests, violations

ROLE = "arn:aws:iam::123456789012:role/churn-pipeline"
EXECUTION = "a1b2c3d4e5f6"


def _requests(candidate_outputs, parameters=None, property_files=None, **settings):
    definition = compile_definition("cloud", {}, region="eu-west-1", role_arn=ROLE, bucket="my-bucket", **settings)
    return pipeline_requests(definition, parameters or {}, EXECUTION, property_files or execution_property_files(candidate_outputs), ROLE)


@pytest.mark.parametrize("settings", [{}, {"prefix": "/"}, {"prefix": "team/churn"}], ids=["default", "no-prefix", "nested-prefix"])
def test_every_request_passes_sagemakers_validation(candidate_outputs, settings):
    requests = _requests(candidate_outputs, **settings)
    assert [(step, operation) for step, operation, _ in requests] == [
        ("PreprocessData", "CreateProcessingJob"),
        ("TuneModel", "CreateHyperParameterTuningJob"),
        ("EvaluateTuned", "CreateProcessingJob"),
        ("TrainModel", "CreateTrainingJob"),
        ("EvaluateModel", "CreateProcessingJob"),
        ("TrainBaseline", "CreateTrainingJob"),
        ("EvaluateBaseline", "CreateProcessingJob"),
        ("SelectModel", "CreateProcessingJob"),
        ("CreateModel-CreateModel", "CreateModel"),
        ("RegisterModel-RegisterModel", "CreateModelPackage"),
    ]
    for step, operation, request in requests:
        assert violations(operation, request) == [], step


def test_non_default_parameters_pass_too(candidate_outputs):
    parameters = {
        "NumRound": 7, "Eta": 0.5, "BaselineEnabled": "false", "SelectionMetric": "recall", "ModelApprovalStatus": "Approved",
        "TuningStrategy": "Random", "TuningMaxJobs": 1, "TuningMaxParallelJobs": 1, "TuningSeed": 0,
    }
    for step, operation, request in _requests(candidate_outputs, parameters):
        assert violations(operation, request) == [], step


def test_the_old_candidates_summary_is_refused_as_sagemaker_refused_it(candidate_outputs):
    """Before the fix, RegisterModel sent "xgboost auc=0.9212 (winner); ..." as customer
    metadata: SageMaker's pattern has no parentheses or semicolons."""
    files = execution_property_files(candidate_outputs)
    files["Steps.SelectModel.PropertyFiles.Selection"]["summary"] = "xgboost auc=0.9212 (winner); logistic-regression auc=0.8233"
    [(_, operation, request)] = [r for r in _requests(candidate_outputs, property_files=files) if r[1] == "CreateModelPackage"]
    [problem] = violations(operation, request)
    assert problem.startswith("CreateModelPackage.CustomerMetadataProperties['Candidates']: 'xgboost auc=0.9212 (winner);")


def test_no_empty_path_segment_in_any_s3_location(candidate_outputs):
    for _, _, request in _requests(candidate_outputs, prefix="/"):
        text = json.dumps(request)
        assert "s3://my-bucket//" not in text and "s3://my-bucket/runs/" in text or "s3://" not in text


def test_the_default_input_is_where_the_sample_is_staged():
    from churn.backends.cloud import cloud_backend
    from churn.layout import SAMPLE_DATA
    from churn.runner.runs import input_sha256

    backend = cloud_backend(region="eu-west-1", role_arn=ROLE, bucket="my-bucket")
    assert backend.input_data == f"s3://my-bucket/churn/input/{input_sha256(SAMPLE_DATA)[:16]}/"


def test_script_mode_gets_the_region(candidate_outputs):
    [train] = [r for s, _, r in _requests(candidate_outputs) if s == "TrainBaseline"]
    assert train["HyperParameters"]["sagemaker_region"] == "eu-west-1"
    assert train["HyperParameters"]["sagemaker_submit_directory"].startswith("s3://my-bucket/churn/code/")


def test_the_tuned_candidate_is_the_best_training_jobs_model_and_hyperparameters(candidate_outputs):
    """EvaluateTuned and SelectModel read TuneModel's best training job (TrainingJobSummaries[0])
    at the URI the SDK's get_top_model_s3_uri names, and its tuned hyperparameters."""
    from churn.backends.cloud import cloud_backend
    from churn.pipeline import TUNING_RANGES, build_pipeline
    from tests.aws_contract import _resolve, best_training_job

    requests = {step: request for step, _, request in _requests(candidate_outputs)}
    best = best_training_job(requests["TuneModel"])
    model = next(i for i in requests["EvaluateTuned"]["ProcessingInputs"] if i["InputName"] == "model")["S3Input"]["S3Uri"]
    assert model == f"s3://my-bucket/churn/runs/{EXECUTION}/TuneModel/{best['TrainingJobName']}/output/model.tar.gz"

    pipeline = build_pipeline(cloud_backend(region="eu-west-1", role_arn=ROLE, bucket="my-bucket"))
    tune = next(step for step in pipeline.steps if step.name == "TuneModel")
    top = tune.get_top_model_s3_uri(top_k=0, s3_bucket="my-bucket", prefix=f"churn/runs/{EXECUTION}/TuneModel")
    context = {"steps": {"TuneModel": {"TrainingJobSummaries": [best]}}, "parameters": {}, "execution_id": EXECUTION, "property_files": {}}
    assert tune.properties.TrainingJobDefinition.OutputDataConfig.S3OutputPath.expr  # a property the step has
    assert _resolve(json.loads(json.dumps(top.expr)), context) == model

    arguments = requests["SelectModel"]["AppSpecification"]["ContainerArguments"]
    tuned = arguments[arguments.index("xgboost-tuned", arguments.index("--hyperparameters")) + 1]
    assert tuned == " ".join(f"{name}={best['TunedHyperParameters'][name]}" for name in TUNING_RANGES)
    assert tuned.startswith("max_depth=2 eta=0.01 num_round=50 ")


def test_a_tuning_step_served_from_the_cache_is_evaluated_where_its_models_are(candidate_outputs):
    """SageMaker serves an unchanged TuneModel from its cache: its properties (best job, output
    path) are the earlier execution's tuning job, whose models are under that execution."""
    definition = compile_definition("cloud", {}, region="eu-west-1", role_arn=ROLE, bucket="my-bucket")
    earlier = "0ld3xecut10n"
    requests = {
        step: request for step, _, request in
        pipeline_requests(definition, {}, EXECUTION, execution_property_files(candidate_outputs), ROLE, cached={"TuneModel": earlier})
    }
    model = next(i for i in requests["EvaluateTuned"]["ProcessingInputs"] if i["InputName"] == "model")["S3Input"]["S3Uri"]
    assert model.startswith(f"s3://my-bucket/churn/runs/{earlier}/TuneModel/{earlier[:12].lower()}-tunemodel-abc123-001-")
    selected = next(i for i in requests["SelectModel"]["ProcessingInputs"] if i["InputName"] == "xgboost-tuned-model")
    assert selected["S3Input"]["S3Uri"] == model


def test_the_tuning_job_is_one_sagemaker_accepts_and_the_local_backend_runs(candidate_outputs):
    """CreateHyperParameterTuningJob's request, as sent: the objective SageMaker's XGBoost image
    publishes, no metric definitions (SageMaker refuses them for its own algorithms), the
    strategy and budget from the parameters; and the local backend's reading of it runs."""
    from churn.tuning import tuning_config

    parameters = {"TuningStrategy": "Random", "TuningMaxJobs": 9, "TuningMaxParallelJobs": 3, "TuningSeed": 5}
    request = {step: request for step, _, request in _requests(candidate_outputs, parameters)}["TuneModel"]
    config = request["HyperParameterTuningJobConfig"]
    assert config["Strategy"] == "Random" and config["RandomSeed"] == 5
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 9, "MaxParallelTrainingJobs": 3}
    assert config["HyperParameterTuningJobObjective"] == {"Type": "Maximize", "MetricName": "validation:auc"}
    assert "MetricDefinitions" not in request["TrainingJobDefinition"]["AlgorithmSpecification"]
    assert request["TrainingJobDefinition"]["StaticHyperParameters"] == {"objective": "binary:logistic", "eval_metric": "auc"}
    local = tuning_config(config)
    assert (local.strategy, local.max_jobs, local.max_parallel, local.seed) == ("Random", 9, 3, 5)
    assert {r.name for r in local.ranges} == {"max_depth", "eta", "num_round", "min_child_weight", "subsample"}
