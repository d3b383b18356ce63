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

    @property
    def succeeded(self) -> bool:
        return self.status == "Succeeded"


@dataclass(frozen=True)
class RunFinished:
    execution_id: str
    status: str
    failure_reason: str | None = None


Event = Union[RunStarted, Note, StepStarted, StepFinished, RunFinished]
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


def progress_lines(print_line: Callable[[str], None]) -> Listener:
    """A listener printing one line per note and step event: ``==> staged: ...``, ``==> Step: started``,
    ``==> Step: Succeeded in 1.2 s (cached)``, ``==> Step: Failed in 3.4 s: reason``."""

    def listen(event: Event) -> None:
        if isinstance(event, Note):
            print_line(f"==> {event.text}")
        elif isinstance(event, StepStarted):
            print_line(f"==> {event.step}: started")
        elif isinstance(event, StepFinished):
            took = f" in {event.seconds:.1f} s" if event.seconds is not None else ""
            if event.succeeded:
                print_line(f"==> {event.step}: Succeeded{took}{' (cached)' if event.cached else ''}")
            else:
                reason = f": {event.failure_reason}" if event.failure_reason else ""
                print_line(f"==> {event.step}: {event.status}{took}{reason}")

    return listen
