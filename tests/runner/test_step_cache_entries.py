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
