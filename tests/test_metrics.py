import json
import math
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import churn
from churn.metrics import METRIC_NAMES, evaluation_report

SCHEMA = json.loads((Path(churn.__file__).parent / "schemas" / "evaluation.schema.json").read_text())


def test_known_values():
    y = [0, 0, 1, 1, 1]
    s = [0.1, 0.6, 0.4, 0.8, 0.9]
    m = evaluation_report(y, s, bootstrap_rounds=20)["binary_classification_metrics"]
    assert m["accuracy"]["value"] == pytest.approx(0.6)  # predictions 0 1 0 1 1
    assert m["precision"]["value"] == pytest.approx(2 / 3)
    assert m["recall"]["value"] == pytest.approx(2 / 3)
    assert m["f1"]["value"] == pytest.approx(2 / 3)
    assert m["auc"]["value"] == pytest.approx(5 / 6)  # on scores, not on rounded predictions
    assert m["confusion_matrix"] == {"0": {"0": 1, "1": 1}, "1": {"0": 1, "1": 2}}


def test_known_values_with_fp_and_fn_apart():
    """Asymmetric: 3 true positives, 1 false positive, 2 false negatives, 2 true negatives, so
    precision, recall and f1 all differ and a transposed confusion matrix shows."""
    y = [0, 0, 0, 1, 1, 1, 1, 1]
    s = [0.1, 0.7, 0.3, 0.2, 0.6, 0.9, 0.95, 0.4]  # predictions 0 1 0 0 1 1 1 0
    m = evaluation_report(y, s, bootstrap_rounds=20)["binary_classification_metrics"]
    assert m["confusion_matrix"] == {"0": {"0": 2, "1": 1}, "1": {"0": 2, "1": 3}}  # actual -> predicted
    assert m["accuracy"]["value"] == pytest.approx(5 / 8)
    assert m["precision"]["value"] == pytest.approx(3 / 4)
    assert m["recall"]["value"] == pytest.approx(3 / 5)
    assert m["f1"]["value"] == pytest.approx(2 / 3)  # 2 * 0.75 * 0.6 / 1.35
    assert m["auc"]["value"] == pytest.approx(11 / 15)  # 11 of 15 (positive, negative) pairs ordered


def test_the_threshold_is_inclusive_and_moves_the_matrix():
    y, s = [0, 0, 1, 1], [0.5, 0.2, 0.5, 0.8]
    at_half = evaluation_report(y, s, bootstrap_rounds=5)["binary_classification_metrics"]
    assert at_half["confusion_matrix"] == {"0": {"0": 1, "1": 1}, "1": {"0": 0, "1": 2}}
    assert (at_half["precision"]["value"], at_half["recall"]["value"]) == pytest.approx((2 / 3, 1.0))
    higher = evaluation_report(y, s, threshold=0.6, bootstrap_rounds=5)["binary_classification_metrics"]
    assert higher["confusion_matrix"] == {"0": {"0": 2, "1": 0}, "1": {"0": 1, "1": 1}}


def test_the_report_is_reproducible_and_its_seed_matters():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    s = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    first, second = (json.dumps(evaluation_report(y, s), indent=2) for _ in range(2))
    assert first == second
    other_seed = evaluation_report(y, s, seed=1)["binary_classification_metrics"]
    assert other_seed["auc"]["standard_deviation"] != json.loads(first)["binary_classification_metrics"]["auc"]["standard_deviation"]


def test_report_validates_against_the_committed_schema():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    s = np.clip(y * 0.3 + rng.random(300) * 0.7, 0, 1)
    report = evaluation_report(y, s)
    jsonschema.validate(report, SCHEMA)
    stds = [report["binary_classification_metrics"][n]["standard_deviation"] for n in METRIC_NAMES]
    assert all(0 < sd < 0.2 for sd in stds)


def test_schema_rejects_a_missing_metric():
    report = evaluation_report([0, 1, 0, 1], [0.2, 0.7, 0.4, 0.9], bootstrap_rounds=5)
    del report["binary_classification_metrics"]["auc"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(report, SCHEMA)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.floats(0, 1)), min_size=2, max_size=80).filter(
    lambda rows: len({y for y, _ in rows}) == 2
))
def test_metrics_are_finite_and_in_range(rows):
    y, s = zip(*rows)
    report = evaluation_report(y, s, bootstrap_rounds=10)
    jsonschema.validate(report, SCHEMA)
    for name in METRIC_NAMES:
        value = report["binary_classification_metrics"][name]["value"]
        assert math.isfinite(value) and 0 <= value <= 1


@pytest.mark.parametrize(
    "y, s, message",
    [
        ([], [], r"^cannot evaluate on an empty test set$"),
        ([1, 1], [0.2, 0.3], r"^the test set has a single class: ROC-AUC is undefined; use more data or another SplitSeed$"),
        ([0, 2], [0.2, 0.3], r"^labels must be 0 or 1$"),
        ([0, 1], [0.2, 1.3], r"^scores must be probabilities in \[0, 1\]$"),
        ([0, 1], [0.2, float("nan")], r"^scores must be probabilities in \[0, 1\]$"),
        ([0, 1, 1], [float("nan"), 0.2, 0.9], r"^scores must be probabilities in \[0, 1\]$"),
        ([0, 1], [0.2, float("inf")], r"^scores must be probabilities in \[0, 1\]$"),
        ([0, 1], [0.2], r"^labels and scores must be 1-d of equal length, got \(2,\) and \(1,\)$"),
    ],
)
def test_bad_input_is_named(y, s, message):
    with pytest.raises(ValueError, match=message):
        evaluation_report(y, s)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5, 0.75, 0.9, 1.0]) | st.floats(0, 1)), min_size=2, max_size=60)
    .filter(lambda rows: len({y for y, _ in rows}) == 2),
    st.floats(0.05, 0.95),
)
def test_metrics_equal_scikit_learns(rows, threshold):
    """The numpy implementation against scikit-learn, ties in the scores included."""
    from sklearn import metrics as skm

    from churn.metrics import curves, point_metrics

    y = np.array([r[0] for r in rows])
    s = np.array([r[1] for r in rows])
    predicted = (s >= threshold).astype(int)
    ours = point_metrics(y, s, threshold)
    assert ours["accuracy"] == pytest.approx(skm.accuracy_score(y, predicted))
    assert ours["precision"] == pytest.approx(skm.precision_score(y, predicted, zero_division=0))
    assert ours["recall"] == pytest.approx(skm.recall_score(y, predicted, zero_division=0))
    assert ours["f1"] == pytest.approx(skm.f1_score(y, predicted, zero_division=0))
    assert ours["auc"] == pytest.approx(skm.roc_auc_score(y, s))
    fpr, tpr, precision, recall = curves(y, s)
    sk_fpr, sk_tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    assert np.allclose(fpr, sk_fpr) and np.allclose(tpr, sk_tpr)
    sk_precision, sk_recall, _ = skm.precision_recall_curve(y, s)
    assert np.allclose(precision, sk_precision) and np.allclose(recall, sk_recall)


def test_bootstrap_spreads_equal_a_bootstrap_made_with_scikit_learn():
    """Resamples of all n rows (row 0 included), with replacement, from the seeded generator."""
    from sklearn import metrics as sk

    from churn.metrics import bootstrap_standard_deviations

    rng = np.random.default_rng(3)
    y_true = np.array([1] + [0] * 8 + [1, 0, 1])
    y_score = rng.random(len(y_true))
    draws = np.random.default_rng(11)
    aucs, accuracies = [], []
    for _ in range(30):
        index = draws.integers(0, len(y_true), len(y_true))
        if len(set(y_true[index])) == 2:
            aucs.append(sk.roc_auc_score(y_true[index], y_score[index]))
        accuracies.append(sk.accuracy_score(y_true[index], y_score[index] >= 0.5))
    spread = bootstrap_standard_deviations(y_true, y_score, 0.5, 30, 11)
    assert spread["auc"] == pytest.approx(np.std(aucs), abs=1e-12)
    assert spread["accuracy"] == pytest.approx(np.std(accuracies), abs=1e-12)


def test_a_spread_needs_two_finite_values():
    from churn.metrics import bootstrap_standard_deviations

    one_class = bootstrap_standard_deviations(np.array([1, 1, 1]), np.array([0.2, 0.6, 0.9]), 0.5, 5, 0)
    assert one_class["auc"] == 0.0  # AUC is undefined in every resample
    two = bootstrap_standard_deviations(np.array([0, 1, 0, 1]), np.array([0.1, 0.9, 0.6, 0.4]), 0.5, 2, 1)
    assert all(np.isfinite(v) for v in two.values()) and max(two.values()) > 0


def test_labels_that_are_not_0_or_1_are_refused_not_truncated():
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        evaluation_report([0.7, 1, 0], [0.2, 0.9, 0.1])
    floats = evaluation_report([0.0, 1.0, 0.0, 1.0], [0.2, 0.9, 0.4, 0.7])
    assert floats == evaluation_report([0, 1, 0, 1], [0.2, 0.9, 0.4, 0.7])


def test_the_default_is_200_bootstrap_resamples():
    y_true, y_score = [0, 1, 0, 1, 1, 0], [0.2, 0.9, 0.4, 0.7, 0.3, 0.6]
    assert evaluation_report(y_true, y_score) == evaluation_report(y_true, y_score, bootstrap_rounds=200)
    assert evaluation_report(y_true, y_score) != evaluation_report(y_true, y_score, bootstrap_rounds=201)


def test_report_values_of_a_document_without_metrics_are_empty():
    from churn.metrics import report_values

    assert report_values({}) == {}
    assert report_values({"binary_classification_metrics": {"auc": {"value": 0.9}, "confusion_matrix": {}}}) == {"auc": 0.9}


def test_auc_of_a_single_class_is_nan_without_a_warning():
    """Small test sets give single-class bootstrap resamples: their AUC is undefined (NaN, left out
    of the spread) and must not print a numpy warning into the evaluation step's log."""
    import warnings

    from churn.metrics import roc_auc

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(roc_auc(np.array([1, 1, 1]), np.array([0.2, 0.6, 0.9])))
        assert math.isnan(roc_auc(np.array([0, 0, 0]), np.array([0.2, 0.6, 0.9])))
        assert math.isnan(roc_auc(np.array([], dtype=int), np.array([])))
        report = evaluation_report([0, 1, 1], [0.3, 0.6, 0.8], bootstrap_rounds=50)
    assert report["binary_classification_metrics"]["auc"]["value"] == 1.0


def test_certain_scores_of_exactly_zero_and_one_are_probabilities_too():
    """A saturated sigmoid gives exactly 0.0 and 1.0 (XGBoost's float32 output does): they are
    evaluated, not refused; just past either end is refused."""
    report = evaluation_report([0, 1, 1, 0], [0.0, 1.0, 1.0, 0.0], bootstrap_rounds=5)
    assert report["binary_classification_metrics"]["accuracy"]["value"] == 1.0
    for outside in (1.0000001, -1e-12):
        with pytest.raises(ValueError):
            evaluation_report([0, 1, 1, 0], [0.0, outside, 1.0, 0.0], bootstrap_rounds=5)


def _bootstrap_by_resampling(y_true, y_score, threshold, rounds, seed):
    """The reference: each resample's rows drawn and scored by :func:`point_metrics` (what the
    counted bootstrap must equal to the bit)."""
    from churn.metrics import METRIC_NAMES, point_metrics

    rng = np.random.default_rng(seed)
    samples = {name: [] for name in METRIC_NAMES}
    for _ in range(rounds):
        index = rng.integers(0, len(y_true), len(y_true))
        for name, value in point_metrics(y_true[index], y_score[index], threshold).items():
            if not math.isnan(value):
                samples[name].append(value)
    return {name: float(np.std(values)) if len(values) > 1 else 0.0 for name, values in samples.items()}


@settings(max_examples=200, deadline=None)
@given(
    labels=st.lists(st.integers(0, 1), min_size=1, max_size=60),
    scores=st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.5000000000000001, 0.75, 1.0]) | st.floats(0, 1), min_size=60, max_size=60),
    threshold=st.sampled_from([0.0, 0.5, 0.75, 1.0]) | st.floats(0, 1),
    rounds=st.integers(0, 12),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_counted_bootstrap_equals_resampling_the_rows_to_the_bit(labels, scores, threshold, rounds, seed):
    """Ties, one class, thresholds on a score, a single row: counting cells gives each resample's
    metrics exactly as drawing its rows does, so the spreads are the same floats."""
    from churn.metrics import bootstrap_standard_deviations

    y_true = np.array(labels)
    y_score = np.array(scores[: len(labels)])
    assert bootstrap_standard_deviations(y_true, y_score, threshold, rounds, seed) == _bootstrap_by_resampling(y_true, y_score, threshold, rounds, seed)


def test_the_counted_bootstrap_equals_resampling_on_many_rows():
    """A model's scores on 20,000 rows (mostly distinct, some tied): the same spreads to the bit."""
    from churn.metrics import bootstrap_standard_deviations

    rng = np.random.default_rng(5)
    y_true = (rng.random(20_000) < 0.15).astype(int)
    y_score = np.round(np.clip(rng.normal(0.3 + 0.4 * y_true, 0.2), 0, 1), 5)
    assert bootstrap_standard_deviations(y_true, y_score, 0.5, 25, 0) == _bootstrap_by_resampling(y_true, y_score, 0.5, 25, 0)


def test_past_the_exact_counting_limit_the_rows_are_resampled(monkeypatch):
    """Where a rank sum could round (2**26 rows and more), each resample's rows are drawn."""
    from churn import metrics

    monkeypatch.setattr(metrics, "_EXACT_COUNTING_ROWS", 10)
    counted = []
    monkeypatch.setattr(metrics, "_counted_metrics", lambda *args: counted.append(args))
    y_true, y_score = np.array([0, 1] * 6), np.linspace(0, 1, 12)
    assert metrics.bootstrap_standard_deviations(y_true, y_score, 0.5, 4, 2) == _bootstrap_by_resampling(y_true, y_score, 0.5, 4, 2)
    assert counted == []


def test_a_curve_holds_at_most_curve_points_of_the_full_one_ends_included():
    """A million-row test set's curves were every distinct score (100 MB of evaluation.json):
    now at most CURVE_POINTS points, each one of the full curve's, in order, ends included;
    a smaller curve is whole."""
    from churn.metrics import CURVE_POINTS, curves

    rng = np.random.default_rng(2)
    y_true = (rng.random(30_000) < 0.2).astype(int)
    y_score = np.clip(rng.normal(0.3 + 0.3 * y_true, 0.2), 0, 1)
    full = curves(y_true, y_score)
    report = evaluation_report(y_true, y_score, bootstrap_rounds=2)["binary_classification_metrics"]
    roc, pr = report["receiver_operating_characteristic_curve"], report["precision_recall_curve"]
    for (xs, ys), (full_x, full_y) in (((roc["false_positive_rates"], roc["true_positive_rates"]), full[:2]),
                                       ((pr["precisions"], pr["recalls"]), full[2:])):
        assert len(xs) == len(ys) == CURVE_POINTS < len(full_x)
        points = list(zip(full_x.tolist(), full_y.tolist()))
        positions = [points.index(point) for point in zip(xs, ys)]
        assert positions == sorted(positions) and positions[0] == 0 and positions[-1] == len(points) - 1
        assert max(b - a for a, b in zip(positions, positions[1:])) <= len(points) // (CURVE_POINTS - 1) + 1
    small = evaluation_report(y_true[:500], y_score[:500], bootstrap_rounds=2)["binary_classification_metrics"]
    assert small["receiver_operating_characteristic_curve"]["false_positive_rates"] == curves(y_true[:500], y_score[:500])[0].tolist()
