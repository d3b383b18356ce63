"""Pipeline versions on the local backend: every run records its definition (and so the hash
of the step code it ran); a version is one distinct definition. ``churn versions`` lists them,
``churn run --version V`` runs a recorded version again with the step code it ran then."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from churn.summary import SUMMARY_FILE


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

    @property
    def name(self) -> str:
        return self.definition_sha256[:12]


def _code_hash(definition: dict) -> str | None:
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
        summary = json.loads(summary_file.read_text())
        definition_file = summary_file.parent / "definition.json"
        if not definition_file.is_file():
            continue
        digest = summary["definition_sha256"]
        if digest not in versions:
            versions[digest] = Version(digest, _code_hash(json.loads(definition_file.read_text())), summary["churn_version"])
        version = versions[digest]
        version.runs.append(summary["execution_id"])
        started = summary.get("started_at") or ""
        version.first_run = min(filter(None, [version.first_run, started]), default="")
        version.last_run = max(version.last_run, started)
    return sorted(versions.values(), key=lambda v: v.first_run)


def find_version(runs_dir: Path, name: str) -> Version:
    matches = [v for v in list_versions(runs_dir) if v.definition_sha256.startswith(name)]
    if not matches:
        raise VersionError(f"no version {name!r} under {runs_dir}; `churn versions` lists them")
    if len(matches) > 1:
        raise VersionError(f"version {name!r} is ambiguous: {', '.join(v.name for v in matches)}")
    return matches[0]

