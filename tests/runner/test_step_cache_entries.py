"""Cache entries (no Docker): an entry is stored and served only with every declared output,
and a served output is a copy: changing it changes neither the entry nor another run."""

from __future__ import annotations

from churn.runner.step_cache import StepCache
from churn.runner.local_jobs import missing_outputs


def _cache(tmp_path) -> StepCache:
    return StepCache(tmp_path / ".cache", lambda name: f"id-of-{name}")


def _outputs(root, **files):
    folders = {}
    for name, content in files.items():
        folder = root / name
        folder.mkdir(parents=True)
        if content is not None:
            (folder / f"{name}.csv").write_text(content)
        folders[name] = folder
    return folders


def test_a_step_with_an_empty_declared_output_is_never_stored(tmp_path):
    cache = _cache(tmp_path)
    cache.store("k1", _outputs(tmp_path / "a", train="1,2\n", test=None), {"r": 1}, "exec-a")
    cache.store("k2", _outputs(tmp_path / "b", train="1,2\n", test=""), {"r": 1}, "exec-b")
    assert not (tmp_path / ".cache" / "k1").exists() and not (tmp_path / ".cache" / "k2").exists()


def test_an_entry_missing_a_declared_output_is_a_miss_and_removed(tmp_path):
    cache = _cache(tmp_path)
    cache.store("k", _outputs(tmp_path / "a", train="1,2\n"), {"r": 1}, "exec-a")
    targets = _outputs(tmp_path / "b", train=None, test=None)
    assert cache.restore("step", "k", targets) is None  # "test" was never in the entry
    assert not (tmp_path / ".cache" / "k").exists()


def test_a_served_output_is_a_copy_not_a_link(tmp_path):
    cache = _cache(tmp_path)
    sources = _outputs(tmp_path / "a", train="1,2\n")
    cache.store("k", sources, {"r": 1}, "exec-a")
    targets = _outputs(tmp_path / "b", train=None)
    assert cache.restore("PreprocessData", "k", targets) == {"r": 1}
    served = targets["train"] / "train.csv"
    assert served.stat().st_nlink == 1 and (sources["train"] / "train.csv").stat().st_nlink == 1
    served.write_text("changed\n")
    (sources["train"] / "train.csv").write_text("changed too\n")
    again = _outputs(tmp_path / "c", train=None)
    assert cache.restore("PreprocessData", "k", again) == {"r": 1}
    assert (again["train"] / "train.csv").read_text() == "1,2\n"
    assert cache.hits == {"PreprocessData": "exec-a"}


def test_missing_outputs_names_empty_and_absent_outputs(tmp_path):
    folders = _outputs(tmp_path, train="1\n", validation="", test=None)
    folders["manifest"] = tmp_path / "nowhere"
    assert missing_outputs(folders) == ["validation", "test", "manifest"]


def test_a_restore_records_its_last_use_and_its_user(tmp_path):
    import os

    from churn.runner.step_cache import ENTRY_FILE, USED_BY, entry_executions

    cache = _cache(tmp_path)
    cache.store("k", _outputs(tmp_path / "a", train="1,2\n"), {"r": 1}, "exec-a")
    entry = tmp_path / ".cache" / "k"
    os.utime(entry / ENTRY_FILE, (1_000_000, 1_000_000))
    assert entry_executions(entry) == {"exec-a"}
    assert cache.restore("PreprocessData", "k", _outputs(tmp_path / "b", train=None), "exec-b") == {"r": 1}
    assert (entry / ENTRY_FILE).stat().st_mtime > 1_000_000
    assert sorted(p.name for p in (entry / USED_BY).iterdir()) == ["exec-b"]
    assert entry_executions(entry) == {"exec-a", "exec-b"}
    assert cache.restore("PreprocessData", "k", _outputs(tmp_path / "c", train=None), "exec-c") == {"r": 1}  # still valid
    assert entry_executions(entry) == {"exec-a", "exec-b", "exec-c"}


def test_a_partly_removed_entry_is_a_miss(tmp_path):
    cache = _cache(tmp_path)
    for key, lose in (("k1", "outputs/train/train.csv"), ("k2", "entry.json")):
        cache.store(key, _outputs(tmp_path / key, train="1,2\n", test="3\n"), {"r": 1}, "exec-a")
        (tmp_path / ".cache" / key / lose).unlink()
        assert cache.restore("step", key, _outputs(tmp_path / f"{key}-out", train=None, test=None)) is None
    assert cache.hits == {}


def test_an_entry_removed_while_it_is_restored_is_a_miss(tmp_path, monkeypatch):
    from churn.runner import step_cache

    cache = _cache(tmp_path)
    entry = tmp_path / ".cache" / "k"
    trash = tmp_path / ".cache" / ".k.x.partial"
    sources = _outputs(tmp_path / "a", train="1,2\n", test="3\n")
    (sources["train"] / "more.csv").write_text("4,5\n")  # a second file of the same output
    cache.store("k", sources, {"r": 1}, "exec-a")
    real_copy = step_cache.clone_or_copy

    def copy_then_lose_the_entry(source, target):  # a prune renames it away after the first file
        real_copy(source, target)
        if entry.exists():
            entry.rename(trash)

    monkeypatch.setattr(step_cache, "clone_or_copy", copy_then_lose_the_entry)
    assert cache.restore("step", "k", _outputs(tmp_path / "b", train=None, test=None)) is None
    monkeypatch.setattr(step_cache, "clone_or_copy", real_copy)
    trash.rename(entry)
    real_valid = StepCache._valid_entry

    def valid_then_gone(self, key, outputs):  # gone between the check and the copy
        found = real_valid(self, key, outputs)
        entry.rename(trash)
        return found

    monkeypatch.setattr(StepCache, "_valid_entry", valid_then_gone)
    assert cache.restore("step", "k", _outputs(tmp_path / "c", train=None, test=None)) is None
    assert cache.hits == {}


def test_an_entry_json_of_the_wrong_shape_is_a_miss_and_removed(tmp_path):
    """Valid JSON that is not an entry (a list, files not an object, no stored description) is a
    miss, as a damaged file is: the job runs again, it does not fail on the cache."""
    import json

    cache = _cache(tmp_path)
    for key, entry in (
        ("k1", []), ("k2", {"execution_id": "exec-a", "files": [], "response": {}}),
        ("k3", {"execution_id": "exec-a", "files": {}, "response": "x"}), ("k4", {"execution_id": 5, "files": {}, "response": {}}),
        ("k5", "text"), ("k6", {"execution_id": "exec-a", "files": {"train/train.csv": 5}, "response": {}}),
    ):
        cache.store(key, _outputs(tmp_path / key, train="1,2\n"), {"r": 1}, "exec-a")
        (tmp_path / ".cache" / key / "entry.json").write_text(json.dumps(entry))
        assert cache.restore("step", key, _outputs(tmp_path / f"{key}-out", train=None)) is None, key
        assert not (tmp_path / ".cache" / key).exists(), key
    assert cache.hits == {}


def test_an_entry_whose_notes_changed_is_a_miss(tmp_path):
    """A tuning trial's objective is read from its entry's metrics note: a note changed after the
    entry was stored (a forged objective, a damaged file) makes the entry a miss, never a result."""
    cache = _cache(tmp_path)
    notes = {"metrics.json": b'{"series": {"validation:auc": [0.91]}}', "log.txt": b"[0] validation-auc:0.91\n"}
    for key, note in (("k1", "metrics.json"), ("k2", "log.txt")):
        cache.store(key, _outputs(tmp_path / key, train="1,2\n"), {"r": 1}, "exec-a", notes=notes)
        assert cache.note(key, note) == notes[note]
        (tmp_path / ".cache" / key / "notes" / note).write_bytes(notes[note].replace(b"0.91", b"0.99"))
        assert cache.restore("step", key, _outputs(tmp_path / f"{key}-out", train=None)) is None, key
        assert not (tmp_path / ".cache" / key).exists(), key
    cache.store("k3", _outputs(tmp_path / "k3", train="1,2\n"), {"r": 1}, "exec-a", notes=notes)
    assert cache.restore("step", "k3", _outputs(tmp_path / "k3-out", train=None)) == {"r": 1}  # untouched: a hit
    assert cache.note("k3", "metrics.json") == notes["metrics.json"]
