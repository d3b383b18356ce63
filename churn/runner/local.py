"""Running the pipeline on the local backend: preflight, code staging, execution with
lifecycle events, artifacts under ``runs/<execution-id>/``, registration, summary and clean-up."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import NoReturn

from churn import parameters as parameter_specs
from churn.backends import docker
from churn.backends.code_bundle import bundle_hash, write_bundle, written_bundle_hash
from churn.backends.local import LocalBackend
from churn.files import clone_or_copy, file_uri, new_folder, text_sha256, tree_files
from churn.history import RESUMABLE, is_running, last_resume, process_start
from churn.layout import CACHE_DIR, CODE_DIR, INPUTS_DIR, INTERRUPTED_SUFFIX, REPLAY_DIR, RESUMES_DIR, RUN_RECORD, STEP_LOG, TRIALS_FILE
from churn.registry import PendingRegistration, Registry
from churn.runner import replay
from churn.runner.containers import DEFAULT_RUNNER
from churn.runner.events import Events, RunFinished, RunStarted, StepFinished, StepStarted
from churn.runner.local_jobs import (
    JobsFolder, LocalRun, StepFailure, bounded, keep_log, locked, remove_all_but, remove_dead_runs, run_job, store_lock,
    write_run_record,
)
from churn.runner.runs import (
    RunError,
    RunInterrupted,
    RunResult,
    check_local_folder,
    finish_run,
    input_files,
    input_sha256,
    input_uri,
    local_path,
    write_run_report,
)
from churn.runner.scheduling import default_max_parallel_steps
from churn.runner.step_cache import StepCache
from churn.summary import SUMMARY_FILE, RegisteredModel, metric_values, selection_record


@dataclass(frozen=True)
class StagedInput:
    """The copy of the user's input that a run's containers read."""

    uri: str  # the staged folder, the run's InputData
    sha256: str  # a file's sha256, or a folder's tree hash over its .csv files
    path: Path  # what ``sha256`` is of (the staged file, or the staged folder)
    user_paths: dict[str, str]  # staged path -> the user's path, for messages


def stage_input(uri: str, runs_dir: Path, digest: str | None = None) -> StagedInput:
    """Copy the user's input (a file, or a folder's .csv files) to ``runs/.inputs/<sha256>/``
    (the first 16 hex digits of it).

    The user's own file is never linked nor mounted into a container: steps read the copy,
    whose bytes are checked against the sha256 each time a run stages the same content (a copy
    that changed on disk, or that shares its inode with another file, is replaced) and again
    when the step starts. A reflink where the file system has them; else a plain copy. Staging
    holds a lock on ``runs/.inputs``, so two runs never replace a copy the other one reads.

    ``digest``: the input's sha256 when the caller has just read it (a replay): the input is not
    read once more for it. The copy is still checked against it."""
    path = local_path(uri)
    single = path.is_file()
    files = input_files(path)
    digest = digest or input_sha256(path, files)
    names = [_safe_name(f.name) if single else f.relative_to(path).as_posix() for f in files]
    inputs = runs_dir / INPUTS_DIR
    target = inputs / digest[:16]
    staged = [target / name for name in names]
    inputs.mkdir(parents=True, exist_ok=True)
    with locked(inputs / ".lock"):
        if not _staged_intact(target, staged, digest, single):
            if target.exists():  # damaged, or written by an older churn that hard-linked
                stale = inputs / f".{digest[:16]}.{uuid.uuid4().hex}.stale"
                target.rename(stale)
                shutil.rmtree(stale, ignore_errors=True)
            with new_folder(target) as partial:
                for source, name in zip(files, names):
                    clone_or_copy(source, partial / name)
                copied = input_sha256(partial / names[0] if single else partial, [partial / n for n in names])
                if copied != digest:
                    raise RunError(f"the input {path} changed while it was being staged; run again")
        else:
            _touch(target)  # its last use, for churn cache prune
    user_paths = {str(target / name): str(source) for source, name in zip(files, names)}
    user_paths[str(target)] = str(path)
    return StagedInput(file_uri(target), digest, staged[0] if single else target, user_paths)


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.utime(path)


def _staged_intact(target: Path, staged: list[Path], digest: str, single: bool) -> bool:
    """Whether ``target`` holds exactly ``staged``, each a file of its own (never a link to
    another file), with the expected content."""
    if not target.is_dir() or tree_files(target) != sorted(staged):
        return False
    if any(f.stat().st_nlink != 1 for f in staged):
        return False
    return input_sha256(staged[0] if single else target, staged) == digest


def _safe_name(name: str) -> str:
    """The staged file's name: the user's when local mode can mount it, else ``input.csv``."""
    if re.fullmatch(r"[\w.+-]+", name, re.ASCII) and name.endswith(".csv"):
        return name
    return "input.csv"


def _mark_interrupted(run_dir: Path | None) -> str | None:
    """Rename this execution's folder to ``<id>.interrupted`` (never another run's): it has no
    summary, and no later report or diff mistakes its partial outputs for results."""
    if run_dir is None or not run_dir.is_dir() or (run_dir / SUMMARY_FILE).exists():
        return None
    target = run_dir.with_name(run_dir.name + INTERRUPTED_SUFFIX)
    run_dir.rename(target)
    return str(target)


def run_local(
    backend: LocalBackend,
    overrides: dict[str, object],
    *,
    build_missing_images: bool = True,
    events: Events | None = None,
    use_cache: bool = True,
    resumed_from: str | None = None,
    expected_definition_sha256: str | None = None,
    expected_input_sha256: str | None = None,
    max_parallel_steps: int | None = None,
    container_runner: str = DEFAULT_RUNNER,
) -> RunResult:
    """Run the pipeline once in containers; raise :class:`RunError` if it cannot start.

    With ``use_cache`` a job step whose request and input contents match an earlier successful
    step reuses its outputs (``runs/.cache``) instead of starting a container. Up to
    ``max_parallel_steps`` independent steps run at once (default: see
    :func:`~churn.runner.scheduling.default_max_parallel_steps`). ``container_runner`` says how
    their containers start (:mod:`churn.runner.containers`; results are the same). With
    ``expected_input_sha256`` (a resume) the run refuses an input whose content changed."""
    overrides = dict(overrides)
    requested = dict(overrides)  # (InputData becomes the staged copy below)
    parameter_specs.check_together(overrides)
    backend.check_scaling(overrides)  # counts above 1: where they can run
    requested_input = input_uri(str(overrides.get("InputData", backend.input_data)), "local")
    runs_dir = backend.runs_dir
    check_local_folder(runs_dir, "the runs folder")
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=runs_dir).close()
    except OSError as error:
        raise RunError(f"the runs folder {runs_dir} cannot be written: {error.strerror or error}") from None
    try:
        docker.require_ready(runs_dir, build_missing=build_missing_images, runner=container_runner)
    except docker.DockerError as error:
        raise RunError(str(error)) from None
    with store_lock(runs_dir):  # churn cache prune removes nothing while this run may read it
        remove_dead_runs(runs_dir)
        staged = stage_input(requested_input, runs_dir)
        if expected_input_sha256 and staged.sha256 != expected_input_sha256:
            raise RunError(
                f"the input {local_path(requested_input)} changed since the run being resumed (sha256 {expected_input_sha256[:12]}… "
                f"then, {staged.sha256[:12]}… now): a resume would not continue the same run; start a new run instead"
            )
        overrides["InputData"] = staged.uri

        if backend.code_version is None:
            _touch(write_bundle(runs_dir / CODE_DIR, backend.dataset))
        else:
            recorded = runs_dir / CODE_DIR / backend.code_version
            if not recorded.is_dir():
                raise RunError(f"the step code of version {backend.code_version} is no longer in {runs_dir / CODE_DIR}")
            if written_bundle_hash(recorded) != backend.code_version:
                raise RunError(f"the step code of version {backend.code_version} in {recorded} was changed on disk; it cannot be run again")
            _touch(recorded)
        from churn.pipeline import build_pipeline

        pipeline = build_pipeline(backend)
        definition = pipeline.definition()
        definition_sha256 = text_sha256(definition)
        if expected_definition_sha256 and definition_sha256 != expected_definition_sha256:
            raise RunError(
                f"version {expected_definition_sha256[:12]} cannot be rebuilt by this churn: the step graph, images "
                "or settings it was compiled with have changed since (only its step code is kept)"
            )
        session = backend.session()
        jobs = JobsFolder.create(runs_dir)
        cache = StepCache(runs_dir / CACHE_DIR, functools.lru_cache(maxsize=None)(docker.image_id)) if use_cache else None
        run = LocalRun(
            runs_dir=runs_dir, jobs=jobs, cache=cache, max_parallel=max_parallel_steps or default_max_parallel_steps(),
            verified_inputs={staged.uri: (staged.path, staged.sha256)}, user_paths=staged.user_paths,
            # What the execution's steps ran, for its replay record (a plain run only: a resumed
            # run or a recorded version is never replayed).
            journal=[] if cache is not None and resumed_from is None and expected_definition_sha256 is None
            and backend.code_version is None else None,
            container_runner=container_runner,
        )
        finished: list[StepFinished] = []

        def started(event) -> None:
            if isinstance(event, RunStarted):
                run.execution_id = event.execution_id
                _write_run_record(backend, run, overrides, requested_input, staged, definition_sha256, resumed_from)
            elif isinstance(event, StepFinished):
                finished.append(event)

        registration = _Registration(backend, runs_dir)
        try:  # whatever happens, an uncommitted registration is rolled back (a no-op once committed)
            result = _execute_and_summarize(
                backend, pipeline, session, overrides, run, jobs, registration, Events(started, (events or Events()).emit),
                definition=definition, requested_input=requested_input, resumed_from=resumed_from, input_sha256=staged.sha256,
            )
        finally:
            registration.abandon()
        if run.journal is not None and result.status == "Succeeded":
            _record_replay(backend, run, requested, requested_input, staged, definition, finished, registration, result)
        return result


def _write_run_record(
    backend: LocalBackend, run: LocalRun, overrides: dict, requested_input: str, staged: StagedInput, definition_sha256: str,
    resumed_from: str | None,
) -> None:
    """``runs/<id>/run.json``, written as the execution starts (see :func:`write_run_record`)."""
    execution_id = str(run.execution_id)
    run.jobs.name_execution(execution_id)  # (churn doctor names a dead run's leftovers by it)
    write_run_record(
        run.runs_dir / execution_id,
        {
            "execution_id": execution_id, "parameters": {**overrides, "InputData": requested_input}, "input_sha256": staged.sha256,
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "pid": os.getpid(),
            "process_start": process_start(os.getpid()),
            "resumed_from": resumed_from, "definition_sha256": definition_sha256,
            "code_version": backend.code_version or bundle_hash(backend.dataset), "tuning": backend.tuning,
            "container_runner": run.container_runner,
        },
    )


def _record_replay(backend: LocalBackend, run: LocalRun, overrides: dict, requested_input: str, staged: StagedInput,
                   definition: str, finished: list[StepFinished], registration: _Registration, result: RunResult) -> None:
    """Leave the replay record of a succeeded run (:mod:`churn.runner.replay`); a record that
    cannot be made or written is no record (the next run takes the full path)."""
    if run.cache is None or run.journal is None:
        return
    record = replay.build_record(
        execution_id=str(run.execution_id), definition=definition, parameters=dict(result.record.parameters), finished=finished,
        journal=run.journal, register_args=registration.arguments, image_id=run.cache.image_id,
    )
    if record is None:
        return
    try:
        replay.write_record(run.runs_dir, replay.replay_digest(backend, overrides, requested_input, staged.sha256), record)
    except OSError as error:
        logging.getLogger(__name__).warning("the replay record was not written (%s)", error)


def execute_locally(*args, **kwargs):
    """:func:`churn.runner.local_executor.execute`, imported when a run executes (the SDK with it:
    a replayed run never imports it)."""
    from churn.runner.local_executor import execute

    return execute(*args, **kwargs)


def _execute_and_summarize(
    backend, pipeline, session, overrides, run: LocalRun, jobs: JobsFolder, registration: _Registration, events: Events,
    *, definition: str, requested_input: str, resumed_from: str | None, input_sha256: str,
) -> RunResult:
    try:
        with backend.sdk_scope():
            execution = execute_locally(
                pipeline, session, overrides, run=run, max_parallel=run.max_parallel,
                events=events, own_steps={"RegisterModel": registration.run},
            )
    except KeyboardInterrupt:  # (the caller rolls the registration back)
        raise _interrupted(run, tuning=backend.tuning) from None
    finally:
        docker.remove_job_containers(jobs.path)
        jobs.close()
    return _summarize(
        run, registration, execution.describe(), execution.list_steps()["PipelineExecutionSteps"],
        definition=definition, parameters={**execution.pipeline_parameters, "InputData": requested_input},
        resumed_from=resumed_from, input_sha256=input_sha256,
    )


def _interrupted(run: LocalRun, *, tuning: bool) -> RunInterrupted:
    """Ctrl-C (or SIGTERM): the run folder marked interrupted, and what to tell the user."""
    marked = _mark_interrupted(run.runs_dir / run.execution_id if run.execution_id else None)
    return RunInterrupted(
        f"interrupted by {run.stopped_by}: the execution was stopped and its containers removed; "
        + ("what it stopped was not cached; what finished before was" + (" (a tuning step's trials too)" if tuning else "") if run.cache is not None
           else "nothing of it was cached")
        + (f"; its partial outputs are in {marked} (churn run --resume {run.execution_id} continues it)" if marked else "")
    )


def _summarize(
    run: LocalRun, registration: _Registration, describe: dict, steps: list[dict], *, definition: str, parameters: dict,
    resumed_from: str | None, input_sha256: str,
) -> RunResult:
    """A finished execution's run folder completed: failed steps' leftovers removed, the
    definition and summary written, then the registration committed and the report written."""
    runs_dir, cache = run.runs_dir, run.cache
    run_dir = runs_dir / describe["PipelineExecutionArn"]
    run_dir.mkdir(parents=True, exist_ok=True)
    failed_logs = []
    for step in steps:
        if step.get("StepStatus") == "Failed":
            log_file = run_dir / step["StepName"] / STEP_LOG
            # Whatever a failed job step left (local mode copies outputs even on failure, and a
            # full disk can cut a file short) is not a result: it is removed; its log stays.
            _keep_only_records(run_dir / step["StepName"])
            if step.get("FailureReason"):
                if not log_file.exists():  # a step without a container (the gate's FailStep, say)
                    keep_log(b"", log_file, failure=step["FailureReason"])
                step["FailureReason"] = bounded(step["FailureReason"], str(log_file))
            failed_logs.append(str(log_file))
        if cache and step["StepName"] in cache.hits:
            step["CacheHitResult"] = {"SourcePipelineExecutionArn": cache.hits[step["StepName"]]}
    if describe.get("FailureReason"):
        describe["FailureReason"] = bounded(describe["FailureReason"], failed_logs[0] if failed_logs else str(run_dir))
    finish = dict(
        backend="local", run_dir=run_dir, definition=definition, parameters=parameters, resumed_from=resumed_from,
        input_sha256=input_sha256, report=False,
    )
    package = registration.package
    registered = None if package is None else RegisteredModel(package.group, package.version, package.arn, package.approval_status)
    result = _summary_or_error(
        lambda: finish_run(**finish, describe=describe, list_steps=steps, registered_model=registered), run_dir,
        "; the model was not registered" if package else "",
    )
    if package is not None:
        try:
            registration.commit()
        except sqlite3.Error as error:  # the summary named a version the registry does not have: rewritten
            reason = f"cannot register the model in {registration.registry.path}: {error}"
            name = registration.step_name
            failed = {**describe, "PipelineExecutionStatus": "Failed", "FailureReason": f"Step '{name}' failed with message: {reason}"}
            steps = [{**s, "StepStatus": "Failed", "FailureReason": reason} if s["StepName"] == name else s for s in steps]
            result = _summary_or_error(lambda: finish_run(**finish, describe=failed, list_steps=steps, registered_model=None), run_dir)
    write_run_report(run_dir)
    return result


def replay_local(
    backend: LocalBackend, overrides: dict[str, object], *, events: Events | None = None, max_parallel_steps: int | None = None,
) -> RunResult | None:
    """Run the pipeline again without compiling it, when nothing changed since a run that
    succeeded with the same digest (:mod:`churn.runner.replay`): every step's cache entry is
    checked first, then the recorded steps are done again from the cache as a cached run does
    them (the same run folder, events, summary, registration and report), without the SDK.
    None when the run is not provably unchanged: the caller runs it in full."""
    runs_dir = backend.runs_dir
    if not (runs_dir / REPLAY_DIR).is_dir():
        return None
    overrides = dict(overrides)
    try:
        parameter_specs.check_together(overrides)
        requested_input = input_uri(str(overrides.get("InputData", backend.input_data)), "local")
        check_local_folder(runs_dir, "the runs folder")
        content = input_sha256(local_path(requested_input))
        digest = replay.replay_digest(backend, overrides, requested_input, content)
    except (ValueError, RunError, OSError):
        return None  # the full path says what is wrong
    record = replay.read_record(runs_dir, digest)
    if record is None:
        return None
    image_id = functools.lru_cache(maxsize=None)(docker.image_id)
    try:
        if any(image_id(name) != content for name, content in record["images"].items()):
            return None  # an image was rebuilt or removed
    except Exception:  # noqa: BLE001 - Docker does not answer: the full path says so
        return None
    with store_lock(runs_dir):
        remove_dead_runs(runs_dir)
        cache = replay.ReplayCache(runs_dir / CACHE_DIR, image_id, record["keys"])
        if not cache.verify():
            return None
        try:
            staged = stage_input(requested_input, runs_dir, digest=content)
        except RunError:
            return None  # the input changed meanwhile: the full path says so
        _touch(write_bundle(runs_dir / CODE_DIR, backend.dataset))
        overrides["InputData"] = staged.uri
        jobs = JobsFolder.create(runs_dir)
        run = LocalRun(
            runs_dir=runs_dir, jobs=jobs, cache=cache, max_parallel=max_parallel_steps or default_max_parallel_steps(),
            verified_inputs={staged.uri: (staged.path, staged.sha256)}, user_paths=staged.user_paths,
        )
        cache.on_miss = lambda: setattr(run, "stopping", True)  # a job that is not the recorded one does not start
        registration = _Registration(backend, runs_dir)
        try:
            return _replay(backend, record, run, registration, overrides, staged, requested_input, events or Events())
        except replay.NotReplayable as reason:
            logging.getLogger(__name__).info("not replayed (%s): the run takes the full path", reason)
            if run.execution_id:
                shutil.rmtree(runs_dir / run.execution_id, ignore_errors=True)
            return None
        except KeyboardInterrupt:
            raise _interrupted(run, tuning=backend.tuning) from None
        finally:
            registration.abandon()
            jobs.close()


def _not_replayable(*args) -> NoReturn:
    raise replay.NotReplayable("a step would run")


def _replay(
    backend: LocalBackend, record: dict, run: LocalRun, registration: _Registration, overrides: dict, staged: StagedInput,
    requested_input: str, events: Events,
) -> RunResult:
    """Do a replay record's steps again in a new run folder; the events the user sees are emitted
    once every step was (a step that cannot be replayed raises NotReplayable, and nothing was shown)."""
    from churn.history import new_execution_id
    from churn.runner.local_tuning import run_tuning
    from churn.tuning import Proposal

    cache = run.cache
    assert isinstance(cache, replay.ReplayCache)  # noqa: S101 - replay_local made it
    definition, source = record["definition"], record["execution_id"]
    run.execution_id = execution_id = new_execution_id()
    created = time.time()
    shown: list = [RunStarted(execution_id)]
    _write_run_record(backend, run, overrides, requested_input, staged, text_sha256(definition), None)
    steps = []
    for step in record["steps"]:
        name, kind = step["name"], step["kind"]
        args = replay.with_execution(step.get("args"), source, execution_id)
        shown.append(StepStarted(name))
        started, clock = time.time(), time.monotonic()
        try:
            if kind in ("processing", "training"):
                run_job(run, name, kind, args, start=_not_replayable, fail=_not_replayable, replay=lambda stored, *_: stored,
                        execution_id=execution_id)
            elif kind == replay.TUNING:
                waves = [[Proposal(p["number"], p["hyperparameters"]) for p in wave] for wave in step["waves"]]
                run_tuning(run, name, args, start_trial=_not_replayable, execution_id=execution_id, waves=waves)
            elif kind == replay.REGISTER:
                registration.run(name, args, execution_id)
        except replay.NotReplayable:
            raise
        except Exception as error:  # noqa: BLE001 - a step that does not end as recorded: the full path runs it
            raise replay.NotReplayable(f"{name}: {type(error).__name__}: {error}") from None
        if run.stopping or (kind in ("processing", "training", replay.TUNING) and name not in cache.hits):
            raise replay.NotReplayable(f"{name} was not served from the cache")
        steps.append({"StepName": name, "StepStatus": "Succeeded", "StartTime": started, "EndTime": time.time()})
        shown.append(StepFinished(name, "Succeeded", time.monotonic() - clock, name in cache.hits, None, step.get("detail")))
    shown.append(RunFinished(execution_id, "Succeeded", None))
    for event in shown:
        events.emit(event)
    describe = {
        "PipelineExecutionArn": execution_id, "PipelineExecutionStatus": "Succeeded", "CreationTime": created,
        "LastModifiedTime": time.time(),
    }
    return _summarize(
        run, registration, describe, steps, definition=definition, parameters={**record["parameters"], "InputData": requested_input},
        resumed_from=None, input_sha256=staged.sha256,
    )


def _summary_or_error(write, run_dir: Path, consequence: str = "") -> RunResult:
    try:
        return write()
    except OSError as error:
        raise RunError(
            f"cannot write {run_dir / SUMMARY_FILE}: {error.strerror or error}{consequence} (the run's outputs are in {run_dir})"
        ) from None


class _Registration:
    """Local registration: the pipeline's RegisterModel step, run by churn's executor (local mode
    cannot run it) with the arguments SageMaker's CreateModelPackage would receive. It adds the
    winner to the local registry in a transaction the run commits only after the summary is
    written."""

    def __init__(self, backend: LocalBackend, runs_dir: Path):
        self.backend, self.runs_dir = backend, runs_dir
        self.registry = Registry(runs_dir)
        self.pending: PendingRegistration | None = None
        self.step_name: str | None = None
        #: The step's arguments (the run's replay record holds them).
        self.arguments: dict | None = None

    @property
    def package(self):
        return self.pending.package if self.pending else None

    def run(self, step_name: str, arguments: dict, execution_id: str) -> None:
        """Register what the step's arguments name: the model archive, its container image, the
        evaluation report, the approval status, the model package group."""
        self.step_name, self.arguments = step_name, arguments
        container = arguments["InferenceSpecification"]["Containers"][0]
        model_file = local_path(container["ModelDataUrl"])
        evaluation_file = local_path(arguments["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"])
        for what, path in (("the winning model", model_file), ("its evaluation", evaluation_file)):
            if not path.is_file():
                raise StepFailure(f"{what} {path} is missing")
        try:
            self.pending = self.registry.begin_registration(
                group=arguments["ModelPackageGroupName"],
                model_data=container["ModelDataUrl"],
                image=container["Image"],
                metrics=metric_values(evaluation_file),
                execution_id=execution_id,
                approval_status=str(arguments["ModelApprovalStatus"]),
                selection=selection_record(self.runs_dir / execution_id),
            )
        except sqlite3.Error as error:
            raise StepFailure(f"cannot register the model in {self.registry.path}: {error}") from None

    def commit(self) -> None:
        if self.pending is not None:
            self.pending.commit()

    def abandon(self) -> None:
        if self.pending is not None:
            self.pending.rollback()


def find_run_dir(runs_dir: Path, execution_id: str) -> Path:
    """The folder of an execution: ``runs/<id>``, or ``runs/<id>.interrupted`` after Ctrl-C."""
    for name in (execution_id, execution_id + INTERRUPTED_SUFFIX):
        if (runs_dir / name).is_dir():
            return runs_dir / name
    raise RunError(f"no execution {execution_id} under {runs_dir}")


@dataclass(frozen=True)
class Resume:
    """What a resumed execution runs again: the parameters, and the input, definition and step
    code it ran (a run of a recorded ``--pipeline-version`` resumes with that version's code)."""

    parameters: dict[str, object]
    input_sha256: str | None
    definition_sha256: str | None
    code_version: str | None
    #: Whether the execution's pipeline had the tuning branch (runs of older churns did not).
    tuning: bool = False


def resume_parameters(runs_dir: Path, execution_id: str) -> Resume:
    """How to run a failed, interrupted or killed local execution again from where it stopped
    (the steps that succeeded are reused from the step cache)."""
    from churn.definition import has_tuning
    from churn.versions import code_hash

    run_dir = find_run_dir(runs_dir, execution_id)
    summary_file, record_file = run_dir / SUMMARY_FILE, run_dir / RUN_RECORD
    try:
        if summary_file.is_file():
            # Only what a resume needs is read (summaries of older churn versions lack other keys).
            summary = json.loads(summary_file.read_text())
            if summary["status"] not in ("Failed", "Stopped"):
                raise RunError(f"execution {execution_id} {summary['status']}: there is nothing to resume")
            definition_file = run_dir / "definition.json"
            document = json.loads(definition_file.read_text()) if definition_file.is_file() else {}
            return Resume(
                dict(summary["parameters"]), summary.get("input_sha256"), summary.get("definition_sha256"),
                code_hash(document) if document else None, has_tuning(document),
            )
        if record_file.is_file():  # killed or interrupted before its summary, or still running
            record = json.loads(record_file.read_text())
            if not run_dir.name.endswith(INTERRUPTED_SUFFIX) and is_running(record):
                raise RunError(f"execution {execution_id} is still running (process {record['pid']}): there is nothing to resume yet")
            return Resume(
                dict(record["parameters"]), record.get("input_sha256"), record.get("definition_sha256"), record.get("code_version"),
                bool(record.get("tuning", False)),
            )
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
        damaged = summary_file if summary_file.is_file() else record_file
        raise RunError(f"cannot resume {execution_id}: {damaged} is damaged ({type(error).__name__}: {error})") from None
    raise RunError(f"cannot resume {execution_id}: {run_dir} has neither {SUMMARY_FILE} nor {RUN_RECORD} (it stopped before its first step)")


@contextlib.contextmanager
def resuming(runs_dir: Path, execution_id: str) -> Iterator[Resume]:
    """:func:`resume_parameters` of an execution no run resumed yet, held for the block (the resume's
    whole run) by an exclusive lock: two resumes of one execution never overlap, and once one has
    started (its run.json names what it resumes) no other starts, so one resumed execution never
    registers two model versions. Else :class:`RunError` naming the run that resumed it."""
    find_run_dir(runs_dir, execution_id)  # (a missing one leaves no lock file)
    (runs_dir / RESUMES_DIR).mkdir(parents=True, exist_ok=True)
    with open(runs_dir / RESUMES_DIR / f"{execution_id}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunError(f"execution {execution_id} is being resumed by another churn run now") from None
        later = last_resume(runs_dir, execution_id)  # (the end of its chain of resumes)
        if later is not None:
            by = later.execution_id if later.resumed_from == execution_id else f"a chain of resumes ending in {later.execution_id}"
            raise RunError(
                f"execution {execution_id} was resumed already by {by} ({later.status}): "
                + (f"resume that one: churn run --resume {later.execution_id}" if later.status in RESUMABLE else "there is nothing to resume")
            )
        yield resume_parameters(runs_dir, execution_id)


def _keep_only_records(folder: Path) -> None:
    """Remove what a failed step left in ``folder`` but its records: the step's log and, for a
    tuning step (one with a ``trials.json``), that file and each trial's own log."""
    if not folder.is_dir():
        return
    tuning = (folder / TRIALS_FILE).is_file()
    for entry in folder.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            if tuning and (entry / STEP_LOG).is_file():  # a trial's folder: its log stays
                remove_all_but(entry, entry / STEP_LOG)
            else:
                shutil.rmtree(entry, ignore_errors=True)
        elif entry.name not in (STEP_LOG, TRIALS_FILE):
            entry.unlink(missing_ok=True)

