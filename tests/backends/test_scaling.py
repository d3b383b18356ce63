"""ProcessingInstanceCount / TrainingInstanceCount (issue 19 item 4): how the compiled
definitions carry them, where counts above 1 are refused, and that SageMaker would accept the
requests of a scaled-out execution (tests/aws_contract.py)."""

from __future__ import annotations

import pytest

from churn.definition import compile_definition
from churn.parameters import ParameterError, parse_overrides
from tests.aws_contract import execution_property_files, pipeline_requests, violations

ROLE = "arn:aws:iam::123456789012:role/churn-pipeline"
SCALED = {"ProcessingInstanceCount": 4, "TrainingInstanceCount": 3, "TrainingInstanceType": "ml.m5.xlarge"}


def _cloud(parameters=None):
    return compile_definition("cloud", parameters or {}, region="eu-west-1", role_arn=ROLE, bucket="my-bucket")


def _steps(definition):
    return {step["Name"]: step["Arguments"] for step in definition["Steps"]}


def _distributions(channels):
    return {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3DataDistributionType"] for c in channels}


@pytest.mark.parametrize("backend", ["local", "cloud"])
def test_the_counts_are_pipeline_parameters_of_preprocessing_and_xgboost_training_only(backend):
    definition = _cloud() if backend == "cloud" else compile_definition("local")
    parameters = {p["Name"]: p for p in definition["Parameters"]}
    for name in ("ProcessingInstanceCount", "TrainingInstanceCount"):
        assert parameters[name] == {"Name": name, "Type": "Integer", "DefaultValue": 1}
    steps = _steps(definition)
    assert steps["PreprocessData"]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == {"Get": "Parameters.ProcessingInstanceCount"}
    assert steps["TrainModel"]["ResourceConfig"]["InstanceCount"] == {"Get": "Parameters.TrainingInstanceCount"}
    # The baseline (scikit-learn), each tuning trial, the evaluations and the selection: one instance.
    assert steps["TrainBaseline"]["ResourceConfig"]["InstanceCount"] == 1
    assert steps["TuneModel"]["TrainingJobDefinition"]["HyperParameterTuningResourceConfig"]["InstanceCount"] == 1
    for name in ("EvaluateModel", "EvaluateBaseline", "EvaluateTuned", "SelectModel"):
        assert steps[name]["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1, name


def test_on_sagemaker_the_raw_input_and_the_train_channel_are_sharded_by_key():
    steps = _steps(_cloud())
    inputs = {i["InputName"]: i["S3Input"]["S3DataDistributionType"] for i in steps["PreprocessData"]["ProcessingInputs"]}
    assert inputs == {"raw": "ShardedByS3Key", "code": "FullyReplicated"}
    assert _distributions(steps["TrainModel"]["InputDataConfig"]) == {"train": "ShardedByS3Key", "validation": "FullyReplicated"}
    assert _distributions(steps["TrainBaseline"]["InputDataConfig"]) == {"train": "FullyReplicated", "validation": "FullyReplicated"}
    tuned = steps["TuneModel"]["TrainingJobDefinition"]["InputDataConfig"]
    assert _distributions(tuned) == {"train": "FullyReplicated", "validation": "FullyReplicated"}
    for name in ("EvaluateModel", "SelectModel"):
        assert {i["S3Input"]["S3DataDistributionType"] for i in steps[name]["ProcessingInputs"]} == {"FullyReplicated"}


def test_locally_every_input_is_fully_replicated_as_local_mode_requires():
    """SageMaker local mode refuses any other S3DataDistributionType (sagemaker/local/entities.py)."""
    text = str(compile_definition("local"))
    assert "ShardedByS3Key" not in text and "FullyReplicated" in text


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"ProcessingInstanceCount": 2, "TrainingInstanceCount": 2},
         "^ProcessingInstanceCount=2, TrainingInstanceCount=2: the local backend runs one instance per job "
         r"\(local mode shards no input\); instance counts above 1 are for --backend cloud$"),
        ({"ProcessingInstanceCount": 3}, "^ProcessingInstanceCount=3: the local backend"),
    ],
)
def test_the_local_backend_refuses_counts_above_one_naming_them(overrides, message):
    with pytest.raises(ParameterError, match=message):
        compile_definition("local", overrides)


def test_sagemaker_refuses_a_sharded_preprocessing_that_auto_would_size_from():
    with pytest.raises(ParameterError, match="^ProcessingInstanceCount=2 shards preprocessing, so no instance counts the whole train split"):
        _cloud({"ProcessingInstanceCount": 2})  # the cloud default TrainingInstanceType is auto
    assert _cloud({"ProcessingInstanceCount": 2, "TrainingInstanceType": "ml.m5.xlarge"})


def test_a_spec_with_a_collected_vocabulary_cannot_be_sharded():
    from churn.backends.cloud import cloud_backend
    from churn.dataset import COLLECT, DEFAULT_SPEC, spec_from_json

    document = DEFAULT_SPEC.to_json()
    next(c for c in document["columns"] if c["name"] == "State")["vocabulary"] = COLLECT
    backend = cloud_backend(region="eu-west-1", role_arn=ROLE, bucket="my-bucket", compile_only=True)
    backend.dataset = spec_from_json(document)
    with pytest.raises(ParameterError, match="collects the vocabulary of State from the whole input"):
        backend.check_scaling({"ProcessingInstanceCount": 2, "TrainingInstanceType": "ml.m5.xlarge"})
    backend.check_scaling({"ProcessingInstanceCount": 1})


@pytest.mark.parametrize(
    "pairs, message",
    [
        (["ProcessingInstanceCount=0"], r"^ProcessingInstanceCount must be in \[1, 100\]"),
        (["TrainingInstanceCount=-1"], "^TrainingInstanceCount must be at least 1, got '-1'$"),
        (["TrainingInstanceCount=two"], "^TrainingInstanceCount must be an integer, got 'two'$"),
        (["TrainingInstanceCount=2"], "^TrainingInstanceCount=2 is more than ProcessingInstanceCount=1: the train split is one file per "),
        (["ProcessingInstanceCount=2", "TrainingInstanceCount=3"], "^TrainingInstanceCount=3 is more than ProcessingInstanceCount=2"),
    ],
)
def test_bad_counts_are_named(pairs, message):
    with pytest.raises(ParameterError, match=message):
        parse_overrides(pairs)


def test_counts_up_to_the_processing_instances_are_accepted():
    assert parse_overrides(["ProcessingInstanceCount=8", "TrainingInstanceCount=8"]) == {"ProcessingInstanceCount": 8, "TrainingInstanceCount": 8}
    assert parse_overrides(["ProcessingInstanceCount=2"]) == {"ProcessingInstanceCount": 2}


def test_a_scaled_out_execution_makes_requests_sagemaker_accepts(candidate_outputs):
    """CreateProcessingJob and CreateTrainingJob with the execution's counts, resolved from the
    parameters, valid per botocore's service model with its patterns, enums and ranges."""
    property_files = execution_property_files(candidate_outputs, SCALED["TrainingInstanceType"])
    requests = pipeline_requests(_cloud(), SCALED, "a1b2c3d4e5f6", property_files, ROLE)
    for step, operation, request in requests:
        assert violations(operation, request) == [], step
    by_step = {step: request for step, _, request in requests}
    preprocess = by_step["PreprocessData"]
    assert preprocess["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 4
    assert next(i for i in preprocess["ProcessingInputs"] if i["InputName"] == "raw")["S3Input"]["S3DataDistributionType"] == "ShardedByS3Key"
    train = by_step["TrainModel"]
    assert train["ResourceConfig"] == {"VolumeSizeInGB": 30, "InstanceCount": 3, "InstanceType": "ml.m5.xlarge"}
    assert _distributions(train["InputDataConfig"]) == {"train": "ShardedByS3Key", "validation": "FullyReplicated"}
    assert by_step["TrainBaseline"]["ResourceConfig"]["InstanceCount"] == 1


def test_a_count_sagemaker_would_refuse_is_caught_by_the_contract_and_by_the_parameter_check(candidate_outputs):
    """The contract check itself sees the counts: CreateProcessingJob takes 1 to 100 instances;
    the parameter check refuses more before anything is sent."""
    property_files = execution_property_files(candidate_outputs, "ml.m5.xlarge")
    requests = pipeline_requests(_cloud(), {**SCALED, "ProcessingInstanceCount": 101}, "a1b2c3d4e5f6", property_files, ROLE)
    [(_, operation, request)] = [r for r in requests if r[0] == "PreprocessData"]
    assert violations(operation, request) == ["CreateProcessingJob.ProcessingResources.ClusterConfig.InstanceCount: 101 is above the maximum of 100"]
    with pytest.raises(ParameterError, match=r"^ProcessingInstanceCount must be in \[1, 100\] \(CreateProcessingJob's range\), got '101'$"):
        parse_overrides(["ProcessingInstanceCount=101"])
