"""``summary.json``: what a finished execution did, in the same shape for every backend."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from churn import __version__
from churn.metrics import report_values
from churn.tables import write_lines_atomically

SUMMARY_FILE = "summary.json"
#: Where the artifacts of a run live inside ``runs/<execution-id>/`` (same for every backend).
ARTIFACTS = {
    "train": "PreprocessData/train/train.csv",
    "validation": "PreprocessData/validation/validation.csv",
    "test": "PreprocessData/test/test.csv",
    "manifest": "PreprocessData/manifest/manifest.json",
    # The winning candidate's model and evaluation, and how it won.
    "model": "SelectModel/model/model.tar.gz",
    "evaluation": "SelectModel/evaluation/evaluation.json",
    "selection": "SelectModel/selection/selection.json",
}


#: The keys of every summary.json, whatever the backend.
SUMMARY_KEYS = (
    "execution_id", "backend", "status", "failure_reason", "started_at", "finished_at", "duration_seconds",
    "parameters", "steps", "metrics", "artifacts", "registered_model", "churn_version", "definition_sha256",
    "resumed_from", "selection", "input_sha256",
)


#: The step that writes each artifact: only a succeeded step's artifacts are listed.
ARTIFACT_STEP = {
    "train": "PreprocessData", "validation": "PreprocessData", "test": "PreprocessData", "manifest": "PreprocessData",
    "model": "SelectModel", "evaluation": "SelectModel", "selection": "SelectModel",
}


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


def step_records(list_steps: list[dict], order: list[str]) -> list[dict]:
    """Steps of ``ListPipelineExecutionSteps`` as summary records, in graph order."""
    by_name = {s["StepName"]: s for s in list_steps}
    records: list[dict] = []
    for name in order:
        step = by_name.get(name)
        if step is None:
            records.append({"name": name, "status": "NotStarted"})
            continue
        records.append(
            {
                "name": name,
                "status": step.get("StepStatus"),
                "started_at": iso_time(step.get("StartTime")),
                "finished_at": iso_time(step.get("EndTime")),
                "duration_seconds": _seconds(step.get("StartTime"), step.get("EndTime")),
                # SageMaker reports a reused step as CacheHitResult; the local cache does the same.
                "cache_hit": bool(step.get("CacheHitResult")),
                **({"failure_reason": step["FailureReason"]} if step.get("FailureReason") else {}),
            }
        )
    return records


def metric_values(evaluation_file: Path) -> dict[str, float]:
    if not evaluation_file.is_file():
        return {}
    return report_values(json.loads(evaluation_file.read_text()))


def selection_record(run_dir: Path) -> dict | None:
    """The run's selection.json (metric, winner, every candidate's metrics), if it has one."""
    path = run_dir / ARTIFACTS["selection"]
    return json.loads(path.read_text()) if path.is_file() else None


def build_summary(
    *,
    backend: str,
    execution_id: str,
    describe: dict,
    steps: list[dict],
    parameters: dict,
    run_dir: Path,
    definition_sha256: str,
    registered_model: dict | None,
    resumed_from: str | None = None,
    input_sha256: str | None = None,
) -> dict:
    return {
        "execution_id": execution_id,
        "backend": backend,
        "status": describe.get("PipelineExecutionStatus"),
        "failure_reason": describe.get("FailureReason"),
        "started_at": iso_time(describe.get("CreationTime")),
        "finished_at": iso_time(describe.get("LastModifiedTime")),
        "duration_seconds": _seconds(describe.get("CreationTime"), describe.get("LastModifiedTime")),
        "parameters": parameters,
        "steps": steps,
        "metrics": metric_values(run_dir / ARTIFACTS["evaluation"]),
        "artifacts": {
            name: path for name, path in ARTIFACTS.items()
            if (run_dir / path).is_file() and any(s["name"] == ARTIFACT_STEP[name] and s["status"] == "Succeeded" for s in steps)
        },
        "registered_model": registered_model,
        "churn_version": __version__,
        "definition_sha256": definition_sha256,
        "resumed_from": resumed_from,
        "selection": selection_record(run_dir),
        #: sha256 of the input the run read (a file's, or a folder's tree hash); None when unknown.
        "input_sha256": input_sha256,
    }


class SummaryError(ValueError):
    """A run folder without a readable summary.json; the message names the file and the problem."""


def read_summary(run_dir: Path) -> dict:
    """A run's summary.json, or :class:`SummaryError` saying what is wrong with it."""
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
    return summary


def write_summary(run_dir: Path, summary: dict) -> Path:
    path = run_dir / SUMMARY_FILE
    write_lines_atomically(path, [json.dumps(summary, indent=2)])
    return path
