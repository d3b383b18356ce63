"""``report.html``: one self-contained page that shows how a run went, without reading logs.

The step graph (SVG) with each step's status, duration and log, the data (split sizes, class
balance), the parameters, the metrics at the stated decision threshold, and plots embedded as
PNG: every candidate's ROC and precision-recall curves overlaid, the training curves (per-round
metrics read from the training logs), the confusion matrix and the feature importance. Built
from the run folder alone (summary.json, definition.json, the evaluation.json files, each step's
logs.txt and metrics.json, the manifest and the model), so `churn report RUN` can rebuild it any
time, for local and cloud runs alike. Readable at phone width.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
from pathlib import Path

from churn.files import file_sha256
from churn.layout import CACHE_DIR, PLOTS_DIR, STEP_LOG, TUNE_STEP
from churn.rules import DECISION_THRESHOLD, METRIC_NAMES
from churn.model_io import ModelArtifactError
from churn.registry import Registry
from churn.summary import ARTIFACTS, RegisteredModel, RunSummary, StepRecord, read_summary
from churn.atomic import write_lines_atomically
from churn.sizing import describe
from churn.training_metrics import METRICS_FILE, read_series
from churn.tuning import best_trial

REPORT_FILE = "report.html"
TOP_FEATURES = 15
#: The candidates' colours, in the selection's order (the winner is drawn thicker).
_COLOURS = ("#1565c0", "#e65100", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457")


def _png(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight", dpi=100)
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _figure(width: float = 4.6, height: float = 3.6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(width, height))


def roc_plot(curves: dict[str, dict], winner: str | None = None) -> str:
    """The ROC curves of ``curves`` (name -> binary_classification_metrics), overlaid."""
    figure, axes = _figure()
    for (name, metrics), colour in zip(curves.items(), _COLOURS):
        curve = metrics["receiver_operating_characteristic_curve"]
        axes.plot(curve["false_positive_rates"], curve["true_positive_rates"], color=colour, linewidth=2.4 if name == winner else 1.4,
                  label=f"{name}: AUC {metrics['auc']['value']:.3f}")
    axes.plot([0, 1], [0, 1], linestyle="--", color="#9e9e9e", linewidth=1)
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curves (test split)", xlim=(0, 1), ylim=(0, 1.01))
    axes.legend(loc="lower right", fontsize=8)
    return _png(figure)


def precision_recall_plot(curves: dict[str, dict], winner: str | None = None) -> str:
    """The precision-recall curves of ``curves``, overlaid, each with its point at the decision
    threshold."""
    figure, axes = _figure()
    for (name, metrics), colour in zip(curves.items(), _COLOURS):
        curve = metrics["precision_recall_curve"]
        axes.plot(curve["recalls"], curve["precisions"], color=colour, linewidth=2.4 if name == winner else 1.4, label=name)
        axes.plot([metrics["recall"]["value"]], [metrics["precision"]["value"]], marker="o", color=colour)
    axes.set(xlabel="recall", ylabel="precision", title=f"Precision-recall curves (dot: threshold {DECISION_THRESHOLD:g})",
             xlim=(0, 1), ylim=(0, 1.01))
    axes.legend(loc="lower left", fontsize=8)
    return _png(figure)


def training_curves_plot(step: str, series: dict[str, list[float]]) -> str:
    """One training step's metrics per round (``train:auc``, ``validation:auc``)."""
    figure, axes = _figure(5.2, 3.4)
    for (name, values), colour in zip(sorted(series.items()), _COLOURS):
        axes.plot(range(len(values)), values, color=colour, label=name)
    axes.set(xlabel="round", ylabel="value", title=f"{step}: metrics per round (from its log)")
    axes.legend(loc="lower right", fontsize=8)
    return _png(figure)


def tuning_plot(trials: list[dict], metric: str, maximize: bool = True) -> str:
    """The tuning job's objective per trial (in the order they were created), the best so far as
    a line, and the trials that reported none marked at the bottom."""
    figure, axes = _figure(5.2, 3.4)
    scored = [(t["number"], t["objective"]) for t in trials if t.get("objective") is not None]
    if scored:
        numbers, values = zip(*scored)
        axes.scatter(numbers, values, color=_COLOURS[0], zorder=3, label="trial")
        best, line = None, []
        for value in values:
            best = value if best is None or (value > best if maximize else value < best) else best
            line.append(best)
        axes.step(numbers, line, where="post", color=_COLOURS[1], label="best so far")
    unscored = [t["number"] for t in trials if t.get("objective") is None]
    if unscored:
        bottom = min(v for _, v in scored) if scored else 0.0
        axes.scatter(unscored, [bottom] * len(unscored), marker="x", color="#c62828", zorder=3, label="failed / no objective")
    axes.set(xlabel="trial", ylabel=metric, title=f"TuneModel: {metric} per trial")
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend(loc="lower right", fontsize=8)
    return _png(figure)


def confusion_plot(metrics: dict) -> str:
    matrix = metrics["confusion_matrix"]
    cells = [[matrix["0"]["0"], matrix["0"]["1"]], [matrix["1"]["0"], matrix["1"]["1"]]]
    figure, axes = _figure(3.8, 3.4)
    axes.imshow(cells, cmap="Blues")
    for row in range(2):
        for column in range(2):
            axes.text(column, row, str(cells[row][column]), ha="center", va="center", fontsize=14,
                      color="white" if cells[row][column] > max(max(cells)) / 2 else "black")
    axes.set_xticks([0, 1], ["stays", "churns"])
    axes.set_yticks([0, 1], ["stays", "churns"])
    axes.set(xlabel="predicted", ylabel="actual", title="Confusion matrix (test split)")
    return _png(figure)


def feature_importance_plot(model_archive: Path, feature_names: list[str]) -> str:
    """The top features' importances; ``ModelArtifactError`` when the model cannot be loaded
    safely (a pickle is never unpickled here, whatever the run folder holds)."""
    from churn.model_io import load_booster

    booster = load_booster(model_archive, allow_pickle=False)
    linear = json.loads(booster.save_config())["learner"]["gradient_booster"]["name"] == "gblinear"
    if linear:  # the logistic-regression baseline: a weight per feature, no splits
        scores = {key: abs(value) for key, value in booster.get_score(importance_type="weight").items()}  # type: ignore[arg-type]  # one output: a float per feature
        label = "|weight| per unit of the feature (logistic regression)"
    else:
        scores = booster.get_score(importance_type="gain")  # type: ignore[assignment]  # a float per feature
        label = "average gain per split"
    named = sorted(((feature_names[int(key[1:])], value) for key, value in scores.items()), key=lambda item: item[1])[-TOP_FEATURES:]
    figure, axes = _figure(5.6, 0.32 * len(named) + 1.2)
    axes.barh([name for name, _ in named], [value for _, value in named], color="#6a1b9a")
    axes.set(xlabel=label, title=f"Feature importance (top {len(named)})")
    return _png(figure)


def step_graph_plot(run_dir: Path, steps: tuple[StepRecord, ...]) -> str | None:
    from churn.graph import graph_from_definition, render

    definition_file = run_dir / "definition.json"
    if not definition_file.is_file():
        return None
    graph = graph_from_definition(json.loads(definition_file.read_text()))
    statuses = {step.name: step for step in steps}
    # A run of an older churn registered outside its definition's graph: its step is drawn after
    # the step recorded before it.
    for before, step in zip(steps, steps[1:]):
        if step.name not in graph.nodes and step.status != "NotStarted" and before.name in graph.nodes:
            graph.nodes.append(step.name)
            graph.edges.append((before.name, step.name, ""))
    # SVG written directly: milliseconds, no matplotlib (half a second to load for a replay's
    # report), so not kept in the plots cache.
    return base64.b64encode(render(graph, statuses, fmt="svg")).decode()


def _table(rows: list[tuple], header: tuple) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _image(data: str | None, alt: str, mime: str = "image/png") -> str:
    return f'<figure><img alt="{html.escape(alt)}" src="data:{mime};base64,{data}"><figcaption>{html.escape(alt)}</figcaption></figure>' if data else ""


_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:72rem;color:#212121;padding:0 1rem;overflow-wrap:break-word}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.status{display:inline-block;padding:.15rem .6rem;border-radius:.8rem;font-weight:600;white-space:nowrap}
.Succeeded{background:#c8e6c9}.Failed{background:#ffcdd2}.Stopped,.Executing{background:#fff9c4}
table{border-collapse:collapse;margin:.5rem 0} td,th{border:1px solid #ddd;padding:.3rem .7rem;text-align:left}
th{background:#f5f5f5} figure{display:inline-block;margin:.5rem 1rem .5rem 0} figcaption{font-size:.8rem;color:#757575}
img{max-width:100%} .failure{background:#ffebee;border-left:4px solid #c62828;padding:.6rem 1rem;white-space:pre-wrap}
.muted{color:#757575;font-size:.9rem} .wide{overflow-x:auto;max-width:100%}
@media (max-width:40rem){body{margin:1rem auto;padding:0 .5rem} figure{display:block;margin:.5rem 0} td,th{padding:.25rem .4rem}}
"""


def _memoised(run_dir: Path, kind: str, inputs: list[Path], make) -> str:
    """A plot's PNG (base64), reused from ``runs/.cache/plots`` when its input files are the same
    bytes (a cached re-run has the same model and evaluation.json: no plotting, no xgboost)."""
    cache = run_dir.parent / CACHE_DIR
    if not cache.is_dir():
        return make()
    digest = hashlib.sha256(kind.encode())
    for path in inputs:
        digest.update(bytes.fromhex(file_sha256(path)))
    stored = cache / PLOTS_DIR / f"{digest.hexdigest()[:32]}.b64"
    if stored.is_file():
        os.utime(stored)  # its last use: `churn cache prune` removes the plots no report used lately
        return stored.read_text().strip()
    data = make()
    write_lines_atomically(stored, [data])
    return data


def _data_section(manifest_file: Path, local: bool = False) -> list[str]:
    """The input's layout (its dataset spec), class balance, split and training instance type,
    from the run's manifest (``local``: a local run's)."""
    if not manifest_file.is_file():
        return []
    manifest = json.loads(manifest_file.read_text())
    if not isinstance(manifest, dict):
        return []

    def part(key: str, kind: type):
        value = manifest.get(key)
        return value if isinstance(value, kind) else None  # a damaged manifest loses a line, not the report

    spec, counts, rows = part("dataset", dict), part("label_counts", dict), part("rows", dict)
    lines = []
    if spec:
        label = spec["label"]
        lines.append(
            f"Dataset spec <b>{html.escape(str(spec['name']))}</b>: label <code>{html.escape(str(label['column']))}</code> "
            f"({html.escape(', '.join(map(str, label['positive'])))} = churned), {len(spec['columns'])} feature columns, "
            f"{len(manifest.get('feature_names', []))} model features"
            + (f"; left out: {html.escape(', '.join(map(str, manifest['ignored_columns'])))}" if manifest.get("ignored_columns") else "")
        )
    if counts:
        total = counts["1"] + counts["0"]
        lines.append(f"Class balance: {counts['1']} churned, {counts['0']} stayed ({counts['1'] / total:.1%} churned) of {total} rows")
    missing = part("missing_counts", dict)
    if missing:
        lines.append(
            "Missing values: " + ", ".join(f"{html.escape(str(name))} {html.escape(str(count))}" for name, count in missing.items())
            + " (a missing number reaches XGBoost as missing and the logistic regression as 0; a missing category is all zeros)"
        )
    if rows:
        lines.append("Split: " + ", ".join(f"{html.escape(str(name))} {html.escape(str(count))}" for name, count in rows.items()) + " rows")
    sizing = describe(part("sizing", dict) or {}, local)
    if sizing:
        lines.append(f"Training instance: {html.escape(sizing)}")
    return ["<h2>Data</h2>", *(f"<p>{line}</p>" for line in lines)] if lines else []


def candidate_evaluations(run_dir: Path) -> dict[str, Path]:
    """Candidate name -> its evaluation.json in the run folder, in the selection's order (the
    compiled definition says which step wrote each); a candidate turned off or not run has none."""
    from churn.definition import candidate_steps

    found = {name: run_dir / step / "evaluation" / "evaluation.json" for name, step in candidate_steps(run_dir, "evaluation").items()}
    return {name: path for name, path in found.items() if path.is_file()}


def _curves_of(path: Path) -> dict | None:
    """An evaluation.json's metrics when they hold both curves (a damaged candidate's file is
    left out of the plots, not the reason the report fails)."""
    try:
        metrics = json.loads(path.read_text())["binary_classification_metrics"]
        for key, fields in (("receiver_operating_characteristic_curve", ("false_positive_rates", "true_positive_rates")),
                            ("precision_recall_curve", ("recalls", "precisions"))):
            if not all(isinstance(metrics[key][field], list) for field in fields):
                return None
        float(metrics["auc"]["value"]), float(metrics["recall"]["value"]), float(metrics["precision"]["value"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return metrics


def _training_section(run_dir: Path, steps: tuple[StepRecord, ...]) -> list[str]:
    """Each training step's metrics per round, drawn when there are several, else stated."""
    parts, stated = [], []
    for step in steps:
        path = run_dir / step.name / METRICS_FILE
        series = {name: values for name, values in read_series(path).items() if values}
        if not series:
            continue
        if max(map(len, series.values())) > 1:
            plot = _memoised(run_dir, f"training:{step.name}", [path], lambda name=step.name, drawn=series: training_curves_plot(name, drawn))
            parts.append(_image(plot, f"{step.name}: training curves"))
        else:
            stated.append(f"{html.escape(step.name)}: " + ", ".join(f"{html.escape(n)} {v[-1]:.4f}" for n, v in sorted(series.items())))
    if stated:
        parts.append("<p>" + "; ".join(stated) + " (one value: no rounds)</p>")
    return ["<h2>Training</h2>", "<p class=\"muted\">Read from each training log by the estimator's metric definitions, as "
            "SageMaker reads them.</p>", *parts] if parts else []


def _short(value) -> str:
    """A hyperparameter for reading: four significant digits (the run folder keeps every digit)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(value) if number.is_integer() else f"{number:.4g}"


def _tuning_section(run_dir: Path, tuning: dict | None) -> list[str]:
    """The tuning job's trials: settings, the best trial's hyperparameters, a plot of the
    objective over trials and one row per trial (with its log)."""
    if not tuning or not tuning.get("trials"):
        return []
    trials = tuning["trials"]
    objective = tuning.get("objective") or {}
    metric, maximize = str(objective.get("metric") or "objective"), objective.get("type") != "Minimize"
    names = list(dict.fromkeys(name for t in trials for name in t.get("hyperparameters") or {}))
    best = best_trial(tuning)
    # Memoised by what the plot shows (trials.json also holds when each trial ran): a re-run whose
    # trials all came from the cache draws the same picture.
    drawn = json.dumps([metric, maximize, [(t["number"], t.get("objective")) for t in trials]])
    plot = _memoised(run_dir, f"tuning:{drawn}", [], lambda: tuning_plot(trials, metric, maximize))
    rows = []
    for t in trials:
        won = best is not None and t is best
        cells = [html.escape(str(t.get("number"))), html.escape(str(t.get("job"))),
                 *(html.escape(_short((t.get("hyperparameters") or {}).get(n, ""))) for n in names),
                 "" if t.get("objective") is None else f"{t['objective']:.5f}",
                 "" if t.get("seconds") is None else f"{t['seconds']:.1f} s",
                 html.escape(str(t.get("status"))) + (f": {html.escape(str(t['failure']))}" if t.get("failure") else ""),
                 "yes" if t.get("cached") else "", _log_link(run_dir, f"{TUNE_STEP}/{t.get('job')}")]
        rows.append(tuple(f"<b>{c}</b>" if won and c else c for c in cells))
    said = (
        f"<p>{TUNE_STEP} ran {len(trials)} training job(s) (strategy {html.escape(str(tuning.get('strategy')))}, "
        f"up to {html.escape(str(tuning.get('max_parallel')))} at a time, seed {html.escape(str(tuning.get('seed')))}), each "
        f"with the hyperparameters the search proposed, for the {'highest' if maximize else 'lowest'} "
        f"<b>{html.escape(metric)}</b> on the validation split."
    )
    if best is not None:
        said += (f" Best: <b>{html.escape(str(best['job']))}</b>, {html.escape(metric)} {best['objective']:.5f}, with "
                 + html.escape(" ".join(f"{k}={_short(v)}" for k, v in (best.get("hyperparameters") or {}).items()))
                 + "; its model is the xgboost-tuned candidate.")
    return ["<h2>Tuning</h2>", said + "</p>", _image(plot, f"{TUNE_STEP}: {metric} per trial"),
            _table(rows, ("trial", "job", *names, metric, "time", "status", "cached", "log"))]


def _log_link(run_dir: Path, step: str) -> str:
    relative = f"{step}/{STEP_LOG}"
    return f'<a href="{html.escape(relative)}">log</a>' if (run_dir / relative).is_file() else ""


def _registered_model(run_dir: Path, summary: RunSummary, model: RegisteredModel) -> str:
    """The registered version with its approval status now: the local registry's (beside the run
    folder), else the one the run recorded (a cloud run, a run folder moved away)."""
    now = Registry(run_dir.parent).current(model.group, model.version, summary.execution_id) if summary.backend == "local" else None
    status, description, as_of = (
        (now.approval_status, now.approval_description, now.updated_at) if now else (model.approval_status, None, summary.finished_at)
    )
    text = f"{html.escape(str(model.group))} version {html.escape(str(model.version))}"
    if status:
        text += f": <b>{html.escape(str(status))}</b>" + (f" ({html.escape(description)})" if description else "")
        text += f" <span class=\"muted\">(as of {html.escape(as_of)})</span>" if as_of else ""
    return f"<h2>Registered model</h2><p>{text}</p>"


def build_report(run_dir: Path) -> str:
    """The report page of a finished run, as HTML text."""
    summary = read_summary(run_dir)
    evaluation_file = run_dir / ARTIFACTS["evaluation"]
    metrics = json.loads(evaluation_file.read_text())["binary_classification_metrics"] if evaluation_file.is_file() else None
    manifest_file = run_dir / ARTIFACTS["manifest"]
    model_file = run_dir / ARTIFACTS["model"]

    status = html.escape(str(summary.status))
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>churn run {html.escape(summary.execution_id)}: {status}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>churn run {html.escape(summary.execution_id)} <span class=\"status {status}\">{status}</span></h1>",
        f"<p class=\"muted\">{html.escape(summary.backend)} backend · started {html.escape(str(summary.started_at))} · "
        f"{summary.duration_seconds} s · churn {html.escape(summary.churn_version)}"
        + (f" · resumed from {html.escape(summary.resumed_from)}" if summary.resumed_from else "") + "</p>",
    ]
    if summary.failure_reason:
        parts.append(f"<div class=\"failure\">{html.escape(summary.failure_reason)}</div>")
    parts += _data_section(manifest_file, local=summary.backend == "local")
    parts += ["<h2>Steps</h2>", _image(step_graph_plot(run_dir, summary.steps), "Step graph with each step's status and duration", "image/svg+xml")]
    parts.append(
        _table(
            [
                (html.escape(s.name), f"<span class=\"status {html.escape(s.status)}\">{html.escape(s.status)}</span>",
                 "" if s.duration_seconds is None else f"{s.duration_seconds:.2f} s",
                 "yes" if s.cache_hit else "", _log_link(run_dir, s.name), html.escape(s.failure_reason or ""))
                for s in summary.steps
            ],
            ("step", "status", "duration", "cached", "log", "failure reason"),
        )
    )
    parts += _training_section(run_dir, summary.steps)
    parts += _tuning_section(run_dir, summary.tuning)
    selection = summary.selection
    if selection:
        metric = selection["metric"]
        rows = []
        for name, record in selection["candidates"].items():
            won = name == selection["winner"]
            trained = html.escape(" ".join(f"{k}={v}" for k, v in (record.get("hyperparameters") or {}).items()))
            if record["enabled"]:
                values = [f"{record['metrics'][m]:.4f}" for m in METRIC_NAMES]
                rows.append((f"<b>{html.escape(name)}</b>" if won else html.escape(name), *values, trained, "winner" if won else ""))
            else:
                rows.append((html.escape(name), *([""] * len(METRIC_NAMES)), trained, f"off: {html.escape(record['reason'])}"))
        parts += [
            f"<h2>Candidates</h2><p>Selected by the highest test <b>{html.escape(metric)}</b>: "
            f"<b>{html.escape(selection['winner'])}</b> won; the gate and registration apply to it.</p>",
            _table(rows, ("candidate", *METRIC_NAMES, "hyperparameters", "")),
        ]
    if metrics:
        winner = selection["winner"] if selection else None
        evaluations = {name: path for name, path in candidate_evaluations(run_dir).items() if _curves_of(path) is not None}
        evaluations = evaluations or {winner or "model": evaluation_file}
        curves = {name: _curves_of(path) or metrics for name, path in evaluations.items()}
        gate = summary.parameters.get("AccuracyThreshold")
        parts += [
            "<h2>Metrics of the winning model (test split)</h2>" if selection else "<h2>Metrics (test split)</h2>",
            f"<p>Decision threshold: a customer whose churn probability is at least <b>{DECISION_THRESHOLD:g}</b> is predicted to "
            "churn; accuracy, precision, recall, F1 and the confusion matrix are taken there (AUC and the curves are over every "
            "threshold)."
            + (f" The gate registers the winner when its accuracy is at least AccuracyThreshold <b>{html.escape(str(gate))}</b>."
               if gate is not None else "") + "</p>",
            _table(
                [(name, f"{metrics[name]['value']:.4f}", f"{metrics[name]['standard_deviation']:.4f}")
                 for name in METRIC_NAMES],
                ("metric", "value", "bootstrap standard deviation"),
            ),
            _image(_memoised(run_dir, f"roc-overlaid:{winner}", list(evaluations.values()), lambda: roc_plot(curves, winner)),
                   "ROC curves" + (" of the candidates" if len(curves) > 1 else "")),
            _image(_memoised(run_dir, f"pr-overlaid:{winner}", list(evaluations.values()), lambda: precision_recall_plot(curves, winner)),
                   "Precision-recall curves" + (" of the candidates" if len(curves) > 1 else "")),
            _image(_memoised(run_dir, "confusion", [evaluation_file], lambda: confusion_plot(metrics)), "Confusion matrix"),
        ]
    if model_file.is_file() and manifest_file.is_file():
        names = json.loads(manifest_file.read_text())["feature_names"]
        try:
            importance = _memoised(run_dir, "importance", [model_file, manifest_file], lambda: feature_importance_plot(model_file, names))
        except ModelArtifactError as error:  # the rest of the report stands; say why the plot is missing
            parts.append(f"<p class=\"muted\">No feature-importance plot: {html.escape(str(error))}</p>")
        else:
            parts.append(_image(importance, "Feature importance"))
    if summary.registered_model:
        parts.append(_registered_model(run_dir, summary, summary.registered_model))
    parts += [
        "<h2>Parameters</h2>",
        _table([(html.escape(k), html.escape(str(v))) for k, v in summary.parameters.items()], ("parameter", "value")),
        "<h2>Artifacts</h2>",
        _table([(html.escape(k), f'<a href="{html.escape(v)}">{html.escape(v)}</a>') for k, v in summary.artifacts.items()], ("artifact", "file")),
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(run_dir: Path) -> Path:
    path = run_dir / REPORT_FILE
    write_lines_atomically(path, [build_report(run_dir)])
    return path
