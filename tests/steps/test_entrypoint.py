"""A failing step's one-line message goes where SageMaker reads it: a processing job's
``/opt/ml/output/message`` (its ExitMessage) and a training job's ``/opt/ml/output/failure``."""

from __future__ import annotations

import pytest

from churn.steps import entrypoint


def _bad(_argv):
    raise ValueError("column 'Day Calls' must be numeric; bad values at row 5: 'many'" + "x" * 2000)


@pytest.fixture()
def opt_ml(tmp_path, monkeypatch):
    root = tmp_path / "opt" / "ml"
    monkeypatch.setattr(entrypoint, "PROCESSING_DIR", root / "processing")
    monkeypatch.setattr(entrypoint, "MESSAGE_FILE", root / "output" / "message")
    monkeypatch.setattr(entrypoint, "FAILURE_FILE", root / "output" / "failure")
    return root


def test_a_processing_job_writes_its_exit_message(opt_ml, capsys):
    (opt_ml / "processing").mkdir(parents=True)
    with pytest.raises(SystemExit) as exit_:
        entrypoint.run("PreprocessData", _bad, [])
    assert exit_.value.code == 2
    message = (opt_ml / "output" / "message").read_text()
    assert message.startswith("PreprocessData: column 'Day Calls' must be numeric") and len(message) == 1024
    assert not (opt_ml / "output" / "failure").exists()
    assert capsys.readouterr().err.startswith("ERROR PreprocessData: column 'Day Calls'")


def test_a_training_job_writes_its_failure_file(opt_ml):
    (opt_ml / "output").mkdir(parents=True)
    with pytest.raises(SystemExit):
        entrypoint.run("TrainBaseline", _bad, [])
    assert (opt_ml / "output" / "failure").read_text().startswith("TrainBaseline: column")
    assert not (opt_ml / "output" / "message").exists()


def test_outside_a_container_nothing_is_written(opt_ml):
    with pytest.raises(SystemExit):
        entrypoint.run("SelectModel", _bad, [])
    assert not opt_ml.exists()


def test_a_full_disk_is_a_one_line_error_even_where_the_message_cannot_be_written(opt_ml, capsys, monkeypatch):
    """A hostile pass filled the disk under preprocessing run by hand: a traceback (OSError was not
    expected), where the user gets one line and exit 2; the failure file may not fit either."""
    import errno
    from pathlib import Path

    def full(_argv):
        raise OSError(errno.ENOSPC, "No space left on device")

    (opt_ml / "processing").mkdir(parents=True)
    real = Path.write_text
    monkeypatch.setattr(Path, "write_text", lambda self, *a, **k: full(None) if self.name == "message" else real(self, *a, **k))
    with pytest.raises(SystemExit) as exit_:
        entrypoint.run("PreprocessData", full, [])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == "ERROR PreprocessData: [Errno 28] No space left on device\n"
