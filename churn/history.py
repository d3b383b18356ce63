"""The runs of a runs folder: what ``churn runs list`` shows, and which folder a run reference names.

A run is a folder ``runs/<execution-id>`` with a ``summary.json`` (it finished: Succeeded,
Failed or Stopped), or only a ``run.json`` (it is running, or it was killed before its summary:
told apart by whether the process that started it still lives), or ``runs/<id>.interrupted``
(Ctrl-C stopped it). Local execution ids start with their UTC start time
(``20261128-090346-3fa2c1``), so they sort by time; a cloud execution's id is SageMaker's and the
list sorts by start time, whatever the id.

A run reference (``churn report``, ``diff``, ``run --resume``) is a run folder's path, an
execution id, or ``latest`` (the run started last).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from churn.layout import INTERRUPTED_SUFFIX, RUN_RECORD
from churn.summary import SUMMARY_FILE, SummaryError, read_summary

LATEST = "latest"
#: What ``churn run --resume`` can run again.
RESUMABLE = ("Failed", "Stopped", "Killed", "Interrupted")
#: Statuses of runs without a summary.
RUNNING, KILLED, INTERRUPTED, DAMAGED = "Running", "Killed", "Interrupted", "Damaged"
#: Every status ``churn runs list`` shows: SageMaker's three of a finished execution, and these.
RUN_STATUSES = ("Succeeded", "Failed", "Stopped", RUNNING, KILLED, INTERRUPTED, DAMAGED)


def new_execution_id(now: datetime | None = None) -> str:
    """A local execution id that sorts by start time: ``YYYYMMDD-HHMMSS-`` and 6 random hex digits."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{moment:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class RunEntry:
    execution_id: str
    run_dir: Path
    status: str
    started_at: str | None = None
    duration_seconds: float | None = None
    backend: str | None = None
    input_sha256: str | None = None
    #: The first 12 hex digits of the definition's sha256: the pipeline version (churn versions).
    pipeline_version: str | None = None
    winner: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    failure_reason: str | None = None
    #: The execution this run resumed (``churn run --resume``).
    resumed_from: str | None = None

    def to_json(self) -> dict:
        return {
            "execution_id": self.execution_id, "run_dir": str(self.run_dir), "status": self.status, "started_at": self.started_at,
            "duration_seconds": self.duration_seconds, "backend": self.backend, "input_sha256": self.input_sha256,
            "pipeline_version": self.pipeline_version, "winner": self.winner, "metrics": self.metrics,
            "failure_reason": self.failure_reason, "resumed_from": self.resumed_from,
        }


def process_start(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks since boot, /proc/<pid>/stat), or None where
    that cannot be read: with the pid it tells a process from a later one given the same pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2:].split()[19])  # field 22: starttime
    except (OSError, ValueError, IndexError):
        return None


def is_running(record: dict) -> bool:
    """Whether the process a run record names (``pid``, ``process_start``) still runs: the pid
    exists and, where the record says when its process started, it is that same process."""
    pid = record.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        pass
    recorded = record.get("process_start")
    return recorded is None or recorded == process_start(pid)


def _entry(run_dir: Path) -> RunEntry | None:
    interrupted = run_dir.name.endswith(INTERRUPTED_SUFFIX)
    execution_id = run_dir.name.removesuffix(INTERRUPTED_SUFFIX)
    if (run_dir / SUMMARY_FILE).is_file():
        try:
            summary = read_summary(run_dir)
        except (SummaryError, KeyError, TypeError, ValueError) as error:
            return RunEntry(execution_id, run_dir, DAMAGED, failure_reason=str(error)[:200])
        return RunEntry(
            execution_id, run_dir, summary.status, summary.started_at, summary.duration_seconds, summary.backend,
            summary.input_sha256, (summary.definition_sha256 or "")[:12] or None, (summary.selection or {}).get("winner"),
            dict(summary.metrics), summary.failure_reason, summary.resumed_from,
        )
    record_file = run_dir / RUN_RECORD
    if not record_file.is_file():
        return None  # not a run folder
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
        if not isinstance(record, dict):
            raise ValueError("not an object")
    except (OSError, ValueError) as error:
        return RunEntry(execution_id, run_dir, DAMAGED, failure_reason=f"{record_file}: {error}"[:200])
    status = INTERRUPTED if interrupted else RUNNING if is_running(record) else KILLED
    definition, resumed_from = record.get("definition_sha256"), record.get("resumed_from")
    return RunEntry(
        execution_id, run_dir, status, record.get("started_at"), None, "local", record.get("input_sha256"),
        definition[:12] if isinstance(definition, str) else None, resumed_from=resumed_from if isinstance(resumed_from, str) else None,
    )


def list_runs(runs_dir: Path) -> list[RunEntry]:
    """Every run of ``runs_dir``, newest first (by start time, then id)."""
    if not runs_dir.is_dir():
        return []
    entries = [e for e in (_entry(p) for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")) if e is not None]
    return sorted(entries, key=lambda e: (e.started_at or "", e.execution_id), reverse=True)


class RunReferenceError(ValueError):
    """A run reference names no run; the message says what was looked for."""


def latest_resumable(runs_dir: Path) -> Path:
    """The newest run that ``--resume`` can run again (failed, stopped, killed or interrupted) and
    that no run resumed yet (a resumed chain goes on from its newest run). A resume running now
    that is newer than it is refused: ``latest`` means that chain, not an older run."""
    runs = list_runs(runs_dir)
    resumed = {e.resumed_from for e in runs}
    for entry in runs:
        if entry.status == RUNNING and entry.resumed_from:
            raise RunReferenceError(
                f"the newest resume, {entry.execution_id} (of {entry.resumed_from}), is running now: "
                "wait for it, or name the run to resume instead of latest"
            )
        if entry.status in RESUMABLE and entry.execution_id not in resumed:
            return entry.run_dir
    raise RunReferenceError(f"no failed, stopped, killed or interrupted run in {runs_dir} left to resume (none, or each resumed already)")


def last_resume(runs_dir: Path, execution_id: str) -> RunEntry | None:
    """The last run of the chain of resumes from ``execution_id`` (the run that resumed it, the run
    that resumed that one, ...; whatever became of it), or None when no run resumed it."""
    runs = list_runs(runs_dir)
    last, seen = None, {execution_id}
    while (later := next((e for e in runs if e.resumed_from == execution_id), None)) is not None and later.execution_id not in seen:
        last, execution_id = later, later.execution_id
        seen.add(execution_id)
    return last


def resolve_run(reference: str, runs_dir: Path) -> Path:
    """The folder a run reference names: an existing folder's path, ``latest``, or an execution
    id under ``runs_dir`` (``<id>`` or ``<id>.interrupted``)."""
    if not reference.strip():
        raise RunReferenceError("an empty run reference: give a run folder, an execution id or latest")
    if reference == LATEST:
        runs = list_runs(runs_dir)
        if not runs:
            raise RunReferenceError(f"no run in {runs_dir} yet")
        return runs[0].run_dir
    path = Path(reference)
    if path.is_dir():
        return path
    if "/" not in reference:
        for name in (reference, reference + INTERRUPTED_SUFFIX):
            if (runs_dir / name).is_dir():
                return runs_dir / name
    raise RunReferenceError(f"no run {reference!r}: neither a run folder nor an execution id in {runs_dir} (churn runs list shows them)")
