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
    (root / "logistic-regression" / "evaluation" / "DISABLED").write_text("baseline turned off (BaselineEnabled=false)\n")
    select.main(_arguments(root, tmp_path / "out"))
    document = json.loads((tmp_path / "out/selection/selection.json").read_text())
    assert document["winner"] == "xgboost"
    assert document["candidates"]["logistic-regression"] == {"enabled": False, "reason": "baseline turned off (BaselineEnabled=false)"}


def test_a_candidate_without_results_is_named(candidate_outputs, tmp_path):
    root = tmp_path / "candidates"
    shutil.copytree(candidate_outputs / "xgboost", root / "xgboost")
    (root / "logistic-regression" / "evaluation").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="candidate 'logistic-regression' has neither evaluation.json nor DISABLED"):
        select.main(_arguments(root, tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_a_report_that_is_not_json_is_named(tmp_path):
    (tmp_path / "evaluation.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"^candidate 'xgboost': evaluation.json is not JSON: Expecting property name"):
        select.read_candidate(tmp_path, "xgboost")


def test_the_container_contract_defaults_output_and_log_line(candidate_outputs, tmp_path, monkeypatch, capsys):
    """Without --candidates-dir/--output the step reads and writes SageMaker's processing paths;
    selection.json is indented JSON; the log states the selection; --metric and --candidate are required."""
    root = tmp_path / "opt" / "ml" / "processing"
    shutil.copytree(candidate_outputs / "xgboost", root / "input" / "candidates" / "xgboost")
    monkeypatch.setattr(select, "CANDIDATES_DIR", root / "input" / "candidates")
    monkeypatch.setattr(select, "OUTPUT_DIR", root / "output")
    select.main(["--metric", "auc", "--candidate", "xgboost"])
    text = (root / "output" / "selection" / "selection.json").read_text()
    document = json.loads(text)
    assert text == json.dumps(document, indent=2) + "\n"
    assert capsys.readouterr().out == f"selection: {document['summary']}\n"
    assert (root / "output" / "model" / "model.tar.gz").is_file()
    for missing in (["--candidate", "xgboost"], ["--metric", "auc"]):
        with pytest.raises(SystemExit) as exit_:
            select.main(missing)
        assert exit_.value.code == 2
    with pytest.raises(SystemExit):
        select.main(["--help"])
    usage = " ".join(capsys.readouterr().out.split())  # argparse wraps lines to the terminal
    assert usage.startswith("usage: churn.steps.select ") and "SelectModel: pick the candidate" in usage
    assert usage.endswith("--metric METRIC metric to maximise: accuracy, precision, recall, f1, auc "
                          "--candidate CANDIDATE a candidate's name, in tie-break order "
                          "--candidates-dir CANDIDATES_DIR --output OUTPUT")
