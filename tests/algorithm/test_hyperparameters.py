import pytest

from churn.algorithm.hyperparameters import HyperparameterError, parse


def test_strings_become_typed_xgboost_params():
    params, rounds, early = parse(
        {"num_round": "100", "max_depth": "5", "eta": "0.2", "objective": "binary:logistic", "eval_metric": "auc,logloss"}
    )
    assert rounds == 100 and early is None
    assert params == {"max_depth": 5, "eta": 0.2, "objective": "binary:logistic", "eval_metric": ["auc", "logloss"], "seed": 0}


@pytest.mark.parametrize(
    "raw, message",
    [
        ({}, "missing required hyperparameter(s): num_round"),
        ({"num_round": "0"}, "num_round must be an integer in [1, inf], got '0'"),
        ({"num_round": "2.5"}, "num_round must be an integer"),
        ({"num_round": "10", "eta": "1.5"}, "eta must be a number in [0, 1]"),
        ({"num_round": "10", "subsample": "0"}, "subsample must be a number in (0, 1]"),
        ({"num_round": "10", "max_depth": "deep"}, "max_depth must be an integer"),
        ({"num_round": "10", "objective": "binary:magic"}, "objective must be one of"),
        ({"num_round": "10", "eval_metric": "auc,bogus"}, "unknown metric(s): bogus"),
        ({"num_round": "10", "colour": "red"}, "unknown hyperparameter(s): colour"),
        ({"num_round": "10", "objective": "multi:softmax"}, "needs the num_class hyperparameter"),
    ],
)
def test_bad_hyperparameters_are_named(raw, message):
    with pytest.raises(HyperparameterError) as error:
        parse(raw)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "kind, low, high, extra, described",
    [
        (int, None, None, {}, "an integer in [-inf, inf]"),
        (float, 0.1, 1, {}, "a number in [0.1, 1]"),
        (float, 0, 1, {"low_open": True, "high_open": True}, "a number in (0, 1)"),
        (float, 0, None, {"low_open": True}, "a number in (0, inf]"),
        (str, None, None, {"choices": ("hist", "exact")}, "one of hist, exact"),
    ],
)
def test_a_range_describes_itself_as_the_error_shows_it(kind, low, high, extra, described):
    from churn.algorithm.hyperparameters import Range

    assert Range(kind, low, high, **extra).describe() == described


@pytest.mark.parametrize(
    "name, accepted, refused",
    [
        ("max_depth", ["0", "12"], ["-1"]),
        ("eta", ["0", "1", "0.5"], ["-0.01", "1.01"]),
        ("subsample", ["1", "0.01"], ["0", "1.5"]),
        ("colsample_bylevel", ["0.1", "1"], ["0.09"]),
        ("num_class", ["2"], ["1"]),
        ("verbosity", ["0", "3"], ["4"]),
        ("scale_pos_weight", ["0.5"], ["0"]),
    ],
)
def test_bounds_are_checked_at_their_edges(name, accepted, refused):
    for text in accepted:
        assert name in parse({"num_round": "1", name: text})[0], (name, text)
    for text in refused:
        with pytest.raises(HyperparameterError, match=rf"^hyperparameter {name} must be "):
            parse({"num_round": "1", name: text})


def test_an_open_upper_bound_refuses_the_bound_itself():
    from churn.algorithm.hyperparameters import Range

    assert Range(float, 0, 1, high_open=True).contains(0.99) and not Range(float, 0, 1, high_open=True).contains(1)
    assert Range(float, 0, 1).contains(1) and Range(float, 0, 1).contains(0)


def test_lists_in_messages_are_comma_separated():
    with pytest.raises(HyperparameterError, match=r"^unknown hyperparameter\(s\): colour, size$"):
        parse({"num_round": "1", "size": "2", "colour": "red"})
    with pytest.raises(HyperparameterError, match=r"^hyperparameter eval_metric has unknown metric\(s\): bogus, wrong$"):
        parse({"num_round": "1", "eval_metric": "auc,bogus,wrong"})
    with pytest.raises(HyperparameterError, match=r"^hyperparameter eval_metric names no metric: ' , '$"):
        parse({"num_round": "1", "eval_metric": " , "})


def test_metrics_with_a_cutoff_and_multiclass_with_num_class_are_accepted():
    params, _, _ = parse({"num_round": "1", "eval_metric": "error@0.7,auc"})
    assert params["eval_metric"] == ["error@0.7", "auc"]
    params, _, _ = parse({"num_round": "1", "objective": "multi:softmax", "num_class": "3"})
    assert params["objective"] == "multi:softmax" and params["num_class"] == 3
