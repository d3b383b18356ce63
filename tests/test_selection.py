"""Choosing the winning candidate (the pure part of SelectModel)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from churn.metrics import METRIC_NAMES
from churn.selection import CANDIDATES, Candidate, SelectionError, select


def _report(**values):
    return {"binary_classification_metrics": {m: {"value": values.get(m, 0.5), "standard_deviation": 0.01} for m in METRIC_NAMES}}


def test_the_better_value_of_the_named_metric_wins():
    candidates = [Candidate("xgboost", _report(auc=0.91, recall=0.4)), Candidate("logistic-regression", _report(auc=0.85, recall=0.6))]
    assert select(candidates, "auc")["winner"] == "xgboost"
    document = select(candidates, "recall")
    assert document["winner"] == "logistic-regression" and document["metric"] == "recall"
    assert document["candidates"]["xgboost"] == {"enabled": True, "metrics": {m: 0.5 for m in METRIC_NAMES} | {"auc": 0.91, "recall": 0.4}}
    assert document["summary"] == "xgboost recall=0.4000 / logistic-regression recall=0.6000 winner"


@given(st.floats(0, 1))
def test_a_tie_goes_to_the_first_candidate(value):
    candidates = [Candidate("xgboost", _report(auc=value)), Candidate("logistic-regression", _report(auc=value))]
    assert select(candidates, "auc")["winner"] == "xgboost"


def test_a_candidate_turned_off_cannot_win():
    candidates = [Candidate("xgboost", _report(auc=0.6)), Candidate("logistic-regression", None, "turned off (BaselineEnabled=false)")]
    document = select(candidates, "auc")
    assert document["winner"] == "xgboost"
    assert document["candidates"]["logistic-regression"] == {"enabled": False, "reason": "turned off (BaselineEnabled=false)"}
    assert document["summary"].endswith("logistic-regression off")


def test_errors_name_the_problem():
    with pytest.raises(SelectionError, match="selection metric must be one of accuracy, precision, recall, f1, auc, got 'logloss'"):
        select([Candidate("xgboost", _report())], "logloss")
    with pytest.raises(SelectionError, match="no candidate was evaluated"):
        select([Candidate("xgboost", None)], "auc")
    with pytest.raises(SelectionError, match="candidate 'xgboost' has no finite 'auc'"):
        select([Candidate("xgboost", {"binary_classification_metrics": {}})], "auc")
    with pytest.raises(SelectionError, match="unique"):
        select([Candidate("a", _report()), Candidate("a", _report())], "auc")


def test_the_summary_is_a_valid_sagemaker_customer_metadata_value():
    """RegisterModel sends it as CustomerMetadataProperties['Candidates']: SageMaker's pattern
    (from botocore's service model) refused the old "(winner)" and ";"."""
    import botocore.session
    import regex

    shape = botocore.session.get_session().get_service_model("sagemaker").shape_for("CustomerMetadataValue")
    pattern = regex.compile(shape.metadata["pattern"])
    reports = {name: _report(auc=0.5 + i / 10, f1=0.9 - i / 10) for i, name in enumerate(CANDIDATES)}
    for metric in ("auc", "f1"):
        document = select([Candidate(n, r) for n, r in reports.items()], metric)
        assert pattern.fullmatch(document["summary"]) and 1 <= len(document["summary"]) <= shape.metadata["max"]
    off = select([Candidate(CANDIDATES[0], reports[CANDIDATES[0]]), Candidate(CANDIDATES[1], None, "BaselineEnabled=false")], "auc")
    assert pattern.fullmatch(off["summary"]), off["summary"]
    assert not pattern.fullmatch("xgboost auc=0.9212 (winner); logistic-regression auc=0.8233")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("position", [0, 1])
def test_a_non_finite_metric_cannot_win(bad, position):
    """NaN compares false with everything: listed first, it would otherwise keep the lead."""
    values = [0.8, 0.8]
    values[position] = bad
    candidates = [Candidate(name, _report(auc=v)) for name, v in zip(CANDIDATES, values)]
    with pytest.raises(SelectionError, match=f"candidate '{CANDIDATES[position]}' has no finite 'auc' value"):
        select(candidates, "auc")


def test_a_candidate_turned_off_without_a_reason_says_turned_off():
    document = select([Candidate("xgboost", _report(auc=0.6)), Candidate("logistic-regression", None)], "auc")
    assert document["candidates"]["logistic-regression"] == {"enabled": False, "reason": "turned off"}


def test_no_evaluated_candidate_names_every_candidate():
    with pytest.raises(SelectionError, match=r"^no candidate was evaluated \(all turned off: xgboost, logistic-regression\)$"):
        select([Candidate("xgboost", None), Candidate("logistic-regression", None)], "auc")


def test_the_first_candidate_turned_off_leaves_the_second_to_win():
    document = select([Candidate("xgboost", None, "turned off"), Candidate("logistic-regression", _report(auc=0.7))], "auc")
    assert document["winner"] == "logistic-regression"
    assert document["candidates"]["xgboost"] == {"enabled": False, "reason": "turned off"}


def test_the_winners_hyperparameters_are_one_line_and_each_candidates_are_recorded():
    from churn.selection import NOT_RECORDED, hyperparameter_values

    reports = {name: _report(auc=0.5 + i / 10) for i, name in enumerate(CANDIDATES)}
    chosen = select([Candidate(CANDIDATES[0], reports[CANDIDATES[0]], hyperparameters="max_depth=5  eta=0.2"),
                     Candidate(CANDIDATES[1], reports[CANDIDATES[1]], hyperparameters="C=1.0")], "auc")
    assert chosen["winner"] == CANDIDATES[1] and chosen["hyperparameters"] == "C=1.0"
    assert chosen["candidates"][CANDIDATES[0]]["hyperparameters"] == {"max_depth": "5", "eta": "0.2"}
    assert chosen["candidates"][CANDIDATES[1]]["hyperparameters"] == {"C": "1.0"}
    bare = select([Candidate(CANDIDATES[0], reports[CANDIDATES[0]])], "auc")
    assert bare["hyperparameters"] == NOT_RECORDED == "not recorded" and "hyperparameters" not in bare["candidates"][CANDIDATES[0]]
    long = select([Candidate(CANDIDATES[0], reports[CANDIDATES[0]], hyperparameters=" ".join(f"p{i}=0.123456789" for i in range(40)))], "auc")
    assert len(long["hyperparameters"]) == 256
    off = select([Candidate(CANDIDATES[0], reports[CANDIDATES[0]]), Candidate(CANDIDATES[1], None, "off", hyperparameters="C=1.0")], "auc")
    assert "hyperparameters" not in off["candidates"][CANDIDATES[1]]
    assert hyperparameter_values("") == {} and hyperparameter_values("a=1 b=x=y") == {"a": "1", "b": "x=y"}
    for bad in ("a", "=1", "a=", "a=1 a=2"):
        with pytest.raises(SelectionError, match="distinct name=value pairs"):
            hyperparameter_values(bad)
