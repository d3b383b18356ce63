"""What a runs folder keeps beside its run folders, and trimming it: ``churn cache info`` and
``churn cache prune``.

Four areas, each a set of entries:

- the step cache, ``.cache/<key>/`` (:mod:`churn.runner.step_cache`);
- the report's memoised plots, ``.cache/plots/<hash>.b64``;
- the staged inputs, ``.inputs/<sha256>/`` (copies of the users' inputs that containers read);
- the step code bundles, ``.code/<hash>/``.

An entry's last use is its mtime: restoring a cache entry touches its ``entry.json``, a run
reusing a staged input or a code bundle touches its folder; an entry never used since it was
written has the time it was written. Sizes are apparent sizes (a reflinked copy counts in full).

**What a run folder still needs**, and prune therefore never removes:

- A *resumable* run (Failed, Stopped, Killed or Interrupted: what ``churn run --resume``
  accepts) continues from the step cache, so every cache entry it produced (``entry.json``'s
  ``execution_id``) or restored (``used-by/<execution-id>``, left by each restore) is kept
  while its run folder exists. A succeeded run's folder holds copies of its outputs: it needs
  no entry.
- A run folder names the step code it ran (``run.json``'s ``code_version``, else the code
  input of its ``definition.json``); ``--resume`` and ``--pipeline-version`` mount that bundle
  again, so a bundle is kept while any run folder names it.
- A staged input is needed only while a run runs: a resume stages the user's file again (and
  refuses it if its sha256 changed). The plots are memos, drawn again when missing.
- While a run runs, nothing is removed: it may restore any entry or read any staged input at
  any moment. Each run holds a shared :data:`~churn.runner.local_jobs.STORE_LOCK` from before
  it stages its input until it ends, and prune takes that lock exclusively without waiting (a
  run that starts meanwhile waits for the prune). A prune that finds the lock held, a running
  ``run.json`` or a live ``.jobs`` folder (a run of an older churn) removes nothing and says so.

A folder is removed by renaming it to a hidden ``.<name>.<random>.partial`` first (no reader
looks that name up, and :func:`~churn.runner.local_jobs.remove_dead_runs` clears one that a cut
removal left), then deleting it; a cache entry missing any file is a miss anyway.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from churn.history import RESUMABLE, RUNNING, list_runs
from churn.layout import CACHE_DIR, CODE_DIR, INPUTS_DIR, PLOTS_DIR, RUN_RECORD
from churn.runner.local_jobs import STORE_LOCK, live_jobs, locked, store_lock
from churn.runner.step_cache import ENTRY_FILE, entry_executions

#: The areas, in the order they are shown, and their names for people.
AREAS = {"cache": "step cache", "plots": "report plots", "inputs": "staged inputs", "code": "code bundles"}


class StoreError(ValueError):
    """A bad duration or size, or no runs folder: the message says which."""


class StoreBusy(StoreError):
    """A run is running in the runs folder: nothing was removed."""


@dataclass(frozen=True)
class StoredEntry:
    area: str  # a key of AREAS
    name: str
    path: Path
    size: int
    last_used: float  # seconds since the epoch
    #: The run folders (execution ids) that still need it; empty: none.
    needed_by: tuple[str, ...] = ()

    def to_json(self, now: float) -> dict:
        return {
            "area": self.area, "name": self.name, "path": str(self.path), "bytes": self.size,
            "last_used": datetime.fromtimestamp(self.last_used, timezone.utc).isoformat(timespec="seconds"),
            "seconds_since_use": round(max(0.0, now - self.last_used), 1), "needed_by": list(self.needed_by),
        }


@dataclass(frozen=True)
class AreaSummary:
    area: str
    count: int
    size: int
    oldest_use: float | None  # seconds since the least recent use
    newest_use: float | None  # seconds since the most recent use
    needed: int
    needed_size: int

    @property
    def label(self) -> str:
        return AREAS[self.area]

    def to_json(self) -> dict:
        return {
            "area": self.area, "label": self.label, "entries": self.count, "bytes": self.size,
            "oldest_use_seconds_ago": self.oldest_use, "newest_use_seconds_ago": self.newest_use,
            "needed": self.needed, "needed_bytes": self.needed_size,
        }


def summarize(entries: list[StoredEntry] | tuple[StoredEntry, ...], now: float) -> list[AreaSummary]:
    """One summary per area (every area, empty ones too)."""
    summaries = []
    for area in AREAS:
        mine = [e for e in entries if e.area == area]
        ages = [round(max(0.0, now - e.last_used), 1) for e in mine]
        needed = [e for e in mine if e.needed_by]
        summaries.append(
            AreaSummary(area, len(mine), sum(e.size for e in mine), max(ages, default=None), min(ages, default=None),
                        len(needed), sum(e.size for e in needed))
        )
    return summaries


@dataclass(frozen=True)
class StoreInfo:
    runs_dir: Path
    now: float
    entries: tuple[StoredEntry, ...]
    #: The runs running now (execution ids, or ``.jobs/run-*`` for a run without a run.json yet).
    running: tuple[str, ...] = ()
    #: The status of each run folder that needs an entry.
    statuses: dict[str, str] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)

    def areas(self) -> list[AreaSummary]:
        return summarize(self.entries, self.now)

    def needs(self) -> dict[str, list[StoredEntry]]:
        """Run folder (execution id) -> the entries it needs, newest run first."""
        found: dict[str, list[StoredEntry]] = {}
        for entry in self.entries:
            for execution in entry.needed_by:
                found.setdefault(execution, []).append(entry)
        return dict(sorted(found.items(), reverse=True))

    def to_json(self) -> dict:
        return {
            "runs_dir": str(self.runs_dir), "running": list(self.running), "total_bytes": self.size,
            "areas": [a.to_json() for a in self.areas()], "entries": [e.to_json(self.now) for e in self.entries],
        }


@dataclass(frozen=True)
class PruneResult:
    before: StoreInfo
    removed: tuple[StoredEntry, ...]
    dry_run: bool
    max_size: int | None = None

    @property
    def freed(self) -> int:
        return sum(e.size for e in self.removed)

    @property
    def left(self) -> int:
        return self.before.size - self.freed

    @property
    def over_max_size(self) -> int:
        """Bytes still above ``max_size``: all of them needed by run folders."""
        return 0 if self.max_size is None else max(0, self.left - self.max_size)

    def areas(self) -> list[tuple[AreaSummary, AreaSummary]]:
        """(before, removed) per area."""
        return list(zip(self.before.areas(), summarize(self.removed, self.before.now)))

    def to_json(self) -> dict:
        return {
            "runs_dir": str(self.before.runs_dir), "dry_run": self.dry_run, "freed_bytes": self.freed, "left_bytes": self.left,
            "over_max_size_bytes": self.over_max_size,
            "removed": [e.to_json(self.before.now) for e in self.removed],
            "areas": [
                {**before.to_json(), "removed": removed.count, "removed_bytes": removed.size}
                for before, removed in self.areas()
            ],
        }


# --- values people type ----------------------------------------------------------------------

_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_age(text: str) -> float:
    """Seconds from ``45s``, ``90m``, ``12h``, ``30d`` or ``2w``."""
    match = re.fullmatch(r"\s*(\d{1,12}(?:\.\d{1,6})?)\s*([smhdw])\s*", text)
    if match is None:
        raise StoreError(f"{text!r} is not a duration: give a number and a unit, as in 45s, 90m, 12h, 30d or 2w")
    return float(match[1]) * _AGE_UNITS[match[2]]


def parse_size(text: str) -> int:
    """Bytes from ``100k``, ``500M``, ``2G``, ``1T`` (powers of 1024; ``MB``, ``MiB`` too) or a plain number."""
    match = re.fullmatch(r"\s*(\d{1,15}(?:\.\d{1,6})?)\s*([kmgt]?)(?:i?b)?\s*", text, re.IGNORECASE)
    if match is None:
        raise StoreError(f"{text!r} is not a size: give bytes, or a number with K, M, G or T (powers of 1024), as in 100k, 500M or 2G")
    return int(float(match[1]) * _SIZE_UNITS[match[2].lower()])


def format_size(size: int) -> str:
    value, unit = float(size), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


def format_age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return f"{int(seconds // length)}{unit} ago"
    return f"{int(seconds)}s ago"


# --- reading the store -------------------------------------------------------------------------


def _check_folder(runs_dir: Path) -> None:
    if not runs_dir.exists():
        raise StoreError(f"no runs folder {runs_dir}")
    if not runs_dir.is_dir():
        raise StoreError(f"the runs folder {runs_dir} is a file, not a folder")


def _size(path: Path) -> int:
    """The apparent size of a file, or of every file below a folder (links not followed)."""
    if not path.is_dir() or path.is_symlink():
        return path.lstat().st_size
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # removed meanwhile
                total += os.lstat(os.path.join(folder, name)).st_size
    return total


def _children(folder: Path, *, folders: bool) -> list[Path]:
    """The visible entries of ``folder`` (hidden ones are locks, partial copies and trash)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.is_dir() == folders)


@dataclass(frozen=True)
class _RunNeeds:
    resumable: frozenset[str]
    code: dict[str, tuple[str, ...]]  # bundle hash -> the run folders naming it
    running: tuple[str, ...]
    statuses: dict[str, str]


def _code_version(run_dir: Path) -> str | None:
    """The step code bundle a run folder names: its ``run.json``'s, else its definition's."""
    from churn.versions import code_hash

    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        recorded = json.loads((run_dir / RUN_RECORD).read_text()).get("code_version")
        if isinstance(recorded, str):
            return recorded
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):
        found = code_hash(json.loads((run_dir / "definition.json").read_text()))
        return found if isinstance(found, str) else None
    return None


def _run_needs(runs_dir: Path) -> _RunNeeds:
    runs = list_runs(runs_dir)
    code: dict[str, list[str]] = {}
    for run in runs:
        version = _code_version(run.run_dir)
        if version:
            code.setdefault(version, []).append(run.execution_id)
    running = [r.execution_id for r in runs if r.status == RUNNING]
    if not running:  # a run that has not written its run.json yet, or a run of an older churn
        running = [f"{folder.parent.name}/{folder.name}" for folder in live_jobs(runs_dir)]
    return _RunNeeds(
        frozenset(r.execution_id for r in runs if r.status in RESUMABLE),
        {name: tuple(ids) for name, ids in code.items()}, tuple(running), {r.execution_id: r.status for r in runs},
    )


def _entry(area: str, path: Path, stamp: Path, needed_by) -> StoredEntry:
    """``stamp``: the file whose mtime is the entry's last use (else the entry's own)."""
    try:
        last_used = stamp.stat().st_mtime
    except FileNotFoundError:
        last_used = path.stat().st_mtime
    return StoredEntry(area, path.name, path, _size(path), last_used, tuple(sorted(needed_by)))


def _entries(runs_dir: Path, needs: _RunNeeds) -> list[StoredEntry]:
    cache = runs_dir / CACHE_DIR
    listed = [
        *(("cache", p) for p in _children(cache, folders=True) if p.name != PLOTS_DIR),
        *(("plots", p) for p in _children(cache / PLOTS_DIR, folders=False)),
        *(("inputs", p) for p in _children(runs_dir / INPUTS_DIR, folders=True)),
        *(("code", p) for p in _children(runs_dir / CODE_DIR, folders=True) if not p.name.startswith("jobs-")),  # (churn < 0.2's job folders)
    ]
    found = []
    for area, path in listed:
        with contextlib.suppress(FileNotFoundError):  # removed meanwhile (a run replacing a damaged one)
            if area == "cache":
                found.append(_entry(area, path, path / ENTRY_FILE, entry_executions(path) & needs.resumable))
            else:
                found.append(_entry(area, path, path, needs.code.get(path.name, ()) if area == "code" else ()))
    return found


def scan(runs_dir: Path, now: float | None = None) -> StoreInfo:
    """Every entry of ``runs_dir``'s areas, with its size, last use and the run folders needing it."""
    _check_folder(runs_dir)
    needs = _run_needs(runs_dir)
    entries = _entries(runs_dir, needs)
    statuses = {e: needs.statuses.get(e, "?") for entry in entries for e in entry.needed_by}
    return StoreInfo(runs_dir, time.time() if now is None else now, tuple(entries), needs.running, statuses)


# --- pruning -----------------------------------------------------------------------------------


def choose(info: StoreInfo, older_than: float | None, max_size: int | None) -> list[StoredEntry]:
    """What a prune removes, least recently used first: every entry no run folder needs that was
    last used ``older_than`` seconds ago or earlier, then more of them, least recently used first,
    until the areas together hold at most ``max_size`` bytes."""
    candidates = sorted((e for e in info.entries if not e.needed_by), key=lambda e: (e.last_used, e.area, e.name))
    chosen = [e for e in candidates if older_than is not None and info.now - e.last_used >= older_than]
    if max_size is not None:
        left, taken = info.size - sum(e.size for e in chosen), {e.path for e in chosen}
        for entry in candidates:
            if left <= max_size:
                break
            if entry.path not in taken:
                chosen.append(entry)
                left -= entry.size
    return sorted(chosen, key=lambda e: (e.last_used, e.area, e.name))


def _remove(entry: StoredEntry) -> bool:
    """Remove one entry (a folder: renamed to a hidden trash name first); False if it was gone."""
    path = entry.path
    try:
        if path.is_dir() and not path.is_symlink():
            trash = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
            path.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            path.unlink()
    except FileNotFoundError:
        return False
    return True


def prune(
    runs_dir: Path, *, older_than: float | None = None, max_size: int | None = None, dry_run: bool = False, now: float | None = None,
) -> PruneResult:
    """Remove (with ``dry_run``: only choose) the entries :func:`choose` picks, none that a run
    folder needs; raise :class:`StoreBusy`, removing nothing, while a run runs."""
    _check_folder(runs_dir)
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(store_lock(runs_dir, exclusive=True, wait=False))
        except BlockingIOError:
            raise StoreBusy(f"a run is running in {runs_dir} (it holds {STORE_LOCK}); nothing was removed: prune again when it ends") from None
        info = scan(runs_dir, now)
        if info.running:
            raise StoreBusy(f"a run is running in {runs_dir} ({', '.join(info.running)}); nothing was removed: prune again when it ends")
        chosen = choose(info, older_than, max_size)
        if dry_run:
            return PruneResult(info, tuple(chosen), True, max_size)
        inputs = runs_dir / INPUTS_DIR
        if any(e.area == "inputs" for e in chosen):  # staging holds this lock too
            stack.enter_context(locked(inputs / ".lock"))
        removed = tuple(e for e in chosen if _remove(e))
    return PruneResult(info, removed, False, max_size)
