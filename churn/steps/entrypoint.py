"""What every step entrypoint shares: clear one-line errors and SageMaker's failure file."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

#: SageMaker reads a job's FailureReason / ExitMessage from this file.
FAILURE_FILE = Path("/opt/ml/output/failure")
EXPECTED_ERRORS = (ValueError, FileNotFoundError)


def run(step: str, main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> None:
    """Run ``main``; on an expected error print ``step: message`` and exit 2, recording the
    message as the job's failure reason when running under SageMaker."""
    try:
        main(argv)
    except EXPECTED_ERRORS as error:
        message = f"{step}: {error}"
        print(f"ERROR {message}", file=sys.stderr)
        if FAILURE_FILE.parent.is_dir():
            FAILURE_FILE.write_text(message[:1024])
        sys.exit(2)
