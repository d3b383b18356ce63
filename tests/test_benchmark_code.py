"""The benchmark's in-process floor (the steps' own code, no containers) still runs against
today's step entrypoints: the benchmark is run by hand, not by CI, so without this a changed
entrypoint would break it unnoticed."""

from benchmarks import run as benchmark


def test_the_in_process_floor_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(benchmark, "REPEATS", 1)
    measured = benchmark.in_process_floor(tmp_path)
    assert measured["floor"] > 0 and len(measured["samples"]) == 1
    assert (tmp_path / "floor-0" / "selected" / "model" / "model.tar.gz").is_file()
