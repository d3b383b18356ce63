"""Lifecycle events of a run, in the spirit of Kedro's runner hooks.

A runner emits them; listeners (progress lines, the run record) are given to :class:`Events`.
They are plain data: no listener needs to know which backend ran the step, nor parse SDK log
text. A listener that raises stops the run: events are part of the run, not decoration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class RunStarted:
    """The execution has an id; no step has started yet."""

    execution_id: str


@dataclass(frozen=True)
class Note:
    """Something the run did that the user may want to know (staged files, a created group)."""

    text: str


@dataclass(frozen=True)
class StepStarted:
    step: str


@dataclass(frozen=True)
class StepFinished:
    step: str
    #: "Succeeded" or "Failed" (SageMaker's step statuses).
    status: str
    #: Wall-clock seconds from start to finish; None when the backend does not say.
    seconds: float | None = None
    #: Its outputs were reused from an earlier run (the step cache; SageMaker's CacheHitResult).
    cached: bool = False
    failure_reason: str | None = None
    #: What the step decided, in words, when it is a condition (``accuracy 0.9580 >= AccuracyThreshold 0.8: true``).
    detail: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded"


@dataclass(frozen=True)
class StepOutput:
    """One line a running job step's container wrote (colour codes and Compose's prefix gone)."""

    step: str
    text: str


@dataclass(frozen=True)
class RunFinished:
    execution_id: str
    status: str
    failure_reason: str | None = None


Event = Union[RunStarted, Note, StepStarted, StepFinished, StepOutput, RunFinished]
Listener = Callable[[Event], None]


class Events:
    """The run's event bus: ``emit`` calls every listener in the order they subscribed.

    Steps run on threads of their own; ``emit`` may be called from any of them, so listeners
    must be thread-safe (printing a line and appending to a list are)."""

    def __init__(self, *listeners: Listener):
        self._listeners: list[Listener] = list(listeners)

    def emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            listener(event)
