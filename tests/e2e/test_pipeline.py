"""The end-to-end suite both backends must pass: `tox -e local-pipeline` runs it locally in
Docker, `tox -e cloud` on SageMaker (``pytest -m e2e --backend local|cloud``)."""

from __future__ import annotations

import hashlib
import json

import jsonschema
import pytest

from churn.model_io import load_booster
from churn import sizing
from churn.steps import preprocess
from churn.summary import ARTIFACTS, SUMMARY_KEYS
from tests.conftest import SAMPLE_CSV
from tests.test_metrics import SCHEMA

pytestmark = pytest.mark.e2e

STEPS = [
    "PreprocessData", "TuneModel", "EvaluateTuned", "TrainModel", "EvaluateModel", "TrainBaseline", "EvaluateBaseline", "SelectModel", "CheckAccuracy",
    "CreateModel-CreateModel", "RegisterModel-RegisterModel", "AccuracyTooLow",
]
CANDIDATES = {"xgboost", "logistic-regression", "xgboost-tuned"}
UNTUNED = ["PreprocessData", "TrainModel", "EvaluateModel", "TrainBaseline", "EvaluateBaseline", "SelectModel", "CheckAccuracy"]


def _booster_kind(path) -> str:
    return json.loads(load_booster(path).save_config())["learner"]["gradient_booster"]["name"]


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_default_run_succeeds_and_registers_the_model(default_run, backend_name):
    assert default_run.status == "Succeeded", default_run.failure_reason
    summary = json.loads((default_run.run_dir / "summary.json").read_text())
    assert summary["backend"] == backend_name
    assert sorted(summary) == sorted(SUMMARY_KEYS)
    assert [(s["name"], s["status"]) for s in summary["steps"]] == [(n, "Succeeded") for n in STEPS[:-1]] + [("AccuracyTooLow", "NotStarted")]
    assert summary["registered_model"]["group"] == "churn"
    assert summary["parameters"]["InputData"] == SAMPLE_CSV.resolve().as_uri()


def test_every_artifact_is_in_the_run_folder(default_run):
    for name, relative in ARTIFACTS.items():
        assert (default_run.run_dir / relative).is_file(), name
    selection = default_run.summary["selection"]
    rounds = int(selection["candidates"][selection["winner"]]["hyperparameters"]["num_round"])
    assert load_booster(default_run.run_dir / ARTIFACTS["model"]).num_boosted_rounds() == rounds


def test_split_files_equal_the_in_process_preprocessing(default_run, tmp_path):
    preprocess.main(["--input", str(SAMPLE_CSV), "--output", str(tmp_path)])
    for name in ("train", "validation", "test"):
        assert _sha(default_run.run_dir / ARTIFACTS[name]) == _sha(tmp_path / name / f"{name}.csv"), name


def test_evaluation_json_has_the_schema_and_sane_metrics(default_run):
    report = json.loads((default_run.run_dir / ARTIFACTS["evaluation"]).read_text())
    jsonschema.validate(report, SCHEMA)
    metrics = report["binary_classification_metrics"]
    assert metrics["accuracy"]["value"] > 0.9 and metrics["auc"]["value"] > 0.85
    assert default_run.summary["metrics"]["accuracy"] == metrics["accuracy"]["value"]


def test_parameters_override_the_defaults(run_pipeline):
    result = run_pipeline({"NumRound": 10, "SplitSeed": 7, "MaxDepth": 3}, tuning=False)
    assert result.status == "Succeeded", result.failure_reason
    assert load_booster(result.run_dir / ARTIFACTS["model"]).num_boosted_rounds() == 10
    manifest = json.loads((result.run_dir / ARTIFACTS["manifest"]).read_text())
    assert manifest["split_seed"] == 7
    assert result.summary["parameters"]["NumRound"] == 10


def test_a_failing_gate_ends_failed_with_the_fail_step_message(run_pipeline):
    result = run_pipeline({"AccuracyThreshold": 0.995})
    assert result.status == "Failed"
    assert "Test accuracy of the winning model is below the AccuracyThreshold of 0.995" in result.failure_reason
    steps = {s["name"]: s["status"] for s in result.summary["steps"]}
    assert steps["AccuracyTooLow"] == "Failed"
    assert steps["CreateModel-CreateModel"] == steps["RegisterModel-RegisterModel"] == "NotStarted"
    assert result.summary["registered_model"] is None


def test_a_crashing_training_job_fails_the_execution_with_its_reason(run_pipeline):
    # NumRound=0 passes no CLI check here on purpose: the training container must reject it.
    result = run_pipeline({"NumRound": 0})
    assert result.status == "Failed"
    train = next(s for s in result.summary["steps"] if s["name"] == "TrainModel")
    assert train["status"] == "Failed" and "num_round" in train["failure_reason"]


# --- candidate models -------------------------------------------------------------------


def test_the_tuned_candidate_is_at_least_as_good_and_registered_with_its_hyperparameters(default_run, backend_name):
    """Issue 18's done-when, on the sample: the tuning branch ran its trials in containers, the
    tuned candidate's test AUC is at least the default XGBoost's, and the registered winner
    carries its hyperparameters."""
    tuning, selection = default_run.summary["tuning"], default_run.summary["selection"]
    assert tuning["max_jobs"] == len(tuning["trials"]) == 6 and tuning["strategy"] == "Bayesian"
    assert all(t["status"] == "Completed" and t["objective"] is not None for t in tuning["trials"])
    best = next(t for t in tuning["trials"] if t["job"] == tuning["best"])
    assert best["objective"] == max(t["objective"] for t in tuning["trials"])
    tuned, default = selection["candidates"]["xgboost-tuned"], selection["candidates"]["xgboost"]
    assert tuned["hyperparameters"] == best["hyperparameters"]
    if backend_name == "local":  # the local search is seeded (optuna); SageMaker's own is not the same search
        assert tuned["metrics"]["auc"] >= default["metrics"]["auc"], (tuned["metrics"], default["metrics"])
    winner = selection["candidates"][selection["winner"]]
    assert selection["hyperparameters"] == " ".join(f"{k}={v}" for k, v in winner["hyperparameters"].items())
    registered = default_run.summary["registered_model"]
    if backend_name == "local":  # the registered version carries the selection, hyperparameters included
        from churn.registry import Registry

        package = Registry(default_run.run_dir.parent).get(registered["group"], registered["version"])
        assert package.selection["hyperparameters"] == selection["hyperparameters"]
    else:  # SageMaker's model package: CustomerMetadataProperties
        import boto3

        described = boto3.client("sagemaker").describe_model_package(ModelPackageName=registered["arn"])
        assert described["CustomerMetadataProperties"]["Hyperparameters"] == selection["hyperparameters"]


def test_the_training_instance_type_follows_the_training_rows(default_run, backend_name):
    """Issue 18, item 5: PreprocessData's manifest says which instance type the training steps
    take (locally: local, and what auto would choose; on SageMaker: auto's tier)."""
    manifest = json.loads((default_run.run_dir / ARTIFACTS["manifest"]).read_text())
    requested = "local" if backend_name == "local" else "auto"
    assert default_run.summary["sizing"] == manifest["sizing"] == sizing.sizing(manifest["rows"]["train"], requested)
    assert manifest["sizing"]["would_choose"] == "ml.m5.large"


def test_without_tuning_the_run_has_two_candidates(run_pipeline):
    result = run_pipeline(tuning=False)
    assert result.status == "Succeeded", result.failure_reason
    assert [s["name"] for s in result.summary["steps"]][:7] == UNTUNED and result.summary["tuning"] is None
    assert set(result.summary["selection"]["candidates"]) == CANDIDATES - {"xgboost-tuned"}


def test_local_modes_compose_runner_gives_the_same_results_as_the_engine_runner(run_pipeline, backend_name):
    """The benchmark baseline stays tested: a first run (nothing cached) through local mode's own
    Compose runner gives the engine runner's splits, candidates and metrics."""
    if backend_name != "local":
        pytest.skip("--container-runner is for the local backend only")
    results = {runner: run_pipeline(tuning=False, use_cache=False, container_runner=runner) for runner in ("compose", "engine")}
    for result in results.values():
        assert result.status == "Succeeded", result.failure_reason
    compose, engine = results["compose"], results["engine"]
    assert compose.summary["selection"] == engine.summary["selection"]
    assert not any(step.get("cache_hit") for step in compose.summary["steps"] + engine.summary["steps"])
    splits = sorted(p.relative_to(compose.run_dir) for p in (compose.run_dir / "PreprocessData").rglob("*.csv"))
    assert splits and all((compose.run_dir / p).read_bytes() == (engine.run_dir / p).read_bytes() for p in splits)
    assert json.loads((compose.run_dir / "run.json").read_text())["container_runner"] == "compose"


def test_both_candidates_are_trained_evaluated_and_the_better_one_registered(default_run):
    selection = default_run.summary["selection"]
    assert selection["metric"] == "auc" and set(selection["candidates"]) == CANDIDATES
    assert all(c["enabled"] for c in selection["candidates"].values())
    scores = {name: c["metrics"]["auc"] for name, c in selection["candidates"].items()}
    assert selection["winner"] == max(scores, key=scores.get)
    # The gate and the registered model use the winner's evaluation; the report shows them all.
    assert default_run.summary["metrics"] == selection["candidates"][selection["winner"]]["metrics"]
    assert _booster_kind(default_run.run_dir / ARTIFACTS["model"]) == "gbtree"
    report = (default_run.run_dir / "report.html").read_text()
    assert "<h2>Candidates</h2>" in report and f"{scores['logistic-regression']:.4f}" in report


def test_a_weaker_xgboost_loses_to_the_baseline(run_pipeline):
    result = run_pipeline({"NumRound": 1, "MaxDepth": 1, "AccuracyThreshold": 0.5}, tuning=False)
    assert result.status == "Succeeded", result.failure_reason
    selection = result.summary["selection"]
    assert selection["winner"] == "logistic-regression", selection["summary"]
    assert _booster_kind(result.run_dir / ARTIFACTS["model"]) == "gblinear"
    assert result.summary["metrics"] == selection["candidates"]["logistic-regression"]["metrics"]
    assert result.summary["registered_model"] is not None


def test_the_selection_metric_is_a_parameter(run_pipeline):
    result = run_pipeline({"SelectionMetric": "precision"})
    assert result.status == "Succeeded", result.failure_reason
    selection = result.summary["selection"]
    values = {name: c["metrics"]["precision"] for name, c in selection["candidates"].items()}
    assert selection["metric"] == "precision" and values[selection["winner"]] == max(values.values())


def test_the_baseline_can_be_turned_off(run_pipeline):
    result = run_pipeline({"BaselineEnabled": "false"}, tuning=False)
    assert result.status == "Succeeded", result.failure_reason
    selection = result.summary["selection"]
    assert selection["winner"] == "xgboost"
    assert selection["candidates"]["logistic-regression"]["enabled"] is False
    assert "BaselineEnabled=false" in selection["candidates"]["logistic-regression"]["reason"]


def test_a_second_identical_run_reuses_the_steps_and_brings_their_results(default_run, run_pipeline):
    """Every job step comes from the step cache (on SageMaker its outputs stay under the first
    execution's prefix); the run folder holds the same split files and the same winner."""
    again = run_pipeline()
    assert again.status == "Succeeded", again.failure_reason
    cached = {s["name"] for s in again.summary["steps"] if s.get("cache_hit")}
    assert {"PreprocessData", "TrainModel", "SelectModel"} <= cached
    for name in ("train", "validation", "test", "model"):
        assert _sha(again.run_dir / ARTIFACTS[name]) == _sha(default_run.run_dir / ARTIFACTS[name]), name
    assert again.summary["selection"]["winner"] == default_run.summary["selection"]["winner"]


def test_bad_input_fails_in_preprocessing_with_the_containers_own_message(run_pipeline, tmp_path):
    from tests.conftest import sample_with_value

    bad = tmp_path / "bad.csv"
    bad.write_text(sample_with_value(5, "Day Calls", "many"))
    result = run_pipeline({"InputData": str(bad)})
    assert result.status == "Failed"
    step = next(s for s in result.summary["steps"] if s["name"] == "PreprocessData")
    assert step["status"] == "Failed"
    assert "column 'Day Calls' must be numeric; bad values at row 5: 'many'" in step["failure_reason"]
