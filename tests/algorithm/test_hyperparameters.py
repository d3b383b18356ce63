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
