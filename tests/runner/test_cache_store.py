"""churn cache info / prune (churn.runner.cache_store), on runs folders whose cache entries are
written by StepCache itself: sizes and last use per area, least recently used first, never what
a run folder still needs, nothing while a run runs, one-line errors."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from churn.cli import main
from churn.history import process_start
from churn.layout import CACHE_DIR, CODE_DIR, INPUTS_DIR, PLOTS_DIR, RUN_RECORD
from churn.runner import cache_store
from churn.runner.cache_store import StoreBusy, StoreError, parse_age, parse_size, prune, scan
from churn.runner.local_jobs import JobsFolder, store_lock
from churn.runner.step_cache import ENTRY_FILE, StepCache
from churn.summary import write_summary
from tests.test_summary import _summary

DAY = 86400.0


def _cache(runs: Path) -> StepCache:
    return StepCache(runs / CACHE_DIR, lambda name: name)


def _store(runs: Path, key: str, execution_id: str, size: int, days_ago: float) -> Path:
    """A real cache entry of ``size`` bytes of output, last used ``days_ago``."""
    source = runs.parent / "sources" / key / "train"
    source.mkdir(parents=True)
    (source / "train.csv").write_bytes(b"x" * size)
    _cache(runs).store(key, {"train": source}, {"ProcessingJobName": key}, execution_id)
    entry = runs / CACHE_DIR / key
    assert (entry / ENTRY_FILE).is_file()
    _age(entry / ENTRY_FILE, days_ago)
    return entry


def _folder(path: Path, files: dict[str, int], days_ago: float) -> Path:
    path.mkdir(parents=True)
    for name, size in files.items():
        (path / name).write_bytes(b"y" * size)
    _age(path, days_ago)
    return path


def _age(path: Path, days_ago: float) -> None:
    moment = time.time() - days_ago * DAY
    os.utime(path, (moment, moment))


def _du(path: Path) -> int:
    return path.stat().st_size if path.is_file() else sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _record(runs: Path, execution_id: str, *, interrupted: bool = False, running: bool = False, code_version: str | None = None) -> Path:
    """A run folder with only run.json: killed (a pid that is no process), interrupted, or running (this process)."""
    folder = runs / (execution_id + (".interrupted" if interrupted else ""))
    folder.mkdir(parents=True)
    pid = os.getpid() if running else 0
    record = {"execution_id": execution_id, "parameters": {}, "pid": pid, "process_start": process_start(pid) if running else None,
              "code_version": code_version}
    (folder / RUN_RECORD).write_text(json.dumps(record))
    return folder


def _finished(runs: Path, execution_id: str, status: str, code_bundle: str | None = None) -> Path:
    """A run folder with a summary (and, with ``code_bundle``, a definition naming that step code)."""
    folder = runs / execution_id
    folder.mkdir(parents=True)
    write_summary(folder, _summary(execution_id=execution_id, status=status))
    if code_bundle:
        code = {"InputName": "code", "S3Input": {"S3Uri": {"Std:Join": {"On": "/", "Values": ["file:///runs/.code", code_bundle, "x"]}}}}
        (folder / "definition.json").write_text(json.dumps({"Steps": [{"Arguments": {"ProcessingInputs": [code]}}]}))
    return folder


def _cli(*args: str):
    return CliRunner().invoke(main, ["cache", *args])


def _json(*args: str) -> dict:
    result = _cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _left(runs: Path) -> dict[str, list[str]]:
    """The visible entries of each area."""
    def names(folder: Path, skip=()) -> list[str]:
        return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".") and p.name not in skip) if folder.is_dir() else []

    return {"cache": names(runs / CACHE_DIR, {PLOTS_DIR}), "plots": names(runs / CACHE_DIR / PLOTS_DIR),
            "inputs": names(runs / INPUTS_DIR), "code": names(runs / CODE_DIR)}


# --- info ----------------------------------------------------------------------------------------


def test_info_counts_sizes_and_last_use_per_area(tmp_path):
    runs = tmp_path / "runs"
    old, recent = _store(runs, "a" * 32, "exec-1", 1000, 40), _store(runs, "b" * 32, "exec-2", 3000, 1)
    staged = _folder(runs / INPUTS_DIR / "0123456789abcdef", {"churn.csv": 500}, 3)
    bundle = _folder(runs / CODE_DIR / "c0de", {"sourcedir.tar.gz": 200}, 2)
    plot = runs / CACHE_DIR / PLOTS_DIR / ("d" * 32 + ".b64")
    plot.parent.mkdir()
    plot.write_text("z" * 49)
    # what is not an entry: locks, partial copies, removal trash, churn < 0.2's job folders
    (runs / INPUTS_DIR / ".lock").write_text("")
    _folder(runs / CACHE_DIR / f".{'e' * 32}.1234.partial", {"half.csv": 7000}, 0)
    _folder(runs / CODE_DIR / "jobs-old", {"compose.yml": 9000}, 0)

    document = _json("info", "--runs-dir", str(runs))
    areas = {a["area"]: a for a in document["areas"]}
    assert {name: (a["entries"], a["bytes"]) for name, a in areas.items()} == {
        "cache": (2, _du(old) + _du(recent)), "plots": (1, 49), "inputs": (1, 500), "code": (1, 200),
    }
    assert _du(old) > 1000 and document["total_bytes"] == _du(old) + _du(recent) + 49 + 500 + 200
    assert areas["cache"]["oldest_use_seconds_ago"] == pytest.approx(40 * DAY, abs=120)
    assert areas["cache"]["newest_use_seconds_ago"] == pytest.approx(DAY, abs=120)
    assert areas["inputs"]["oldest_use_seconds_ago"] == pytest.approx(3 * DAY, abs=120)
    assert areas["code"]["newest_use_seconds_ago"] == pytest.approx(2 * DAY, abs=120)
    assert sorted(e["name"] for e in document["entries"]) == sorted(["a" * 32, "b" * 32, staged.name, bundle.name, plot.name])
    assert all(e["needed_by"] == [] for e in document["entries"]) and document["running"] == []

    table = _cli("info", "--runs-dir", str(runs))
    assert table.exit_code == 0, table.output
    rows = {line.split("  ")[0].strip(): line.split() for line in table.output.splitlines()[2:]}
    assert rows["step cache"][2:4] == ["2", cache_store.format_size(_du(old) + _du(recent)).split()[0]]
    assert rows["step cache"][5:7] == ["40d", "ago"] and rows["staged inputs"][2:5] == ["1", "500", "B"]
    assert rows["total"][1] == "5"


def test_sizes_and_ages_are_shown_and_read_in_powers_of_1024():
    assert [cache_store.format_size(n) for n in (0, 1023, 1024, 1536 * 1024, 3 << 30)] == ["0 B", "1023 B", "1.0 KiB", "1.5 MiB", "3.0 GiB"]
    assert [cache_store.format_age(s) for s in (None, 5, 90 * 60, 3 * DAY + 5)] == ["-", "5s ago", "1h ago", "3d ago"]
    assert [parse_age(t) for t in ("45s", "90m", "12h", "30d", "2w", "1.5d", " 7d ")] == [
        45, 5400, 43200, 30 * DAY, 14 * DAY, 1.5 * DAY, 7 * DAY]
    assert [parse_size(t) for t in ("100k", "500M", "2G", "1T", "123", "1.5K", "10MB", "10MiB", "7b")] == [
        102400, 500 << 20, 2 << 30, 1 << 40, 123, 1536, 10 << 20, 10 << 20, 7]
    for bad in ("3x", "30", "", "-1d", "d", "1e3s", "30M", "1" + "0" * 400 + "d"):
        with pytest.raises(StoreError, match="not a duration"):
            parse_age(bad)
    for bad in ("lots", "", "-5M", "2P", "1.2.3", "1" + "0" * 400):  # a number too large is not a size either
        with pytest.raises(StoreError, match="not a size"):
            parse_size(bad)


# --- prune ---------------------------------------------------------------------------------------


def test_prune_by_age_removes_what_was_last_used_that_long_ago(tmp_path):
    runs = tmp_path / "runs"
    _store(runs, "old", "exec-1", 1000, 40)
    _store(runs, "recent", "exec-2", 1000, 29)
    _folder(runs / INPUTS_DIR / "oldinput", {"churn.csv": 10}, 31)
    _folder(runs / INPUTS_DIR / "newinput", {"churn.csv": 10}, 0)
    _folder(runs / CODE_DIR / "oldcode", {"sourcedir.tar.gz": 10}, 60)

    result = _cli("prune", "--older-than", "30d", "--runs-dir", str(runs))
    assert result.exit_code == 0, result.output
    assert _left(runs) == {"cache": ["recent"], "plots": [], "inputs": ["newinput"], "code": []}
    assert "removed step cache entry old (" in result.output and "removed staged input oldinput" in result.output
    assert "step cache: removed 1 of 2" in result.output and "code bundles: removed 1 of 1" in result.output
    assert not list((runs / CACHE_DIR).glob(".*")), "removal left trash behind"


def test_prune_by_size_keeps_the_most_recently_used(tmp_path):
    runs = tmp_path / "runs"
    a = _store(runs, "a", "exec-1", 3000, 30)  # the oldest, but restored below: the most recently used
    b = _store(runs, "b", "exec-1", 1000, 20)
    c = _store(runs, "c", "exec-1", 2000, 10)
    target = tmp_path / "restored" / "train"
    assert _cache(runs).restore("PreprocessData", "a", {"train": target}, "20260101-000000-abcdef") == {"ProcessingJobName": "a"}

    size_b = _du(b)
    document = _json("prune", "--max-size", str(_du(a) + _du(c)), "--runs-dir", str(runs))
    assert [e["name"] for e in document["removed"]] == ["b"] and document["freed_bytes"] == size_b
    assert _left(runs)["cache"] == ["a", "c"] and not b.exists()
    assert document["left_bytes"] == _du(a) + _du(c) and document["over_max_size_bytes"] == 0
    # smaller still: the least recently used first, until it fits
    smaller = _json("prune", "--max-size", str(_du(a)), "--runs-dir", str(runs))
    assert [e["name"] for e in smaller["removed"]] == ["c"] and _left(runs)["cache"] == ["a"]


def test_what_a_run_folder_still_needs_is_never_removed(tmp_path):
    runs = tmp_path / "runs"
    _record(runs, "20260101-000000-aaaaaa", interrupted=True)
    _record(runs, "20260102-000000-bbbbbb", code_version="killedcode")  # killed
    _finished(runs, "20260103-000000-cccccc", "Failed")
    _finished(runs, "20260104-000000-dddddd", "Succeeded", code_bundle="succeededcode")
    _store(runs, "by-interrupted", "20260101-000000-aaaaaa", 100, 90)
    _store(runs, "by-failed", "20260103-000000-cccccc", 100, 90)
    _store(runs, "by-succeeded", "20260104-000000-dddddd", 100, 90)
    _store(runs, "by-deleted-run", "20251231-000000-ffffff", 100, 90)
    restored = _store(runs, "restored-by-killed", "20251231-000000-ffffff", 100, 90)  # its producer's folder is gone
    assert _cache(runs).restore("TrainModel", "restored-by-killed", {"train": tmp_path / "out" / "train"}, "20260102-000000-bbbbbb")
    _age(restored / ENTRY_FILE, 90)
    (runs / CACHE_DIR / "damaged").mkdir()  # no entry.json: no run can use it
    for bundle in ("killedcode", "succeededcode", "nobodyscode"):
        _folder(runs / CODE_DIR / bundle, {"sourcedir.tar.gz": 10}, 90)
    _folder(runs / INPUTS_DIR / "staged", {"churn.csv": 10}, 90)

    info = _json("info", "--runs-dir", str(runs))
    needed = {e["name"]: e["needed_by"] for e in info["entries"] if e["needed_by"]}
    assert needed == {
        "by-interrupted": ["20260101-000000-aaaaaa"], "by-failed": ["20260103-000000-cccccc"],
        "restored-by-killed": ["20260102-000000-bbbbbb"], "killedcode": ["20260102-000000-bbbbbb"],
        "succeededcode": ["20260104-000000-dddddd"],
    }
    table = _cli("info", "--runs-dir", str(runs)).output
    assert "  20260102-000000-bbbbbb (Killed): 1 step cache entry, 1 code bundle" in table.splitlines()

    document = _json("prune", "--older-than", "0s", "--max-size", "0", "--runs-dir", str(runs))
    assert sorted(e["name"] for e in document["removed"]) == ["by-deleted-run", "by-succeeded", "damaged", "nobodyscode", "staged"]
    assert _left(runs) == {
        "cache": ["by-failed", "by-interrupted", "restored-by-killed"], "plots": [], "inputs": [], "code": ["killedcode", "succeededcode"],
    }
    assert document["over_max_size_bytes"] == document["left_bytes"] > 0
    assert _cache(runs).restore("PreprocessData", "by-interrupted", {"train": tmp_path / "again" / "train"}) is not None


@pytest.mark.parametrize("how", ["run.json", "store lock", "jobs folder"])
@pytest.mark.parametrize("dry_run", [False, True])
def test_nothing_is_removed_while_a_run_runs(tmp_path, how, dry_run):
    runs = tmp_path / "runs"
    _store(runs, "old", "exec-1", 100, 90)
    _folder(runs / INPUTS_DIR / "staged", {"churn.csv": 10}, 90)
    args = ["prune", "--older-than", "1d", "--runs-dir", str(runs), *(["--dry-run"] if dry_run else [])]
    if how == "run.json":
        record = _record(runs, "20260101-000000-aaaaaa", running=True) / RUN_RECORD
        result = _cli(*args)
        assert "running: 20260101-000000-aaaaaa" in _cli("info", "--runs-dir", str(runs)).output
        record.write_text(json.dumps({**json.loads(record.read_text()), "pid": 0}))  # it ended (killed)
    elif how == "store lock":
        with store_lock(runs):  # a run between staging its input and writing its run.json
            result = _cli(*args)
    else:
        jobs = JobsFolder.create(runs)  # a run of a churn that took no store lock
        try:
            result = _cli(*args)
        finally:
            jobs.close()
    assert result.exit_code == 1
    assert result.output.startswith(f"error: a run is running in {runs}") and result.output.count("\n") == 1
    assert "nothing was removed" in result.output
    assert _left(runs) == {"cache": ["old"], "plots": [], "inputs": ["staged"], "code": []}
    assert [e.name for e in prune(runs, older_than=DAY).removed] == ["old", "staged"]  # once it ended


def test_a_local_run_holds_the_store_lock_from_staging_on(tmp_path, monkeypatch):
    from churn.backends import docker
    from churn.backends.local import local_backend
    from churn.runner import local
    from churn.runner.runs import RunError

    runs = tmp_path / "runs"
    monkeypatch.setattr(docker, "require_ready", lambda *args, **kwargs: None)
    monkeypatch.setattr(local, "remove_dead_runs", lambda runs_dir: [])
    refused = []

    def staging(uri, runs_dir):
        with pytest.raises(StoreBusy) as busy:
            prune(runs_dir, older_than=0)
        refused.append(str(busy.value))
        raise RunError("stopped after staging")

    monkeypatch.setattr(local, "stage_input", staging)
    with pytest.raises(RunError, match="stopped after staging"):
        local.run_local(local_backend(runs), {})
    assert len(refused) == 1 and "a run is running" in refused[0]
    assert prune(runs, older_than=0).removed == ()  # released when the run ended


def test_dry_run_says_what_would_go_and_removes_nothing(tmp_path):
    runs = tmp_path / "runs"
    _store(runs, "old", "exec-1", 100, 40)
    _store(runs, "new", "exec-1", 100, 1)
    before = _left(runs)
    result = _cli("prune", "--older-than", "30d", "--dry-run", "--runs-dir", str(runs))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("would remove step cache entry old (") and "step cache: would remove 1 of 2" in lines[1]
    assert lines[-1].startswith("total: ") and "would be freed" in lines[-1]
    assert _left(runs) == before
    document = _json("prune", "--older-than", "30d", "--dry-run", "--runs-dir", str(runs))
    assert document["dry_run"] is True and [e["name"] for e in document["removed"]] == ["old"] and _left(runs) == before


def test_removal_renames_an_entry_away_before_deleting_it(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    _store(runs, "old", "exec-1", 100, 40)
    deleted = []
    monkeypatch.setattr(cache_store.shutil, "rmtree", lambda path, ignore_errors=False: deleted.append(Path(path)))  # cut short
    assert [e.name for e in prune(runs, older_than=DAY).removed] == ["old"]
    [trash] = deleted
    assert trash.parent == runs / CACHE_DIR and trash.name.startswith(".old.") and trash.name.endswith(".partial")
    assert (trash / ENTRY_FILE).is_file() and not (runs / CACHE_DIR / "old").exists()
    assert _cache(runs).restore("PreprocessData", "old", {"train": tmp_path / "out" / "train"}) is None
    assert scan(runs).entries == ()  # the trash is no entry (remove_dead_runs clears it later)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["prune", "--older-than", "3x"], "--older-than 3x: '3x' is not a duration"),
        (["prune", "--older-than", "30"], "--older-than 30: '30' is not a duration"),
        (["prune", "--max-size", "lots"], "--max-size lots: 'lots' is not a size"),
        (["prune", "--max-size", "-5M"], "--max-size -5M: '-5M' is not a size"),
        (["prune"], "give --older-than AGE, --max-size SIZE, or both"),
    ],
)
def test_bad_values_are_one_line_errors(tmp_path, args, named):
    runs = tmp_path / "runs"
    _store(runs, "old", "exec-1", 100, 40)
    result = _cli(*args, "--runs-dir", str(runs))
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {named}") and result.output.count("\n") == 1 and "Traceback" not in result.output
    assert _left(runs)["cache"] == ["old"]


@pytest.mark.parametrize("command", [["info"], ["info", "--json"], ["prune", "--older-than", "1d"]])
def test_a_missing_runs_folder_is_a_one_line_error(tmp_path, command):
    missing = tmp_path / "nowhere"
    result = _cli(*command, "--runs-dir", str(missing))
    assert result.exit_code == 2 and result.output == f"error: no runs folder {missing}\n"
    assert not missing.exists()
    (tmp_path / "a-file").write_text("")
    assert _cli(*command, "--runs-dir", str(tmp_path / "a-file")).output == f"error: the runs folder {tmp_path / 'a-file'} is a file, not a folder\n"
