"""The run report: built from a run folder, and checked in a real headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from churn.definition import compile_definition, step_names
from churn.report import build_report, write_report
from churn.summary import build_summary, write_summary

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
STEPS = step_names(compile_definition("local"))


def _make_run(run_dir: Path, sample_splits: Path, candidates: Path, failed: bool = False) -> Path:
    """A finished run folder with the real artifacts, made in-process (no Docker)."""
    shutil.copytree(sample_splits, run_dir / "PreprocessData")
    steps = [{"StepName": "PreprocessData", "StepStatus": "Succeeded", "StartTime": 0.0, "EndTime": 1.2}]
    if failed:
        steps.append({"StepName": "TrainModel", "StepStatus": "Failed", "StartTime": 1.2, "EndTime": 2.0,
                      "FailureReason": "TrainModel: hyperparameter num_round must be an integer in [1, inf], got '0'"})
        describe = {"PipelineExecutionStatus": "Failed", "FailureReason": "Step 'TrainModel' failed with message: <num_round> & more",
                    "CreationTime": 0.0, "LastModifiedTime": 2.0}
    else:
        shutil.copytree(candidates / "selected", run_dir / "SelectModel")
        for step, name in (("EvaluateModel", "xgboost"), ("EvaluateBaseline", "logistic-regression")):
            shutil.copytree(candidates / name / "evaluation", run_dir / step / "evaluation")
        steps += [{"StepName": name, "StepStatus": "Succeeded", "StartTime": 2.0, "EndTime": 3.0} for name in STEPS[1:-1]]
        describe = {"PipelineExecutionStatus": "Succeeded", "CreationTime": 0.0, "LastModifiedTime": 3.0}
    from churn.summary import RegisteredModel, step_records

    (run_dir / "definition.json").write_text(json.dumps(compile_definition("local")))
    summary = build_summary(
        backend="local", execution_id=run_dir.name, describe=describe, steps=step_records(steps, STEPS),
        parameters={"NumRound": 100, "InputData": "file:///data/churn.csv"}, run_dir=run_dir,
        definition_sha256="0" * 64, registered_model=None if failed else RegisteredModel("churn", 3, "local:model-package/churn/3"),
    )
    write_summary(run_dir, summary)
    return run_dir


@pytest.fixture()
def finished_run(tmp_path, sample_splits, candidate_outputs):
    return _make_run(tmp_path / "abc123", sample_splits, candidate_outputs)


@pytest.fixture()
def failed_run(tmp_path, sample_splits, candidate_outputs):
    return _make_run(tmp_path / "def456", sample_splits, candidate_outputs, failed=True)


def test_report_holds_graph_metrics_parameters_and_plots(finished_run):
    page = build_report(finished_run)
    assert page.count('<img alt="') == 5  # step graph, ROC, PR, confusion matrix, feature importance
    for text in ("churn run abc123", "Succeeded", "accuracy", "Feature importance", "NumRound", "churn version 3"):
        assert text in page


def test_report_shows_both_candidates_and_the_winner(finished_run):
    page = build_report(finished_run)
    selection = json.loads((finished_run / "SelectModel/selection/selection.json").read_text())
    assert "<h2>Candidates</h2>" in page and "highest test <b>auc</b>" in page
    assert f"<b>{selection['winner']}</b> won" in page
    for name, record in selection["candidates"].items():
        assert f"{record['metrics']['auc']:.4f}" in page, name
    assert "Metrics of the winning model" in page


def test_report_names_a_candidate_that_was_turned_off(finished_run):
    summary = json.loads((finished_run / "summary.json").read_text())
    summary["selection"]["candidates"]["logistic-regression"] = {"enabled": False, "reason": "turned off (BaselineEnabled=false)"}
    (finished_run / "summary.json").write_text(json.dumps(summary))
    assert "off: turned off (BaselineEnabled=false)" in build_report(finished_run)


def test_failed_run_report_names_the_failure_and_escapes_it(failed_run):
    page = build_report(failed_run)
    assert "Step &#x27;TrainModel&#x27; failed with message: &lt;num_round&gt; &amp; more" in page
    assert page.count('<img alt="') == 1  # only the step graph: no evaluation, no model


def _chromium() -> str:
    found = os.environ.get("CHURN_CHROMIUM") or next(
        (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None
    )
    if not found:
        pytest.fail("no Chromium: run scripts/ensure-chromium.sh (the report must be checked in a real browser)")
    return found


@pytest.mark.parametrize("which", ["finished_run", "failed_run"])
def test_report_renders_in_a_real_browser(request, which, tmp_path):
    from playwright.sync_api import sync_playwright

    page_file = write_report(request.getfixturevalue(which))
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS[1:], headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(page_file.as_uri())
            page.wait_for_load_state("load")
            images = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.alt, i.complete, i.naturalWidth])")
            title = page.title()
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert title.startswith("churn run ")
    assert images and all(complete and width > 0 for _, complete, width in images), images
    assert not errors, errors


def test_churn_report_and_graph_commands(finished_run, tmp_path):
    (finished_run / "report.html").unlink(missing_ok=True)
    done = subprocess.run([sys.executable, "-m", "churn.cli", "report", str(finished_run)], capture_output=True, text=True)
    assert done.returncode == 0 and (finished_run / "report.html").is_file()
    svg = tmp_path / "pipeline.svg"
    done = subprocess.run([sys.executable, "-m", "churn.cli", "graph", "--output", str(svg)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    text = svg.read_text()
    assert text.lstrip().startswith("<?xml") and "PreprocessData" in text and "AccuracyTooLow" in text
    png = tmp_path / "pipeline.png"  # drawn by matplotlib, from the same layout
    done = subprocess.run([sys.executable, "-m", "churn.cli", "graph", "--output", str(png)], capture_output=True, text=True)
    assert done.returncode == 0 and png.read_bytes().startswith(b"\x89PNG"), done.stderr
    bad = subprocess.run([sys.executable, "-m", "churn.cli", "graph", "--output", str(tmp_path / "x.gif")], capture_output=True, text=True)
    assert bad.returncode == 2 and "must end in .png or .svg" in bad.stderr
    missing = subprocess.run([sys.executable, "-m", "churn.cli", "report", str(tmp_path)], capture_output=True, text=True)
    assert missing.returncode == 2 and "not a finished run" in missing.stderr


def test_plots_are_reused_for_identical_inputs(finished_run):
    (finished_run.parent / ".cache").mkdir()
    first = build_report(finished_run)
    stored = sorted((finished_run.parent / ".cache" / "plots").iterdir())
    # ROC, PR, confusion matrix and feature importance (the step graph's SVG is written each time:
    # milliseconds, no matplotlib)
    assert len(stored) == 4
    for plot in stored:
        os.utime(plot, (1, 1))
    assert build_report(finished_run) == first
    assert all(plot.stat().st_mtime > 1 for plot in stored)  # a plot reused is a plot used: prune keeps it
    winner = finished_run / "SelectModel" / "evaluation" / "evaluation.json"
    winner.write_text(winner.read_text().replace('"auc"', '"auc" ', 1))
    build_report(finished_run)
    assert len(list((finished_run.parent / ".cache" / "plots").iterdir())) == 5  # the winner's: a new confusion matrix
    candidate = finished_run / "EvaluateBaseline" / "evaluation" / "evaluation.json"
    candidate.write_text(candidate.read_text().replace('"auc"', '"auc" ', 1))
    build_report(finished_run)
    assert len(list((finished_run.parent / ".cache" / "plots").iterdir())) == 7  # a candidate's: new ROC and PR curves


def test_report_never_unpickles_the_model_and_says_why_the_plot_is_missing(finished_run):
    from churn.summary import ARTIFACTS
    from tests.test_model_io import malicious_archive

    marker = finished_run / "pwned"
    malicious_archive(finished_run / ARTIFACTS["model"], marker)
    page = build_report(finished_run)
    assert not marker.exists(), "building the report ran the pickle's code"
    assert page.count('<img alt="') == 4  # step graph, ROC, PR, confusion matrix: no feature importance
    assert "No feature-importance plot" in page and "the model file is a Python pickle" in page
    done = subprocess.run([sys.executable, "-m", "churn.cli", "report", str(finished_run)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not marker.exists() and "No feature-importance plot" in (finished_run / "report.html").read_text()


def test_the_graph_of_an_older_run_still_draws_its_registration(finished_run, monkeypatch):
    """Runs of an older churn registered locally outside the compiled graph: their definition
    has no RegisterModel step, their summary has it; the report draws it after CreateModel."""
    import churn.graph
    from churn.report import step_graph_plot
    from churn.summary import read_summary

    definition = json.loads((finished_run / "definition.json").read_text())
    gate = next(s for s in definition["Steps"] if s["Name"] == "CheckAccuracy")
    gate["Arguments"]["IfSteps"] = [s for s in gate["Arguments"]["IfSteps"] if s["Type"] != "RegisterModel"]
    (finished_run / "definition.json").write_text(json.dumps(definition))
    drawn = {}
    real = churn.graph.render
    monkeypatch.setattr(churn.graph, "render", lambda graph, statuses=None, fmt="svg": drawn.update(graph=graph) or real(graph, statuses, fmt))
    assert step_graph_plot(finished_run, read_summary(finished_run).steps)
    assert "RegisterModel-RegisterModel" in drawn["graph"].nodes
    assert ("CreateModel-CreateModel", "RegisterModel-RegisterModel", "") in drawn["graph"].edges
    assert "AccuracyTooLow" in drawn["graph"].nodes  # NotStarted steps of the graph are drawn as before


def test_the_report_names_the_dataset_spec_and_the_class_balance(finished_run):
    page = build_report(finished_run)
    assert "<h2>Data</h2>" in page and "Dataset spec <b>churn.txt</b>: label <code>Churn?</code> (True. = churned)" in page
    assert "19 feature columns, 73 model features" in page
    assert "Class balance: 483 churned, 2850 stayed (14.5% churned) of 3333 rows" in page
    assert "Split: " in page and "train 2310" in page
    assert "Missing values" not in page  # the sample has none
    assert "Training instance: local (on SageMaker, auto would choose ml.m5.large for 2,310 training rows)" in page


def test_the_summary_and_the_printout_say_which_training_instance_was_used(finished_run, tmp_path):
    import shutil

    from churn.cli import outcome_lines
    from churn.layout import ARTIFACTS
    from churn.summary import read_summary, sizing_record

    summary = read_summary(finished_run)
    assert summary.sizing == {"training_rows": 2310, "requested": "local", "would_choose": "ml.m5.large", "chosen": "local"}
    assert "training instance: local (on SageMaker, auto would choose ml.m5.large for 2,310 training rows)" in outcome_lines(summary)
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    (run / ARTIFACTS["manifest"]).write_text("{not json")
    assert sizing_record(run) is None
    (run / ARTIFACTS["manifest"]).write_text(json.dumps({"sizing": ["x"]}))
    assert sizing_record(run) is None


def test_the_report_counts_missing_values_per_column(finished_run, tmp_path):
    import shutil

    from churn.layout import ARTIFACTS

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    manifest = json.loads((run / ARTIFACTS["manifest"]).read_text())
    (run / ARTIFACTS["manifest"]).write_text(json.dumps({**manifest, "missing_counts": {"TotalCharges": 45, "Partner <x>": 3}}))
    page = build_report(run)
    assert "Missing values: TotalCharges 45, Partner &lt;x&gt; 3 (a missing number reaches XGBoost as missing" in page
    (run / ARTIFACTS["manifest"]).write_text(json.dumps({**manifest, "missing_counts": {"Contract": "<img src=x onerror=alert(1)>"}}))
    assert "<img src=x onerror" not in build_report(run) and "&lt;img src=x onerror=alert(1)&gt;" in build_report(run)
    (run / ARTIFACTS["manifest"]).write_text(json.dumps({**manifest, "missing_counts": ["Contract"], "rows": [1, 2]}))
    page = build_report(run)
    assert "Missing values" not in page and "Split: " not in page and "Class balance" in page


def test_both_candidates_curves_are_overlaid_and_the_threshold_stated(finished_run):
    from churn.report import candidate_evaluations

    assert candidate_evaluations(finished_run) == {
        "xgboost": finished_run / "EvaluateModel/evaluation/evaluation.json",
        "logistic-regression": finished_run / "EvaluateBaseline/evaluation/evaluation.json",
    }
    page = build_report(finished_run)
    assert 'alt="ROC curves of the candidates"' in page and 'alt="Precision-recall curves of the candidates"' in page
    assert "at least <b>0.5</b> is predicted to churn" in page
    summary = json.loads((finished_run / "summary.json").read_text())
    summary["parameters"]["AccuracyThreshold"] = 0.83
    (finished_run / "summary.json").write_text(json.dumps(summary))
    assert "at least AccuracyThreshold <b>0.83</b>" in build_report(finished_run)


def test_a_damaged_candidate_evaluation_is_left_out_of_the_curves(finished_run):
    (finished_run / "EvaluateBaseline/evaluation/evaluation.json").write_text('{"binary_classification_metrics": {"auc": {"value": 0.8}}}')
    page = build_report(finished_run)
    assert 'alt="ROC curves"' in page and "of the candidates" not in page


def test_a_candidate_without_an_evaluation_is_left_out_of_the_curves(finished_run):
    from churn.report import candidate_evaluations

    shutil.rmtree(finished_run / "EvaluateBaseline")
    assert list(candidate_evaluations(finished_run)) == ["xgboost"]
    page = build_report(finished_run)
    assert 'alt="ROC curves"' in page and "of the candidates" not in page


def test_training_curves_are_drawn_from_each_steps_metrics_and_logs_linked(finished_run):
    from churn.training_metrics import METRIC_DEFINITIONS, write_series

    write_series(finished_run / "TrainModel" / "metrics.json", METRIC_DEFINITIONS,
                 {"train:auc": [0.8, 0.9, 0.95], "validation:auc": [0.78, 0.85, 0.86]})
    write_series(finished_run / "TrainBaseline" / "metrics.json", METRIC_DEFINITIONS, {"train:auc": [0.82], "validation:auc": [0.8]})
    (finished_run / "TrainModel" / "logs.txt").write_text("[0]\ttrain-auc:0.8\n")
    page = build_report(finished_run)
    assert "<h2>Training</h2>" in page and 'alt="TrainModel: training curves"' in page
    assert "TrainBaseline: train:auc 0.8200, validation:auc 0.8000 (one value: no rounds)" in page
    assert page.count('<img alt="') == 6
    assert '<a href="TrainModel/logs.txt">log</a>' in page and 'href="TrainBaseline/logs.txt"' not in page


def test_a_run_without_training_metrics_has_no_training_section(finished_run):
    assert "<h2>Training</h2>" not in build_report(finished_run)


def test_the_report_fits_a_phone_screen(finished_run):
    """At 360 CSS pixels nothing but a wide table's own box scrolls sideways."""
    from playwright.sync_api import sync_playwright

    page_file = write_report(finished_run)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=CHROMIUM_FLAGS[1:], headless=True)
        try:
            page = browser.new_page(viewport={"width": 360, "height": 740}, device_scale_factor=2, is_mobile=True)
            page.goto(page_file.as_uri())
            page.wait_for_load_state("load")
            width = page.evaluate("document.documentElement.scrollWidth")
            images = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.getBoundingClientRect().right)")
        finally:
            browser.close()
    assert width <= 360, width
    assert images and max(images) <= 360, images


def _with_trials(run_dir: Path) -> dict:
    """Give a finished run a tuning job's trials.json (one trial failed, one cached) and its
    summary's ``tuning`` object; return the document."""
    def trial(number, objective, **extra):
        return {"number": number, "job": f"TuneModel-{number:03d}-0123abcd", "status": "Completed", "objective": objective,
                "hyperparameters": {"max_depth": str(number + 3), "eta": f"0.0{number}2345678901234"}, "seconds": 2.5 + number,
                "cached": False, "failure": None, "created": "2026-11-28T12:00:00+00:00", **extra}

    document = {
        "tuning_job": "TuneModel", "strategy": "Bayesian", "max_jobs": 3, "max_parallel": 2, "seed": 42,
        "objective": {"metric": "validation:auc", "type": "Maximize"}, "best": "TuneModel-002-0123abcd",
        "trials": [trial(1, 0.91, cached=True), trial(2, 0.93),
                   trial(3, None, status="Failed", failure="train: <out of memory> (container exit code 137)")],
    }
    (run_dir / "TuneModel").mkdir(parents=True, exist_ok=True)
    (run_dir / "TuneModel" / "trials.json").write_text(json.dumps(document))
    (run_dir / "TuneModel" / "TuneModel-002-0123abcd").mkdir()
    (run_dir / "TuneModel" / "TuneModel-002-0123abcd" / "logs.txt").write_text("[0]\tvalidation-auc:0.93\n")
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["tuning"] = document
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return document


def test_the_tuning_section_plots_and_lists_every_trial(finished_run):
    _with_trials(finished_run)
    page = build_report(finished_run)
    assert "<h2>Tuning</h2>" in page and "TuneModel: validation:auc per trial" in page
    assert "TuneModel ran 3 training job(s) (strategy Bayesian, up to 2 at a time, seed 42)" in page
    assert "Best: <b>TuneModel-002-0123abcd</b>, validation:auc 0.93000, with max_depth=5 eta=0.02235" in page
    table = page[page.index("<h2>Tuning</h2>"):]
    assert "<td><b>TuneModel-002-0123abcd</b></td>" in table and "<td>0.01235</td>" in table  # four significant digits
    assert "Failed: train: &lt;out of memory&gt; (container exit code 137)" in table  # escaped
    assert '<a href="TuneModel/TuneModel-002-0123abcd/logs.txt">log</a>' in table
    assert page.count('<img alt="') == 6  # the tuning plot besides the five others


def test_a_run_without_trials_has_no_tuning_section(finished_run):
    assert "<h2>Tuning</h2>" not in build_report(finished_run)


def test_the_tuning_plot_marks_the_best_so_far_and_the_trials_without_an_objective():
    from churn.report import tuning_plot

    trials = [{"number": 1, "objective": 0.9}, {"number": 2, "objective": None}, {"number": 3, "objective": 0.95}]
    assert tuning_plot(trials, "validation:auc") != tuning_plot([trials[0], trials[2]], "validation:auc")
    assert tuning_plot([{"number": 1, "objective": None}], "validation:auc")  # nothing scored: still a plot


@pytest.mark.parametrize(
    "change, says",
    [
        (lambda d: d.__setitem__("best", "TuneModel-001-0123abcd"), "summary.json: tuning.best is 'TuneModel-001-0123abcd', but the objectives rank 'TuneModel-002-0123abcd' first"),
        (lambda d: d["trials"][0].__setitem__("objective", float("nan")), "summary.json: tuning.trials[0].objective must be a finite number or null, got nan"),
        (lambda d: d["trials"][1].__setitem__("objective", "0.99"), "summary.json: tuning.trials[1].objective must be a finite number or null, got '0.99'"),
        (lambda d: d.__setitem__("trials", "abc"), "summary.json: tuning.trials must be a list, got 'abc'"),
        (lambda d: d["trials"][0].__setitem__("hyperparameters", [1, 2]), "summary.json: tuning.trials[0].hyperparameters must be an object of texts"),
    ],
)
def test_a_report_of_forged_or_damaged_trials_is_one_error_line_naming_the_key(finished_run, change, says):
    """A forged best is never shown as the best, a non-finite objective never as a result, and a
    record of the wrong shape is no internal error: `churn report` names the key and its value."""
    document = _with_trials(finished_run)
    change(document)
    summary = json.loads((finished_run / "summary.json").read_text())
    summary["tuning"] = document
    (finished_run / "summary.json").write_text(json.dumps(summary))
    done = subprocess.run([sys.executable, "-m", "churn.cli", "report", str(finished_run)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if "sagemaker.config" not in line]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert lines[0].startswith(f"error: cannot build the report of {finished_run}: a file of the run is damaged (TuningError: {says}"), lines[0]
    assert not (finished_run / "report.html").exists()


def test_a_damaged_trials_json_is_left_out_of_the_summary(finished_run, caplog):
    from churn.summary import tuning_record

    document = _with_trials(finished_run)
    assert tuning_record(finished_run) == document
    document["best"] = "TuneModel-001-0123abcd"  # not the best trial
    (finished_run / "TuneModel" / "trials.json").write_text(json.dumps(document))
    assert tuning_record(finished_run) is None
    assert "trials.json is damaged, left out of the summary: " in caplog.text and ".best is 'TuneModel-001-0123abcd', but the objectives rank 'TuneModel-002-0123abcd' first" in caplog.text
