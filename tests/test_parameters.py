import pytest

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
