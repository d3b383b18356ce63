"""Container output of a running job step, as lines of that step (not the terminal's).

Local mode streams every job's ``docker compose`` output to ``sys.stdout`` from the thread that
runs the job (``sagemaker.local.image._stream_output``, checked on sagemaker 2.257.1): Compose's
own chatter ("Creating … done", "Attaching to", "Aborting on container exit...") and each
container line prefixed by a random container name, the two branches interleaved. While a run
executes, :func:`routed_stdout` puts a :class:`StepOutputRouter` in ``sys.stdout``: what a
thread writes inside :meth:`StepOutputRouter.capture` becomes :func:`container_line` lines of
that step, handed to a callback (churn emits them as ``StepOutput`` events; the whole log is
kept in the run folder anyway), and every other write goes to the stream that was there.
"""

from __future__ import annotations

import io
import re
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

#: Terminal escape sequences: colour and cursor (CSI), links and titles (OSC), character sets.
_ESCAPES = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")
#: A container's line as Compose prints it: ``<container name> | <text>``.
_CONTAINER_LINE = re.compile(r"^(?P<container>[A-Za-z0-9][A-Za-z0-9_.-]*)\s+\| ?(?P<text>.*)$")


def container_line(raw: str) -> str | None:
    """The container's own text of one line of Compose output, without colour codes; None for
    Compose's own lines (creating, attaching, exit codes)."""
    match = _CONTAINER_LINE.match(_ESCAPES.sub("", raw).rstrip("\r\n"))
    # a progress bar redrawn with carriage returns: what the line ends showing
    return match["text"].rsplit("\r", 1)[-1] if match else None


class StepOutputRouter(io.TextIOBase):
    """A text stream that hands what captured threads write to ``on_line(step, text)``, one
    container line at a time, and passes everything else to ``passthrough``. An error of
    ``on_line`` (a closed pipe) is not raised into local mode's streaming loop, which would leave
    the job's container running: lines stop being handed on, and the error is raised when the
    capture ends."""

    def __init__(self, passthrough, on_line: Callable[[str, str], None]):
        super().__init__()
        self.passthrough = passthrough
        self.on_line = on_line
        self._local = threading.local()

    @contextmanager
    def capture(self, step: str) -> Iterator[None]:
        """Inside the block, this thread's writes are lines of ``step`` (a capture inside
        another is its own; the outer one goes on after it)."""
        outer = (getattr(self._local, "step", None), getattr(self._local, "pending", ""), getattr(self._local, "error", None))
        self._local.step, self._local.pending, self._local.error = step, "", None
        try:
            yield
        finally:
            rest, self._local.pending = self._local.pending, ""
            if rest:
                self._line(step, rest)
            error = self._local.error
            self._local.step, self._local.pending, self._local.error = outer
            if error is not None:
                raise error

    def _line(self, step: str, raw: str) -> None:
        text = container_line(raw)
        if text is None or self._local.error is not None:
            return
        self._local.step = None  # what the callback prints is not the container's
        try:
            self.on_line(step, text)
        except Exception as error:  # noqa: BLE001 - raised when the capture ends, not inside local mode
            self._local.error = error
        finally:
            self._local.step = step

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        step = getattr(self._local, "step", None)
        if step is None:
            return self.passthrough.write(text)
        *lines, self._local.pending = (self._local.pending + text).split("\n")
        for line in lines:
            self._line(step, line)
        return len(text)

    def flush(self) -> None:
        self.passthrough.flush()

    def isatty(self) -> bool:
        return self.passthrough.isatty()

    @property
    def encoding(self):  # type: ignore[override]
        return getattr(self.passthrough, "encoding", "utf-8")

    def fileno(self) -> int:
        return self.passthrough.fileno()


@contextmanager
def routed_stdout(on_line: Callable[[str, str], None]) -> Iterator[StepOutputRouter]:
    """``sys.stdout`` is a :class:`StepOutputRouter` over the current one inside the block."""
    previous = sys.stdout
    router = StepOutputRouter(previous, on_line)
    sys.stdout = router
    try:
        yield router
    finally:
        if sys.stdout is router:  # what replaced it meanwhile is left alone
            sys.stdout = previous
