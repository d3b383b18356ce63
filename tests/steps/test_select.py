"""SelectModel's entrypoint: the winner's report byte for byte, the winner's model with the
features it scores, and selection.json."""

import io
import json
import shutil
import tarfile

import pytest

from churn import features, model_io
from churn.dataset import DEFAULT_SPEC
from churn.selection import CANDIDATES
from churn.steps import select
from tests.conftest import write_model_archive


def _manifest(folder):
    """A PreprocessData manifest of the default spec (what SelectModel reads of it)."""
    path = folder / "manifest.json"
    if not path.exists():
        path.write_text(json.dumps({"rows": 3, "dataset": DEFAULT_SPEC.to_json(), "feature_names": features.feature_names(DEFAULT_SPEC)}))
    return path


def _arguments(root, output, metric="auc"):
    return ["--metric", metric, *(a for name in CANDIDATES for a in ("--candidate", name)), "--candidates-dir", str(root),
            "--manifest", str(_manifest(root.parent)), "--output", str(output)]


def test_copies_the_winners_report_and_model(candidate_outputs, sample_splits):
    selected = candidate_outputs / "selected"
    document = json.loads((selected / "selection/selection.json").read_text())
    winner = candidate_outputs / document["winner"]
    assert document["metric"] == "auc" and set(document["candidates"]) == set(CANDIDATES)
    assert (selected / "evaluation/evaluation.json").read_bytes() == (winner / "evaluation/evaluation.json").read_bytes()
    shipped = selected / "model/model.tar.gz"
    assert model_io.read_model_bytes(shipped) == model_io.read_model_bytes(winner / "model/model.tar.gz")
    manifest = json.loads((sample_splits / "manifest" / "manifest.json").read_text())
    assert model_io.read_features(shipped) == {"dataset": manifest["dataset"], "feature_names": manifest["feature_names"]}
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
    shipped = (output / "evaluation/evaluation.json").read_bytes()
    assert shipped == (root / winner / "evaluation/evaluation.json").read_bytes()
    assert shipped != (root / loser / "evaluation/evaluation.json").read_bytes()
    model = model_io.read_model_bytes(output / "model/model.tar.gz")
    assert model == model_io.read_model_bytes(root / winner / "model/model.tar.gz")
    assert model != model_io.read_model_bytes(root / loser / "model/model.tar.gz")


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
    monkeypatch.setattr(select, "MANIFEST_FILE", _manifest(tmp_path))
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
                          "--hyperparameters NAME PAIRS what candidate NAME was trained with: 'name=value name=value' (recorded in selection.json) "
                          "--candidates-dir CANDIDATES_DIR --manifest MANIFEST PreprocessData's manifest.json --output OUTPUT")


def _two_candidates(root):
    first, second = CANDIDATES
    _candidate(root, first, b"first model", auc=0.9)
    _candidate(root, second, b"second model", auc=0.8)


def test_the_deployable_archive_is_the_same_bytes_every_time(tmp_path):
    """A re-run (another time stamp on the winner's archive) writes the same archive: the cache
    and the registry's same-bytes check rely on it."""
    _two_candidates(tmp_path / "candidates")
    select.main(_arguments(tmp_path / "candidates", tmp_path / "first"))
    write_model_archive(tmp_path / "candidates" / CANDIDATES[0] / "model" / "model.tar.gz", b"first model")  # rewritten: new mtime
    select.main(_arguments(tmp_path / "candidates", tmp_path / "second"))
    assert (tmp_path / "first/model/model.tar.gz").read_bytes() == (tmp_path / "second/model/model.tar.gz").read_bytes()
    with tarfile.open(tmp_path / "first/model/model.tar.gz") as tar:
        assert [(m.name, m.mtime, m.uid, m.mode) for m in tar.getmembers()] == [
            ("churn/features.json", 0, 0, 0o644), ("xgboost-model", 0, 0, 0o644)]


def test_only_the_model_is_a_top_level_file(candidate_outputs, tmp_path):
    """The official XGBoost container loads every regular file at the top of /opt/ml/model as a
    model: the features document must sit in a folder, and every top-level file must load."""
    xgboost = pytest.importorskip("xgboost")
    with tarfile.open(candidate_outputs / "selected" / "model" / "model.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    top = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert top == ["xgboost-model"] and (tmp_path / "churn" / "features.json").is_file()
    for name in top:
        xgboost.Booster().load_model(str(tmp_path / name))


def test_a_manifest_without_the_features_is_refused(tmp_path):
    _two_candidates(tmp_path / "candidates")
    (tmp_path / "manifest.json").write_text(json.dumps({"rows": 3}))
    with pytest.raises(ValueError, match=r"manifest .*manifest.json lacks its 'dataset' object or 'feature_names' list"):
        select.main(_arguments(tmp_path / "candidates", tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_only_the_evaluated_model_and_the_features_are_shipped(tmp_path):
    """Whatever else the winner's archive holds (a second model file deeper down, a stale
    features file, notes, names reaching out of the folder), the deployable archive holds the
    model file the evaluation read, as xgboost-model, and the features: the official XGBoost
    container loads every top-level file as a model, and tar must be able to extract it."""
    _two_candidates(tmp_path / "candidates")
    archive = tmp_path / "candidates" / CANDIDATES[0] / "model" / "model.tar.gz"
    members = [("./xgboost-model", b"evaluated model"), ("backup/xgboost-model", b"older model"), ("xgboost-model", b"later copy"),
               ("./churn/features.json", b"stale"), ("notes.txt", b"hi"), ("../escape", b"x"), ("churn", b"a file named churn")]
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    assert model_io.read_model_bytes(archive) == b"evaluated model"
    select.main(_arguments(tmp_path / "candidates", tmp_path / "out"))
    shipped = tmp_path / "out/model/model.tar.gz"
    assert model_io.read_model_bytes(shipped) == b"evaluated model"
    assert model_io.read_features(shipped)["feature_names"] == features.feature_names(DEFAULT_SPEC)
    with tarfile.open(shipped) as tar:
        assert tar.getnames() == ["churn/features.json", "xgboost-model"]
        tar.extractall(tmp_path / "extracted", filter="data")


def test_the_winners_hyperparameters_are_recorded_for_the_registry(tmp_path):
    """--hyperparameters NAME PAIRS: each enabled candidate's values in selection.json, and the
    winner's as one line (the registered model's Hyperparameters metadata)."""
    _two_candidates(tmp_path / "candidates")
    first, second = CANDIDATES
    select.main([*_arguments(tmp_path / "candidates", tmp_path / "out"), "--hyperparameters", second, "C=1.0",
                 "--hyperparameters", first, "max_depth=7  eta=0.05"])
    document = json.loads((tmp_path / "out" / "selection" / "selection.json").read_text())
    assert document["winner"] == first and document["hyperparameters"] == "max_depth=7 eta=0.05"
    assert document["candidates"][first]["hyperparameters"] == {"max_depth": "7", "eta": "0.05"}
    assert document["candidates"][second]["hyperparameters"] == {"C": "1.0"}


def test_without_hyperparameters_the_line_still_says_so(tmp_path):
    _two_candidates(tmp_path / "candidates")
    select.main(_arguments(tmp_path / "candidates", tmp_path / "out"))
    document = json.loads((tmp_path / "out" / "selection" / "selection.json").read_text())
    assert document["hyperparameters"] == "not recorded"  # SageMaker's customer metadata takes no empty value
    assert all("hyperparameters" not in record for record in document["candidates"].values())


@pytest.mark.parametrize(("given", "says"), [
    (["--hyperparameters", "svm", "C=1"], "--hyperparameters names no --candidate: svm"),
    (["--hyperparameters", CANDIDATES[0], "max_depth"], "hyperparameters must be distinct name=value pairs"),
    (["--hyperparameters", CANDIDATES[0], "eta=1 eta=2"], "hyperparameters must be distinct name=value pairs"),
])
def test_malformed_hyperparameters_are_refused(tmp_path, capsys, given, says):
    _two_candidates(tmp_path / "candidates")
    with pytest.raises((SystemExit, ValueError)) as refused:
        select.main([*_arguments(tmp_path / "candidates", tmp_path / "out"), *given])
    assert says in (str(refused.value) + capsys.readouterr().err)
    assert not (tmp_path / "out").exists()
