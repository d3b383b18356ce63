"""The benchmark's in-process floor (the steps' own code, no containers) still runs against
today's step entrypoints: the benchmark is run by hand, not by CI, so without this a changed
entrypoint would break it unnoticed."""

from benchmarks import run as benchmark


def test_the_in_process_floor_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(benchmark, "REPEATS", 1)
    measured = benchmark.in_process_floor(tmp_path)
    assert measured["floor"] > 0 and len(measured["samples"]) == 1
    assert (tmp_path / "floor-0" / "selected" / "model" / "model.tar.gz").is_file()


def test_the_report_writes_the_issue_19_targets_with_their_before_figures():
    """The report renders from a results document (the last one written, with a 1 GB run and a
    second container runner added): the targets table names each measure, its figure before
    issue 19, the figure now and whether it is met."""
    import json

    data = json.loads((benchmark.RESULTS.parent / "results.json").read_text())
    e = data["end_to_end"]
    e["churn"]["runner"] = "engine"
    e["churn"]["other_runners"] = {"compose": {"first": e["plain"]["plain"] * 0.9, "samples": []}}
    e.setdefault("tuning", {"with": 27.0, "without": 17.0, "cached": 6.0, "trial_min": 3.3, "trial_median": 4.0, "trial_max": 5.2,
                            "auc": {"xgboost": 0.91}})
    e["cli"] = {"first": 10.0, "cached": 0.5, "cached_imported_sdk": False}
    data["large"] = {"rows": 11_300_000, "file_mb": 1000.0, "wall": 140.0, "execution": 130.0, "steps": {"PreprocessData": 30.0, "SelectModel": None}}
    text = benchmark.report(data)
    assert "| `churn run` from the shell, nothing changed, / a first run from the shell | 2.76 s (29%) | 0.50 s (5.0%) | <= 10% | yes |" in text
    assert "| 1 GB input end to end, two steps at a time (execution) | 299.5 s | 130.0 s | <= 150 s | yes |" in text
    assert "| churn, first run with `--container-runner compose` |" in text
    assert "not imported: the run was replayed" in text
    assert "| PreprocessData | 30.0 |" in text and "SelectModel |" not in text.split("## A 1.0 GB")[1].split("## Targets")[0]
