"""What a run shows while it runs: listeners of the run's lifecycle events (churn.runner.events).

- :class:`LiveProgress` (a terminal): one line per step with its status and a running timer,
  redrawn in place by rich, steps running at the same time side by side in the list.
- :class:`LineProgress` (output redirected, ``NO_COLOR``, ``TERM=dumb``, or ``--verbose``): one
  plain line per finished step and one per note (the cloud backend's staging and execution),
  no colour and no cursor movement; with ``verbose`` also every container line, prefixed by its
  step, and a line when a step starts.
- ``--quiet`` and ``--json`` show nothing while the run runs (:func:`progress_listener` returns
  None); the command prints the final line or the summary.

Step names are shown as the graph names them, except that a ``ModelStep``'s doubled name
(``CreateModel-CreateModel``) is shown once.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TextIO

from churn.runner.events import Event, Note, RunFinished, StepFinished, StepOutput, StepStarted

LIVE, LINES, QUIET, JSON = "live", "lines", "quiet", "json"
#: A container line starting so is meant for the user (an ignored column, duplicate rows): shown
#: in every mode but --quiet and --json, not only with --verbose.
STEP_NOTE = "note: "


def display_name(step: str) -> str:
    """``CreateModel-CreateModel`` (a ModelStep's sub-step) -> ``CreateModel``."""
    first, separator, second = step.partition("-")
    return first if separator and first == second else step


def wants_plain(stream: TextIO) -> bool:
    """No colour and no cursor movement: the stream is not a terminal, or ``NO_COLOR`` is set
    (https://no-color.org), or the terminal says it cannot (``TERM=dumb``)."""
    is_terminal = getattr(stream, "isatty", lambda: False)()
    return not is_terminal or bool(os.environ.get("NO_COLOR")) or os.environ.get("TERM") == "dumb"


def choose_mode(stream: TextIO, *, verbose: bool = False, quiet: bool = False, as_json: bool = False) -> str:
    if as_json:
        return JSON
    if quiet:
        return QUIET
    return LINES if verbose or wants_plain(stream) else LIVE


def _status_text(event: StepFinished) -> str:
    if not event.succeeded:
        return event.status
    return "Cached" if event.cached else "Succeeded"


def _after(event: StepFinished) -> str:
    """What follows a finished step's status: the gate's comparison, or the failure reason."""
    if event.detail:
        return event.detail
    if not event.succeeded and event.failure_reason:
        return event.failure_reason
    return ""


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f} s"


class LineProgress:
    """One line per finished step (``  TrainModel       Succeeded    6.2 s``) and per note; with
    ``verbose`` also each container line as ``TrainModel | [3] train-auc:...`` and each start."""

    def __init__(self, write_line, verbose: bool = False):
        self.write_line = write_line
        self.verbose = verbose
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            if isinstance(event, StepFinished):
                after = _after(event)
                seconds = "" if event.detail else _seconds(event.seconds)  # a condition takes no time worth showing
                line = f"  {display_name(event.step):<16} {_status_text(event):<10} {seconds:>7}"
                self.write_line((line + (f"  {after}" if after else "")).rstrip())
            elif isinstance(event, StepOutput) and self.verbose:
                self.write_line(f"{display_name(event.step)} | {event.text}")
            elif isinstance(event, StepOutput) and event.text.startswith(STEP_NOTE):
                self.write_line(f"note: {display_name(event.step)}: {event.text[len(STEP_NOTE):]}")
            elif self.verbose and isinstance(event, StepStarted):
                self.write_line(f"  {display_name(event.step):<16} started")
            elif isinstance(event, Note):
                self.write_line(f"note: {event.text}")


class LiveProgress:
    """A list of the run's steps redrawn in place (rich ``Live``): running steps with a timer,
    finished ones with their status and time, the gate with what it compared. Use as a context
    manager around the run; it is a listener."""

    def __init__(self, console):
        from rich.live import Live

        self._lock = threading.Lock()
        self._rows: dict[str, dict] = {}
        self._live = Live(console=console, get_renderable=self._render, refresh_per_second=4, transient=False)

    def __enter__(self):
        self._live.start()
        return self

    def __exit__(self, *exc) -> None:
        self._live.refresh()
        self._live.stop()

    def __call__(self, event: Event) -> None:
        # The lock guards the rows only: rich's refresh calls _render, which takes it too.
        if isinstance(event, StepStarted):
            with self._lock:
                self._rows[event.step] = {"started": time.monotonic(), "finished": None}
        elif isinstance(event, StepFinished):
            with self._lock:
                self._rows.setdefault(event.step, {"started": time.monotonic()})["finished"] = event
        elif isinstance(event, Note):
            self._live.console.print(f"note: {event.text}", markup=False, highlight=False)
        elif isinstance(event, StepOutput) and event.text.startswith(STEP_NOTE):
            self._live.console.print(f"note: {display_name(event.step)}: {event.text[len(STEP_NOTE):]}", markup=False, highlight=False)
        elif isinstance(event, RunFinished):
            self._live.refresh()

    def _render(self):
        from rich.table import Table
        from rich.text import Text

        table = Table.grid(padding=(0, 2))
        for _ in range(4):
            table.add_column()
        with self._lock:
            rows = list(self._rows.items())
        styles = {"Succeeded": "green", "Cached": "cyan", "Failed": "bold red"}
        for step, row in rows:
            finished: StepFinished | None = row["finished"]
            if finished is None:
                elapsed = time.monotonic() - row["started"]
                table.add_row(display_name(step), Text("running", style="yellow"), f"{elapsed:5.1f} s", "")
                continue
            status = _status_text(finished)
            seconds = "" if finished.detail else _seconds(finished.seconds)
            table.add_row(display_name(step), Text(status, style=styles.get(status, "")), seconds, Text(_after(finished)))
        return table


def console_for(stream: TextIO):
    """A rich console on ``stream`` (colour only where the stream is a terminal and NO_COLOR is unset)."""
    from rich.console import Console

    plain = wants_plain(stream)
    return Console(file=stream, no_color=plain, force_terminal=not plain, highlight=False, soft_wrap=True)
