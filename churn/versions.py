"""Pipeline versions: a version is one distinct definition (so also the hash of the step code
it runs). Local: every run records its definition; ``churn versions`` lists the distinct ones
and ``churn run --pipeline-version V`` runs a recorded version again with the step code it ran then.
Cloud: SageMaker keeps a pipeline version per upsert; :func:`list_cloud_versions` groups them
by definition, and ``churn run --backend cloud --pipeline-version V`` starts that pipeline version."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from churn.definition import has_tuning
from churn.summary import SUMMARY_FILE, SummaryError, iso_time, read_summary


class VersionError(ValueError):
    """An unknown, ambiguous or no longer reproducible version."""


@dataclass
class Version:
    definition_sha256: str
    code_hash: str | None
    churn_version: str
    runs: list[str] = field(default_factory=list)
    first_run: str = ""
    last_run: str = ""
    #: Cloud: SageMaker's pipeline version ids with this definition, oldest first.
    pipeline_version_ids: list[int] = field(default_factory=list)
    #: Cloud: the definition text as SageMaker stores it.
    definition: str | None = None
    #: Whether the definition has the tuning branch (it was not compiled with ``--no-tuning``).
    tuning: bool = False

    @property
    def name(self) -> str:
        return self.definition_sha256[:12]


def code_hash(definition: dict) -> str | None:
    """The step code bundle a definition runs (the second value of its code input's Join)."""
    for step in definition["Steps"]:
        for source in step.get("Arguments", {}).get("ProcessingInputs", []):
            if source.get("InputName") == "code":
                return source["S3Input"]["S3Uri"]["Std:Join"]["Values"][1]
    return None


def list_versions(runs_dir: Path) -> list[Version]:
    """The distinct definitions that have run under ``runs_dir``, oldest first."""
    versions: dict[str, Version] = {}
    for summary_file in sorted(Path(runs_dir).glob(f"*/{SUMMARY_FILE}")):
        definition_file = summary_file.parent / "definition.json"
        try:
            summary = read_summary(summary_file.parent)
            digest = summary.definition_sha256
            if digest is None or not definition_file.is_file():
                continue  # no definition recorded: no version
            if digest not in versions:
                document = json.loads(definition_file.read_text())
                versions[digest] = Version(digest, code_hash(document), summary.churn_version, tuning=has_tuning(document))
        except (SummaryError, KeyError, TypeError, ValueError, OSError):
            continue  # a damaged run folder is no version
        version = versions[digest]
        version.runs.append(summary.execution_id)
        started = summary.started_at or ""
        version.first_run = min(filter(None, [version.first_run, started]), default="")
        version.last_run = max(version.last_run, started)
    return sorted(versions.values(), key=lambda v: v.first_run)


def choose_version(found: list[Version], name: str, where: str) -> Version:
    """The one version whose definition hash starts with ``name``."""
    matches = [v for v in found if v.definition_sha256.startswith(name)]
    if not name or not matches:
        raise VersionError(f"no version {name!r} {where}; `churn versions` lists them")
    if len(matches) > 1:
        raise VersionError(f"version {name!r} is ambiguous: {', '.join(v.name for v in matches)}")
    return matches[0]


def find_version(runs_dir: Path, name: str) -> Version:
    return choose_version(list_versions(runs_dir), name, f"under {runs_dir}")


def list_cloud_versions(sm, pipeline_name: str) -> list[Version]:
    """SageMaker's versions of ``pipeline_name`` grouped by definition, oldest first.

    ``sm`` is a boto3 SageMaker client. Each pipeline version's definition is read with
    DescribePipeline(PipelineVersionId) and hashed as it is stored, which is the text churn
    upserted, so the hashes equal the ``definition_sha256`` of the runs.
    """
    from churn.files import text_sha256

    summaries: list[dict] = []
    request = {"PipelineName": pipeline_name, "SortOrder": "Ascending"}
    while True:
        page = sm.list_pipeline_versions(**request)
        summaries += page.get("PipelineVersionSummaries", [])
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    versions: dict[str, Version] = {}
    for summary in sorted(summaries, key=lambda s: s["PipelineVersionId"]):
        described = sm.describe_pipeline(PipelineName=pipeline_name, PipelineVersionId=summary["PipelineVersionId"])
        text = described["PipelineDefinition"]
        digest = text_sha256(text)
        if digest not in versions:
            description = described.get("PipelineVersionDescription") or described.get("PipelineDescription") or ""
            churn = description.split(",")[0].removeprefix("churn ") if description.startswith("churn ") else "-"
            document = json.loads(text)
            versions[digest] = Version(digest, code_hash(document), churn, definition=text, tuning=has_tuning(document))
        version = versions[digest]
        version.pipeline_version_ids.append(summary["PipelineVersionId"])
        if summary.get("LastExecutionPipelineExecutionArn"):
            version.runs.append(summary["LastExecutionPipelineExecutionArn"].rsplit("/", 1)[-1])
        created = iso_time(summary.get("CreationTime")) or ""
        version.first_run = version.first_run or created
        version.last_run = created
    return sorted(versions.values(), key=lambda v: v.pipeline_version_ids[0])

