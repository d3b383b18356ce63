"""``summary.json``: what a finished execution did, in the same shape for every backend."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from churn import __version__
from churn.rules import report_values
from churn.layout import ARTIFACT_STEP, ARTIFACTS, TRIALS_FILE, TUNE_STEP
from churn.atomic import write_lines_atomically

SUMMARY_FILE = "summary.json"


#: Keys added to summary.json after its first version (older summaries lack them).
LATER_KEYS = ("resumed_from", "selection", "input_sha256", "tuning", "sizing")
#: The keys of every summary.json, whatever the backend.
SUMMARY_KEYS = (
    "execution_id", "backend", "status", "failure_reason", "started_at", "finished_at", "duration_seconds",
    "parameters", "steps", "metrics", "artifacts", "registered_model", "churn_version", "definition_sha256",
    "resumed_from", "selection", "input_sha256", "tuning", "sizing",
)


def iso_time(timestamp) -> str | None:
    if timestamp is None:
        return None
    if isinstance(timestamp, datetime):
        return timestamp.astimezone(timezone.utc).isoformat(timespec="milliseconds")
    return datetime.fromtimestamp(float(timestamp), timezone.utc).isoformat(timespec="milliseconds")


def _seconds(start, end) -> float | None:
    if start is None or end is None:
        return None
    if isinstance(start, datetime):
        return round((end - start).total_seconds(), 3)
    return round(float(end) - float(start), 3)


@dataclass(frozen=True)
class StepRecord:
    """One step of a finished run, as ``summary.json`` lists it."""

    name: str
    status: str
    started_at: str | None = None
    finished_at: str | None = None
    duration_seconds: float | None = None
    cache_hit: bool = False
    failure_reason: str | None = None

    def to_json(self) -> dict:
        if self.status == "NotStarted":
            return {"name": self.name, "status": self.status}
        record = {
            "name": self.name, "status": self.status, "started_at": self.started_at, "finished_at": self.finished_at,
            "duration_seconds": self.duration_seconds, "cache_hit": self.cache_hit,
        }
        return {**record, "failure_reason": self.failure_reason} if self.failure_reason else record

    @classmethod
    def from_json(cls, record: dict) -> StepRecord:
        if not isinstance(record, dict) or not isinstance(record.get("name"), str) or not isinstance(record.get("status"), str):
            raise TypeError(f"a step must have a name and a status, got {record!r}"[:200])
        return cls(
            name=record["name"], status=record["status"], started_at=record.get("started_at"), finished_at=record.get("finished_at"),
            duration_seconds=record.get("duration_seconds"), cache_hit=bool(record.get("cache_hit")),
            failure_reason=record.get("failure_reason"),
        )


def step_records(list_steps: list[dict], order: list[str]) -> list[StepRecord]:
    """Steps of ``ListPipelineExecutionSteps`` as summary records, in graph order."""
    by_name = {s["StepName"]: s for s in list_steps}
    records = []
    for name in order:
        step = by_name.get(name)
        if step is None:
            records.append(StepRecord(name, "NotStarted"))
            continue
        records.append(
            StepRecord(
                name=name,
                status=step.get("StepStatus") or "Unknown",
                started_at=iso_time(step.get("StartTime")),
                finished_at=iso_time(step.get("EndTime")),
                duration_seconds=_seconds(step.get("StartTime"), step.get("EndTime")),
                # SageMaker reports a reused step as CacheHitResult; the local cache does the same.
                cache_hit=bool(step.get("CacheHitResult")),
                failure_reason=step.get("FailureReason") or None,
            )
        )
    return records


@dataclass(frozen=True)
class RegisteredModel:
    """The model package a run registered."""

    group: str
    version: int | str
    arn: str | None = None
    approval_status: str | None = None

    def to_json(self) -> dict:
        record = {"group": self.group, "version": self.version}
        if self.approval_status is not None:
            record["approval_status"] = self.approval_status
        return {**record, "arn": self.arn}

    @classmethod
    def from_json(cls, record: dict) -> RegisteredModel:
        return cls(record["group"], record["version"], record.get("arn"), record.get("approval_status"))


@dataclass(frozen=True)
class RunSummary:
    """What a finished execution did, in the same shape for every backend: ``summary.json``
    written by :meth:`to_json` and read back by :meth:`from_json` (:func:`read_summary`), and
    nowhere else. The CLI, the report, the graph, ``churn diff`` and ``churn versions`` read this."""

    execution_id: str
    backend: str
    status: str
    failure_reason: str | None
    started_at: str | None
    finished_at: str | None
    duration_seconds: float | None
    parameters: dict[str, object]
    steps: tuple[StepRecord, ...]
    #: The winner's test metrics (name -> value).
    metrics: dict[str, float]
    #: Artifact name -> its path inside the run folder (only those the run produced).
    artifacts: dict[str, str]
    registered_model: RegisteredModel | None
    churn_version: str
    definition_sha256: str | None
    resumed_from: str | None
    #: The run's selection.json (metric, winner, every candidate's metrics), if it has one.
    selection: dict | None
    #: sha256 of the input the run read (a file's, or a folder's tree hash); None when unknown.
    input_sha256: str | None
    #: The tuning step's trials.json (settings, best trial, every trial); None without one.
    tuning: dict | None = None
    #: The manifest's ``sizing`` (training rows; the training instance type asked for, what
    #: ``auto`` gives for those rows, what was used); None without one.
    sizing: dict | None = None

    def step(self, name: str) -> StepRecord | None:
        return next((s for s in self.steps if s.name == name), None)

    @property
    def failed_steps(self) -> list[StepRecord]:
        return [s for s in self.steps if s.status == "Failed"]

    @property
    def winner(self) -> str | None:
        return (self.selection or {}).get("winner")

    def to_json(self) -> dict:
        record = {
            "execution_id": self.execution_id,
            "backend": self.backend,
            "status": self.status,
            "failure_reason": self.failure_reason,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "duration_seconds": self.duration_seconds,
            "parameters": self.parameters,
            "steps": [step.to_json() for step in self.steps],
            "metrics": self.metrics,
            "artifacts": self.artifacts,
            "registered_model": self.registered_model.to_json() if self.registered_model else None,
            "churn_version": self.churn_version,
            "definition_sha256": self.definition_sha256,
            "resumed_from": self.resumed_from,
            "selection": self.selection,
            "input_sha256": self.input_sha256,
            "tuning": self.tuning,
            "sizing": self.sizing,
        }
        assert tuple(record) == SUMMARY_KEYS  # noqa: S101 - the one place the keys are written
        return record

    @classmethod
    def from_json(cls, record: dict) -> RunSummary:
        """A summary from its JSON: KeyError when a key is missing, TypeError when a value has
        the wrong type. The keys later versions of churn added (:data:`LATER_KEYS`) may be
        missing: summaries written before them read as None."""
        def text(key: str) -> str | None:
            value = record[key] if key not in LATER_KEYS else record.get(key)
            if value is not None and not isinstance(value, str):
                raise TypeError(f"{key} must be text or null, got {value!r}"[:200])
            return value

        def mapping(key: str) -> dict | None:
            value = record[key] if key not in LATER_KEYS else record.get(key)
            if value is not None and not isinstance(value, dict):
                raise TypeError(f"{key} must be an object or null, got {value!r}"[:200])
            return value

        duration = record["duration_seconds"]
        if duration is not None and (isinstance(duration, bool) or not isinstance(duration, (int, float))):
            raise TypeError(f"duration_seconds must be a number or null, got {duration!r}"[:200])
        if not isinstance(record["steps"], list):
            raise TypeError("steps must be a list")
        artifacts = mapping("artifacts") or {}
        if not all(isinstance(path, str) for path in artifacts.values()):
            raise TypeError("artifacts must map names to paths")
        metrics = mapping("metrics") or {}
        if not all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in metrics.values()):
            raise TypeError("metrics must map names to numbers")
        model = mapping("registered_model")
        return cls(
            execution_id=str(text("execution_id")),
            backend=str(text("backend")),
            status=str(text("status")),
            failure_reason=text("failure_reason"),
            started_at=text("started_at"),
            finished_at=text("finished_at"),
            duration_seconds=duration,
            parameters=dict(mapping("parameters") or {}),
            steps=tuple(StepRecord.from_json(step) for step in record["steps"]),
            metrics=metrics,
            artifacts=artifacts,
            registered_model=RegisteredModel.from_json(model) if model else None,
            churn_version=str(text("churn_version")),
            definition_sha256=text("definition_sha256"),
            resumed_from=text("resumed_from"),
            selection=mapping("selection"),
            input_sha256=text("input_sha256"),
            tuning=_tuning(mapping("tuning"), "summary.json: tuning"),
            sizing=mapping("sizing"),
        )


def metric_values(evaluation_file: Path) -> dict[str, float]:
    if not evaluation_file.is_file():
        return {}
    return report_values(json.loads(evaluation_file.read_text()))


def selection_record(run_dir: Path) -> dict | None:
    """The run's selection.json (metric, winner, every candidate's metrics), if it has one."""
    path = run_dir / ARTIFACTS["selection"]
    return json.loads(path.read_text()) if path.is_file() else None


def _json_object(path: Path) -> dict | None:
    """The JSON object in ``path``; None when there is none: a damaged record is no record
    (the run's own status says what happened)."""
    try:
        document = json.loads(path.read_text()) if path.is_file() else None
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _tuning(document: dict | None, where: str) -> dict | None:
    """A tuning record checked (:func:`churn.tuning.check_trials_document`: ValueError naming
    the key and its value, so a forged best or a non-finite objective is never shown as one)."""
    from churn.tuning import check_trials_document

    return None if document is None else check_trials_document(document, where)


def tuning_record(run_dir: Path) -> dict | None:
    """The run's tuning trials (``<run>/TuneModel/trials.json``), if it has them; a damaged record
    is no record (said in a warning; the run's own status says what happened)."""
    path = run_dir / TUNE_STEP / TRIALS_FILE
    try:
        return _tuning(json.loads(path.read_text()), str(path)) if path.is_file() else None
    except (OSError, ValueError) as error:
        logging.getLogger(__name__).warning("%s is damaged, left out of the summary: %s", path, error)
        return None


def sizing_record(run_dir: Path) -> dict | None:
    """The training instance type PreprocessData's manifest records (``sizing``), if it has one."""
    sizing = (_json_object(run_dir / ARTIFACTS["manifest"]) or {}).get("sizing")
    return sizing if isinstance(sizing, dict) else None


def build_summary(
    *,
    backend: str,
    execution_id: str,
    describe: dict,
    steps: list[StepRecord],
    parameters: dict,
    run_dir: Path,
    definition_sha256: str,
    registered_model: RegisteredModel | None,
    resumed_from: str | None = None,
    input_sha256: str | None = None,
) -> RunSummary:
    succeeded = {s.name for s in steps if s.status == "Succeeded"}
    return RunSummary(
        execution_id=execution_id,
        backend=backend,
        status=describe.get("PipelineExecutionStatus") or "Unknown",
        failure_reason=describe.get("FailureReason"),
        started_at=iso_time(describe.get("CreationTime")),
        finished_at=iso_time(describe.get("LastModifiedTime")),
        duration_seconds=_seconds(describe.get("CreationTime"), describe.get("LastModifiedTime")),
        parameters=parameters,
        steps=tuple(steps),
        metrics=metric_values(run_dir / ARTIFACTS["evaluation"]),
        artifacts={name: path for name, path in ARTIFACTS.items() if (run_dir / path).is_file() and ARTIFACT_STEP[name] in succeeded},
        registered_model=registered_model,
        churn_version=__version__,
        definition_sha256=definition_sha256,
        resumed_from=resumed_from,
        selection=selection_record(run_dir),
        input_sha256=input_sha256,
        tuning=tuning_record(run_dir),
        sizing=sizing_record(run_dir),
    )


class SummaryError(ValueError):
    """A run folder without a readable summary.json; the message names the file and the problem."""


def read_summary(run_dir: Path) -> RunSummary:
    """A run's summary.json, or :class:`SummaryError` saying what is wrong with it (a file that
    is a summary but lacks a field or holds one of the wrong type: KeyError, TypeError or
    ValueError, which callers report as a damaged file)."""
    path = Path(run_dir) / SUMMARY_FILE
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SummaryError(f"{run_dir} is not a finished run: no {SUMMARY_FILE}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SummaryError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    except json.JSONDecodeError as error:
        raise SummaryError(f"{path} is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
    missing = [key for key in ("execution_id", "status", "parameters", "steps") if not isinstance(summary, dict) or key not in summary]
    if missing:
        raise SummaryError(f"{path} is not a churn summary: it lacks {', '.join(missing)}")
    return RunSummary.from_json(summary)


def write_summary(run_dir: Path, summary: RunSummary) -> Path:
    path = run_dir / SUMMARY_FILE
    write_lines_atomically(path, [json.dumps(summary.to_json(), indent=2)])
    return path
