"""What every backend's run shares: errors, results, input URIs, step order and the summary."""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from churn.summary import build_summary, step_records, write_summary
from churn.tables import write_lines_atomically

Progress = Callable[[str], None]
MODEL_PACKAGE_GROUP = "churn"
#: What a run reads when no input is given.
SAMPLE_DATA = Path(__file__).resolve().parents[2] / "data" / "sample" / "churn.csv"
#: Every step a run can have, in graph order. Registration is a pipeline step on SageMaker
#: and the local backend's own step (local mode cannot run it); both report it by this name.
STEP_ORDER = (
    "PreprocessData",
    "TrainModel",
    "EvaluateModel",
    "TrainBaseline",
    "EvaluateBaseline",
    "SelectModel",
    "CheckAccuracy",
    "CreateModel-CreateModel",
    "RegisterModel-RegisterModel",
    "AccuracyTooLow",
)


class RunError(RuntimeError):
    """The run could not start or could not be followed; the message says why."""


class RunInterrupted(RunError):
    """Ctrl-C: the execution was stopped and cleaned up."""


@dataclass
class RunResult:
    execution_id: str
    status: str
    failure_reason: str | None
    run_dir: Path
    summary: dict


def local_path(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


def input_uri(value: str) -> str:
    """A local path or URI for InputData as a URI; local paths must exist."""
    if re.match(r"^[a-z0-9]+://", value):
        if value.startswith("file://") and not local_path(value).exists():
            raise RunError(f"input not found: {value}")
        return value
    path = Path(value).expanduser().resolve()
    if not path.exists():
        raise RunError(f"input not found: {value}")
    return path.as_uri()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def finish_run(
    *,
    backend: str,
    run_dir: Path,
    describe: dict,
    list_steps: list[dict],
    parameters: dict,
    definition: str,
    registered_model: dict | None,
    resumed_from: str | None = None,
) -> RunResult:
    """Write ``definition.json`` and ``summary.json`` into ``run_dir`` and return the result."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_lines_atomically(run_dir / "definition.json", [json.dumps(json.loads(definition), indent=2)])
    summary = build_summary(
        backend=backend,
        execution_id=run_dir.name,
        describe=describe,
        steps=step_records(list_steps, list(STEP_ORDER)),
        parameters=parameters,
        run_dir=run_dir,
        definition_sha256=hashlib.sha256(definition.encode()).hexdigest(),
        registered_model=registered_model,
        resumed_from=resumed_from,
    )
    write_summary(run_dir, summary)
    try:
        from churn.report import write_report

        write_report(run_dir)
    except Exception as error:  # noqa: BLE001 - the run's artifacts stand without their report
        print(f"warning: report.html not written ({type(error).__name__}: {error}); retry with: churn report {run_dir}", file=sys.stderr)
    return RunResult(run_dir.name, summary["status"], summary["failure_reason"], run_dir, summary)


def failed_step(summary: dict) -> str:
    failed = [s["name"] for s in summary["steps"] if s["status"] == "Failed"]
    return failed[0] if failed else "?"
