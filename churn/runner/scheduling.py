"""Which steps of a local execution may run now: the pure half of the local scheduler.

The SDK's ``LocalPipelineExecutor.execute`` walks the graph in one topological order and runs
one step at a time, so the two candidate branches (TrainModel -> EvaluateModel and
TrainBaseline -> EvaluateBaseline) would wait for each other. churn's executor
(:class:`churn.runner.local_executor.ChurnPipelineExecutor`) runs every step whose predecessors
succeeded, up to a bound; these functions decide which, without the SDK.
"""

from __future__ import annotations

import os

#: Environment variable of the default bound (``churn run --max-parallel-steps`` overrides it).
MAX_PARALLEL_ENV = "CHURN_MAX_PARALLEL_STEPS"


def default_max_parallel_steps() -> int:
    """``$CHURN_MAX_PARALLEL_STEPS``, else the number of cores this process may use."""
    configured = os.environ.get(MAX_PARALLEL_ENV)
    if configured:
        return parse_max_parallel(configured, MAX_PARALLEL_ENV)
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def parse_max_parallel(text: str, source: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{source} must be a positive integer, got {text!r}") from None
    if value < 1:
        raise ValueError(f"{source} must be a positive integer, got {text!r}")
    return value


def predecessors(adjacency: dict[str, list[str]]) -> dict[str, set[str]]:
    """Step name -> names of the steps it waits for, from the graph's successor lists."""
    waits: dict[str, set[str]] = {name: set() for name in adjacency}
    for name, successors in adjacency.items():
        for successor in successors:
            waits.setdefault(successor, set()).add(name)
    return waits


def ready_steps(order: list[str], waits: dict[str, set[str]], succeeded: set[str], started: set[str], blocked: set[str]) -> list[str]:
    """Steps not started nor blocked whose predecessors all succeeded, in definition order."""
    return [
        name for name in order
        if name not in started and name not in blocked and waits.get(name, set()) <= succeeded
    ]


def failure_message(failures: list[tuple[str, str]]) -> str:
    """The execution's failure reason: the one step's message, or each failed step with its own."""
    if len(failures) == 1:
        return failures[0][1]
    return f"{len(failures)} steps failed: " + "; ".join(f"{name}: {message}" for name, message in failures)
