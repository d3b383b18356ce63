"""``churn diff``: what it says about two finished runs, from their folders alone."""

from __future__ import annotations

import json

from churn.diff import diff_runs
from tests.test_report import _make_run


def _tuned(run_dir, hyperparameters: dict | None) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    if hyperparameters is not None:
        record = dict(summary["selection"]["candidates"]["xgboost"], hyperparameters=hyperparameters)
        summary["selection"]["candidates"]["xgboost-tuned"] = record
    (run_dir / "summary.json").write_text(json.dumps(summary))


def test_the_tuned_hyperparameters_that_differ_are_shown(tmp_path, sample_splits, candidate_outputs):
    a, b, c = (_make_run(tmp_path / name, sample_splits, candidate_outputs) for name in ("a", "b", "c"))
    _tuned(a, {"max_depth": "9", "eta": "0.03", "subsample": "0.6"})
    _tuned(b, {"max_depth": "7", "eta": "0.03", "num_round": "120"})
    _tuned(c, None)  # a run without the tuning branch (--no-tuning)
    found = diff_runs(a, b)
    assert found.tuned == {"max_depth": ("9", "7"), "subsample": ("0.6", None), "num_round": (None, "120")}
    assert [line for line in found.lines() if line.startswith("tuned ")] == [
        "tuned max_depth: 9 -> 7", "tuned subsample: 0.6 -> -", "tuned num_round: - -> 120",
    ]
    assert diff_runs(a, a).tuned == {} and not [line for line in diff_runs(a, a).lines() if line.startswith("tuned ")]
    assert diff_runs(c, a).tuned == {"max_depth": (None, "9"), "eta": (None, "0.03"), "subsample": (None, "0.6")}
