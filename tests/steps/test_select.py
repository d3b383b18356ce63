"""SelectModel's entrypoint: the winner's report and model, byte for byte, and selection.json."""

import json
import shutil

import pytest

from churn.selection import CANDIDATES
from churn.steps import select
from tests.conftest import write_model_archive


def _arguments(root, output, metric="auc"):
    return ["--metric", metric, *(a for name in CANDIDATES for a in ("--candidate", name)), "--candidates-dir", str(root), "--output", str(output)]


def test_copies_the_winners_report_and_model(candidate_outputs):
    selected = candidate_outputs / "selected"
    document = json.loads((selected / "selection/selection.json").read_text())
    winner = candidate_outputs / document["winner"]
    assert document["metric"] == "auc" and set(document["candidates"]) == set(CANDIDATES)
    assert (selected / "evaluation/evaluation.json").read_bytes() == (winner / "evaluation/evaluation.json").read_bytes()
    assert (selected / "model/model.tar.gz").read_bytes() == (winner / "model/model.tar.gz").read_bytes()
    scores = {name: r["metrics"]["auc"] for name, r in document["candidates"].items()}
    assert scores[document["winner"]] == max(scores.values())


def _candidate(root, name, model_bytes, **values):
    """A candidate folder with a hand-written evaluation.json and a model archive of its own."""
    from churn.metrics import METRIC_NAMES

    report = {"binary_classification_metrics": {m: {"value": values.get(m, 0.5), "standard_deviation": 0.01} for m in METRIC_NAMES}}
    (root / name / "evaluation").mkdir(parents=True)
    (root / name / "evaluation" / "evaluation.json").write_text(json.dumps(report, indent=2))
    (root / name / "model").mkdir(parents=True)
    write_model_archive(root / name / "model" / "model.tar.gz", model_bytes)


def _assert_shipped(output, root, winner, loser):
    document = json.loads((output / "selection/selection.json").read_text())
    assert document["winner"] == winner
    for path in ("evaluation/evaluation.json", "model/model.tar.gz"):
        shipped = (output / path).read_bytes()
        assert shipped == (root / winner / path).read_bytes(), path
        assert shipped != (root / loser / path).read_bytes(), path


def test_the_second_candidate_wins_and_its_files_are_shipped(candidate_outputs, tmp_path):
    """The real models swapped: the better model is now the second candidate listed."""
    root = tmp_path / "candidates"
    first, second = CANDIDATES
    shutil.copytree(candidate_outputs / second, root / first)
    shutil.copytree(candidate_outputs / first, root / second)
    select.main(_arguments(root, tmp_path / "out"))
    _assert_shipped(tmp_path / "out", root, second, first)


def test_the_metric_parameter_changes_the_winner(tmp_path):
    root = tmp_path / "candidates"
    first, second = CANDIDATES
    _candidate(root, first, b"first model", auc=0.9, accuracy=0.9, precision=0.8, recall=0.3, f1=0.6)
    _candidate(root, second, b"second model", auc=0.8, accuracy=0.85, precision=0.7, recall=0.6, f1=0.65)
    winners = {"auc": first, "accuracy": first, "precision": first, "recall": second, "f1": second}
    for metric, winner in winners.items():
        select.main(_arguments(root, tmp_path / metric, metric))
        _assert_shipped(tmp_path / metric, root, winner, first if winner == second else second)


def test_a_turned_off_candidate_is_recorded(candidate_outputs, tmp_path):
    root = tmp_path / "candidates"
    shutil.copytree(candidate_outputs / "xgboost", root / "xgboost")
    (root / "logistic-regression" / "evaluation").mkdir(parents=True)
    (root / "logistic-regression" / "evaluation" / "DISABLED").write_text("turned off\n")
    select.main(_arguments(root, tmp_path / "out"))
    document = json.loads((tmp_path / "out/selection/selection.json").read_text())
    assert document["winner"] == "xgboost"
    assert document["candidates"]["logistic-regression"] == {"enabled": False, "reason": "turned off"}


def test_a_candidate_without_results_is_named(candidate_outputs, tmp_path):
    root = tmp_path / "candidates"
    shutil.copytree(candidate_outputs / "xgboost", root / "xgboost")
    (root / "logistic-regression" / "evaluation").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="candidate 'logistic-regression' has neither evaluation.json nor DISABLED"):
        select.main(_arguments(root, tmp_path / "out"))
    assert not (tmp_path / "out").exists()
