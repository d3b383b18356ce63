import json
import pickle

import jsonschema
import pytest

from churn.steps import evaluate
from tests.conftest import write_model_archive
from tests.test_metrics import SCHEMA


@pytest.mark.parametrize("fmt", ["ubj", "pickle"])
def test_writes_a_valid_evaluation_report(tmp_path, sample_splits, trained_booster, fmt, monkeypatch):
    if fmt == "pickle":  # only with the opt-in: see test_a_pickled_model_is_refused
        monkeypatch.setenv("CHURN_ALLOW_PICKLED_MODEL", "1")
    data = pickle.dumps(trained_booster) if fmt == "pickle" else bytes(trained_booster.save_raw("ubj"))
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    write_model_archive(model_dir / "model.tar.gz", data)
    evaluate.main(["--model", str(model_dir), "--test", str(sample_splits / "test"), "--output", str(tmp_path / "eval")])
    report = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    jsonschema.validate(report, SCHEMA)
    metrics = report["binary_classification_metrics"]
    assert metrics["accuracy"]["value"] > 0.9 and metrics["auc"]["value"] > 0.85
    matrix = metrics["confusion_matrix"]
    assert sum(matrix[a][b] for a in "01" for b in "01") == 499


def test_missing_model_is_named(tmp_path, sample_splits):
    with pytest.raises(FileNotFoundError, match="no model.tar.gz"):
        evaluate.main(["--model", str(tmp_path), "--test", str(sample_splits / "test"), "--output", str(tmp_path / "e")])


def test_a_turned_off_candidate_is_passed_on_not_scored(tmp_path, sample_splits):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    write_model_archive(model_dir / "model.tar.gz", b"turned off (BaselineEnabled=false)\n", member="DISABLED")
    evaluate.main(["--model", str(model_dir), "--test", str(sample_splits / "test"), "--output", str(tmp_path / "eval")])
    assert [p.name for p in (tmp_path / "eval").iterdir()] == ["DISABLED"]
    assert (tmp_path / "eval" / "DISABLED").read_text() == "turned off (BaselineEnabled=false)\n"


def test_the_baseline_model_is_evaluated_like_xgboost(candidate_outputs):
    report = json.loads((candidate_outputs / "logistic-regression" / "evaluation" / "evaluation.json").read_text())
    jsonschema.validate(report, SCHEMA)
    assert 0.6 < report["binary_classification_metrics"]["auc"]["value"] < 1


def test_a_pickled_model_is_refused(tmp_path, sample_splits, monkeypatch, capsys):
    from churn.model_io import PickledModelError
    from churn.steps import entrypoint
    from tests.test_model_io import malicious_archive

    monkeypatch.delenv("CHURN_ALLOW_PICKLED_MODEL", raising=False)
    marker = tmp_path / "pwned"
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    malicious_archive(model_dir / "model.tar.gz", marker)
    argv = ["--model", str(model_dir), "--test", str(sample_splits / "test"), "--output", str(tmp_path / "eval")]
    with pytest.raises(ValueError) as error:
        evaluate.main(argv)
    assert not marker.exists(), "the evaluation step ran the pickle's code"
    assert isinstance(error.value, PickledModelError)
    assert "can run arbitrary code" in str(error.value) and "set CHURN_ALLOW_PICKLED_MODEL=1" in str(error.value)
    with pytest.raises(SystemExit) as exit_:
        entrypoint.run("EvaluateModel", evaluate.main, argv)
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ERROR EvaluateModel: ") and "Python pickle" in lines[0], lines
    assert not marker.exists()
    assert not (tmp_path / "eval").exists()


def _evaluate_ubj(tmp_path, sample_splits, trained_booster, name, *extra):
    model_dir = tmp_path / "model"
    if not model_dir.exists():
        model_dir.mkdir()
        write_model_archive(model_dir / "model.tar.gz", bytes(trained_booster.save_raw("ubj")))
    evaluate.main(["--model", str(model_dir), "--test", str(sample_splits / "test"), "--output", str(tmp_path / name), *extra])
    return (tmp_path / name / "evaluation.json").read_bytes()


def test_the_same_inputs_give_byte_identical_reports(tmp_path, sample_splits, trained_booster):
    first = _evaluate_ubj(tmp_path, sample_splits, trained_booster, "first")
    second = _evaluate_ubj(tmp_path, sample_splits, trained_booster, "second")
    assert first == second
    spreads = [m["standard_deviation"] for m in json.loads(first)["binary_classification_metrics"].values() if "standard_deviation" in m]
    assert all(sd > 0 for sd in spreads)


def test_the_default_threshold_is_one_half(tmp_path, sample_splits, trained_booster):
    import numpy as np
    import xgboost

    data = np.loadtxt(sample_splits / "test" / "test.csv", delimiter=",")
    labels, scores = data[:, 0] == 1, trained_booster.predict(xgboost.DMatrix(data[:, 1:]))
    predicted = scores >= 0.5
    expected = {"0": {"0": int(np.sum(~predicted & ~labels)), "1": int(np.sum(predicted & ~labels))},
                "1": {"0": int(np.sum(~predicted & labels)), "1": int(np.sum(predicted & labels))}}
    default = json.loads(_evaluate_ubj(tmp_path, sample_splits, trained_booster, "default"))
    assert default["binary_classification_metrics"]["confusion_matrix"] == expected
    explicit = _evaluate_ubj(tmp_path, sample_splits, trained_booster, "explicit", "--threshold", "0.5")
    assert explicit == json.dumps(default, indent=2).encode() + b"\n"
    # The threshold matters on this model: neighbouring thresholds give other matrices.
    for other in ("0.3", "0.7"):
        moved = json.loads(_evaluate_ubj(tmp_path, sample_splits, trained_booster, f"t{other}", "--threshold", other))
        assert moved["binary_classification_metrics"]["confusion_matrix"] != expected, other


def test_the_container_contract_defaults_and_log_lines(tmp_path, sample_splits, trained_booster, monkeypatch, capsys):
    """Without arguments the step reads and writes SageMaker's processing paths and logs one
    line; a turned-off candidate logs why; the help names the step and its options."""
    root = tmp_path / "opt" / "ml" / "processing"
    (root / "input" / "model").mkdir(parents=True)
    write_model_archive(root / "input" / "model" / "model.tar.gz", bytes(trained_booster.save_raw("ubj")))
    monkeypatch.setattr(evaluate, "MODEL_DIR", root / "input" / "model")
    monkeypatch.setattr(evaluate, "TEST_DIR", sample_splits / "test")
    monkeypatch.setattr(evaluate, "OUTPUT_DIR", root / "output" / "evaluation")
    evaluate.main([])
    report = json.loads((root / "output" / "evaluation" / "evaluation.json").read_text())
    values = {k: round(v["value"], 4) for k, v in report["binary_classification_metrics"].items() if "value" in v}
    assert capsys.readouterr().out == f"evaluation: {json.dumps(values)}\n"
    write_model_archive(root / "input" / "model" / "model.tar.gz", b"turned off (BaselineEnabled=false)\n", member="DISABLED")
    evaluate.main(["--output", str(tmp_path / "off")])
    assert capsys.readouterr().out == "not evaluated: turned off (BaselineEnabled=false)\n"
    with pytest.raises(SystemExit):
        evaluate.main(["--help"])
    usage = " ".join(capsys.readouterr().out.split())  # argparse wraps lines to the terminal
    assert usage.startswith("usage: churn.steps.evaluate ") and "EvaluateModel / EvaluateBaseline: score" in usage
    assert usage.endswith("--model MODEL model.tar.gz or a directory holding it --test TEST --output OUTPUT "
                          "--threshold THRESHOLD score at or above which a row is churn")


def test_labels_and_features_are_read_and_a_bad_cell_is_refused(tmp_path, sample_splits):
    labels, features = evaluate.read_labelled_csv(sample_splits / "test")
    assert set(labels) == {0, 1} and features.shape == (499, 73) and features.dtype == "float64"
    (tmp_path / "test.csv").write_text("1,0.5,2\n0,abc,3\n")
    with pytest.raises(ValueError, match="abc"):
        evaluate.read_labelled_csv(tmp_path)


def test_a_label_that_is_not_0_or_1_fails_the_step_not_truncated(tmp_path, sample_splits, trained_booster):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    write_model_archive(model_dir / "model.tar.gz", bytes(trained_booster.save_raw("ubj")))
    lines = (sample_splits / "test" / "test.csv").read_text().splitlines()
    lines[4] = "0.7" + lines[4][1:]
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "test.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        evaluate.main(["--model", str(model_dir), "--test", str(tmp_path / "test"), "--output", str(tmp_path / "eval")])
    assert not (tmp_path / "eval").exists()


def test_a_sharded_test_split_is_read_whole_in_name_order_and_scores_as_one_file(tmp_path, sample_splits, trained_booster):
    """A PreprocessData on several instances leaves test-algo-1.csv, test-algo-2.csv, ... (an
    instance whose share had no test rows, an empty file): every file is read, none skipped,
    and every metric is the one file's (they do not depend on row order)."""
    lines = (sample_splits / "test" / "test.csv").read_text().splitlines(keepends=True)
    shards = tmp_path / "test"
    shards.mkdir()
    (shards / "test-algo-1.csv").write_text("".join(lines[1::2]))
    (shards / "test-algo-2.csv").write_text("".join(lines[::2]))
    (shards / "test-algo-3.csv").write_text("")
    labels, features = evaluate.read_labelled_csv(shards)
    assert len(labels) == len(lines) and sorted(labels.tolist()) == sorted(evaluate.read_labelled_csv(sample_splits / "test")[0].tolist())
    model = write_model_archive(tmp_path / "model.tar.gz", bytes(trained_booster.save_raw("ubj")))
    for name, test in (("one", sample_splits / "test"), ("sharded", shards)):
        evaluate.main(["--model", str(model), "--test", str(test), "--output", str(tmp_path / name)])
    reports = {name: json.loads((tmp_path / name / "evaluation.json").read_text())["binary_classification_metrics"] for name in ("one", "sharded")}
    # Every metric's value is the one file's (a standard deviation is a bootstrap's, which follows the row order).
    assert {k: v.get("value") for k, v in reports["sharded"].items()} == {k: v.get("value") for k, v in reports["one"].items()}
    for path in shards.iterdir():
        path.write_text("")
    with pytest.raises(ValueError, match="^the test split has no rows: test-algo-1.csv, test-algo-2.csv, test-algo-3.csv are empty$"):
        evaluate.read_labelled_csv(shards)
