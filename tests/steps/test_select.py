"""SelectModel's entrypoint: the winner's report and model, byte for byte, and selection.json."""

import json
import shutil

import pytest

from churn.selection import CANDIDATES
from churn.steps import select


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


def test_the_metric_parameter_changes_the_winner(candidate_outputs, tmp_path):
    documents = {}
    for metric in ("auc", "precision", "recall", "accuracy", "f1"):
        select.main(_arguments(candidate_outputs, tmp_path / metric, metric))
        documents[metric] = json.loads((tmp_path / metric / "selection/selection.json").read_text())
    for metric, document in documents.items():
        values = {name: r["metrics"][metric] for name, r in document["candidates"].items()}
        assert values[document["winner"]] == max(values.values()), metric


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
