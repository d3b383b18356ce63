"""The ``churn`` command line."""

from __future__ import annotations

import contextlib
import json
import logging
import shlex
import sys
from typing import TYPE_CHECKING, NoReturn

import click

from churn import __version__
from churn.history import RUN_STATUSES
from churn.runner.containers import DEFAULT_RUNNER, RUNNERS

if TYPE_CHECKING:
    from churn.summary import RunSummary, StepRecord


def _parameter_overrides(pairs: tuple[str, ...]) -> dict:
    from churn.parameters import ParameterError, parse_overrides

    try:
        return parse_overrides(pairs)
    except ParameterError as error:
        raise click.BadParameter(str(error), param_hint="--param") from None


class _Churn(click.Group):
    """Every command's failures end in one ``error:`` line: an expected one (a file system
    error, say) says what and where; an unexpected one says where its traceback was written."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt):
            raise
        except OSError as error:
            where = f": {error.filename}" if error.filename else ""
            _fail(f"{error.strerror or error}{where}", 1)
        except Exception as error:  # noqa: BLE001 - a bug: its traceback goes to a file, not the terminal
            _fail(f"internal error ({type(error).__name__}: {str(error)[:200]}); the full traceback is in {_write_traceback()}", 1)


def _write_traceback() -> str:
    import os
    import tempfile
    import time
    import traceback
    from pathlib import Path

    path = Path(tempfile.gettempdir()) / f"churn-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    path.write_text(f"churn {__version__} {' '.join(sys.argv)}\n{traceback.format_exc()}")
    return str(path)


@click.group(cls=_Churn, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="churn")
def main() -> None:
    """churn: a local-first customer-churn pipeline on SageMaker Pipelines."""
    _quiet_logging()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record comes (the live display redirects it
    to print above itself; a test runner replaces it per call), not to the one of the first call."""

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class _LowercaseLevel(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace(record.levelname, record.levelname.lower(), 1)


def _quiet_logging() -> None:
    """Only warnings and errors reach the terminal (``warning: <logger>: …``), whatever level a
    library sets: a library calling ``logging.basicConfig(level=INFO)`` later finds the root
    logger configured and changes nothing (matplotlib's font cache note leaked so)."""
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setLevel(logging.WARNING)
        handler.setFormatter(_LowercaseLevel("%(levelname)s: %(name)s: %(message)s"))
        root.addHandler(handler)


def cloud_options(command):
    """The cloud backend's settings as flags (each also has an environment variable)."""
    for option in reversed(
        [
            click.option("--region", default=None, help="cloud: AWS region [env CHURN_AWS_REGION]."),
            click.option("--role-arn", default=None, help="cloud: SageMaker execution role [env CHURN_ROLE_ARN]."),
            click.option("--bucket", default=None, help="cloud: S3 bucket [env CHURN_S3_BUCKET]."),
            click.option("--prefix", default=None, help="cloud: S3 key prefix [env CHURN_S3_PREFIX, default churn]."),
            click.option("--cache-expiry", default=None, help="cloud: step cache expiry, ISO 8601 [env CHURN_CACHE_EXPIRY, default P30D]."),
        ]
    ):
        command = option(command)
    return command


def _backend_settings(backend, runs_dir, aws_images, region, role_arn, bucket, prefix, cache_expiry) -> dict:
    if backend == "local":
        return {"runs_dir": runs_dir, "aws_images_": aws_images}
    return {"region": region, "role_arn": role_arn, "bucket": bucket, "prefix": prefix, "cache_expiry": cache_expiry}


@main.command()
@click.option("--backend", type=click.Choice(["local", "cloud"]), default="local", show_default=True)
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Override a parameter's default (repeatable).")
@click.option("--runs-dir", default=None, help="local: the runs folder [default: $CHURN_RUNS_DIR or ./runs].")
@click.option("--aws-images", is_flag=True, help="local: use the official AWS images instead of the project's.")
@click.option("--no-tuning", is_flag=True, help="Compile without the tuning branch (TuneModel -> EvaluateTuned) and its Tuning* parameters.")
@cloud_options
def definition(backend, params, runs_dir, aws_images, no_tuning, region, role_arn, bucket, prefix, cache_expiry) -> None:
    """Print the pipeline definition JSON. Needs no AWS account and no network."""
    from churn.backends.cloud import CloudSettingsError
    from churn.definition import compile_definition
    from churn.parameters import ParameterError, check_tuning

    overrides = _parameter_overrides(params)
    try:
        check_tuning(overrides, not no_tuning)
    except ParameterError as error:
        _fail(str(error), 2)
    settings = _backend_settings(backend, runs_dir, aws_images, region, role_arn, bucket, prefix, cache_expiry)
    try:
        if backend == "cloud":
            from churn.backends.cloud import cloud_backend

            missing = cloud_backend(**settings).placeholders
            if missing:
                click.echo(f"note: placeholders stand in for unset cloud settings: {'; '.join(missing)}", err=True)
        document = compile_definition(backend, overrides, tuning=not no_tuning, **settings)
    except CloudSettingsError as error:
        _fail(str(error), 2)
    json.dump(document, sys.stdout, indent=2)
    sys.stdout.write("\n")


def outcome_lines(summary: RunSummary) -> list[str]:
    """What a finished run printed below its status line: candidates, the winner's
    hyperparameters, metrics, tuning trials, the training instance type and the registered version."""
    lines = []
    if summary.metrics:
        if summary.selection:
            lines.append(f"candidates (by {summary.selection['metric']}): {summary.selection['summary']}")
            if summary.selection.get("hyperparameters"):
                lines.append(f"winner's hyperparameters: {summary.selection['hyperparameters']}")
        lines.append("metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in summary.metrics.items()))
    if summary.tuning and summary.tuning.get("trials"):
        lines.append(f"tuning: {tuning_line(summary.tuning)}")
    from churn.sizing import describe

    sizing = describe(summary.sizing or {}, local=summary.backend == "local")
    if sizing:
        lines.append(f"training instance: {sizing}")
    if summary.registered_model:
        model = summary.registered_model
        status = f" ({model.approval_status})" if model.approval_status else ""
        lines.append(f"registered: {model.group} version {model.version}{status}")
    return lines


def tuning_line(tuning: dict) -> str:
    """``6 trials (Bayesian, 2 at a time), 0 failed, 2 cached; best validation:auc 0.92179: TuneModel-004-…``"""
    from churn.tuning import best_trial

    trials = tuning["trials"]
    failed = sum(t.get("objective") is None for t in trials)
    cached = sum(bool(t.get("cached")) for t in trials)
    best = best_trial(tuning)
    metric = (tuning.get("objective") or {}).get("metric") or "objective"
    line = f"{len(trials)} trials ({tuning.get('strategy')}, {tuning.get('max_parallel')} at a time), {failed} failed, {cached} cached"
    return line + (f"; best {metric} {best['objective']:.5f}: {best['job']}" if best else "; no trial reported the objective")


def _sigterm_as_ctrl_c() -> None:
    """A plain kill (SIGTERM: ``timeout``, ``docker stop``, the end of a CI job) stops a local run
    as Ctrl-C does: no new step or trial starts, the running jobs' containers are removed and the
    run folder is marked interrupted. (Python's default let the process die at once, its trial
    containers running on until the next run removed them.) The SIGINT handler in force decides,
    so a SIGTERM during the executor's deferred or ignored stretches is held or ignored as a
    Ctrl-C is; where SIGINT is ignored (a shell's background job), SIGTERM still stops the run.
    Its messages name SIGTERM, not Ctrl-C."""
    import os
    import signal

    from churn.runner import local_jobs

    def stop(signum, frame):
        local_jobs.interrupted_by = signal.Signals(signum).name
        if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
            raise KeyboardInterrupt
        os.kill(os.getpid(), signal.SIGINT)

    signal.signal(signal.SIGTERM, stop)


def failure_line(failed: list[StepRecord], execution_reason: str | None) -> str:
    """What failed, each failed step with its own reason (two branches can fail side by side)."""
    if len(failed) > 1:
        return f"{len(failed)} steps failed: " + "; ".join(f"{s.name}: {s.failure_reason or '?'}" for s in failed)
    if failed and failed[0].failure_reason:
        return f"step {failed[0].name} failed: {failed[0].failure_reason}"
    return f"step {failed[0].name if failed else '?'} failed: {execution_reason}"


def _fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _resume_target(reference: str, runs_dir):
    """``--resume``'s execution id and runs folder: ``latest`` (the newest failed, stopped,
    killed or interrupted run), a run folder (of this or another runs folder) or an id."""
    from pathlib import Path

    from churn.backends.local import DEFAULT_RUNS_DIR
    from churn.history import LATEST, RunReferenceError, latest_resumable
    from churn.layout import INTERRUPTED_SUFFIX

    try:
        folder = latest_resumable(Path(runs_dir) if runs_dir else DEFAULT_RUNS_DIR) if reference == LATEST else _run_folder(reference, runs_dir)
    except RunReferenceError as error:
        _fail(str(error), 2)
    if runs_dir is None:
        runs_dir = str(folder.parent)  # a folder of another runs folder resumes there
    elif folder.parent.resolve() != Path(runs_dir).resolve():
        _fail(f"--resume {reference} is not a run of --runs-dir {runs_dir}", 2)
    return folder.name.removesuffix(INTERRUPTED_SUFFIX), runs_dir


def _progress_display(mode: str, verbose: bool):
    """The display context (the live list runs inside it) and the listeners of ``mode``."""
    from churn.progress import LINES, LIVE, LineProgress, LiveProgress, console_for

    stdout = sys.stdout  # the display writes here, whatever the run does to sys.stdout
    if mode == LIVE:
        live = LiveProgress(console_for(stdout))
        return live, [live]
    if mode == LINES:
        return contextlib.nullcontext(), [LineProgress(lambda line: print(line, file=stdout, flush=True), verbose=verbose)]
    return contextlib.nullcontext(), []


def parameter_table() -> list[list[str]]:
    """One row per pipeline parameter: name, type, default, allowed values, what it does."""
    from churn.parameters import SPECS

    return [[spec.name, spec.type_name, spec.default_text, spec.allowed, spec.help] for spec in SPECS]


def _parameters_epilog() -> str:
    """The parameter table for ``churn run --help`` (``\b``: click keeps the lines as they are)."""
    lines = ["\b", "Pipeline parameters (--param NAME=VALUE; NAME=default shown):"]
    for name, kind, default, allowed, text in parameter_table():
        lines.append(f"  {name}={default}")
        lines.append(f"      {kind}, {allowed}: {text}")
    return "\n".join(lines)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the parameters as JSON.")
def params(as_json) -> None:
    """The pipeline's parameters: name, type, default, allowed values and what each does
    (override one with churn run --param NAME=VALUE)."""
    rows = parameter_table()
    if as_json:
        keys = ("name", "type", "default", "allowed", "help")
        click.echo(json.dumps([dict(zip(keys, row)) for row in rows], indent=2))
        return
    header = ["name", "type", "default", "allowed", "what it does"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, *rows]:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[4])


@main.command(epilog=_parameters_epilog())
@click.option("--backend", type=click.Choice(["local", "cloud"]), default="local", show_default=True)
@click.option("--input", "input_", default=None, metavar="PATH_OR_URI", help="Raw churn CSV file or folder, or s3:// (cloud) [default: data/sample/churn.csv].")
@click.option("--dataset", "dataset_spec", default=None, metavar="SPEC", help="The input's layout, a dataset spec (see churn dataset infer) [default: the churn.txt layout].")
@click.option("--runs-dir", default=None, help="Where runs are kept [default: $CHURN_RUNS_DIR or ./runs].")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="Override a pipeline parameter (repeatable; the parameters are listed below and by churn params).")
@click.option("--aws-images", is_flag=True, help="local: use the official AWS images (needs access to their registry).")
@click.option("--build/--no-build", default=True, show_default=True, help="local: build the project's images if missing.")
@click.option("--no-cache", is_flag=True, help="local: run every step, reusing nothing from the step cache.")
@click.option("--resume", "resume_id", default=None, metavar="RUN", help="local: run a failed, interrupted or killed execution again from where it stopped (an execution id, its folder, or latest).")
@click.option("--pipeline-version", "version_name", default=None, metavar="VERSION", help="Run a recorded pipeline version again (see churn versions).")
@click.option(
    "--no-tuning", is_flag=True,
    help="Leave the tuning branch (TuneModel -> EvaluateTuned, the xgboost-tuned candidate) out of the pipeline: the quick loop, "
    "with the two other candidates only. A separate pipeline version; --resume keeps what the run had.",
)
@click.option(
    "--max-parallel-steps", type=click.IntRange(min=1), default=None,
    help="local: at most this many independent steps run at once [default: $CHURN_MAX_PARALLEL_STEPS or the number of cores].",
)
@click.option(
    "--container-runner", type=click.Choice(RUNNERS), default=None,
    help="local: how step containers start: engine (the Docker Engine API) or compose (SageMaker local mode's docker compose; "
    "needs Compose). The results are the same [default: engine].",
)
@cloud_options
@click.option("--poll-seconds", default=None, type=float, help="cloud: how often to ask SageMaker for the status [default: 30].")
@click.option("--timeout", "timeout_seconds", default=None, type=float, help="cloud: give up following the execution after this many seconds.")
@click.option("-v", "--verbose", is_flag=True, help="Also stream every container's output, prefixed by its step (the whole log is kept in the run folder anyway).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the final line.")
@click.option("--json", "as_json", is_flag=True, help="Print only the run's summary, as JSON (summary.json's content).")
@click.option(
    "--track", "track_uri", default=None, metavar="URI",
    help="Log the finished run to MLflow (needs churn[mlflow]): sqlite:///runs/mlflow.db, a folder, http(s)://..., "
    "or a SageMaker MLflow tracking server ARN [default: $MLFLOW_TRACKING_URI when set]. Failing to track is a warning, never the run's failure.",
)
@click.option("--track-experiment", default=None, metavar="NAME", help="The MLflow experiment [default: $MLFLOW_EXPERIMENT_NAME or churn].")
@click.option("--no-track", is_flag=True, help="Do not track, even when MLFLOW_TRACKING_URI is set.")
def run(
    backend, input_, dataset_spec, runs_dir, params, aws_images, build, no_cache, resume_id, version_name, no_tuning, max_parallel_steps,
    container_runner, region, role_arn, bucket, prefix, cache_expiry, poll_seconds, timeout_seconds, verbose, quiet, as_json,
    track_uri, track_experiment, no_track,
) -> None:
    """Run the pipeline and bring its artifacts into runs/<execution-id>/.

    local: every step in a container under Docker. cloud: on SageMaker (stages code and
    input to S3, upserts the pipeline, starts it, follows it, downloads the results).
    An option of the other backend is an error, not ignored."""
    from pathlib import Path

    from churn.progress import JSON, QUIET, choose_mode
    from churn.runner.events import Events
    from churn.runner.request import RunRequest, only_for
    from churn.runner.run import run as run_pipeline
    from churn.runner.runs import RunError, RunInterrupted

    if sum((verbose, quiet, as_json)) > 1:
        raise click.UsageError("choose one of --verbose, --quiet and --json")
    if no_track and track_uri:
        raise click.UsageError("choose one of --track and --no-track")
    if container_runner is not None and backend != "local":  # even the default's name: it has no meaning there
        _fail(only_for(["--container-runner"], "local", backend), 2)
    if resume_id is not None and backend == "local":
        resume_id, runs_dir = _resume_target(resume_id, runs_dir)
    overrides = _parameter_overrides(params)
    if input_:
        overrides["InputData"] = input_
    request = RunRequest(
        backend=backend, parameters=overrides, runs_dir=Path(runs_dir) if runs_dir else None, version=version_name,
        dataset=Path(dataset_spec) if dataset_spec else None, tuning=not no_tuning, resume=resume_id, use_cache=not no_cache, build_images=build, max_parallel_steps=max_parallel_steps,
        aws_images=aws_images, container_runner=container_runner or DEFAULT_RUNNER, region=region, role_arn=role_arn, bucket=bucket, prefix=prefix, cache_expiry=cache_expiry,
        poll_seconds=poll_seconds, timeout_seconds=timeout_seconds,
    )
    mode = choose_mode(sys.stdout, verbose=verbose, quiet=quiet, as_json=as_json)
    shown, listeners = _progress_display(mode, verbose)
    if backend == "local":
        _sigterm_as_ctrl_c()
    try:
        with shown:
            result = run_pipeline(request, Events(*listeners))
    except RunInterrupted as error:
        _fail(str(error), 130)
    except RunError as error:
        _fail(str(error), 2)
    summary = result.record
    resumed = f" (resumed {summary.resumed_from})" if summary.resumed_from else ""
    if mode == JSON:
        click.echo(json.dumps(result.summary, indent=2))
    else:
        click.echo(f"execution {result.execution_id}: {result.status} in {summary.duration_seconds:.1f} s{resumed}")
    if mode not in (JSON, QUIET):
        for line in outcome_lines(summary):
            click.echo(f"  {line}")
        click.echo(f"  artifacts: {result.run_dir}")
    if not no_track:
        _track_finished_run(result.run_dir, track_uri, track_experiment, show=mode not in (JSON, QUIET))
    if result.status != "Succeeded":
        _fail(failure_line(summary.failed_steps, result.failure_reason))


def _track_finished_run(run_dir, option, experiment, *, show: bool) -> None:
    """Log the run to MLflow when asked (``--track`` or ``MLFLOW_TRACKING_URI``): one line saying
    where, or one warning line; the run's outcome stands either way."""
    from churn.tracking import experiment_name, redacted, track_run, tracking_uri

    uri = tracking_uri(option)
    if uri is None:
        return
    run_id = track_run(run_dir, uri, experiment_name(experiment))
    if run_id and show:
        click.echo(f"  tracked: {redacted(uri)} run {run_id}")


@main.command()
@click.option(
    "--model", "model_ref", required=True, metavar="MODEL",
    help="A model.tar.gz (e.g. runs/<id>/SelectModel/model/model.tar.gz, the winner) or a registered model: "
    "GROUP:VERSION, GROUP:latest or GROUP:latest-approved (e.g. churn:3).",
)
@click.option("--runs-dir", default=None, help="Where the registry of a GROUP:VERSION model is [default: $CHURN_RUNS_DIR or ./runs].")
@click.option("--input", "input_path", required=True, type=click.Path(exists=True), help="Raw customer rows (churn.txt layout; label optional).")
@click.option("--output", "output_path", default=None, type=click.Path(dir_okay=False), help="Write here (atomically) instead of stdout; never the model or an input file.")
@click.option(
    "--allow-pickle", is_flag=True,
    help="Load a pickled model too. Risky: a pickled model can run arbitrary code when loaded; "
    "only for models you trained yourself with SageMaker XGBoost < 1.3-1.",
)
@click.option(
    "--dataset", "spec_path", default=None, type=click.Path(exists=True, dir_okay=False),
    help="The layout the model was trained on, for a model.tar.gz that does not carry it (one a training job wrote, "
    "or by an older churn): a dataset spec, or the run's manifest.json "
    "[default: the spec the archive carries, else the one recorded in its run folder, else the churn.txt layout].",
)
def predict(model_ref, runs_dir, input_path, output_path, allow_pickle, spec_path) -> None:
    """Score customers: one churn probability per input row.

    The rows must have the layout the model was trained on: the dataset spec the model archive
    carries (every model a run selects does), else --dataset, else the spec recorded in the
    model's run folder, else the churn.txt layout."""
    from pathlib import Path

    from churn.dataset import DEFAULT_SPEC, DatasetSpecError
    from churn.files import same_file
    from churn.model_io import ModelArtifactError
    from churn.predict import LayoutMismatchError, dataset_of, format_probabilities, score
    from churn.schema import SchemaError
    from churn.atomic import write_lines_atomically
    from churn.tables import raw_csv_files

    model_path = str(_model_file(model_ref, runs_dir))
    if output_path:
        output = Path(output_path)
        if same_file(output, Path(model_path)):
            _fail(f"--output {output_path} is the model archive {model_path}: churn will not overwrite it", 2)
        try:  # the input file, or every file of an input folder
            inputs = [Path(input_path), *raw_csv_files(Path(input_path))]
        except SchemaError:
            inputs = [Path(input_path)]
        for source in inputs:
            if same_file(output, source):
                _fail(f"--output {output_path} is the input file {source}: churn will not overwrite it", 2)
    try:
        found = dataset_of(model_path, Path(spec_path) if spec_path else None)
    except (LayoutMismatchError, ModelArtifactError) as error:  # another layout; a damaged archive
        _fail(str(error), 2)
    except (DatasetSpecError, ValueError) as error:  # a bad spec, a damaged manifest
        _fail(f"cannot read the dataset spec the model was trained with: {error}", 2)
    try:
        scores = score(model_path, input_path, allow_pickle=allow_pickle, spec=found or DEFAULT_SPEC)
        lines = format_probabilities(scores.probabilities)
    except SchemaError as error:
        hint = (
            f" (the layout the model was trained on: dataset spec {found.name!r})" if found
            else " (read as the churn.txt layout: for a model trained on another layout, give --dataset)"
        )
        _fail(f"{error}{hint}", 2)
    except ModelArtifactError as error:
        _fail(str(error), 2)
    if scores.unseen:
        counted = ", ".join(f"{name} {count}" for name, count in scores.unseen.items())
        click.echo(f"note: categories the model never saw, encoded as all zeros (rows per column): {counted}", err=True)
    if output_path:
        try:
            write_lines_atomically(Path(output_path), lines)
        except OSError as error:
            _fail(f"cannot write {output_path}: {error.strerror or error}", 1)
        click.echo(f"wrote {len(lines)} probabilities to {output_path}", err=True)
    else:
        click.echo("\n".join(lines))


def _run_folder(reference: str, runs_dir):
    """The folder a run reference names (a path, an execution id, ``latest``), or exit 2."""
    from churn.backends.local import DEFAULT_RUNS_DIR
    from churn.history import RunReferenceError, resolve_run

    from pathlib import Path

    try:
        return resolve_run(reference, Path(runs_dir) if runs_dir else DEFAULT_RUNS_DIR)
    except RunReferenceError as error:
        _fail(str(error), 2)


_RUN_REFERENCE_HELP = "a run folder, an execution id, or latest"


@main.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--runs-dir", default=None, help="Where execution ids are looked up [default: $CHURN_RUNS_DIR or ./runs].")
def report(run_ref, runs_dir) -> None:
    """(Re)build the report.html of RUN (a run folder, an execution id, or latest): step graph,
    parameters, metrics and plots."""
    from churn.report import write_report
    from churn.summary import SummaryError

    run_dir = _run_folder(run_ref, runs_dir)
    try:
        click.echo(str(write_report(run_dir)))
    except SummaryError as error:
        _fail(str(error), 2)
    except (KeyError, TypeError, ValueError) as error:  # a summary.json, evaluation.json or manifest edited by hand
        _fail(f"cannot build the report of {run_dir}: a file of the run is damaged ({type(error).__name__}: {str(error)[:200]})", 2)


@main.command()
@click.argument("run_ref", metavar="RUN")
@click.option("--uri", "uri_option", default=None, metavar="URI",
              help="The MLflow tracking URI: sqlite:///runs/mlflow.db, a folder, http(s)://..., a SageMaker MLflow ARN [default: $MLFLOW_TRACKING_URI].")
@click.option("--experiment", default=None, metavar="NAME", help="The MLflow experiment [default: $MLFLOW_EXPERIMENT_NAME or churn].")
@click.option("--runs-dir", default=None, help="Where execution ids are looked up [default: $CHURN_RUNS_DIR or ./runs].")
def track(run_ref, uri_option, experiment, runs_dir) -> None:
    """Log the finished RUN (a run folder, an execution id, or latest) to MLflow as one MLflow run:
    parameters, metrics, training curves, tags and artifacts (needs churn[mlflow]). A run tracked
    before is not logged twice."""
    from churn.tracking import TrackingError, experiment_name, log_run, redacted, tracking_uri

    uri = tracking_uri(uri_option)
    if uri is None:
        _fail("where to? give --uri URI (e.g. sqlite:///runs/mlflow.db) or set MLFLOW_TRACKING_URI", 2)
        return
    run_dir = _run_folder(run_ref, runs_dir)
    try:
        tracked = log_run(run_dir, uri, experiment_name(experiment))
    except TrackingError as error:
        _fail(f"tracking: {error}", 1)
    already = "already tracked" if tracked.existing else "tracked"
    click.echo(f"{already}: {redacted(uri)} run {tracked.run_id} (execution {run_dir.name})")


@main.command()
@click.option("--backend", type=click.Choice(["local", "cloud"]), default="local", show_default=True)
@click.option("--output", "output_path", default="pipeline.png", show_default=True, help="A .png or .svg file.")
def graph(backend, output_path) -> None:
    """Draw the step graph of the current pipeline definition (PNG or SVG)."""
    from pathlib import Path

    from churn.definition import compile_definition
    from churn.graph import graph_from_definition, render

    suffix = Path(output_path).suffix.lower().lstrip(".")
    if suffix not in ("png", "svg"):
        _fail(f"--output must end in .png or .svg, got {output_path}", 2)
    picture = render(graph_from_definition(compile_definition(backend)), fmt=suffix)
    Path(output_path).write_bytes(picture)
    click.echo(output_path)


@main.command()
@click.option("--backend", type=click.Choice(["local", "cloud"]), default="local", show_default=True)
@click.option("--runs-dir", default=None, help="local: the runs folder [default: $CHURN_RUNS_DIR or ./runs].")
@cloud_options
def versions(backend, runs_dir, region, role_arn, bucket, prefix, cache_expiry) -> None:
    """List the pipeline versions (distinct definitions): those that have run locally, or
    SageMaker's pipeline versions of the churn pipeline grouped by definition (cloud)."""
    from pathlib import Path

    from churn.backends.local import DEFAULT_RUNS_DIR
    from churn.versions import list_cloud_versions, list_versions

    if backend == "local":
        found = list_versions(Path(runs_dir) if runs_dir else DEFAULT_RUNS_DIR)
        header, when = "runs", ("first run", "last run")
    else:
        from botocore.exceptions import BotoCoreError, ClientError

        from churn.backends.cloud import CloudSettingsError, cloud_backend
        from churn.pipeline import PIPELINE_NAME

        settings = _backend_settings(backend, runs_dir, False, region, role_arn, bucket, prefix, cache_expiry)
        try:
            chosen = cloud_backend(**settings)
            chosen.require_settings()
            found = list_cloud_versions(chosen.session().sagemaker_client, PIPELINE_NAME)
        except CloudSettingsError as error:
            _fail(str(error), 2)
        except (ClientError, BotoCoreError) as error:
            _fail(f"cannot list the versions of pipeline {PIPELINE_NAME!r}: {error}")
        header, when = "upserts", ("first upserted", "last upserted")
    if not found:
        click.echo("no runs yet" if backend == "local" else "no pipeline versions yet")
        return
    click.echo(f"{'version':<13} {'step code':<17} {'churn':<8} {header:>7}  {when[0]:<30} {when[1]}")
    for v in found:
        count = len(v.pipeline_version_ids) if backend == "cloud" else len(v.runs)
        ids = f"  (SageMaker versions {', '.join(map(str, v.pipeline_version_ids))})" if backend == "cloud" else ""
        click.echo(f"{v.name:<13} {v.code_hash or '-':<17} {v.churn_version:<8} {count:>7}  {v.first_run:<30} {v.last_run}{ids}")


@main.command("diff")
@click.argument("run_a", metavar="RUN_A")
@click.argument("run_b", metavar="RUN_B")
@click.option("--check", is_flag=True, help="Exit 1 unless the split files are identical and the parameters equal.")
@click.option("--runs-dir", default=None, help="Where execution ids are looked up [default: $CHURN_RUNS_DIR or ./runs].")
def diff_command(run_a, run_b, check, runs_dir) -> None:
    """Compare two finished runs (e.g. a local and a cloud one): splits, metrics, parameters.
    Each run is a run folder, an execution id, or latest."""
    from churn.diff import diff_runs
    from churn.summary import SummaryError

    try:
        result = diff_runs(_run_folder(run_a, runs_dir), _run_folder(run_b, runs_dir))
    except (FileNotFoundError, SummaryError) as error:
        _fail(str(error), 2)
    except (KeyError, TypeError, ValueError) as error:  # a summary.json edited by hand
        _fail(f"cannot compare {run_a} and {run_b}: a summary.json is damaged ({type(error).__name__}: {str(error)[:200]})", 2)
    click.echo("\n".join(result.lines()))
    if check and not (result.splits_identical and not result.parameters):
        sys.exit(1)


@main.command()
@click.option("--runs-dir", default=None, help="The runs folder to check [default: $CHURN_RUNS_DIR or ./runs].")
@click.option(
    "--container-runner", type=click.Choice(RUNNERS), default=DEFAULT_RUNNER, show_default=True,
    help="The container runner to check for: compose also needs Compose.",
)
@click.option("--remove-leftovers", is_flag=True, help="Remove the step containers that runs which died (kill -9) left, as the next run would.")
def doctor(runs_dir, container_runner, remove_leftovers) -> None:
    """Check Docker, Compose (needed by --container-runner compose and churn serve), the project's
    images, disk space and the step containers of runs that died, and say how to fix them."""
    from pathlib import Path

    from churn.backends import docker
    from churn.backends.local import DEFAULT_RUNS_DIR
    from churn.runner.local_jobs import dead_run_checks

    folder = Path(runs_dir) if runs_dir else DEFAULT_RUNS_DIR
    checks = docker.doctor(folder, container_runner)
    if checks[0].ok:  # Docker answers
        checks += dead_run_checks(folder, remove=remove_leftovers)
    for check in checks:
        click.echo(f"[{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}" + (f"\n       fix: {check.fix}" if check.fix and not check.ok else ""))
    if not all(c.ok for c in checks):
        sys.exit(1)


@main.group()
def images() -> None:
    """The project's container images."""


@images.command("tag")
def images_tag() -> None:
    """Print the tag the current sources give the images."""
    from churn.backends.images import image_tag

    click.echo(image_tag())


@images.command("build")
@click.option("--if-missing", is_flag=True, help="Build only when an image with the current tag is missing.")
@click.option("--base-image", default=None, help="Base image [default: debian:bookworm-slim].")
@click.option("--with-parity", is_flag=True, help="Also the Debian-stack image of the cross-stack parity check.")
def images_build(if_missing, base_image, with_parity) -> None:
    """Build the processing and XGBoost images with Docker Compose."""
    from churn.backends import docker

    try:
        if if_missing and not docker.missing_images(with_parity):
            click.echo("images up to date: " + ", ".join(docker.image_names(with_parity)))
            return
        click.echo("built: " + ", ".join(docker.build_images(base_image, with_parity)))
    except docker.DockerError as error:
        _fail(str(error))


def _model_file(reference: str, runs_dir):
    """The model.tar.gz a --model names: a file, or a registered version (GROUP:VERSION,
    GROUP:latest, GROUP:latest-approved) whose model data is on this machine."""
    from pathlib import Path

    from churn.files import uri_path
    from churn.registry import REFERENCE, RegistryError

    if Path(reference).is_file():
        return Path(reference)
    if REFERENCE.fullmatch(reference) is None:
        _fail(f"--model {reference}: no such model file (or registered model GROUP:VERSION, GROUP:latest, GROUP:latest-approved)", 2)
    try:
        package = _registry(runs_dir).resolve(reference)
    except RegistryError as error:
        _fail(f"--model {reference}: {error}", 2)
    try:
        path = uri_path(package.model_data)
    except ValueError:
        path = None
    if path is None or not path.is_file():
        _fail(f"--model {reference}: {package.group} version {package.version}'s model data is not on this machine: {package.model_data}", 2)
    click.echo(f"note: {package.group} version {package.version} ({package.approval_status}, run {package.execution_id}): {path}", err=True)
    return path


@main.command()
@click.option("--model", "model_ref", required=True, metavar="MODEL",
              help="A model.tar.gz, or a registered version: GROUP:VERSION, GROUP:latest or GROUP:latest-approved.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="The port on localhost.")
@click.option("--runs-dir", default=None, help="Where the registry is (for a GROUP:... model).")
def serve(model_ref, port, runs_dir) -> None:
    """Host a model on localhost as a SageMaker endpoint hosts it (its container, /ping and
    /invocations), taking raw customer rows: text/csv (with or without a header, the label
    optional) or application/json records; one churn probability per row, as CSV or, with
    Accept: application/json, JSON. Ctrl-C stops it and removes its container."""
    import signal
    import threading
    from pathlib import Path

    from churn.backends import docker
    from churn.backends.images import project_images
    from churn.backends.local import DEFAULT_RUNS_DIR
    from churn.model_io import ModelArtifactError
    from churn.predict import model_dataset
    from churn.runner import endpoint

    path = _model_file(model_ref, runs_dir)
    try:
        spec = model_dataset(path)
    except ModelArtifactError as error:
        _fail(str(error), 2)
    if spec is None:
        _fail(f"--model {model_ref}: the archive carries no dataset spec (churn/features.json): serve a model a churn run selected", 2)
    try:
        docker.require_ready(Path(runs_dir) if runs_dir else DEFAULT_RUNS_DIR, runner="compose")  # local mode's hosting runs Compose
    except docker.DockerError as error:
        _fail(str(error))
    click.echo(f"starting an endpoint for {model_ref} (dataset spec {spec.name!r}) on port {port} ...", err=True)
    # Ctrl-C and a plain kill both stop it (a shell's background job starts with SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    hosted = None
    try:
        hosted = endpoint.start(path, project_images().training, port)
        click.echo(f"serving {model_ref} at {hosted.url} (ready in {hosted.start_seconds:.1f} s); Ctrl-C stops it", err=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    except endpoint.EndpointError as error:
        _fail(str(error))
    except Exception as error:  # noqa: BLE001 - local mode's own failure, in one line
        _fail(f"the endpoint did not start: {error}")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C does not cut the clean-up short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if hosted is not None:
            hosted.stop()
            click.echo("stopped the endpoint and removed its container", err=True)


def _deploy_backend(region, role_arn):
    from churn.backends.cloud import CloudSettingsError, cloud_backend

    try:
        return cloud_backend(region=region, role_arn=role_arn)
    except CloudSettingsError as error:
        _fail(str(error), 2)


def _cloud_only(backend: str, instead: str) -> None:
    if backend != "cloud":
        _fail(f"--backend {backend}: this command deploys to SageMaker (--backend cloud); {instead}", 2)


@main.command()
@click.option("--backend", type=click.Choice(["local", "cloud"]), default="cloud", show_default=True)
@click.option("--model", "model_ref", required=True, metavar="GROUP:VERSION",
              help="A registered version on SageMaker: GROUP:VERSION, GROUP:latest or GROUP:latest-approved.")
@click.option("--endpoint", "endpoint_name", required=True, help="The endpoint's name (created, or updated when it exists).")
@click.option("--instance-type", default="ml.m5.large", show_default=True)
@click.option("--instance-count", default=1, show_default=True, type=click.IntRange(1, 100))
@click.option("--allow-unapproved", is_flag=True, help="Deploy a version that is not Approved.")
@click.option("--no-wait", is_flag=True, help="Return once SageMaker accepted the deployment.")
@click.option("--timeout", "timeout_seconds", default=3600, show_default=True, type=click.IntRange(1),
              help="Seconds to wait for the endpoint (SageMaker goes on after that).")
@click.option("--region", default=None, help="AWS region [env CHURN_AWS_REGION].")
@click.option("--role-arn", default=None, help="The endpoint's execution role [env CHURN_ROLE_ARN].")
def deploy(backend, model_ref, endpoint_name, instance_type, instance_count, allow_unapproved, no_wait, timeout_seconds, region, role_arn) -> None:
    """Deploy a registered model version to a SageMaker endpoint (its model, endpoint
    configuration and endpoint), from the model package itself. A version churn registered
    answers raw customer rows there as `churn serve` does locally. Only an Approved version
    unless --allow-unapproved; an existing endpoint is updated to the new version."""
    from churn.runner import deploy as deployment

    _cloud_only(backend, "to host a model on this machine, use churn serve")
    target = _deploy_backend(region, role_arn)
    try:
        result = deployment.deploy(
            target, model_ref, endpoint_name, instance_type=instance_type, instance_count=instance_count,
            allow_unapproved=allow_unapproved, wait=not no_wait, timeout_seconds=timeout_seconds,
            note=lambda line: click.echo(f"note: {line}", err=True),
        )
    except deployment.DeployError as error:
        _fail(str(error))
    except KeyboardInterrupt:  # before the wait (which says what goes on): checks and create calls
        _fail(f"interrupted; see whether endpoint {endpoint_name} changed: aws sagemaker describe-endpoint --endpoint-name {endpoint_name}", 130)
    for removed in result.removed:
        click.echo(f"removed the previous {removed}", err=True)
    takes = "raw customer rows (text/csv or application/json)" if result.raw_rows else "feature rows only"
    if result.action == "started":
        click.echo(f"endpoint {result.endpoint}: deploying {result.package_arn} ({result.status}); it will take {takes}")
    else:
        click.echo(f"endpoint {result.endpoint} is {result.status} with {result.package_arn} ({result.action} in {result.seconds:.0f} s); it takes {takes}")


@main.command()
@click.option("--backend", type=click.Choice(["local", "cloud"]), default="cloud", show_default=True)
@click.option("--endpoint", "endpoint_name", required=True, help="The endpoint churn deploy made.")
@click.option("--region", default=None, help="AWS region [env CHURN_AWS_REGION].")
def undeploy(backend, endpoint_name, region) -> None:
    """Delete an endpoint churn deploy made, with its endpoint configuration and model."""
    from churn.runner import deploy as deployment

    _cloud_only(backend, "a local endpoint (churn serve) stops with Ctrl-C")
    target = _deploy_backend(region, None)
    try:
        removed = deployment.undeploy(target, endpoint_name)
    except deployment.DeployError as error:
        _fail(str(error))
    click.echo("deleted " + ", ".join(removed))


@main.group()
def runs() -> None:
    """The runs of a runs folder."""


@runs.command("list")
@click.option("--runs-dir", default=None, help="The runs folder [default: $CHURN_RUNS_DIR or ./runs].")
@click.option("--status", "statuses", multiple=True, type=click.Choice(RUN_STATUSES, case_sensitive=False),
              help="Only runs of this status (repeatable).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON.")
def runs_list(runs_dir, statuses, limit, as_json) -> None:
    """Every run, newest first: id, start, status, duration, pipeline version, input, winner and its metrics."""
    from pathlib import Path

    from churn.backends.local import DEFAULT_RUNS_DIR
    from churn.history import list_runs

    wanted = {s.lower() for s in statuses}
    entries = [e for e in list_runs(Path(runs_dir) if runs_dir else DEFAULT_RUNS_DIR) if not wanted or e.status.lower() in wanted]
    entries = entries[:limit] if limit else entries
    if as_json:
        click.echo(json.dumps([e.to_json() for e in entries], indent=2))
        return
    if not entries:
        click.echo("no runs")
        return
    click.echo(f"{'execution':<23} {'started':<25} {'status':<11} {'seconds':>7}  {'version':<12}  {'input':<12}  winner")
    for e in entries:
        seconds = "" if e.duration_seconds is None else f"{e.duration_seconds:.1f}"
        metrics = ", ".join(f"{k}={v:.4f}" for k, v in e.metrics.items() if k in ("auc", "accuracy"))
        winner = f"{e.winner} ({metrics})" if e.winner else metrics
        click.echo(
            f"{e.execution_id:<23} {e.started_at or '-':<25} {e.status:<11} {seconds:>7}  {e.pipeline_version or '-':<12}  "
            f"{(e.input_sha256 or '-')[:12]:<12}  {winner}".rstrip()
        )


@main.group()
def cache() -> None:
    """What a runs folder keeps beside its runs (step cache, staged inputs, code bundles, report
    plots): how big, how recently used, what run folders still need; pruning it."""


def _runs_dir_of(runs_dir):
    from pathlib import Path

    from churn.backends.local import DEFAULT_RUNS_DIR

    return Path(runs_dir) if runs_dir else DEFAULT_RUNS_DIR


#: What one entry of each area is called (one, several).
_ENTRY_NOUNS = {
    "cache": ("step cache entry", "step cache entries"), "plots": ("plot", "plots"),
    "inputs": ("staged input", "staged inputs"), "code": ("code bundle", "code bundles"),
}


def _area_table(rows) -> None:
    """``rows``: (label, entries, size, least recent use, most recent use, needed)."""
    click.echo(f"{'area':<14} {'entries':>7} {'size':>10}  {'least recent':<13} {'most recent':<13} {'needed':>6}")
    for label, count, size, oldest, newest, needed in rows:
        click.echo(f"{label:<14} {count:>7} {size:>10}  {oldest:<13} {newest:<13} {needed:>6}".rstrip())


@cache.command("info")
@click.option("--runs-dir", default=None, help="The runs folder [default: $CHURN_RUNS_DIR or ./runs].")
@click.option("--json", "as_json", is_flag=True, help="Print it as JSON (every entry too).")
def cache_info(runs_dir, as_json) -> None:
    """Per area: entries, size, least and most recent use, and how many a run folder still needs."""
    from churn.runner.cache_store import AREAS, StoreError, format_age, format_size, scan

    try:
        info = scan(_runs_dir_of(runs_dir))
    except StoreError as error:
        _fail(str(error), 2)
    if as_json:
        click.echo(json.dumps(info.to_json(), indent=2))
        return
    areas = info.areas()
    click.echo(f"runs folder {info.runs_dir}: {format_size(info.size)} in {len(info.entries)} entries")
    _area_table(
        [(a.label, a.count, format_size(a.size), format_age(a.oldest_use), format_age(a.newest_use), a.needed) for a in areas]
        + [("total", len(info.entries), format_size(info.size), "", "", sum(a.needed for a in areas))]
    )
    needs = info.needs()
    if needs:
        click.echo("needed by run folders (churn cache prune keeps them):")
        for execution, entries in needs.items():
            counts = [f"{n} {_ENTRY_NOUNS[area][n > 1]}" for area in AREAS if (n := sum(e.area == area for e in entries))]
            click.echo(f"  {execution} ({info.statuses.get(execution, '?')}): {', '.join(counts)}")
    if info.running:
        click.echo(f"running: {', '.join(info.running)} (churn cache prune removes nothing until it ends)")


@cache.command("prune")
@click.option("--older-than", default=None, metavar="AGE", help="Remove what was last used this long ago or earlier: 45s, 90m, 12h, 30d, 2w.")
@click.option("--max-size", default=None, metavar="SIZE",
              help="Then remove the least recently used until all areas together hold at most this: 100k, 500M, 2G (powers of 1024), or bytes.")
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option("--runs-dir", default=None, help="The runs folder [default: $CHURN_RUNS_DIR or ./runs].")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def cache_prune(older_than, max_size, dry_run, runs_dir, as_json) -> None:
    """Remove least recently used entries, never one a run folder still needs (the step cache
    entries of a failed, stopped, killed or interrupted run; the code a run ran), and nothing
    while a run runs."""
    from churn.runner.cache_store import StoreBusy, StoreError, format_age, format_size, parse_age, parse_size, prune

    if older_than is None and max_size is None:
        _fail("give --older-than AGE, --max-size SIZE, or both (churn cache info shows ages and sizes)", 2)
    try:
        age = None if older_than is None else parse_age(older_than)
    except StoreError as error:
        _fail(f"--older-than {older_than}: {error}", 2)
    try:
        size = None if max_size is None else parse_size(max_size)
    except StoreError as error:
        _fail(f"--max-size {max_size}: {error}", 2)
    try:
        result = prune(_runs_dir_of(runs_dir), older_than=age, max_size=size, dry_run=dry_run)
    except StoreBusy as error:
        _fail(str(error), 1)
    except StoreError as error:
        _fail(str(error), 2)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
        return
    verb = "would remove" if dry_run else "removed"
    now = result.before.now
    for entry in result.removed:
        click.echo(f"{verb} {_ENTRY_NOUNS[entry.area][0]} {entry.name} ({format_size(entry.size)}, last used {format_age(now - entry.last_used)})")
    for before, removed in result.areas():
        kept = f", {before.needed} needed by run folders" if before.needed else ""
        click.echo(f"{before.label}: {verb} {removed.count} of {before.count} ({format_size(removed.size)}){kept}")
    click.echo(f"total: {format_size(result.freed)} {'would be ' if dry_run else ''}freed, {format_size(result.left)} left")
    if result.over_max_size:
        click.echo(f"note: still {format_size(result.over_max_size)} over --max-size {max_size}: the rest is needed by run folders (churn cache info)")


@main.group()
def models() -> None:
    """The local model registry (runs/registry.sqlite)."""


def _registry(runs_dir):
    from pathlib import Path

    from churn.backends.local import DEFAULT_RUNS_DIR
    from churn.registry import Registry

    return Registry(Path(runs_dir) if runs_dir else DEFAULT_RUNS_DIR)


@models.command("list")
@click.option("--group", default=None, help="Only this model package group.")
@click.option("--runs-dir", default=None, help="The runs folder of the registry [default: $CHURN_RUNS_DIR or ./runs].")
@click.option("--json", "as_json", is_flag=True, help="Print them as JSON (a list of objects).")
def models_list(group, runs_dir, as_json) -> None:
    """Every registered version, by group and version: its run, model file, approval status and
    description, winner and metrics; a version whose model archive has the same bytes as an
    earlier one of its group says so."""
    from churn.registry import RegistryError

    try:
        listed = _registry(runs_dir).listing(group)
    except RegistryError as error:
        _fail(str(error))
    if as_json:
        click.echo(json.dumps([v.to_json() for v in listed], indent=2))
        return
    if not listed:
        click.echo("no registered models" + (f" in group {group}" if group else ""))
        return
    for index, entry in enumerate(listed):
        click.echo(("\n" if index else "") + "\n".join(_version_lines(entry)))


def _version_lines(entry) -> list[str]:
    """A header line per version, then indented details (readable at ~100 columns)."""
    p = entry.package
    lines = [f"{p.reference}  {p.approval_status}  run {p.execution_id}  created {p.created_at}"]
    path = p.model_path
    where = p.model_data if path is None else str(path) + ("" if path.is_file() else " (file missing)")
    lines.append(f"    model     {where}  sha256 {(entry.model_sha256 or 'unknown')[:12]}")
    if p.approval_description or p.updated_at != p.created_at:
        comment = f": {' '.join(p.approval_description.split())}" if p.approval_description else ""
        lines.append(f"    approval  {p.approval_status} as of {p.updated_at}{comment}")
    if p.selection:
        lines.append(f"    winner    {p.winner} by {p.selection['metric']}: {p.selection['summary']}")
        if p.selection.get("hyperparameters"):
            lines.append(f"    trained   {p.selection['hyperparameters']}")
    if p.metrics:
        lines.append("    metrics   " + " ".join(f"{k}={v:.4f}" for k, v in p.metrics.items()))
    if entry.same_bytes_as is not None:
        lines.append(f"    note      same model bytes as version {entry.same_bytes_as}")
    return lines


def _set_status(model, version, runs_dir, status, comment):
    """Set the status of MODEL VERSION (or of the reference MODEL, e.g. churn:3), then rebuild
    the report of its run when the run folder is here."""
    from churn.registry import REFERENCE, RegistryError

    if version is None and REFERENCE.fullmatch(model) is None:
        _fail(f"which version of {model}? give GROUP VERSION, GROUP:VERSION or GROUP:latest (e.g. churn 3 or churn:3)", 2)
    registry = _registry(runs_dir)
    try:
        found = registry.resolve(model) if version is None else registry.get(model, version)
        package = registry.set_status(found.group, found.version, status, comment)
    except RegistryError as error:
        _fail(str(error))
    click.echo(f"{package.group} version {package.version}: {package.approval_status}"
               + (f" ({package.approval_description})" if package.approval_description else ""))
    _rebuild_report(registry.path.parent / package.execution_id)


def _rebuild_report(run_dir) -> None:
    from churn.report import REPORT_FILE, write_report
    from churn.summary import SUMMARY_FILE, SummaryError

    if not (run_dir / SUMMARY_FILE).is_file():
        return
    try:
        click.echo(f"rebuilt {write_report(run_dir)} (it shows the new status)")
    except (SummaryError, KeyError, TypeError, ValueError, OSError) as error:  # the status is set all the same
        click.echo(f"note: cannot rebuild {run_dir / REPORT_FILE}: {str(error)[:200]} (churn report {run_dir} says more)", err=True)


_VERSION_HELP = "GROUP VERSION, or a reference GROUP:VERSION or GROUP:latest (e.g. churn 3, churn:3)."
_COMMENT = click.option(
    "--comment", default=None, metavar="TEXT",
    help="Why: the version's approval description (SageMaker's ApprovalDescription), replacing the previous one; "
    "without it the previous one is kept, --comment '' removes it.",
)


def _status_command(name: str, status: str, help_text: str) -> None:
    """``churn models approve|reject``: one command per approval status."""

    @models.command(name, epilog=_VERSION_HELP, help=help_text)
    @click.argument("model", metavar="GROUP")
    @click.argument("version", type=int, required=False)
    @_COMMENT
    @click.option("--runs-dir", default=None, help="The runs folder of the registry [default: $CHURN_RUNS_DIR or ./runs].")
    def command(model, version, comment, runs_dir) -> None:
        _set_status(model, version, runs_dir, status, comment)


_status_command("approve", "Approved", "Approve a model version (and rebuild its run's report).")
_status_command("reject", "Rejected", "Reject a model version (and rebuild its run's report).")


@main.group()
def dataset() -> None:
    """Your own churn table: infer a dataset spec from it, check a table against a spec."""


def _read_spec(path: str):
    from pathlib import Path

    from churn.dataset import DatasetSpecError, spec_from_json
    from churn.tables import read_json

    try:
        return spec_from_json(read_json(Path(path), "dataset spec"))
    except (DatasetSpecError, ValueError, FileNotFoundError) as error:
        message = str(error)
        _fail(message if message.startswith("dataset spec") else f"dataset spec {path}: {message}", 2)


@dataset.command("infer")
@click.option("--input", "input_path", required=True, type=click.Path(exists=True), help="A CSV file (or folder of CSV files) of customers.")
@click.option("--label", required=True, help="The column that says whether a customer churned.")
@click.option("--positive", default=None, help="The label value that means churned [default: guessed from Yes/True/1/...].")
@click.option("--name", default=None, help="The spec's name [default: the input's file name].")
@click.option("--output", "output_path", default=None, help="Write the spec here [default: print it].")
def dataset_infer(input_path, label, positive, name, output_path) -> None:
    """Write a dataset spec to start from, saying what was decided for each column and why."""
    from pathlib import Path

    from churn.dataset import DatasetSpecError
    from churn.dataset_infer import infer_spec
    from churn.schema import SchemaError
    from churn.atomic import write_lines_atomically
    from churn.tables import read_raw_chunks

    try:
        found = infer_spec(read_raw_chunks(Path(input_path), 100_000), label, positive, name or Path(input_path).stem)
    except (DatasetSpecError, SchemaError) as error:
        _fail(str(error), 2)
    # "García", not "Garc\\u00eda": a file people edit; escaped only for a stdout that cannot say it
    readable = output_path is not None or (sys.stdout.encoding or "").lower().replace("-", "") == "utf8"
    text = json.dumps(found.spec.to_json(), indent=2, ensure_ascii=not readable)
    for reason in found.reasons:
        click.echo(f"  {reason}", err=output_path is None)
    if output_path:
        write_lines_atomically(Path(output_path), [text])
        click.echo(f"wrote {output_path}: edit it, then: churn dataset check --input {shlex.quote(input_path)} --dataset {shlex.quote(output_path)}")
    else:
        click.echo(text)


@dataset.command("check")
@click.option("--input", "input_path", required=True, type=click.Path(exists=True), help="A CSV file (or folder of CSV files).")
@click.option("--dataset", "spec_path", required=True, type=click.Path(exists=True, dir_okay=False), help="The dataset spec (JSON).")
def dataset_check(input_path, spec_path) -> None:
    """Check a table against a dataset spec, with the errors a run would give (column, row, value)."""
    from pathlib import Path

    from churn.schema import SchemaError
    from churn.steps.preprocess import check_table

    spec = _read_spec(spec_path)
    try:
        report = check_table(Path(input_path), spec)
    except SchemaError as error:
        _fail(str(error), 2)
    click.echo(report)


if __name__ == "__main__":
    main()
