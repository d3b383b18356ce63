"""The pure half of the local scheduler: which steps may start, and the bound. The executor that
uses them is tested in tests/runner/test_local_executor.py."""

from __future__ import annotations

import pytest

from churn.runner import scheduling
from churn.runner.scheduling import failure_message, predecessors, ready_steps

#: The churn graph's shape: two candidate branches between PreprocessData and SelectModel.
GRAPH = {
    "PreprocessData": ["TrainModel", "TrainBaseline", "EvaluateModel", "EvaluateBaseline"],
    "TrainModel": ["EvaluateModel", "SelectModel"],
    "TrainBaseline": ["EvaluateBaseline", "SelectModel"],
    "EvaluateModel": ["SelectModel"],
    "EvaluateBaseline": ["SelectModel"],
    "SelectModel": ["CheckAccuracy"],
    "CheckAccuracy": ["CreateModel", "AccuracyTooLow"],
    "CreateModel": [],
    "AccuracyTooLow": [],
}


def test_ready_steps_follow_definition_order():
    waits = predecessors(GRAPH)
    order = list(GRAPH)
    assert ready_steps(order, waits, set(), set(), set()) == ["PreprocessData"]
    assert ready_steps(order, waits, {"PreprocessData"}, {"PreprocessData"}, set()) == ["TrainModel", "TrainBaseline"]


def test_the_default_bound(monkeypatch):
    monkeypatch.setenv(scheduling.MAX_PARALLEL_ENV, "3")
    assert scheduling.default_max_parallel_steps() == 3
    monkeypatch.setenv(scheduling.MAX_PARALLEL_ENV, "0")
    with pytest.raises(ValueError, match="CHURN_MAX_PARALLEL_STEPS must be a positive integer, got '0'"):
        scheduling.default_max_parallel_steps()
    monkeypatch.delenv(scheduling.MAX_PARALLEL_ENV)
    assert scheduling.default_max_parallel_steps() >= 1


def test_the_failure_message_names_each_failed_step():
    assert failure_message([("A", "a broke")]) == "a broke"
    assert failure_message([("A", "a broke"), ("B", "b broke")]) == "2 steps failed: A: a broke; B: b broke"
