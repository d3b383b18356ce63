"""Comparing two finished runs (``churn diff RUN_A RUN_B``): splits, winner, metrics, the tuned
candidate's hyperparameters, parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from churn.files import file_sha256
from churn.selection import TUNED_CANDIDATE
from churn.summary import ARTIFACTS, read_summary

SPLIT_ARTIFACTS = ("train", "validation", "test")


def file_digest(path: Path) -> str | None:
    return file_sha256(path) if path.is_file() else None


def split_digests(run_dir: Path) -> dict[str, str | None]:
    """sha256 of each split file of a run (None where the file is missing)."""
    return {name: file_digest(run_dir / ARTIFACTS[name]) for name in SPLIT_ARTIFACTS}


@dataclass
class RunDiff:
    splits: dict[str, str]  # name -> "identical" | "different" | "missing in A/B"
    metrics: dict[str, tuple[float | None, float | None]]
    parameters: dict[str, tuple[object, object]]
    statuses: tuple[str, str]
    backends: tuple[str, str]
    #: The winning candidate of each run (None: the run selected none).
    winners: tuple[str | None, str | None] = (None, None)
    #: The tuned candidate's hyperparameters (its tuning job's best trial) that differ, name ->
    #: (A's, B's); None where a run has no tuned candidate.
    tuned: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    @property
    def splits_identical(self) -> bool:
        return all(state == "identical" for state in self.splits.values())

    def lines(self) -> list[str]:
        out = [f"backend: {self.backends[0]} vs {self.backends[1]}", f"status: {self.statuses[0]} vs {self.statuses[1]}"]
        out += [f"split {name}: {state}" for name, state in self.splits.items()]
        out.append(f"winner: {self.winners[0] or '-'} vs {self.winners[1] or '-'}")
        for name, (a, b) in self.metrics.items():
            delta = f"{b - a:+.4f}" if a is not None and b is not None else "n/a"
            show = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
            out.append(f"metric {name}: {show(a)} -> {show(b)} ({delta})")
        out += [f"tuned {name}: {a or '-'} -> {b or '-'}" for name, (a, b) in self.tuned.items()]
        out += [f"parameter {name}: {a!r} -> {b!r}" for name, (a, b) in self.parameters.items()]
        if not self.parameters:
            out.append("parameters: identical")
        return out


def diff_runs(run_a: Path, run_b: Path) -> RunDiff:
    a, b = read_summary(run_a), read_summary(run_b)
    splits = {}
    for name, (da, db) in {n: (split_digests(run_a)[n], split_digests(run_b)[n]) for n in SPLIT_ARTIFACTS}.items():
        if da is None or db is None:
            splits[name] = "missing in " + ("A" if da is None else "B")
        else:
            splits[name] = "identical" if da == db else "different"
    metric_names = sorted(set(a.metrics) | set(b.metrics))
    metrics = {n: (a.metrics.get(n), b.metrics.get(n)) for n in metric_names}
    # Instance types differ between backends by design ("local" runs in Docker).
    backends = (a.backend, b.backend)
    ignored = {"ProcessingInstanceType", "TrainingInstanceType"} if backends[0] != backends[1] else set()
    names = sorted((set(a.parameters) | set(b.parameters)) - ignored)
    parameters = {n: (a.parameters.get(n), b.parameters.get(n)) for n in names if a.parameters.get(n) != b.parameters.get(n)}
    tuned_a, tuned_b = _tuned(a.selection), _tuned(b.selection)
    tuned = {
        n: (tuned_a.get(n), tuned_b.get(n))
        for n in dict.fromkeys([*tuned_a, *tuned_b]) if tuned_a.get(n) != tuned_b.get(n)
    }
    return RunDiff(splits, metrics, parameters, (a.status, b.status), backends, (a.winner, b.winner), tuned)


def _tuned(selection: dict | None) -> dict[str, str]:
    """The tuned candidate's hyperparameters in a selection.json ({} without one)."""
    record = ((selection or {}).get("candidates") or {}).get(TUNED_CANDIDATE) or {}
    return dict(record.get("hyperparameters") or {}) if isinstance(record, dict) else {}
