"""Running independent steps of a local execution at the same time, as SageMaker does.

The SDK's ``LocalPipelineExecutor.execute`` walks the graph in one topological order and runs
one step at a time, so the two candidate branches (TrainModel -> EvaluateModel and
TrainBaseline -> EvaluateBaseline) would wait for each other. :func:`execute_concurrently` runs
the same executor's own ``_execute_step`` for every step whose predecessors have succeeded, on
up to ``max_parallel`` threads (each step's container is a separate ``docker compose`` process,
so the threads only wait). Everything else is the SDK's: condition steps still block the
branch they do not take (``_blocked_steps``), and step results land in the same execution
object. After a failure no new step starts; steps already running finish, and the execution
fails naming every step that failed with its own reason (two branches can fail side by side).
On Ctrl-C no new step starts either: ``stop_jobs()`` removes the running jobs' containers, the
running steps are waited for (so nothing writes into the run folder afterwards), and the
KeyboardInterrupt goes on to the caller.
"""

from __future__ import annotations

import os
import queue
import threading
import time

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


def execute_concurrently(executor, max_parallel: int, stop_jobs=None):
    """Run ``executor``'s execution with up to ``max_parallel`` steps at a time; return it.
    ``stop_jobs()`` (if given) stops the running jobs' containers on Ctrl-C."""
    from sagemaker.local.exceptions import StepExecutionException

    dag = executor.pipeline_dag
    waits = predecessors(dag.adjacency_list)
    order = [name for name in dag.step_map if name in waits]
    done: queue.Queue = queue.Queue()
    succeeded: set[str] = set()
    started: set[str] = set()
    running = 0
    failures: list[StepExecutionException] = []
    crash: BaseException | None = None

    def work(step) -> None:
        try:
            executor._execute_step(step)  # noqa: SLF001 - the SDK's own single-step runner
        except BaseException as error:  # noqa: BLE001 - handed to the scheduling thread
            done.put((step.name, error))
        else:
            done.put((step.name, None))

    while True:
        if not failures and crash is None:
            for name in ready_steps(order, waits, succeeded, started, executor._blocked_steps):  # noqa: SLF001
                if running >= max_parallel:
                    break
                started.add(name)
                running += 1
                # Daemon threads: Ctrl-C reaches this thread at once; the caller removes the
                # job containers, which ends the threads' docker compose processes.
                threading.Thread(target=work, args=(dag.step_map[name],), name=f"step-{name}", daemon=True).start()
        if running == 0:
            break
        try:
            name, error = _next(done)
        except KeyboardInterrupt:
            _stop_running_steps(stop_jobs, done, running)
            raise
        running -= 1
        if error is None:
            succeeded.add(name)
        elif isinstance(error, StepExecutionException):
            failures.append(error)
        else:
            crash = crash or error
    if crash is not None:
        raise crash
    if failures:
        message = failure_message([(f.step_name, f.message) for f in failures])
        executor.execution.update_execution_failure(failures[0].step_name, message)
    else:
        executor.execution.update_execution_success()
    return executor.execution


#: How long Ctrl-C waits for the running steps to end once their containers are removed.
STOP_TIMEOUT_SECONDS = 120.0


def _stop_running_steps(stop_jobs, done: queue.Queue, running: int) -> None:
    if stop_jobs is not None:
        stop_jobs()
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    while running and time.monotonic() < deadline:
        try:
            done.get(timeout=0.2)
            running -= 1
        except queue.Empty:
            continue


def _next(done: queue.Queue):
    """The next finished step; waits in short slices so Ctrl-C is handled promptly."""
    while True:
        try:
            return done.get(timeout=0.2)
        except queue.Empty:
            continue
