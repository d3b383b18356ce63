import pytest

from churn import parameters
from churn.parameters import BY_NAME, ParameterError, parse_overrides


def test_overrides_are_typed():
    assert parse_overrides(["NumRound=50", "Eta=0.1", "ModelApprovalStatus=Approved"]) == {
        "NumRound": 50, "Eta": 0.1, "ModelApprovalStatus": "Approved"
    }


@pytest.mark.parametrize(
    "pair, message",
    [
        ("Bogus=1", "unknown parameter 'Bogus'; known parameters: InputData, TrainRatio"),
        ("NumRound=-5", "NumRound must be positive"),
        ("NumRound=ten", "NumRound must be an integer"),
        ("TrainRatio=1.5", r"TrainRatio must be in \(0, 1\)"),
        ("AccuracyThreshold=1.1", r"AccuracyThreshold must be in \[0, 1\]"),
        ("Eta=nan", "Eta must be finite"),
        ("ModelApprovalStatus=Maybe", "must be one of PendingManualApproval"),
        ("NumRound", "must look like Name=Value"),
        ("BaselineEnabled=no", "BaselineEnabled must be one of true, false, got 'no'"),
        ("SelectionMetric=logloss", "SelectionMetric must be one of accuracy, precision, recall, f1, auc"),
        ("BaselineC=0", "BaselineC must be positive"),
    ],
)
def test_bad_overrides_are_named(pair, message):
    with pytest.raises(ParameterError, match=message):
        parse_overrides([pair])


def test_ratios_are_checked_together():
    with pytest.raises(ParameterError, match="must be below 1"):
        parse_overrides(["TrainRatio=0.8", "ValidationRatio=0.2"])


def test_every_default_passes_its_own_check():
    for spec in BY_NAME.values():
        if spec.default is not None:
            assert spec.check(spec.default) is None, spec.name


#: Every parameter's default, written out: what `churn run` uses when nothing is overridden.
DEFAULTS = {
    "TrainRatio": 0.7, "ValidationRatio": 0.15, "SplitSeed": 42, "MaxDepth": 5, "NumRound": 100,
    "Eta": 0.2, "BaselineEnabled": "true", "BaselineC": 1.0, "SelectionMetric": "auc",
    "AccuracyThreshold": 0.8, "ModelApprovalStatus": "PendingManualApproval",
    "TuningStrategy": "Bayesian", "TuningMaxJobs": 6, "TuningMaxParallelJobs": 2, "TuningSeed": 42,
    "ProcessingInstanceCount": 1, "TrainingInstanceCount": 1,
}


def test_every_default_is_pinned_in_the_compiled_definition():
    from churn.definition import compile_definition
    from tests.conftest import SAMPLE_CSV

    compiled = {p["Name"]: p for p in compile_definition("local")["Parameters"]}
    expected = DEFAULTS | {
        "InputData": SAMPLE_CSV.resolve().as_uri(), "ProcessingInstanceType": "local", "TrainingInstanceType": "local",
    }
    assert {name: p["DefaultValue"] for name, p in compiled.items()} == expected
    kinds = {str: "String", int: "Integer", float: "Float"}
    assert {name: p["Type"] for name, p in compiled.items()} == {name: kinds[type(v)] for name, v in expected.items()}


@pytest.mark.parametrize(
    "pair, value",
    [
        ("Eta=0", 0.0), ("Eta=1", 1.0), ("AccuracyThreshold=0", 0.0), ("AccuracyThreshold=1", 1.0),
        ("TrainRatio=0.01", 0.01), ("ValidationRatio=0.01", 0.01), ("SplitSeed=0", 0), ("MaxDepth=1", 1),
        ("NumRound=1", 1), ("BaselineC=1e-9", 1e-9), ("BaselineEnabled=false", "false"),
        ("TuningMaxJobs=1", 1), ("TuningMaxParallelJobs=1", 1), ("TuningSeed=0", 0), ("TuningStrategy=Random", "Random"),
        ("TuningSeed=2147483647", 2147483647),
    ],
)
def test_values_at_the_bounds_are_accepted(pair, value):
    assert parse_overrides([pair]) == {pair.partition("=")[0]: value}


@pytest.mark.parametrize(
    "pair, message",
    [
        ("Eta=-0.001", r"Eta must be in \[0, 1\]"), ("Eta=1.001", r"Eta must be in \[0, 1\]"),
        ("AccuracyThreshold=-0.001", r"AccuracyThreshold must be in \[0, 1\]"),
        ("TrainRatio=0", r"TrainRatio must be in \(0, 1\)"), ("TrainRatio=1", r"TrainRatio must be in \(0, 1\)"),
        ("ValidationRatio=0", r"ValidationRatio must be in \(0, 1\)"), ("ValidationRatio=1", r"ValidationRatio must be in \(0, 1\)"),
        ("SplitSeed=-1", "SplitSeed must be zero or positive"), ("MaxDepth=0", "MaxDepth must be positive"),
        ("NumRound=0", "NumRound must be positive"), ("BaselineC=-1", "BaselineC must be positive"),
        ("TuningMaxJobs=0", "TuningMaxJobs must be positive"), ("TuningMaxParallelJobs=0", "TuningMaxParallelJobs must be positive"),
        ("TuningSeed=-1", r"TuningSeed must be in \[0, 2147483647\] \(SageMaker's RandomSeed is a 32-bit integer\), got '-1'"),
        ("TuningSeed=2147483648", r"TuningSeed must be in \[0, 2147483647\] \(SageMaker's RandomSeed is a 32-bit integer\), got '2147483648'"),
        ("TuningSeed=99999999999999999999", r"TuningSeed must be in \[0, 2147483647\]"),
        ("TuningStrategy=Hyperband", "TuningStrategy must be one of Bayesian, Random, got 'Hyperband'"),
        ("TuningStrategy=bayesian", "TuningStrategy must be one of Bayesian, Random"),
    ],
)
def test_values_just_outside_the_bounds_are_refused(pair, message):
    with pytest.raises(ParameterError, match=message):
        parse_overrides([pair])


@pytest.mark.parametrize("name", ["TrainRatio", "ValidationRatio"])
def test_a_ratio_is_checked_on_its_own_open_interval(name):
    """``convert`` checks one value before the ratios are checked together."""
    from churn.parameters import convert

    assert convert(name, "0.999") == 0.999 and convert(name, "0.001") == 0.001
    for text in ("0", "1", "1.5", "-0.1"):
        with pytest.raises(ParameterError, match=rf"^{name} must be in \(0, 1\), got {text!r}$"):
            convert(name, text)


def test_a_number_that_does_not_parse_is_named_with_its_kind():
    from churn.parameters import convert

    with pytest.raises(ParameterError, match=r"^Eta must be a number, got 'fast'$"):
        convert("Eta", "fast")
    with pytest.raises(ParameterError, match=r"^MaxDepth must be an integer, got '2.5'$"):
        convert("MaxDepth", "2.5")


@pytest.mark.parametrize("name", ["InputData", "ProcessingInstanceType"])
def test_a_blank_text_parameter_is_refused(name):
    from churn.parameters import convert

    with pytest.raises(ParameterError, match=rf"^{name} must not be empty, got '  '$"):
        convert(name, "  ")
    assert convert(name, "ml.m5.large") == "ml.m5.large"


def test_a_value_may_contain_an_equals_sign():
    assert parse_overrides(["InputData=s3://bucket/run=3/churn.csv"]) == {"InputData": "s3://bucket/run=3/churn.csv"}


def test_a_choice_parameter_lists_its_choices_in_order():
    from churn.parameters import convert

    with pytest.raises(ParameterError, match=r"^ModelApprovalStatus must be one of PendingManualApproval, Approved, Rejected, got 'ok'$"):
        convert("ModelApprovalStatus", "ok")
    assert [convert("ModelApprovalStatus", s) for s in ("Approved", "Rejected")] == ["Approved", "Rejected"]


@pytest.mark.parametrize(
    "name, suggestion",
    [("NumRounds", "NumRound"), ("numround", "NumRound"), ("Trainratio", "TrainRatio"), ("MaxDeptn", "MaxDepth"), ("eta", "Eta")],
)
def test_a_misspelled_name_gets_the_close_match(name, suggestion):
    with pytest.raises(ParameterError) as error:
        parameters.convert(name, "1")
    assert str(error.value) == f"unknown parameter {name!r}; did you mean {suggestion!r}? (churn params lists them all)"


def test_every_parameter_says_its_type_default_and_allowed_values():
    from churn.backends import cloud

    for spec in parameters.SPECS:
        assert spec.type_name in ("text", "integer", "number") and spec.default_text and spec.allowed != "any", spec.name
    assert parameters.BY_NAME["TrainingInstanceType"].default_text == f"local (cloud: {cloud.DEFAULT_TRAINING_INSTANCE})"
    assert parameters.BY_NAME["ProcessingInstanceType"].default_text == f"local (cloud: {cloud.DEFAULT_PROCESSING_INSTANCE})"
    assert parameters.BY_NAME["SelectionMetric"].allowed == "accuracy | precision | recall | f1 | auc"


def test_the_parameter_table_as_churn_params_shows_it():
    assert [(s.name, s.type_name, s.default_text, s.allowed) for s in parameters.SPECS] == [
        ("InputData", "text", "data/sample/churn.csv (cloud: staged to S3)", "not empty"),
        ("TrainRatio", "number", "0.7", "0 < x < 1"),
        ("ValidationRatio", "number", "0.15", "0 < x < 1"),
        ("SplitSeed", "integer", "42", "x >= 0"),
        ("MaxDepth", "integer", "5", "x > 0"),
        ("NumRound", "integer", "100", "x > 0"),
        ("Eta", "number", "0.2", "0 <= x <= 1"),
        ("TuningStrategy", "text", "Bayesian", "Bayesian | Random"),
        ("TuningMaxJobs", "integer", "6", "x > 0"),
        ("TuningMaxParallelJobs", "integer", "2", "x > 0"),
        ("TuningSeed", "integer", "42", "0 <= x <= 2147483647"),
        ("BaselineEnabled", "text", "true", "true | false"),
        ("BaselineC", "number", "1.0", "x > 0"),
        ("SelectionMetric", "text", "auc", "accuracy | precision | recall | f1 | auc"),
        ("AccuracyThreshold", "number", "0.8", "0 <= x <= 1"),
        ("ProcessingInstanceType", "text", "local (cloud: ml.m5.large)", "not empty"),
        ("TrainingInstanceType", "text", "local (cloud: auto)", "auto | local | local_gpu | ml.<family>.<size>"),
        ("ProcessingInstanceCount", "integer", "1", "1 <= x <= 100"),
        ("TrainingInstanceCount", "integer", "1", "x >= 1"),
        ("ModelApprovalStatus", "text", "PendingManualApproval", "PendingManualApproval | Approved | Rejected"),
    ]


def test_a_name_far_from_every_parameter_lists_them_all():
    with pytest.raises(ParameterError) as error:
        parameters.convert("Zzz", "1")
    assert str(error.value) == f"unknown parameter 'Zzz'; known parameters: {', '.join(BY_NAME)}"


def test_every_close_name_is_suggested():
    with pytest.raises(ParameterError) as error:
        parameters.convert("InstanceType", "x")
    assert "did you mean 'TrainingInstanceType' or 'ProcessingInstanceType'?" in str(error.value) or \
        "did you mean 'ProcessingInstanceType' or 'TrainingInstanceType'?" in str(error.value)


def test_the_tuning_parameters_belong_to_the_tuning_branch():
    assert parameters.TUNING == ("TuningStrategy", "TuningMaxJobs", "TuningMaxParallelJobs", "TuningSeed")
    assert parameters.specs() == parameters.SPECS
    assert [s.name for s in parameters.specs(tuning=False)] == [s.name for s in parameters.SPECS if s.name not in parameters.TUNING]
    parameters.check_tuning(["TuningSeed", "NumRound"], True)
    parameters.check_tuning(["NumRound"], False)
    with pytest.raises(ParameterError, match=r"^TuningSeed is a parameter of the tuning branch, which --no-tuning leaves out$"):
        parameters.check_tuning(["NumRound", "TuningSeed"], False)
    with pytest.raises(ParameterError, match=r"^TuningMaxJobs, TuningStrategy are parameters of the tuning branch"):
        parameters.check_tuning(["TuningMaxJobs", "TuningStrategy"], False)


# --- the instance parameters (issues 18 and 19): checked here, before anything compiles -----


@pytest.mark.parametrize("value", ["auto", "local", "local_gpu", "ml.m5.large", "ml.p4d.24xlarge"])
def test_a_training_instance_type_sagemaker_or_local_mode_takes_is_accepted(value):
    assert parameters.convert("TrainingInstanceType", value) == value


@pytest.mark.parametrize("value", ["", " ", "Auto", "m5.large", "ml.m5", "ml.M5.large", "local-gpu"])
def test_any_other_training_instance_type_is_refused_naming_it(value):
    with pytest.raises(ParameterError, match=r"^TrainingInstanceType must be auto, local or local_gpu, or a SageMaker instance type"):
        parameters.convert("TrainingInstanceType", value)


@pytest.mark.parametrize(("name", "good", "bad"), [
    ("ProcessingInstanceCount", ["1", "2", "100"], ["0", "-1", "101"]),
    ("TrainingInstanceCount", ["1", "2", "500"], ["0", "-3"]),
])
def test_instance_counts_have_their_ranges(name, good, bad):
    for text in good:
        assert parameters.convert(name, text) == int(text)
    for text in bad:
        with pytest.raises(ParameterError, match=rf"^{name} must "):
            parameters.convert(name, text)


def test_more_training_than_processing_instances_is_refused():
    parameters.check_together({"ProcessingInstanceCount": 3, "TrainingInstanceCount": 3})
    parameters.check_together({"ProcessingInstanceCount": 3, "TrainingInstanceCount": 1})
    with pytest.raises(ParameterError, match=r"^TrainingInstanceCount=2 is more than ProcessingInstanceCount=1: "):
        parameters.check_together({"TrainingInstanceCount": 2})


def test_scaling_out_is_for_the_cloud_and_needs_a_named_training_type_and_no_collected_vocabulary():
    parameters.check_scaling({}, local=True, training_instance_type="local")
    parameters.check_scaling({"ProcessingInstanceCount": 1, "TrainingInstanceCount": 1}, local=True, training_instance_type="local")
    with pytest.raises(ParameterError, match=r"^ProcessingInstanceCount=2, TrainingInstanceCount=2: the local backend runs one"):
        parameters.check_scaling({"ProcessingInstanceCount": 2, "TrainingInstanceCount": 2}, local=True, training_instance_type="local")
    with pytest.raises(ParameterError, match=r"^TrainingInstanceCount=2: the local backend"):
        parameters.check_scaling({"TrainingInstanceCount": 2}, local=True, training_instance_type="local")
    parameters.check_scaling({"ProcessingInstanceCount": 1}, local=False, training_instance_type="auto", collected=["Plan"])
    parameters.check_scaling({"ProcessingInstanceCount": 2}, local=False, training_instance_type="ml.m5.xlarge")
    with pytest.raises(ParameterError, match=r"^ProcessingInstanceCount=2 shards preprocessing, so no instance counts .* TrainingInstanceType=auto sizes from"):
        parameters.check_scaling({"ProcessingInstanceCount": 2}, local=False, training_instance_type="auto")
    with pytest.raises(ParameterError, match=r"collects the vocabulary of Plan, Area from the whole input"):
        parameters.check_scaling({"ProcessingInstanceCount": 2}, local=False, training_instance_type="ml.m5.xlarge", collected=["Plan", "Area"])
