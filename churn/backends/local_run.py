"""Running the pipeline on the local backend: preflight, code staging, execution with
progress, artifacts under ``runs/<execution-id>/``, registration, summary and clean-up."""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from churn import parameters as parameter_specs
from churn.backends import docker
from churn.backends.code_bundle import write_bundle
from churn.backends.local import LocalBackend
from churn.backends.local_scheduler import default_max_parallel_steps
from churn.backends.step_cache import StepCache
from churn.backends.runs import (
    MODEL_PACKAGE_GROUP,
    Progress,
    RunError,
    RunInterrupted,
    RunResult,
    file_sha256,
    finish_run,
    input_uri,
    local_path,
)
from churn.registry import Registry
from churn.summary import ARTIFACTS, metric_values, selection_record


class _StepProgress(logging.Handler):
    """Turns the local executor's step log records into one progress line per event."""

    _started = re.compile(r"Starting pipeline step: '(.+)'")
    _succeeded = re.compile(r"Pipeline step '(.+)' SUCCEEDED")
    _failed = re.compile(r"Pipeline step '(.+)' FAILED. Failure message is: (.*)", re.S)

    def __init__(self, progress: Progress, cache: StepCache | None):
        super().__init__(logging.INFO)
        self.progress = progress
        self.cache = cache
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if match := self._started.match(message):
            self.started[match[1]] = time.monotonic()
            self.progress(f"==> {match[1]}: started")
        elif match := self._succeeded.match(message):
            cached = " (cached)" if self.cache and match[1] in self.cache.hits else ""
            self.progress(f"==> {match[1]}: Succeeded{self._took(match[1])}{cached}")
        elif match := self._failed.match(message):
            reason = match[2].strip()
            # A container's own message replaces local mode's "Failed to run" in the summary.
            detail = "" if reason.startswith(_COMPOSE_FAILURE) else f": {reason}"
            self.progress(f"==> {match[1]}: Failed{self._took(match[1])}{detail}")

    def _took(self, step: str) -> str:
        start = self.started.get(step)
        return f" in {time.monotonic() - start:.1f} s" if start is not None else ""


def stage_input(uri: str, runs_dir: Path) -> str:
    """The InputData a local run reads. Local mode mounts a file's whole parent folder, so a
    single file is staged alone (hard link, else copy) under ``runs/.inputs/<sha256>/``."""
    if not uri.startswith("file://"):
        return uri
    path = local_path(uri)
    if path.is_dir():
        return uri
    target_dir = runs_dir / ".inputs" / file_sha256(path)[:16]
    target = target_dir / (path.name if path.suffix == ".csv" else f"{path.name}.csv")
    if not target.exists():
        partial = target_dir.with_name(f".{target_dir.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        try:
            (partial / target.name).hardlink_to(path)
        except OSError:
            shutil.copyfile(path, partial / target.name)
        shutil.rmtree(target_dir, ignore_errors=True)
        partial.rename(target_dir)
    return target_dir.as_uri()


_COMPOSE_FAILURE = "RuntimeError: Failed to run: "


def _mark_interrupted(runs_dir: Path, before: set[str]) -> list[str]:
    """Rename the folder of an interrupted execution to ``<id>.interrupted``: it has no summary,
    and no later run, resume or report mistakes its partial outputs for results."""
    marked = []
    for folder in runs_dir.iterdir():
        if folder.name not in before and folder.is_dir() and not folder.name.startswith(".") and not (folder / "summary.json").exists():
            target = folder.with_name(f"{folder.name}.interrupted")
            folder.rename(target)
            marked.append(str(target))
    return marked


def _memoized(function):
    results: dict = {}

    def call(argument):
        if argument not in results:
            results[argument] = function(argument)
        return results[argument]

    return call


def _explain_container_failure(execution, failed: list[docker.FailedContainer]) -> None:
    """Replace local mode's "Failed to run: [docker-compose ...]" with what the container said.

    SageMaker reports a job's own failure message (``/opt/ml/output/failure``) as FailureReason;
    local mode only reports the Compose command. When exactly one container of the run failed,
    it belongs to the step that failed with that Compose message (steps beside it succeeded or
    never started); with more than one, the Compose message stays.
    """
    if len(failed) != 1:
        return
    for step in execution.step_execution.values():
        if step.failure_reason and step.failure_reason.startswith(_COMPOSE_FAILURE):
            step.failure_reason = failed[0].reason()
            execution.failure_reason = f"Step '{step.name}' failed with message: {step.failure_reason}"


def run_local(
    backend: LocalBackend,
    overrides: dict[str, object],
    *,
    build_missing_images: bool = True,
    progress: Progress = print,
    use_cache: bool = True,
    resumed_from: str | None = None,
    expected_definition_sha256: str | None = None,
    max_parallel_steps: int | None = None,
) -> RunResult:
    """Run the pipeline once in containers; raise :class:`RunError` if it cannot start.

    With ``use_cache`` a job step whose request and input contents match an earlier successful
    step reuses its outputs (``runs/.cache``) instead of starting a container. Up to
    ``max_parallel_steps`` independent steps run at once (default: see
    :func:`~churn.backends.local_scheduler.default_max_parallel_steps`)."""
    overrides = dict(overrides)
    parameter_specs.check_together(overrides)
    requested_input = input_uri(str(overrides.get("InputData", backend.input_data)))
    runs_dir = backend.runs_dir
    runs_dir.mkdir(parents=True, exist_ok=True)
    overrides["InputData"] = stage_input(requested_input, runs_dir)
    try:
        docker.require_ready(runs_dir, build_missing=build_missing_images)
    except docker.DockerError as error:
        raise RunError(str(error)) from None

    if backend.code_version is None:
        write_bundle(runs_dir / ".code")
    elif not (runs_dir / ".code" / backend.code_version).is_dir():
        raise RunError(f"the step code of version {backend.code_version} is no longer in {runs_dir / '.code'}")
    from churn.pipeline import build_pipeline

    pipeline = build_pipeline(backend)
    definition = pipeline.definition()
    if expected_definition_sha256 and hashlib.sha256(definition.encode()).hexdigest() != expected_definition_sha256:
        raise RunError(
            f"version {expected_definition_sha256[:12]} cannot be rebuilt by this churn: the step graph, images "
            "or settings it was compiled with have changed since (only its step code is kept)"
        )
    session = backend.session()
    scratch = Path(tempfile.mkdtemp(prefix="jobs-", dir=runs_dir / ".code"))
    session.config = {"local": {"local_code": True, "container_root": str(scratch)}}
    cache = StepCache(runs_dir / ".cache", _memoized(docker.image_id)) if use_cache else None
    session.churn_step_cache = cache
    session.churn_max_parallel_steps = max_parallel_steps or default_max_parallel_steps()
    session.churn_stop_jobs = lambda: docker.remove_job_containers(scratch)
    runs_before = {p.name for p in runs_dir.iterdir()}
    handler = _StepProgress(progress, cache)
    step_logger = logging.getLogger("sagemaker.local.entities")
    step_logger.addHandler(handler)
    step_logger.setLevel(logging.INFO)
    step_logger.propagate = False
    try:
        with backend.sdk_scope():
            pipeline.upsert(role_arn=backend.role_arn)
            execution = pipeline.start(parameters=overrides)
    except KeyboardInterrupt:
        marked = _mark_interrupted(runs_dir, runs_before)
        raise RunInterrupted(
            "interrupted: the execution was stopped and its containers removed; nothing of it was cached"
            + (f"; its partial outputs are in {', '.join(marked)}" if marked else "")
        ) from None
    finally:
        step_logger.removeHandler(handler)
        failed_containers = docker.remove_job_containers(scratch)
        shutil.rmtree(scratch, ignore_errors=True)
    _explain_container_failure(execution, failed_containers)

    describe = execution.describe()
    run_dir = runs_dir / describe["PipelineExecutionArn"]
    run_dir.mkdir(parents=True, exist_ok=True)
    steps = execution.list_steps()["PipelineExecutionSteps"]
    for step in steps:
        if step.get("StepStatus") == "Failed":
            # Whatever a failed job step left (local mode copies outputs even on failure, and a
            # full disk can cut a file short) is not a result: it is removed.
            shutil.rmtree(run_dir / step["StepName"], ignore_errors=True)
        if cache and step["StepName"] in cache.hits:
            step["CacheHitResult"] = {"SourcePipelineExecutionArn": cache.hits[step["StepName"]]}
    parameters = {**execution.pipeline_parameters, "InputData": requested_input}
    created = any(s["StepName"] == "CreateModel-CreateModel" and s.get("StepStatus") == "Succeeded" for s in steps)
    registered = None
    model_file = run_dir / ARTIFACTS["model"]
    if created and model_file.is_file():
        started = datetime.now(timezone.utc)
        package = Registry(runs_dir).register(
            group=MODEL_PACKAGE_GROUP,
            model_data=model_file.as_uri(),
            image=backend.images.training,
            metrics=metric_values(run_dir / ARTIFACTS["evaluation"]),
            execution_id=run_dir.name,
            approval_status=str(parameters["ModelApprovalStatus"]),
            selection=selection_record(run_dir),
        )
        registered = {"group": package.group, "version": package.version, "approval_status": package.approval_status, "arn": package.arn}
        steps.append(
            {"StepName": "RegisterModel-RegisterModel", "StepStatus": "Succeeded", "StartTime": started,
             "EndTime": datetime.now(timezone.utc), "Metadata": {"RegisterModel": {"Arn": package.arn}}}
        )
    return finish_run(
        backend="local", run_dir=run_dir, describe=describe, list_steps=steps,
        parameters=parameters, definition=definition, registered_model=registered, resumed_from=resumed_from,
    )


def resume_parameters(runs_dir: Path, execution_id: str) -> dict[str, object]:
    """The parameters of a failed local execution, to run it again from its failed step (the
    steps that succeeded are reused from the step cache)."""
    import json

    summary_file = runs_dir / execution_id / "summary.json"
    if not summary_file.is_file():
        raise RunError(f"no execution {execution_id} under {runs_dir}")
    summary = json.loads(summary_file.read_text())
    if summary["status"] not in ("Failed", "Stopped"):
        raise RunError(f"execution {execution_id} {summary['status']}: there is nothing to resume")
    return dict(summary["parameters"])
