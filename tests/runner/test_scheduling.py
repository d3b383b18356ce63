"""The local scheduler: independent steps at the same time, bounded, with the SDK's semantics."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

import churn.backends.sdk_adapters  # noqa: F401  (first: quiets the SDK before it is imported)
from sagemaker.local.exceptions import StepExecutionException

from churn.backends import local_scheduler
from churn.backends.local_scheduler import execute_concurrently, predecessors, ready_steps

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


class FakeExecutor:
    """Stands in for the SDK's LocalPipelineExecutor: steps sleep and record overlap."""

    def __init__(self, seconds=0.15, fail=(), blocks=None):
        self.pipeline_dag = SimpleNamespace(adjacency_list=GRAPH, step_map={n: SimpleNamespace(name=n) for n in GRAPH})
        self._blocked_steps: set[str] = set()
        self.seconds, self.fail, self.blocks = seconds, set(fail), blocks or {}
        self.lock = threading.Lock()
        self.running, self.peak, self.log = 0, 0, []
        self.execution = SimpleNamespace(result=None)
        self.execution.update_execution_failure = lambda step, message: setattr(self.execution, "result", ("Failed", step, message))
        self.execution.update_execution_success = lambda: setattr(self.execution, "result", ("Succeeded",))

    def _execute_step(self, step):
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.log.append(("start", step.name))
        time.sleep(self.seconds if step.name.startswith(("Train", "Evaluate")) else 0.01)
        with self.lock:
            self.running -= 1
            self.log.append(("end", step.name))
        if step.name in self.fail:
            raise StepExecutionException(step.name, f"{step.name} broke")
        self._blocked_steps.update(self.blocks.get(step.name, ()))


def _order_ok(log):
    ended = []
    for event, name in log:
        if event == "start":
            assert predecessors(GRAPH)[name] <= set(ended), f"{name} started before its predecessors ended"
        else:
            ended.append(name)
    return True


def test_branches_run_together_and_dependencies_hold():
    executor = FakeExecutor(blocks={"CheckAccuracy": {"AccuracyTooLow"}})
    start = time.monotonic()
    execute_concurrently(executor, 2)
    elapsed = time.monotonic() - start
    assert executor.execution.result == ("Succeeded",)
    assert executor.peak == 2 and _order_ok(executor.log)
    assert {name for event, name in executor.log if event == "end"} == set(GRAPH) - {"AccuracyTooLow"}
    assert elapsed < 4 * 0.15 + 0.3  # 2 branches x 2 steps, side by side


def test_the_bound_is_respected():
    executor = FakeExecutor()
    execute_concurrently(executor, 1)
    assert executor.peak == 1 and _order_ok(executor.log)
    # One at a time, in definition order where the graph allows.
    assert [n for e, n in executor.log if e == "start"][:3] == ["PreprocessData", "TrainModel", "TrainBaseline"]


def test_after_a_failure_nothing_new_starts_and_running_steps_finish():
    executor = FakeExecutor(fail={"TrainBaseline"})
    executor.seconds = 0.1
    execute_concurrently(executor, 2)
    assert executor.execution.result == ("Failed", "TrainBaseline", "TrainBaseline broke")
    started = [n for e, n in executor.log if e == "start"]
    ended = [n for e, n in executor.log if e == "end"]
    assert "SelectModel" not in started and sorted(started) == sorted(ended)  # nothing left running


def test_two_failing_branches_are_each_named_with_their_reason():
    executor = FakeExecutor(fail={"EvaluateModel", "EvaluateBaseline"}, seconds=0.1)
    execute_concurrently(executor, 2)
    status, _step, message = executor.execution.result
    assert status == "Failed"
    assert message.startswith("2 steps failed: ")
    assert "EvaluateModel: EvaluateModel broke" in message and "EvaluateBaseline: EvaluateBaseline broke" in message


def test_a_blocked_branch_is_never_run():
    executor = FakeExecutor(blocks={"CheckAccuracy": {"CreateModel"}}, fail={"AccuracyTooLow"})
    execute_concurrently(executor, 2)
    assert executor.execution.result[:2] == ("Failed", "AccuracyTooLow")
    assert "CreateModel" not in {n for _, n in executor.log}


def test_an_unexpected_error_is_raised_not_swallowed():
    executor = FakeExecutor()
    original = executor._execute_step

    def crash(step):
        if step.name == "TrainModel":
            raise KeyError("bug")
        return original(step)

    executor._execute_step = crash
    with pytest.raises(KeyError, match="bug"):
        execute_concurrently(executor, 2)


def test_ready_steps_follow_definition_order():
    waits = predecessors(GRAPH)
    order = list(GRAPH)
    assert ready_steps(order, waits, set(), set(), set()) == ["PreprocessData"]
    assert ready_steps(order, waits, {"PreprocessData"}, {"PreprocessData"}, set()) == ["TrainModel", "TrainBaseline"]


def test_the_default_bound(monkeypatch):
    monkeypatch.setenv(local_scheduler.MAX_PARALLEL_ENV, "3")
    assert local_scheduler.default_max_parallel_steps() == 3
    monkeypatch.setenv(local_scheduler.MAX_PARALLEL_ENV, "0")
    with pytest.raises(ValueError, match="CHURN_MAX_PARALLEL_STEPS must be a positive integer, got '0'"):
        local_scheduler.default_max_parallel_steps()
    monkeypatch.delenv(local_scheduler.MAX_PARALLEL_ENV)
    assert local_scheduler.default_max_parallel_steps() >= 1


def test_ctrl_c_stops_the_jobs_and_waits_for_running_steps(monkeypatch):
    """Ctrl-C while two steps run: no new step starts, the jobs are stopped, and both running
    steps have ended (nothing writes afterwards) before the KeyboardInterrupt goes on."""
    executor = FakeExecutor(seconds=0.3)
    stopped = []
    real_next = local_scheduler._next
    calls = []

    def interrupted_once_branches_run(done):
        calls.append(1)
        if len(calls) == 2:  # PreprocessData has ended; TrainModel and TrainBaseline are running
            raise KeyboardInterrupt
        return real_next(done)

    monkeypatch.setattr(local_scheduler, "_next", interrupted_once_branches_run)
    with pytest.raises(KeyboardInterrupt):
        execute_concurrently(executor, 2, stop_jobs=lambda: stopped.append(time.monotonic()))
    assert len(stopped) == 1 and executor.running == 0
    assert [n for e, n in executor.log if e == "start"] == ["PreprocessData", "TrainModel", "TrainBaseline"]
    assert sorted(n for e, n in executor.log if e == "end") == ["PreprocessData", "TrainBaseline", "TrainModel"]
