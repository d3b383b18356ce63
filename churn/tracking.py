"""Experiment tracking: a finished run folder logged as one MLflow run (``pip install churn[mlflow]``).

What a run folder holds is the same for both backends (``summary.json``, ``selection.json``,
``evaluation.json``, ``report.html``, the winner's ``model.tar.gz``, each training step's
``metrics.json``), so local and cloud runs are tracked alike, right after they finish
(``churn run --track URI``) or later (``churn track RUN``).

One MLflow run per execution, in the experiment ``churn`` (or another name), named by the
execution id and tagged ``churn.execution_id``: tracking the same execution again finds that run
and logs nothing twice. Logged:

* parameters: the pipeline parameters the run ran with;
* metrics: the winner's test metrics (``test_auc``), every candidate's (``xgboost.test_auc``), and
  each candidate's training curves per round (``xgboost.train_auc``, ``xgboost.validation_auc``,
  step = round; MLflow metric names cannot hold ``:``);
* tags: ``churn.execution_id``, ``churn.status``, ``churn.winner``, ``churn.pipeline_version``
  (the first 12 hex digits of the definition's sha256, as ``churn versions`` names it),
  ``churn.definition_sha256``, ``churn.input_sha256``, ``churn.backend``, ``churn.version``;
* artifacts: ``report.html``, ``summary.json``, ``definition.json``, ``evaluation.json``,
  ``selection.json`` and ``model/model.tar.gz`` (the winner), those the run has;
* status: FINISHED for a succeeded run, FAILED for a failed one, KILLED for a stopped one, with
  the run's own start and end times.

Tracking never fails a run: :func:`track_run` turns any failure (mlflow not installed, a server
that does not answer, a bad URI) into one ``warning: tracking: …`` line on stderr and returns
None. mlflow is imported only here, inside the functions, so churn works without it.

A SageMaker managed MLflow tracking server is named by its ARN, which MLflow resolves through
AWS's plugin (``pip install sagemaker-mlflow``); the plugin's request signer reads MLflow's
process-wide tracking URI, so the URI is set there too (and put back afterwards).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

from churn.layout import ARTIFACTS
from churn.summary import SUMMARY_FILE, RunSummary, SummaryError, read_summary
from churn.training_metrics import METRICS_FILE, read_series

#: The experiment runs are logged to unless another is named.
DEFAULT_EXPERIMENT = "churn"
#: The environment variables MLflow reads (``churn run`` tracks where the first names, when set).
TRACKING_URI_VARIABLE, EXPERIMENT_VARIABLE = "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME"
#: The tag that names the churn execution an MLflow run logs.
EXECUTION_TAG = "churn.execution_id"
#: Set last: a run without it was left half-logged (tracking interrupted) and is logged again.
COMPLETE_TAG = "churn.tracking"
#: churn's run status -> MLflow's.
STATUSES = {"Succeeded": "FINISHED", "Failed": "FAILED", "Stopped": "KILLED"}
#: Files of the run folder logged as artifacts: path in the run folder -> folder in the MLflow run
#: ("" for its root).
ARTIFACT_FILES = {
    "report.html": "", SUMMARY_FILE: "", "definition.json": "",
    ARTIFACTS["evaluation"]: "", ARTIFACTS["selection"]: "", ARTIFACTS["model"]: "model",
}
#: A SageMaker managed MLflow tracking server (or MLflow app), named by its ARN.
SAGEMAKER_ARN = re.compile(r"arn:aws[a-z-]*:sagemaker:[^:]*:[0-9]*:mlflow-[a-z-]+/.+")
PLUGIN = "sagemaker-mlflow"
#: What MLflow's HTTP client does unless told otherwise (MLflow's own defaults retry an unreachable
#: server for about four minutes): a few quick retries, so a server that does not answer costs a
#: run seconds, not minutes. Set the variables to change them.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
}
#: Loggers whose lines tracking keeps off the terminal (its outcome is one line).
_QUIET_LOGGERS = ("mlflow", "urllib3", "alembic", "sqlalchemy", "botocore", "git")
#: The experiment tag MLflow 3's UI reads to show runs (traditional ML) rather than GenAI pages.
EXPERIMENT_KIND, MODEL_TRAINING = "mlflow.experimentKind", "custom_model_development"
#: MLflow's limits on one log_batch call.
_BATCH_METRICS, _BATCH_PARAMS = 1000, 100


class TrackingError(RuntimeError):
    """Tracking failed; the message (one line) says why."""


@dataclass(frozen=True)
class Tracked:
    run_id: str
    experiment_id: str
    #: The execution had been tracked before: nothing was logged this time.
    existing: bool = False


def tracking_uri(option: str | None, environ: dict | None = None) -> str | None:
    """Where ``churn run`` tracks: ``--track``, else ``MLFLOW_TRACKING_URI`` when set, else nowhere."""
    if option:
        return option
    value = (os.environ if environ is None else environ).get(TRACKING_URI_VARIABLE, "").strip()
    return value or None


def experiment_name(option: str | None, environ: dict | None = None) -> str:
    """``--track-experiment``, else ``MLFLOW_EXPERIMENT_NAME`` when set, else ``churn``."""
    value = option or (os.environ if environ is None else environ).get(EXPERIMENT_VARIABLE, "").strip()
    return value or DEFAULT_EXPERIMENT


def track_run(run_dir: Path, uri: str, experiment: str = DEFAULT_EXPERIMENT) -> str | None:
    """Log the finished run folder ``run_dir`` to the MLflow tracking store ``uri``; the MLflow
    run id, or None after one ``warning: tracking: …`` line on stderr. Never raises (Ctrl-C aside)."""
    try:
        return log_run(run_dir, uri, experiment).run_id
    except TrackingError as error:
        print(f"warning: tracking: {error}", file=sys.stderr, flush=True)
        return None


def log_run(run_dir: Path, uri: str, experiment: str = DEFAULT_EXPERIMENT) -> Tracked:
    """Log the finished run folder ``run_dir`` as one MLflow run; :class:`TrackingError` (one
    line) on any failure."""
    try:
        summary = read_summary(Path(run_dir))
    except SummaryError as error:
        raise TrackingError(str(error)) from None
    except (KeyError, TypeError, ValueError) as error:  # a summary.json edited by hand
        raise TrackingError(f"{Path(run_dir) / SUMMARY_FILE} is damaged ({type(error).__name__}: {_one_line(error)})") from None
    try:
        with _quiet():
            if not _importable("mlflow"):
                raise TrackingError("mlflow is not installed: pip install churn[mlflow]")
            if SAGEMAKER_ARN.fullmatch(uri) and not _importable("sagemaker_mlflow"):
                raise TrackingError(f"{uri} is a SageMaker managed MLflow tracking server, which needs AWS's plugin: pip install {PLUGIN}")
            # Again: importing MLflow set its loggers' levels (and a handler on the real stderr).
            with _quiet(), _environment(uri), _process_tracking_uri(uri):
                return _log(Path(run_dir), summary, uri, experiment)
    except TrackingError:
        raise
    except Exception as error:  # noqa: BLE001 - whatever MLflow raises (server, store, URI, a broken install) is one line
        raise TrackingError(redacted(f"{uri}: {_reason(error)}")) from None


def _log(run_dir: Path, summary: RunSummary, uri: str, experiment: str) -> Tracked:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client = MlflowClient(tracking_uri=uri)
    experiment_id = _experiment(client, uri, experiment)
    for earlier in client.search_runs([experiment_id], f"tags.`{EXECUTION_TAG}` = '{_quoted(summary.execution_id)}'", max_results=10):
        if earlier.data.tags.get(COMPLETE_TAG) == "complete":
            return Tracked(earlier.info.run_id, experiment_id, existing=True)
        client.delete_run(earlier.info.run_id)  # half-logged by an interrupted tracking: log it anew

    started = _millis(summary.started_at)
    finished = _millis(summary.finished_at) or started or int(time.time() * 1000)
    run = client.create_run(experiment_id, start_time=started, tags=run_tags(summary), run_name=summary.execution_id)
    run_id = run.info.run_id
    params = [Param(name, _param_value(value)) for name, value in sorted(summary.parameters.items())]
    metrics = [Metric(name, value, finished, step) for name, value, step in run_metrics(run_dir, summary)]
    for start in range(0, len(params), _BATCH_PARAMS):
        client.log_batch(run_id, params=params[start:start + _BATCH_PARAMS])
    for start in range(0, len(metrics), _BATCH_METRICS):
        client.log_batch(run_id, metrics=metrics[start:start + _BATCH_METRICS])
    for relative, folder in ARTIFACT_FILES.items():
        if (run_dir / relative).is_file():
            client.log_artifact(run_id, str(run_dir / relative), folder or None)
    client.log_batch(run_id, tags=[RunTag(COMPLETE_TAG, "complete")])
    client.set_terminated(run_id, STATUSES.get(summary.status, "FAILED"), end_time=finished)
    return Tracked(run_id, experiment_id)


def run_tags(summary: RunSummary) -> dict[str, str]:
    """The MLflow run's tags (a value churn does not know is left out)."""
    model = summary.registered_model
    tags = {
        EXECUTION_TAG: summary.execution_id,
        "churn.status": summary.status,
        "churn.winner": summary.winner,
        "churn.pipeline_version": (summary.definition_sha256 or "")[:12] or None,
        "churn.definition_sha256": summary.definition_sha256,
        "churn.input_sha256": summary.input_sha256,
        "churn.backend": summary.backend,
        "churn.version": summary.churn_version,
        "churn.resumed_from": summary.resumed_from,
        "churn.registered_model": f"{model.group}:{model.version}" if model else None,
        "churn.failure_reason": (summary.failure_reason or "")[:4000] or None,
        # The run's description in MLflow's UI.
        "mlflow.note.content": (summary.selection or {}).get("summary") or summary.failure_reason,
    }
    return {name: str(value) for name, value in tags.items() if value is not None}


def run_metrics(run_dir: Path, summary: RunSummary) -> list[tuple[str, float, int]]:
    """(name, value, step) of every metric logged: the winner's test metrics, each candidate's,
    and the training curves (one value per round)."""
    found = [(f"test_{name}", float(value), 0) for name, value in summary.metrics.items()]
    for candidate, record in ((summary.selection or {}).get("candidates") or {}).items():
        if isinstance(record, dict):
            found += [(f"{candidate}.test_{name}", float(value), 0) for name, value in (record.get("metrics") or {}).items()]
    names = training_steps(run_dir)
    for step in summary.steps:
        for series, values in sorted(read_series(run_dir / step.name / METRICS_FILE).items()):
            key = f"{names.get(step.name, step.name)}.{_metric_name(series)}"
            found += [(key, value, index) for index, value in enumerate(values)]
    return [(_metric_name(name), value, step) for name, value, step in found]


def training_steps(run_dir: Path) -> dict[str, str]:
    """Training step -> the candidate it trains, as the compiled definition says (SelectModel's
    input ``<candidate>-model`` reads that step's model); empty when the definition is unreadable."""
    from churn.definition import candidate_steps

    return {step: candidate for candidate, step in candidate_steps(run_dir, "model").items()}


def _experiment(client, uri: str, name: str) -> str:
    """The experiment's id, made when missing (a deleted one is restored). A new experiment of a
    SQLite store keeps its artifacts beside the database (``<db>-artifacts``), not in the folder
    churn happens to run in."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        if found.lifecycle_stage == "deleted":
            client.restore_experiment(found.experiment_id)
        return found.experiment_id
    database = sqlite_path(uri)
    location = None
    if database is not None:
        location = database.parent.resolve().joinpath(f"{database.stem}-artifacts").as_uri()
    # MLflow 3's UI opens an experiment of this kind on its runs table (else on its GenAI pages).
    return client.create_experiment(name, artifact_location=location, tags={EXPERIMENT_KIND: MODEL_TRAINING})


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///…`` URI (relative, or absolute with four slashes)."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def local_folder(uri: str) -> Path | None:
    """The folder of a file store: ``file:…`` or a plain path (not a URI of another scheme)."""
    if uri.startswith("file:"):
        return Path(unquote(urlparse(uri).path))
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", uri):
        return None
    return Path(uri)


@contextlib.contextmanager
def _environment(uri: str) -> Iterator[None]:
    """MLflow's settings for this tracking, put back afterwards: quick retries (unless set), a
    folder store allowed (MLflow keeps its file store in maintenance mode and refuses it unless
    asked: a folder given to churn is asked for), a SQLite database's folder made."""
    wanted = {name: value for name, value in HTTP_DEFAULTS.items() if name not in os.environ}
    folder = local_folder(uri)
    if folder is not None:
        wanted["MLFLOW_ALLOW_FILE_STORE"] = "true"
    database = sqlite_path(uri)
    if database is not None:
        database.parent.mkdir(parents=True, exist_ok=True)
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _process_tracking_uri(uri: str) -> Iterator[None]:
    """``mlflow.set_tracking_uri(uri)`` for the duration (AWS's plugin signs requests for the
    server that URI names), then MLflow's previous URI and ``MLFLOW_TRACKING_URI`` as they were."""
    import importlib

    import mlflow

    try:  # where MLflow keeps it (set_tracking_uri(previous) would also set the variable)
        tracking_utils = importlib.import_module("mlflow.tracking._tracking_service.utils")
    except ImportError:
        tracking_utils = None
    previous = getattr(tracking_utils, "_tracking_uri", None)
    variable = os.environ.get(TRACKING_URI_VARIABLE)
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        if tracking_utils is not None:
            setattr(tracking_utils, "_tracking_uri", previous)  # noqa: B010 - a private attribute of MLflow's, named as such
        if variable is None:
            os.environ.pop(TRACKING_URI_VARIABLE, None)
        else:
            os.environ[TRACKING_URI_VARIABLE] = variable


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No library log lines or Python warnings while tracking: its outcome is one line."""
    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _importable(module: str) -> bool:
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def _millis(timestamp: str | None) -> int | None:
    if not timestamp:
        return None
    try:
        return int(datetime.fromisoformat(timestamp).timestamp() * 1000)
    except ValueError:
        return None


def _metric_name(name: str) -> str:
    """A name MLflow accepts (letters, digits, ``_ - . / space``): anything else becomes ``_``."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]", "_", name)


def _param_value(value: object) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def redacted(uri: str) -> str:
    """The URI (or a text holding URIs) without a password (``https://user:secret@host`` -> ``https://user:***@host``)."""
    return re.sub(r"(//[^/:@\s'\"]+:)[^/@\s'\"]+@", r"\1***@", uri)


def _reason(error: BaseException) -> str:
    """Why tracking failed, in one line: a server that cannot be reached says so and why (the
    innermost cause: ``[Errno 111] Connection refused``), not the whole chain of HTTP wrappers."""
    chain: list[BaseException] = []
    link: BaseException | None = error
    while link is not None and link not in chain:
        chain.append(link)
        link = link.__cause__ or link.__context__
    unreachable = next((e for e in reversed(chain) if isinstance(e, (ConnectionError, TimeoutError, socket.gaierror))), None)
    if unreachable is not None or "Max retries exceeded" in str(error):
        return f"cannot reach the tracking server ({_one_line(unreachable or chain[-1])})"
    return _one_line(error)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."
