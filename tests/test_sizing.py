"""Issue 18, item 5: the training instance type follows the input's training rows.

PreprocessData records ``sizing`` in its manifest; TrainModel, TrainBaseline and TuneModel read
``sizing.chosen`` with JsonGet; the cloud default is ``auto``; a run says what was used.
"""

from __future__ import annotations

import json

import pytest

from churn import parameters, sizing
from churn.definition import compile_definition
from churn.parameters import ParameterError
from churn.steps import preprocess
from tests.aws_contract import execution_property_files, pipeline_requests, violations
from tests.conftest import SAMPLE_CSV

ROLE = "arn:aws:iam::123456789012:role/churn-pipeline"
TRAINING_STEPS = ("TuneModel", "TrainModel", "TrainBaseline")


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        (0, "ml.m5.large"), (2_000_000, "ml.m5.large"), (2_000_001, "ml.m5.2xlarge"),
        (12_000_000, "ml.m5.2xlarge"), (12_000_001, "ml.m5.4xlarge"), (10**10, "ml.m5.4xlarge"),
    ],
)
def test_the_tier_is_the_smallest_that_holds_the_training_rows(rows, expected):
    assert sizing.instance_for(rows) == expected


def test_auto_takes_the_tier_and_any_other_type_is_kept_as_asked():
    assert sizing.sizing(5_000_000, "auto") == {
        "training_rows": 5_000_000, "requested": "auto", "would_choose": "ml.m5.2xlarge", "chosen": "ml.m5.2xlarge",
    }
    assert sizing.sizing(5_000_000, "ml.c5.xlarge")["chosen"] == "ml.c5.xlarge"
    assert sizing.sizing(5_000_000, "local") == {
        "training_rows": 5_000_000, "requested": "local", "would_choose": "ml.m5.2xlarge", "chosen": "local",
    }


@pytest.mark.parametrize("value", ["", "Auto", "m5.large", "ml.m5", "ml.M5.large", "ml.m5.large ", "local-gpu", "ml..large"])
def test_a_bad_training_instance_type_is_one_line_naming_it(value):
    with pytest.raises(ParameterError) as error:
        parameters.convert("TrainingInstanceType", value)
    assert str(error.value).startswith("TrainingInstanceType must be auto, local or local_gpu, or a SageMaker instance type")
    assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="training instance type"):
        sizing.sizing(10, value)


@pytest.mark.parametrize("value", ["auto", "local", "local_gpu", "ml.m5.large", "ml.p4d.24xlarge", "ml.trn1n.32xlarge"])
def test_good_training_instance_types_are_taken(value):
    assert parameters.convert("TrainingInstanceType", value) == value


def test_the_words_say_what_was_used_and_what_auto_gives():
    assert sizing.describe(sizing.sizing(2345, "auto")) == "ml.m5.large (auto, for 2,345 training rows)"
    assert sizing.describe(sizing.sizing(2345, "local")) == "local (on SageMaker, auto would choose ml.m5.large for 2,345 training rows)"
    assert sizing.describe(sizing.sizing(3_000_000, "ml.c5.xlarge")) == (
        "ml.c5.xlarge (as asked; auto would choose ml.m5.2xlarge for 3,000,000 training rows)"
    )
    assert sizing.describe({"chosen": "ml.m5.large", "requested": "auto", "training_rows": "?"}) == "ml.m5.large (auto, for the training rows)"


@pytest.mark.parametrize("requested", ["auto", "local", "ml.m5.xlarge"])
def test_preprocessing_records_the_sizing_of_its_train_split(tmp_path, requested):
    preprocess.main(["--input", str(SAMPLE_CSV), "--output", str(tmp_path), "--training-instance-type", requested])
    manifest = json.loads((tmp_path / "manifest" / "manifest.json").read_text())
    train_rows = manifest["rows"]["train"]
    assert train_rows == sum(1 for _ in (tmp_path / "train" / "train.csv").open())
    assert manifest["sizing"] == sizing.sizing(train_rows, requested)


def test_preprocessing_refuses_a_bad_type_before_it_writes_anything(tmp_path):
    with pytest.raises(ValueError, match="training instance type 'huge' must be auto"):
        preprocess.main(["--input", str(SAMPLE_CSV), "--output", str(tmp_path / "out"), "--training-instance-type", "huge"])
    assert not (tmp_path / "out").exists()


def _steps(definition: dict) -> dict:
    return {step["Name"]: step for step in definition["Steps"]}


@pytest.mark.parametrize("backend", ["local", "cloud"])
def test_every_training_step_reads_its_instance_type_from_the_manifest(backend):
    settings = {"region": "eu-west-1", "role_arn": ROLE, "bucket": "my-bucket"} if backend == "cloud" else {}
    steps = _steps(compile_definition(backend, {}, **settings))
    manifest = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.PreprocessData.PropertyFiles.Manifest"}, "Path": "sizing.chosen"}}
    assert steps["TrainModel"]["Arguments"]["ResourceConfig"]["InstanceType"] == manifest
    assert steps["TrainBaseline"]["Arguments"]["ResourceConfig"]["InstanceType"] == manifest
    tuning = steps["TuneModel"]["Arguments"]["TrainingJobDefinition"]
    assert (tuning.get("HyperParameterTuningResourceConfig") or tuning["ResourceConfig"])["InstanceType"] == manifest
    preprocess_step = steps["PreprocessData"]
    assert {"PropertyFileName": "Manifest", "OutputName": "manifest", "FilePath": "manifest.json"} in preprocess_step["PropertyFiles"]
    arguments = preprocess_step["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--training-instance-type") + 1] == {"Get": "Parameters.TrainingInstanceType"}


def test_the_cloud_default_is_auto_and_local_runs_here():
    cloud = compile_definition("cloud", {}, region="eu-west-1", role_arn=ROLE, bucket="my-bucket")
    local = compile_definition("local", {})
    default = {p["Name"]: p.get("DefaultValue") for p in cloud["Parameters"]}
    assert default["TrainingInstanceType"] == "auto"
    assert {p["Name"]: p.get("DefaultValue") for p in local["Parameters"]}["TrainingInstanceType"] == "local"


@pytest.mark.parametrize(("requested", "rows", "expected"), [("auto", None, "ml.m5.large"), ("auto", 7_000_000, "ml.m5.2xlarge"), ("ml.c5.4xlarge", None, "ml.c5.4xlarge")])
def test_every_cloud_training_request_uses_the_manifests_choice_and_passes_validation(candidate_outputs, requested, rows, expected):
    definition = compile_definition("cloud", {}, region="eu-west-1", role_arn=ROLE, bucket="my-bucket")
    files = execution_property_files(candidate_outputs, requested)
    if rows is not None:  # as PreprocessData would record a larger input
        files["Steps.PreprocessData.PropertyFiles.Manifest"]["sizing"] = sizing.sizing(rows, requested)
    requests = pipeline_requests(definition, {"TrainingInstanceType": requested}, "a1b2c3d4e5f6", files, ROLE)
    types = {}
    for step, operation, request in requests:
        assert violations(operation, request) == [], step
        if operation == "CreateTrainingJob":
            types[step] = request["ResourceConfig"]["InstanceType"]
        elif operation == "CreateHyperParameterTuningJob":
            definition_ = request["TrainingJobDefinition"]
            types[step] = (definition_.get("HyperParameterTuningResourceConfig") or definition_["ResourceConfig"])["InstanceType"]
        elif step == "PreprocessData":
            arguments = request["AppSpecification"]["ContainerArguments"]
            assert arguments[arguments.index("--training-instance-type") + 1] == requested
    assert types == dict.fromkeys(TRAINING_STEPS, expected)


def test_a_local_run_with_a_sagemaker_type_says_it_ran_here():
    record = sizing.sizing(2310, "auto")
    assert sizing.describe(record, local=True) == "ml.m5.large (auto, for 2,310 training rows); run on this machine"
    assert sizing.describe(sizing.sizing(2310, "local"), local=True) == (
        "local (on SageMaker, auto would choose ml.m5.large for 2,310 training rows)"
    )


def test_a_sharded_preprocessings_sizing_fits_the_summary_schema_and_reads_as_asked():
    """ProcessingInstanceCount > 1 records no training rows and no auto tier (null): the
    summary's schema takes that record, and the words name no "None"."""
    import json
    from pathlib import Path

    import jsonschema

    import churn

    schema = json.loads((Path(churn.__file__).parent / "schemas" / "summary.schema.json").read_text())
    record = {"training_rows": None, "requested": "ml.m5.xlarge", "would_choose": None, "chosen": "ml.m5.xlarge"}
    jsonschema.validate(record, {"$defs": schema["$defs"], **schema["properties"]["sizing"]})
    assert sizing.describe(record) == "ml.m5.xlarge (as asked)"
    assert sizing.describe(record, local=True) == "ml.m5.xlarge (as asked); run on this machine"


@pytest.mark.parametrize("record", [
    {"x": 1},
    {"training_rows": {"a": 1}, "requested": ["auto"], "would_choose": {"x": 1}, "chosen": [1]},
    {"training_rows": 5, "requested": 7, "would_choose": "ml.m5.large", "chosen": None},
])
def test_a_damaged_sizing_loses_its_line_in_the_report_not_garbage(tmp_path, record):
    import json

    from churn.report import _data_section

    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"sizing": record}))
    assert not any("Training instance" in line for line in _data_section(manifest))
    assert sizing.describe(record) is None
