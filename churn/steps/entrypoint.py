"""What every step entrypoint shares: clear one-line errors and SageMaker's failure file."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from churn.steps import paths

FAILURE_FILE = Path(paths.FAILURE_FILE)
MESSAGE_FILE = Path(paths.MESSAGE_FILE)
#: What only a processing job's container has.
PROCESSING_DIR = Path(paths.PROCESSING)
#: SageMaker keeps at most this much of either file.
MAX_MESSAGE = 1024
#: Bad input (ValueError) and what the file system refuses (OSError: a missing file, a full disk).
EXPECTED_ERRORS = (ValueError, OSError)


def run(step: str, main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Run ``main``; on an expected error print ``step: message`` and exit 2, recording the
    message as the job's failure reason when running under SageMaker."""
    try:
        main(argv)
    except EXPECTED_ERRORS as error:
        message = f"{step}: {error}"
        print(f"ERROR {message}", file=sys.stderr)
        for path in failure_files():
            try:
                path.parent.mkdir(exist_ok=True)  # /opt/ml is there: the job's own or the checked folder
                path.write_text(message[:MAX_MESSAGE])
            except OSError:  # (a full disk): the message on stderr is in the job's log
                pass
        sys.exit(2)


def failure_files() -> list[Path]:
    """Where this job's failure message goes: a processing job's ``message``, a training job's
    ``failure`` (none outside a SageMaker container)."""
    if PROCESSING_DIR.is_dir():
        return [MESSAGE_FILE]
    if FAILURE_FILE.parent.is_dir():
        return [FAILURE_FILE]
    return []
