"""Both backends compile the same graph: same steps, edges, parameters and property
references; they differ only in the fields of the reviewed allow-list."""

import copy
import json

import pytest

from churn.definition import compile_definition
from tests import network_audit
from tests.definition_diff import differences, load_allowlist, unexplained


@pytest.fixture(scope="module")
def local_definition():
    return compile_definition("local")


@pytest.fixture(scope="module")
def cloud_definition():
    return compile_definition("cloud", bucket="my-bucket", region="eu-west-1", role_arn="arn:aws:iam::123456789012:role/x")


def _steps(definition):
    """Every step, with nested condition branches, as name -> step."""
    found = {}
    for step in definition["Steps"]:
        found[step["Name"]] = step
        for branch in ("IfSteps", "ElseSteps"):
            for inner in step.get("Arguments", {}).get(branch, []):
                found[inner["Name"]] = inner
    return found


def _references(node, found=None):
    """Every ``{"Get": ...}`` property/parameter reference in a document."""
    found = set() if found is None else found
    if isinstance(node, dict):
        if set(node) == {"Get"}:
            found.add(node["Get"])
        for value in node.values():
            _references(value, found)
    elif isinstance(node, list):
        for value in node:
            _references(value, found)
    return found


def test_local_graph_has_the_product_steps(local_definition):
    steps = _steps(local_definition)
    assert {name: step["Type"] for name, step in steps.items()} == {
        "PreprocessData": "Processing",
        "TuneModel": "Tuning",
        "EvaluateTuned": "Processing",
        "TrainModel": "Training",
        "EvaluateModel": "Processing",
        "TrainBaseline": "Training",
        "EvaluateBaseline": "Processing",
        "SelectModel": "Processing",
        "CheckAccuracy": "Condition",
        "CreateModel-CreateModel": "Model",
        "RegisterModel-RegisterModel": "RegisterModel",
        "AccuracyTooLow": "Fail",
    }


@pytest.mark.parametrize("backend", ["local", "cloud"])
def test_both_graphs_register_the_winner_with_its_evaluation(backend, local_definition, cloud_definition):
    """The same RegisterModel step on both backends: SageMaker runs it; churn's local executor
    runs it into the local registry, from the same arguments."""
    definition = {"local": local_definition, "cloud": cloud_definition}[backend]
    assert set(_steps(cloud_definition)) == set(_steps(local_definition))
    register = _steps(definition)["RegisterModel-RegisterModel"]["Arguments"]
    assert register["ModelApprovalStatus"] == {"Get": "Parameters.ModelApprovalStatus"}
    assert register["ModelMetrics"]["ModelQuality"]["Statistics"]["ContentType"] == "application/json"
    # The registered model is the winner's, with its evaluation, and says how it won.
    assert register["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]["Std:Join"]["Values"][0] == {
        "Get": "Steps.SelectModel.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"
    }
    metadata = register["CustomerMetadataProperties"]
    assert metadata["SelectionMetric"] == {"Get": "Parameters.SelectionMetric"}
    assert metadata["WinningCandidate"]["Std:JsonGet"] == {"PropertyFile": {"Get": "Steps.SelectModel.PropertyFiles.Selection"}, "Path": "winner"}
    assert metadata["Candidates"]["Std:JsonGet"]["Path"] == "summary"


def test_same_parameters_and_references(local_definition, cloud_definition):
    def names(d):
        return [(p["Name"], p["Type"]) for p in d["Parameters"]]

    assert names(local_definition) == names(cloud_definition)
    assert [n for n, _ in names(local_definition)] == [
        "InputData", "TrainRatio", "ValidationRatio", "SplitSeed", "MaxDepth", "NumRound", "Eta",
        "TuningStrategy", "TuningMaxJobs", "TuningMaxParallelJobs", "TuningSeed", "BaselineEnabled", "BaselineC", "SelectionMetric",
        "AccuracyThreshold", "ProcessingInstanceType", "TrainingInstanceType", "ProcessingInstanceCount", "TrainingInstanceCount",
        "ModelApprovalStatus",
    ]
    assert _references(local_definition) == _references(cloud_definition)
    assert set(_steps(cloud_definition)) == set(_steps(local_definition))


def test_steps_reference_earlier_outputs_only_through_properties(local_definition):
    steps = _steps(local_definition)
    train = steps["TrainModel"]["Arguments"]
    channels = {c["ChannelName"]: c for c in train["InputDataConfig"]}
    assert channels["train"]["DataSource"]["S3DataSource"]["S3Uri"] == {
        "Get": "Steps.PreprocessData.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    }
    assert channels["train"]["ContentType"] == "text/csv"
    assert train["HyperParameters"]["num_round"] == {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.NumRound"}]}}
    gate = steps["CheckAccuracy"]["Arguments"]["Conditions"][0]
    assert gate["Type"] == "GreaterThanOrEqualTo"
    assert gate["LeftValue"]["Std:JsonGet"] == {
        "PropertyFile": {"Get": "Steps.SelectModel.PropertyFiles.WinnerEvaluation"},
        "Path": "binary_classification_metrics.accuracy.value",
    }
    assert gate["RightValue"] == {"Get": "Parameters.AccuracyThreshold"}


def test_the_candidates_train_on_the_same_splits_and_the_winner_is_deployed(local_definition):
    steps = _steps(local_definition)
    channels = {
        name: {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in steps[name]["Arguments"]["InputDataConfig"]}
        for name in ("TrainModel", "TrainBaseline")
    }
    tuned = {c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in steps["TuneModel"]["Arguments"]["TrainingJobDefinition"]["InputDataConfig"]}
    assert channels["TrainModel"] == channels["TrainBaseline"] == tuned
    baseline = steps["TrainBaseline"]["Arguments"]["HyperParameters"]
    assert baseline["enabled"] == {"Get": "Parameters.BaselineEnabled"}
    assert baseline["C"] == {"Std:Join": {"On": "", "Values": [{"Get": "Parameters.BaselineC"}]}}
    assert "sagemaker_program" not in baseline  # the project's image has the baseline built in
    select = steps["SelectModel"]["Arguments"]
    sources = {i["InputName"]: i["S3Input"]["S3Uri"] for i in select["ProcessingInputs"]}
    assert sources["xgboost-evaluation"] == {"Get": "Steps.EvaluateModel.ProcessingOutputConfig.Outputs['evaluation'].S3Output.S3Uri"}
    assert sources["logistic-regression-model"] == {"Get": "Steps.TrainBaseline.ModelArtifacts.S3ModelArtifacts"}
    best = "Steps.TuneModel.TrainingJobSummaries[0]"
    assert sources["xgboost-tuned-model"]["Std:Join"]["Values"] == [  # where the tuning job wrote it, cached or not
        {"Get": "Steps.TuneModel.TrainingJobDefinition.OutputDataConfig.S3OutputPath"}, {"Get": f"{best}.TrainingJobName"},
        "output", "model.tar.gz",
    ]
    assert sources["xgboost-tuned-model"] == steps["EvaluateTuned"]["Arguments"]["ProcessingInputs"][0]["S3Input"]["S3Uri"]
    arguments = select["AppSpecification"]["ContainerArguments"]
    assert arguments[:8] == [
        "--metric", {"Get": "Parameters.SelectionMetric"},
        "--candidate", "xgboost", "--candidate", "logistic-regression", "--candidate", "xgboost-tuned",
    ]
    recorded = dict(zip(arguments[9::3], arguments[10::3]))
    assert arguments[8::3] == ["--hyperparameters"] * 3 and recorded["logistic-regression"] == {
        "Std:Join": {"On": "", "Values": ["C=", {"Get": "Parameters.BaselineC"}]}
    }
    assert recorded["xgboost-tuned"]["Std:Join"]["Values"][:4] == [
        "max_depth=", {"Get": f"{best}.TunedHyperParameters['max_depth']"}, " eta=", {"Get": f"{best}.TunedHyperParameters['eta']"},
    ]
    model = steps["CreateModel-CreateModel"]["Arguments"]["PrimaryContainer"]["ModelDataUrl"]
    assert model["Std:Join"]["Values"][0] == {"Get": "Steps.SelectModel.ProcessingOutputConfig.Outputs['model'].S3Output.S3Uri"}


def test_definitions_differ_only_in_allowlisted_fields(local_definition, cloud_definition):
    found = differences(local_definition, cloud_definition)
    assert found, "the backends must differ somewhere (images, locations)"
    left = unexplained(found, load_allowlist())
    assert not left, "differences outside the allow-list:\n" + "\n".join(d.describe() for d in left)


def test_a_change_outside_the_allowlist_is_caught(local_definition, cloud_definition):
    changed = copy.deepcopy(cloud_definition)
    _steps(changed)["TrainModel"]["Arguments"]["HyperParameters"]["objective"] = "reg:squarederror"
    left = unexplained(differences(local_definition, changed), load_allowlist())
    assert [d.path for d in left] == ["Steps[TrainModel].Arguments.HyperParameters.objective"]


def test_every_allowlist_rule_is_used(local_definition, cloud_definition):
    found = differences(local_definition, cloud_definition)
    for rule in load_allowlist():
        assert unexplained(found, [rule]) != found, f"allow-list rule matches nothing: {rule['path']}"


def test_compiling_is_deterministic(local_definition):
    assert compile_definition("local") == local_definition


def test_parameter_defaults_can_be_replaced():
    definition = compile_definition("local", {"NumRound": 7, "TrainRatio": 0.6})
    values = {p["Name"]: p.get("DefaultValue") for p in definition["Parameters"]}
    assert values["NumRound"] == 7 and values["TrainRatio"] == 0.6


@pytest.mark.parametrize("backend", ["local", "cloud"])
def test_compiling_opens_no_socket_and_resolves_no_name(backend):
    with network_audit.recording() as events:
        compile_definition(backend)
    assert events == []


_METRICS = "Steps[TrainModel].Arguments.AlgorithmSpecification.MetricDefinitions"
_TUNED_METRICS = "Steps[TuneModel].Arguments.TrainingJobDefinition.AlgorithmSpecification.MetricDefinitions"


def baseline_definitions(definition: dict) -> list[dict]:
    return _steps(definition)["TrainBaseline"]["Arguments"]["AlgorithmSpecification"]["MetricDefinitions"]


def test_training_metrics_are_defined_where_sagemaker_takes_definitions(local_definition, cloud_definition):
    from churn.training_metrics import METRIC_DEFINITIONS

    assert _steps(local_definition)["TrainModel"]["Arguments"]["AlgorithmSpecification"]["MetricDefinitions"] == METRIC_DEFINITIONS
    assert baseline_definitions(local_definition) == baseline_definitions(cloud_definition) == METRIC_DEFINITIONS
    assert "MetricDefinitions" not in _steps(cloud_definition)["TrainModel"]["Arguments"]["AlgorithmSpecification"]


def _if_step(definition: dict, name: str) -> dict:
    gate = _steps(definition)["CheckAccuracy"]["Arguments"]
    return next(s for s in gate["IfSteps"] if s["Name"].startswith(name))["Arguments"]


def test_local_backend_can_use_the_official_aws_images(local_definition):
    official = compile_definition("local", aws_images_=True)
    steps = _steps(official)
    assert "sagemaker-scikit-learn:1.2-1" in steps["PreprocessData"]["Arguments"]["AppSpecification"]["ImageUri"]
    assert "sagemaker-xgboost:1.7-1" in steps["TrainModel"]["Arguments"]["AlgorithmSpecification"]["TrainingImage"]
    changed = {d.path for d in differences(local_definition, official)}
    assert changed and all("Image" in path or ".sagemaker_" in path or ".Environment.SAGEMAKER_" in path for path in changed - {_METRICS, _TUNED_METRICS}), changed
    # SageMaker's XGBoost image serves churn's endpoint program in script mode, from the code bundle.
    for container in (_if_step(official, "CreateModel")["PrimaryContainer"], _if_step(official, "RegisterModel")["InferenceSpecification"]["Containers"][0]):
        assert container["Environment"]["SAGEMAKER_PROGRAM"] == "churn_endpoint.py"
        assert container["Environment"]["SAGEMAKER_SUBMIT_DIRECTORY"]["Std:Join"]["Values"][-1] == "sourcedir.tar.gz"
    for container in (_if_step(local_definition, "CreateModel")["PrimaryContainer"], _if_step(local_definition, "RegisterModel")["InferenceSpecification"]["Containers"][0]):
        assert not container.get("Environment"), "the project's image serves raw rows by itself"
    # SageMaker's XGBoost algorithm publishes its metrics itself: no definitions, on either backend.
    assert _METRICS in changed and "MetricDefinitions" not in steps["TrainModel"]["Arguments"]["AlgorithmSpecification"]
    assert _TUNED_METRICS in changed and "MetricDefinitions" not in steps["TuneModel"]["Arguments"]["TrainingJobDefinition"]["AlgorithmSpecification"]
    assert [d["Name"] for d in baseline_definitions(official)] == ["train:auc", "validation:auc"]
    baseline = steps["TrainBaseline"]["Arguments"]
    assert "sagemaker-scikit-learn:1.2-1" in baseline["AlgorithmSpecification"]["TrainingImage"]
    assert baseline["HyperParameters"]["sagemaker_program"] == "churn/algorithm/baseline.py"


def test_without_tuning_the_graph_is_the_two_candidate_one(local_definition):
    """--no-tuning: no TuneModel, EvaluateTuned or Tuning* parameters; every other step but
    SelectModel (which has one candidate fewer) is the same as with tuning."""
    from churn.definition import has_tuning

    plain = compile_definition("local", tuning=False)
    assert has_tuning(local_definition) and not has_tuning(plain)
    steps, tuned = _steps(plain), _steps(local_definition)
    assert set(tuned) - set(steps) == {"TuneModel", "EvaluateTuned"} and set(steps) < set(tuned)
    assert plain["Parameters"] == [p for p in local_definition["Parameters"] if not p["Name"].startswith("Tuning")]
    assert {name for name in steps if steps[name] != tuned[name]} == {"SelectModel"}
    arguments = steps["SelectModel"]["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert [arguments[i + 1] for i, a in enumerate(arguments) if a == "--candidate"] == ["xgboost", "logistic-regression"]
    assert "xgboost-tuned" not in json.dumps(steps["SelectModel"])


def test_a_tuning_parameter_cannot_be_given_to_a_pipeline_without_tuning():
    from churn.parameters import ParameterError

    with pytest.raises(ParameterError, match="^TuningStrategy is a parameter of the tuning branch, which --no-tuning leaves out$"):
        compile_definition("local", {"TuningStrategy": "Random"}, tuning=False)
