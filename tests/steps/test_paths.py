"""The pipeline mounts each input and collects each output where the step entrypoints read and
write them (both take the paths from churn.steps.paths; this checks the compiled definition)."""

from pathlib import Path

import pytest

from churn.definition import compile_definition
from churn.steps import evaluate, preprocess, select


@pytest.fixture(scope="module")
def steps():
    return {step["Name"]: step["Arguments"] for step in compile_definition("local")["Steps"]}


def _mounts(arguments: dict) -> tuple[dict[str, Path], dict[str, Path]]:
    inputs = {i["InputName"]: Path(i["S3Input"]["LocalPath"]) for i in arguments["ProcessingInputs"]}
    outputs = {o["OutputName"]: Path(o["S3Output"]["LocalPath"]) for o in arguments["ProcessingOutputConfig"]["Outputs"]}
    return inputs, outputs


def test_preprocessing_reads_and_writes_where_the_pipeline_mounts(steps):
    inputs, outputs = _mounts(steps["PreprocessData"])
    assert inputs["raw"] == preprocess.INPUT_DIR
    assert outputs == {name: preprocess.OUTPUT_DIR / name for name in ("train", "validation", "test", "manifest")}


@pytest.mark.parametrize("step", ["EvaluateModel", "EvaluateBaseline"])
def test_evaluation_reads_and_writes_where_the_pipeline_mounts(steps, step):
    inputs, outputs = _mounts(steps[step])
    assert (inputs["model"], inputs["test"]) == (evaluate.MODEL_DIR, evaluate.TEST_DIR)
    assert outputs == {"evaluation": evaluate.OUTPUT_DIR}


def test_selection_reads_and_writes_where_the_pipeline_mounts(steps):
    inputs, outputs = _mounts(steps["SelectModel"])
    for candidate in ("xgboost", "logistic-regression"):
        assert inputs[f"{candidate}-evaluation"] == select.CANDIDATES_DIR / candidate / "evaluation"
        assert inputs[f"{candidate}-model"] == select.CANDIDATES_DIR / candidate / "model"
    assert outputs == {name: select.OUTPUT_DIR / name for name in ("selection", "evaluation", "model")}


def test_every_processing_step_mounts_the_code_bundle_it_runs_from(steps):
    for name, arguments in steps.items():
        if "ProcessingInputs" in arguments:
            inputs, _ = _mounts(arguments)
            assert str(inputs["code"]) == arguments["Environment"]["PYTHONPATH"], name
