"""What every backend's run shares: errors, results, input URIs, step order and the summary."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from churn.definition import step_names
from churn.files import file_sha256, file_uri, text_sha256, tree_files, tree_sha256, unsafe_characters, uri_path
from churn.summary import RegisteredModel, RunSummary, build_summary, step_records, write_summary
from churn.atomic import write_lines_atomically


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
    record: RunSummary

    @property
    def summary(self) -> dict:
        """The run's summary.json document."""
        return self.record.to_json()


def local_path(uri: str) -> Path:
    """The path of a local ``file://`` URI (as churn writes them: see :func:`churn.files.file_uri`)."""
    return uri_path(uri)


#: Input URI schemes each backend reads (a local path is always accepted).
INPUT_SCHEMES = {"local": ("file",), "cloud": ("file", "s3")}


def input_uri(value: str, backend: str = "local") -> str:
    """InputData as a URI: a local path (which must exist) or a URI of a scheme ``backend``
    reads; anything else is refused before anything starts, saying what is supported."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)://", value)
    if match:
        scheme = match[1].lower()
        if scheme not in INPUT_SCHEMES[backend]:
            supported = " or ".join(f"{s}://" for s in INPUT_SCHEMES[backend] if s != "file")
            raise RunError(
                f"input {value}: the {backend} backend cannot read {scheme}:// URIs; give a local file or folder"
                + (f" or an {supported} URI" if supported else "")
                + (" (download it first)" if scheme in ("http", "https", "ftp") else "")
            )
        if scheme == "s3":
            return value
        # churn's own file:// URIs (as summaries record them) are the path as it stands; one a
        # user typed may be percent-encoded.
        raw = value[len(match[0]):]
        value = raw if Path(raw).exists() else unquote(urlparse(value).path)
    path = Path(value).expanduser().resolve()
    if not path.exists():
        raise RunError(f"input not found: {value}")
    return file_uri(path)


def input_files(path: Path) -> list[Path]:
    """The files of a local input: the file itself, or every ``.csv`` below a folder (sorted)."""
    files = [path] if path.is_file() else tree_files(path, "*.csv")
    if not files:
        raise RunError(f"no .csv file in input directory {path}")
    return files


def input_sha256(path: Path, files: list[Path] | None = None) -> str:
    """A local input's sha256 as summary.json records it: a file's own, a folder's tree hash
    over its ``.csv`` files (relative paths and contents)."""
    files = input_files(path) if files is None else files
    return file_sha256(files[0]) if path.is_file() else tree_sha256(path, files)


def check_local_folder(path: Path, what: str) -> None:
    """Refuse a folder that SageMaker local mode cannot mount, before anything is written."""
    bad = unsafe_characters(path)
    if bad:
        raise RunError(f"{what} {path} holds {' '.join(repr(c) for c in bad)}, which SageMaker local mode cannot mount; choose another folder")
    if path.exists() and not path.is_dir():
        raise RunError(f"{what} {path} is a file, not a folder")


def finish_run(
    *,
    backend: str,
    run_dir: Path,
    describe: dict,
    list_steps: list[dict],
    parameters: dict,
    definition: str,
    registered_model: RegisteredModel | None,
    resumed_from: str | None = None,
    input_sha256: str | None = None,
    report: bool = True,
) -> RunResult:
    """Write ``definition.json`` and ``summary.json`` into ``run_dir`` (and, with ``report``,
    ``report.html``) and return the result."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_lines_atomically(run_dir / "definition.json", [json.dumps(json.loads(definition), indent=2)])
    summary = build_summary(
        backend=backend,
        execution_id=run_dir.name,
        describe=describe,
        steps=step_records(list_steps, step_names(json.loads(definition))),
        parameters=parameters,
        run_dir=run_dir,
        definition_sha256=text_sha256(definition),
        registered_model=registered_model,
        resumed_from=resumed_from,
        input_sha256=input_sha256,
    )
    write_summary(run_dir, summary)
    if report:
        write_run_report(run_dir)
    return RunResult(run_dir.name, summary.status, summary.failure_reason, run_dir, summary)


def write_run_report(run_dir: Path) -> None:
    try:
        from churn.report import write_report

        write_report(run_dir)
    except Exception as error:  # noqa: BLE001 - the run's artifacts stand without their report
        print(f"warning: report.html not written ({type(error).__name__}: {error}); retry with: churn report {run_dir}", file=sys.stderr)


def failed_step(summary: RunSummary) -> str:
    failed = summary.failed_steps
    return failed[0].name if failed else "?"
