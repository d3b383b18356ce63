"""One local execution's job steps: what each step ran, how it ended, what it left.

SageMaker local mode decides a job's status from its ``docker compose`` process alone: Compose
v1 sometimes exits 0 although the container failed (a 50 MB field in the input did it every
time), and the SDK counts exit code 130 as success. Every processing and training step of a
churn run goes through :func:`run_job`, so that

- its containers run from a folder of its own (``<scratch>/<step>/``: local mode's
  ``container_root``, per thread), and after the job their exit codes decide: any non-zero exit
  fails the step with that container's own last error line (bounded; paths inside the container
  named as the user's), and the log is kept in ``runs/<id>/<Step>/logs.txt`` (bounded, ending
  with the failure reason's whole text), with the metrics its estimator's metric definitions
  find in it (``metrics.json``, :mod:`churn.training_metrics`);
- a step whose declared outputs are missing or empty fails;
- the step cache (:class:`~churn.runner.step_cache.StepCache`) is consulted before, and
  written after, only for a step that passed both checks;
- the raw input is verified against the sha256 recorded when it was staged.

Nothing here imports the SDK: :mod:`churn.runner.local_executor` calls :func:`run_job` from its
step executors with the three SDK operations it needs (start the job, record a failure, replay
a cached job description).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from churn.backends import docker
from churn.files import content_sha256, has_content, uri_path
from churn.layout import CACHE_DIR, CODE_DIR, INPUTS_DIR, STEP_LOG
from churn.runner.containers import DEFAULT_RUNNER, ContainerNotStarted
from churn.runner.step_cache import CACHED_LOG, StepCache
from churn.steps.paths import TRAINING_DATA
from churn.atomic import AtomicTextWriter
from churn.training_metrics import METRICS_FILE, job_metric_definitions, metric_series, series_document

#: Failure reasons are bounded like SageMaker's (its FailureReason holds 1,024 characters);
#: the whole text is in the step's log file.
MAX_REASON = 1024
#: A kept step log holds at most this much of the container output: its first
#: :data:`LOG_HEAD_BYTES` and its end, with a line saying how much was left out between.
MAX_LOG_BYTES = 4 << 20
LOG_HEAD_BYTES = 256 << 10
#: What the log of a job stopped by an interrupt ends with (``{}``: Ctrl-C, or the signal).
STOPPED = "stopped by {}: the run was interrupted and the job's containers removed"
#: What interrupts a run of this process, as messages name it: Ctrl-C, unless the handler that
#: turns another signal into Ctrl-C's (churn run's, for SIGTERM) names that signal here first.
interrupted_by = "Ctrl-C"
#: How local mode reports any failed ``docker compose`` run, whatever the container said.
COMPOSE_FAILURE = "RuntimeError: Failed to run: "
#: Where the runs' job folders live; each run holds a lock on its own while it lives.
JOBS_DIR = ".jobs"
_LOCK_FILE = "owner.lock"
#: Every local run holds a shared lock on this file of its runs folder from before it stages its
#: input until it ends; ``churn cache prune`` holds it exclusively, so the two never overlap.
STORE_LOCK = ".store.lock"


class StepFailure(Exception):
    """Raised by a step churn runs itself (RegisterModel's handler) to fail with ``reason`` (the
    step's FailureReason)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def bounded(reason: str, log_hint: str = "") -> str:
    if len(reason) <= MAX_REASON:
        return reason
    suffix = f"… ({len(reason)} characters{'; all of it in ' + log_hint if log_hint else ''})"
    return reason[: MAX_REASON - len(suffix)] + suffix


class _ContainerRoots(dict):
    """Local mode's ``local`` config section whose ``container_root`` is the calling thread's
    job folder (each step runs in a thread of its own), else the run's scratch folder."""

    def __init__(self, default: Path, **settings):
        super().__init__(container_root=str(default), **settings)
        self._thread = threading.local()

    def __getitem__(self, key):
        if key == "container_root" and getattr(self._thread, "root", None):
            return self._thread.root
        return super().__getitem__(key)

    @contextmanager
    def use(self, root: Path):
        self._thread.root = str(root)
        try:
            yield
        finally:
            self._thread.root = None


@contextmanager
def locked(path: Path):
    """An exclusive lock on ``path`` (created if missing) for the length of the block."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextmanager
def store_lock(runs_dir: Path, *, exclusive: bool = False, wait: bool = True):
    """Hold ``runs_dir``'s :data:`STORE_LOCK`: shared (a run) or exclusive (a prune). Without
    ``wait``, raise :class:`BlockingIOError` at once when another holder excludes this one."""
    with open(runs_dir / STORE_LOCK, "a") as handle:
        mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                raise
            logging.getLogger(__name__).warning("waiting for churn cache prune to finish in %s", runs_dir)
            fcntl.flock(handle, mode)
        yield


@dataclass
class JobsFolder:
    """A run's scratch folder for local mode's per-job Compose files, locked while the run lives,
    so a later run can tell a dead run's leftovers (``kill -9``) from a live run's."""

    path: Path
    _handle: TextIO | None = None

    @classmethod
    def create(cls, runs_dir: Path) -> JobsFolder:
        """Made under a hidden name and locked before it is renamed to ``run-*``, so no other
        run's :func:`remove_dead_runs` ever sees it unlocked."""
        root = runs_dir / JOBS_DIR
        root.mkdir(parents=True, exist_ok=True)
        hidden = Path(tempfile.mkdtemp(prefix=".new-", dir=root))
        handle = open(hidden / _LOCK_FILE, "w")  # noqa: SIM115 - held for the run's lifetime
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle.write(str(os.getpid()))
        handle.flush()
        path = root / hidden.name.replace(".new-", "run-", 1)
        hidden.rename(path)
        return cls(path, handle)

    def name_execution(self, execution_id: str) -> None:
        """Write the execution's id after the pid in the lock file: ``churn doctor`` names the run
        whose containers outlived it."""
        if self._handle is not None:
            self._handle.write(f" {execution_id}")
            self._handle.flush()

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        if self._handle is not None:
            self._handle.close()
            self._handle = None


#: Partial copies (``.*.partial``) older than this are leftovers of a run that died mid-copy.
STALE_PARTIAL_SECONDS = 3600


def _dead_runs(runs_dir: Path) -> Iterator[Path]:
    """The job folders of runs that died (their lock is free: ``kill -9``), each yielded while
    this process holds its lock; a live run's never."""
    legacy = sorted((runs_dir / CODE_DIR).glob("jobs-*"))  # churn before 0.2 kept them there, unlocked
    for folder in sorted((runs_dir / JOBS_DIR).glob("run-*")) + legacy:
        try:
            descriptor = os.open(folder / _LOCK_FILE, os.O_RDWR)  # never created here
        except FileNotFoundError:
            yield folder
            continue
        with os.fdopen(descriptor) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live run
            yield folder


def remove_dead_runs(runs_dir: Path) -> list[Path]:
    """Remove the containers and job folders of runs that died (their lock is free), and the
    partial copies a run that died mid-copy left in the cache, inputs and code folders; a live
    run's are never touched. Returns what was removed."""
    removed = []
    for folder in _dead_runs(runs_dir):
        _remove(folder)
        removed.append(folder)
    now = time.time()
    leftovers = [p for name in (CACHE_DIR, INPUTS_DIR, CODE_DIR) for p in (runs_dir / name).glob(".*.partial")]
    for partial in leftovers + list((runs_dir / JOBS_DIR).glob(".new-*")):
        if now - partial.stat().st_mtime > STALE_PARTIAL_SECONDS:
            shutil.rmtree(partial, ignore_errors=True)
            removed.append(partial)
    return removed


def live_jobs(runs_dir: Path) -> list[Path]:
    """The job folders of the runs that live (their lock is held)."""
    live = []
    for folder in sorted((runs_dir / JOBS_DIR).glob("run-*")):
        try:
            descriptor = os.open(folder / _LOCK_FILE, os.O_RDONLY)
        except FileNotFoundError:
            continue
        with os.fdopen(descriptor) as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                live.append(folder)
    return live


def dead_run_checks(runs_dir: Path, *, remove: bool = False) -> list[docker.Check]:
    """``churn doctor``'s word on the step containers of ``runs_dir``'s runs that died (``kill -9``;
    the next run there removes them): one failed check per such run, naming it and them, or with
    ``remove`` one passed check per run whose containers (and job folder) it removed."""
    checks = []
    for folder in _dead_runs(runs_dir):
        names = docker.job_container_names(folder)
        if not names:
            continue
        left = f"{_dead_run(folder)} left {len(names)} step container{'s' if len(names) > 1 else ''}: {', '.join(names)}"
        if remove:
            _remove(folder)
            checks.append(docker.Check("leftovers", True, f"removed: {left}"))
        else:
            checks.append(docker.Check("leftovers", False, left, f"churn doctor --remove-leftovers (or: docker rm -f {' '.join(names)})"))
    return checks or [docker.Check("leftovers", True, f"no step containers of dead runs in {runs_dir}")]


def _dead_run(folder: Path) -> str:
    """A dead run as its lock file names it (the pid, then the execution id once it started)."""
    try:
        pid, *execution = (folder / _LOCK_FILE).read_text().split()
    except (OSError, ValueError):
        return f"the dead run of {folder}"
    return f"run {execution[0]} (process {pid}, dead)" if execution else f"a run that died before its execution started (process {pid})"


def _remove(folder: Path) -> None:
    docker.remove_job_containers(folder)
    shutil.rmtree(folder, ignore_errors=True)


@dataclass
class LocalRun:
    """What the wrapped job steps of one local execution need to know."""

    runs_dir: Path
    jobs: JobsFolder
    cache: StepCache | None
    max_parallel: int
    #: Input URI -> (path, sha256 recorded at staging time): checked again when a step starts.
    verified_inputs: dict[str, tuple[Path, str]] = field(default_factory=dict)
    #: Host paths as the user knows them (a staged copy -> the user's own file).
    user_paths: dict[str, str] = field(default_factory=dict)
    execution_id: str | None = None
    #: When a list: each job step (and tuning trial) that succeeded appends what it ran, for the
    #: run's replay record (:mod:`churn.runner.replay`): its name, kind, request, cache key, outputs.
    journal: list[dict] | None = None
    #: How job containers start (:mod:`churn.runner.containers`): ``engine`` or ``compose``.
    container_runner: str = DEFAULT_RUNNER

    def __post_init__(self):
        self.container_roots = _ContainerRoots(self.jobs.path, local_code=True)
        #: Set by :meth:`stop_jobs` (Ctrl-C): a job that ends now was stopped, not failed.
        self.stopping = False
        self._stopped_by = ""  # what :meth:`stop_jobs` saw: a signal during the clean-up does not rename it
        self._job_folders: set[Path] = set()
        self._job_folders_lock = threading.Lock()

    def job_folder(self, step: str) -> Path:
        """Job step ``step``'s folder under the run's jobs folder (local mode's container root for
        it), known to :meth:`stop_jobs` from now on. A tuning step's trials (``<Step>/<job>``) have
        theirs inside their step's."""
        folder = self.jobs.path / step
        with self._job_folders_lock:
            self._job_folders.add(folder)
        return folder

    def stop_jobs(self) -> None:
        """Ctrl-C: each running job's containers removed, their output kept for its step's log."""
        with self._job_folders_lock:  # a job folder is either known here or sees ``stopping``
            self.stopping, self._stopped_by = True, self.stopped_by
            known = set(self._job_folders)
        folders = known | {p for p in self.jobs.path.iterdir() if p.is_dir()}
        # The deepest first: a trial's containers are its own, not its tuning step folder's.
        for job_dir in sorted(folders, key=lambda p: (-len(p.parts), p)):
            try:
                docker.finish_job_containers(job_dir, job_dir / STEP_LOG)
            except Exception as error:  # noqa: BLE001 - stopping must go on; what is left is removed below
                logging.getLogger(__name__).warning("%s: its output was not kept (%s)", job_dir.name, error)
        docker.remove_job_containers(self.jobs.path)

    @property
    def stopped_by(self) -> str:
        """What interrupts (or interrupted) the run: Ctrl-C, or the signal :data:`interrupted_by` names."""
        return self._stopped_by or interrupted_by

    @property
    def stopped(self) -> str:
        """The failure reason of a job (or trial) the stop ended."""
        return STOPPED.format(self.stopped_by)

    def step_folder(self, step: str) -> Path:
        return self.runs_dir / str(self.execution_id) / step

    def log_file(self, step: str) -> Path:
        return self.step_folder(step) / STEP_LOG

    def user_path(self, text: str, container_paths: dict[str, str]) -> str:
        """``text`` with paths inside the container replaced by the host paths the user knows."""
        for inside, host in sorted(container_paths.items(), key=lambda item: -len(item[0])):
            text = text.replace(inside, host)
        for staged, user in sorted(self.user_paths.items(), key=lambda item: -len(item[0])):
            text = text.replace(staged, user)
        return text


# --- the declared outputs and container paths of each kind of job step -------------------


def _processing_outputs(args: dict) -> dict[str, Path]:
    return {o["OutputName"]: uri_path(o["S3Output"]["S3Uri"]) for o in args["ProcessingOutputConfig"]["Outputs"]}


def _training_outputs(args: dict) -> dict[str, Path]:
    return {"model": uri_path(args["OutputDataConfig"]["S3OutputPath"])}


def _processing_inputs(args: dict) -> dict[str, str]:
    """Container path -> input URI."""
    return {i["S3Input"]["LocalPath"]: i["S3Input"]["S3Uri"] for i in args.get("ProcessingInputs", [])}


def _training_inputs(args: dict) -> dict[str, str]:
    return {
        f"{TRAINING_DATA}/{c['ChannelName']}": c["DataSource"]["S3DataSource"]["S3Uri"] for c in args["InputDataConfig"]
    }


def _container_paths(inputs: dict[str, str], outputs: dict[str, Path], args: dict) -> dict[str, str]:
    paths = {inside: str(uri_path(uri)) for inside, uri in inputs.items() if uri.startswith("file://")}
    for output in args.get("ProcessingOutputConfig", {}).get("Outputs", []):
        paths[output["S3Output"]["LocalPath"]] = str(outputs[output["OutputName"]])
    return paths


def missing_outputs(outputs: dict[str, Path]) -> list[str]:
    """Declared outputs that hold no file, or only empty files."""
    return [name for name, folder in outputs.items() if not has_content(folder)]


def _missing_model(outputs: dict[str, Path]) -> list[str]:
    """A training job's ``model.tar.gz`` must hold a non-empty file (local mode writes the
    archive even when the container wrote nothing)."""
    import tarfile

    archive = outputs["model"] / "model.tar.gz"
    try:
        with tarfile.open(archive, "r:gz") as tar:
            while (member := tar.next()) is not None:
                if member.isfile() and member.size > 0:
                    return []
    except (OSError, tarfile.TarError, EOFError):
        pass
    return ["model"]


# --- the kept log ---------------------------------------------------------------------------


def _line_start(data: bytes, at: int, *, backwards: bool) -> int:
    """The start of a line near ``at`` (the one ``at`` is in when going ``backwards``, else the
    next); without a line end in reach, the start of the UTF-8 character ``at`` is in."""
    found = data.rfind(b"\n", 0, at) if backwards else data.find(b"\n", at)
    if found != -1:
        return found + 1
    while 0 < at < len(data) and data[at] & 0xC0 == 0x80:  # a UTF-8 continuation byte
        at -= 1
    return at


def bounded_log(data: bytes, limit: int = MAX_LOG_BYTES, head: int = LOG_HEAD_BYTES) -> bytes:
    """``data`` whole when it fits ``limit``, else about its first ``head`` bytes and its end,
    cut at line starts, with a line saying how much was left out between."""
    if len(data) <= limit:
        return data
    cut = _line_start(data, head, backwards=True)
    resume = max(cut, _line_start(data, len(data) - (limit - head), backwards=False))
    marker = f"[churn: {resume - cut} bytes of this step's output left out here]\n".encode()
    return data[:cut] + (b"" if cut == 0 or data[cut - 1:cut] == b"\n" else b"\n") + marker + data[resume:]


def keep_log(output: bytes, target: Path, *, header: str = "", failure: str | None = None) -> None:
    """Write a step's ``logs.txt``: ``header``, the container ``output`` (bounded) and, for a
    failed step, the failure reason's whole text. A full disk loses the log, never the verdict."""
    parts = [header.encode(), bounded_log(output)]
    if failure is not None:
        parts.append(("\n" if output and not output.endswith(b"\n") else "").encode() + f"churn: the step failed: {failure}\n".encode())
    _write(target, b"".join(parts))


def _write(target: Path, data: bytes) -> None:
    try:
        with AtomicTextWriter(target) as out:
            out.write(data)
    except OSError:  # a full disk loses a log or a series, never a step's verdict
        pass


def _metrics_document(kind: str, args: dict, output: bytes) -> bytes | None:
    """A training job's metric series (``metrics.json``), read from its whole log by its metric
    definitions; None for a job without definitions."""
    definitions = job_metric_definitions(args.get("AlgorithmSpecification", {})) if kind == "training" else []
    if not definitions:
        return None
    return series_document(definitions, metric_series(output.decode("utf-8", "replace"), definitions)).encode()


def _keep_cached_log(run: LocalRun, cache: StepCache, step: str, kind: str, args: dict, key: str) -> None:
    """A cache hit's log and series: the producing job's, its log under a line naming its execution."""
    output = cache.note(key, CACHED_LOG) or b""
    producer = cache.hits.get(step, "an earlier run")
    keep_log(output, run.log_file(step), header=(
        f"[churn: cached: this step reused the outputs of execution {producer}; its log follows]\n" if output
        else f"[churn: cached: this step reused the outputs of execution {producer}, whose log was not kept]\n"
    ))
    metrics = cache.note(key, METRICS_FILE) or _metrics_document(kind, args, output)
    if metrics is not None:
        _write(run.step_folder(step) / METRICS_FILE, metrics)


def _read_bytes(path: Path | None) -> bytes:
    try:
        return path.read_bytes() if path is not None else b""
    except OSError:
        return b""


# --- one guarded job -----------------------------------------------------------------------

#: What differs between the two kinds of job step: declared outputs, inputs, cache key, check.
_KINDS = {
    "processing": (_processing_outputs, _processing_inputs, StepCache.processing_key, missing_outputs),
    "training": (_training_outputs, _training_inputs, StepCache.training_key, _missing_model),
}


def run_job(
    run: LocalRun,
    step: str,
    kind: str,
    args: dict,
    *,
    start: Callable[[], dict],
    fail: Callable[[str], None],
    replay: Callable[[dict, str, dict[str, Path]], dict],
    execution_id: str,
) -> dict:
    """Run one job step (``kind``: "processing" or "training") of ``run``, guarded.

    ``args`` is the step's resolved job request; ``start()`` runs the job in local mode and
    returns its description (or raises the SDK's failure); ``fail(reason)`` records the step's
    failure and raises; ``replay(stored, job_name, outputs)`` turns a cached description into
    this step's. This function does not know the SDK: the executor supplies the three."""
    outputs_of, inputs_of, key_of, check_outputs = _KINDS[kind]
    outputs, inputs = outputs_of(args), inputs_of(args)
    paths = _container_paths(inputs, outputs, args)
    log_file = run.log_file(step)
    job_dir = run.job_folder(step)
    job_log = job_dir / STEP_LOG  # the containers' output, until the step's verdict

    def failed(reason: str):
        keep_log(_read_bytes(job_log), log_file, failure=reason)
        fail(bounded(reason, str(log_file)))

    changed = _changed_input(run, inputs)
    if changed is not None:
        failed(f"the staged copy of the input {changed} changed after staging (sha256 differs); run again")
    key = key_of(run.cache, args) if run.cache else None
    if key and run.cache:
        stored = run.cache.restore(step, key, outputs, execution_id)
        if stored is not None:
            _keep_cached_log(run, run.cache, step, kind, args, key)
            _journal(run, step, kind, args, key, outputs)
            return replay(stored, f"{step}-cached-{key[:8]}", outputs)
    response, sdk_failure = _start(run, job_dir, start, failed)
    failed_container, count = docker.finish_job_containers(job_dir, job_log)
    hint = str(log_file)
    if run.stopping and sdk_failure is None:  # Ctrl-C removed its containers, and Compose still exited 0
        failed(run.stopped)
    if failed_container is not None and not run.stopping:
        failed(run.user_path(failed_container.reason(), paths))
    if sdk_failure is not None:
        _sdk_failed(run, sdk_failure, count, job_log, log_file, failed)
    if count == 0:
        failed("no container ran for this job (local mode reported success without one)")
    missing = check_outputs(outputs)
    if missing:
        failed(
            f"the job ended without writing its declared output{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (see {hint})"
        )
    output = _read_bytes(job_log)
    metrics = _metrics_document(kind, args, output)
    if key and run.cache:
        notes = {CACHED_LOG: bounded_log(output), **({METRICS_FILE: metrics} if metrics is not None else {})}
        try:
            run.cache.store(key, outputs, response, execution_id, notes=notes)
        except OSError as error:  # a full disk, say: the step stands, it is just not cached
            logging.getLogger(__name__).warning("%s: not cached (%s)", step, error)
    keep_log(output, log_file)
    if metrics is not None:
        _write(run.step_folder(step) / METRICS_FILE, metrics)
    _journal(run, step, kind, args, key, outputs)
    return response


def _journal(run: LocalRun, step: str, kind: str, args: dict, key: str | None, outputs: dict[str, Path]) -> None:
    if run.journal is not None:
        run.journal.append({"step": step, "kind": kind, "args": args, "key": key, "outputs": sorted(outputs)})


def _start(run: LocalRun, job_dir: Path, start: Callable[[], dict], failed: Callable[[str], None]) -> tuple[dict, Exception | None]:
    """Start the job in its folder: (its description, None), or ({}, the SDK's failure), to be
    checked against its containers. A job prepared after Ctrl-C does not start."""
    job_dir.mkdir(parents=True, exist_ok=True)
    if run.stopping:
        failed(run.stopped)
    with run.container_roots.use(job_dir):
        try:
            return start(), None
        except Exception as error:  # noqa: BLE001 - the SDK's verdict, checked against the containers
            return {}, error


def _sdk_failed(run: LocalRun, error: Exception, count: int, job_log: Path, log_file: Path, failed: Callable[[str], None]) -> None:
    """Local mode said the job failed: its reason, in the step's log, and the error raised."""
    message = getattr(error, "message", str(error))
    if run.stopping:  # Ctrl-C removed its containers (their output is in job_log): the step was
        failed(run.stopped)  # stopped, whatever Compose's exit said ("Failed to run: ... code: 137")
    if count == 0 and (message.startswith(COMPOSE_FAILURE) or isinstance(error, ContainerNotStarted)):  # before any container ran
        failed(f"the job's container did not run: {message}")
    keep_log(_read_bytes(job_log), log_file, failure=message)
    raise error


def _changed_input(run: LocalRun, inputs: dict[str, str]) -> str | None:
    """The user's path of a staged input whose content is no longer what was staged."""
    for uri in inputs.values():
        if uri in run.verified_inputs:
            path, expected = run.verified_inputs[uri]
            if not path.exists() or content_sha256(path) != expected:
                return run.user_path(str(path), {})
    return None


def write_run_record(run_dir: Path, record: dict) -> None:
    """``runs/<id>/run.json``: what a run was started with, written as soon as its id is known,
    so a run killed before its summary can still be resumed."""
    from churn.layout import RUN_RECORD
    from churn.atomic import write_lines_atomically

    write_lines_atomically(run_dir / RUN_RECORD, [json.dumps(record, indent=2, default=str)])


def remove_all_but(folder: Path, keep: Path) -> None:
    """Remove everything in ``folder`` except the file ``keep`` (what a failed job left: its
    outputs could be taken for results)."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry == keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
