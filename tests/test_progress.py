"""What a run shows while it runs (churn.progress) and how container output becomes lines of
its step (churn.runner.step_output)."""

from __future__ import annotations

import io
import re
import sys
import threading

import pytest

from churn.progress import JSON, LINES, LIVE, QUIET, LineProgress, LiveProgress, choose_mode, console_for, display_name, wants_plain
from churn.runner.events import Note, RunFinished, StepFinished, StepOutput, StepStarted
from churn.runner.step_output import StepOutputRouter, container_line, routed_stdout


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_display_names():
    assert display_name("CreateModel-CreateModel") == "CreateModel"
    assert display_name("RegisterModel-RegisterModel") == "RegisterModel"
    assert display_name("TrainModel") == "TrainModel" and display_name("a-b") == "a-b"


def test_plain_output_when_not_a_terminal_or_no_color_or_dumb(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    assert wants_plain(io.StringIO()) and not wants_plain(_Terminal())
    assert choose_mode(_Terminal()) == LIVE and choose_mode(io.StringIO()) == LINES
    assert choose_mode(_Terminal(), verbose=True) == LINES
    assert choose_mode(_Terminal(), quiet=True) == QUIET and choose_mode(_Terminal(), as_json=True) == JSON
    monkeypatch.setenv("NO_COLOR", "1")
    assert wants_plain(_Terminal()) and choose_mode(_Terminal()) == LINES
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert wants_plain(_Terminal())


def _events():
    return [
        Note("staged: 3 code file(s)"),
        StepStarted("PreprocessData"),
        StepOutput("PreprocessData", 'wrote splits: {"train": 2310}'),
        StepFinished("PreprocessData", "Succeeded", 1.25),
        StepFinished("TrainBaseline", "Succeeded", 0.04, cached=True),
        StepFinished("CheckAccuracy", "Succeeded", 0.01, detail="accuracy 0.9579 >= AccuracyThreshold 0.8: true"),
        StepFinished("AccuracyTooLow", "Failed", 0.0, failure_reason="Test accuracy is below the AccuracyThreshold"),
        StepFinished("CreateModel-CreateModel", "Succeeded", 0.0),
        RunFinished("abc", "Failed"),
    ]


def test_line_progress_shows_one_line_per_finished_step_and_note():
    lines: list[str] = []
    listener = LineProgress(lines.append)
    for event in _events():
        listener(event)
    assert lines == [
        "note: staged: 3 code file(s)",
        "  PreprocessData   Succeeded    1.2 s",
        "  TrainBaseline    Cached       0.0 s",
        "  CheckAccuracy    Succeeded           accuracy 0.9579 >= AccuracyThreshold 0.8: true",
        "  AccuracyTooLow   Failed       0.0 s  Test accuracy is below the AccuracyThreshold",
        "  CreateModel      Succeeded    0.0 s",
    ]
    verbose: list[str] = []
    listener = LineProgress(verbose.append, verbose=True)
    for event in _events():
        listener(event)
    assert verbose[1:4] == ["  PreprocessData   started", 'PreprocessData | wrote splits: {"train": 2310}', "  PreprocessData   Succeeded    1.2 s"]


def test_live_progress_redraws_in_place_and_ends_with_every_step(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    terminal = _Terminal()
    with LiveProgress(console_for(terminal)) as live:
        threads = [threading.Thread(target=live, args=(event,)) for event in _events()]  # events come from step threads
        for thread in threads:
            thread.start()
            thread.join()
    text = terminal.getvalue()
    assert "\x1b[" in text  # colour and cursor movement: a terminal
    final = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    for name in ("PreprocessData", "TrainBaseline", "CheckAccuracy", "AccuracyTooLow", "CreateModel"):
        assert name in final
    assert "note: staged: 3 code file(s)" in final and "accuracy 0.9579 >= AccuracyThreshold 0.8: true" in final
    assert "CreateModel-CreateModel" not in final


def test_no_colour_on_a_plain_stream(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    stream = _Terminal()
    console_for(stream).print("[red]x[/red]")
    assert stream.getvalue() == "x\n"


@pytest.mark.parametrize(
    "raw, text",
    [
        ("\x1b[36mt93x9namyo-algo-1-j9192 |\x1b[0m [3]\ttrain-auc:0.9\n", "[3]\ttrain-auc:0.9"),
        ("abc-algo-1-xyz  | selection: xgboost\r\n", "selection: xgboost"),
        ("abc-algo-1-xyz |\n", ""),
        ("Creating abc-algo-1-xyz ... done\n", None),
        ("Attaching to abc-algo-1-xyz\n", None),
        ("\x1b[36mabc-algo-1-xyz exited with code 0\n", None),
        ("Aborting on container exit...\n", None),
    ],
)
def test_container_lines_are_told_from_compose_chatter(raw, text):
    assert container_line(raw) == text


def test_the_router_takes_only_what_captured_threads_write():
    got: list[tuple[str, str]] = []
    passthrough = io.StringIO()
    router = StepOutputRouter(passthrough, lambda step, text: got.append((step, text)))

    def job(step: str) -> None:
        with router.capture(step):
            router.write(f"{step.lower()}-1 | first line\n{step.lower()}-1 | sec")
            router.write("ond line\nCreating x ... done\n")
            router.write(f"{step.lower()}-1 | unterminated")

    threads = [threading.Thread(target=job, args=(name,)) for name in ("TrainModel", "TrainBaseline")]
    for thread in threads:
        thread.start()
    router.write("the main thread's own line\n")
    for thread in threads:
        thread.join()
    assert sorted(got) == sorted(
        (step, text) for step in ("TrainModel", "TrainBaseline") for text in ("first line", "second line", "unterminated")
    )
    assert passthrough.getvalue() == "the main thread's own line\n"


def test_what_the_callback_prints_is_not_taken_for_container_output(capsys):
    def show(step: str, text: str) -> None:
        print(f"{step}: {text}")  # sys.stdout is the router here, and this thread is captured

    with routed_stdout(show) as router:
        assert sys.stdout is router
        with router.capture("SelectModel"):
            print("abc-algo-1-x | selection: xgboost")
            print("Creating abc-algo-1-x ... done")
    assert sys.stdout is not router
    assert capsys.readouterr().out == "SelectModel: selection: xgboost\n"


def test_a_listener_error_is_raised_when_the_capture_ends_not_inside_the_stream():
    """A closed pipe (run -v | head) must not break local mode's streaming loop, which would leave
    the job's container running: the lines stop, and the error comes when the job is done."""
    def broken(step: str, text: str) -> None:
        raise BrokenPipeError(32, "Broken pipe")

    router = StepOutputRouter(io.StringIO(), broken)
    with pytest.raises(BrokenPipeError):
        with router.capture("TrainModel"):
            router.write("x-1 | [0] train-auc\nx-1 | [1] train-auc\n")  # returns normally
            written = True
    assert written


def test_captures_nest_and_a_replaced_stdout_is_left_alone():
    got: list[tuple[str, str]] = []
    router = StepOutputRouter(io.StringIO(), lambda step, text: got.append((step, text)))
    with router.capture("Outer"):
        router.write("a-1 | one\n")
        with router.capture("Inner"):
            router.write("b-1 | two\n")
        router.write("a-1 | three\n")
    assert got == [("Outer", "one"), ("Inner", "two"), ("Outer", "three")]
    other = io.StringIO()
    with routed_stdout(lambda step, text: None):
        sys.stdout = other  # something else took stdout during the run
    assert sys.stdout is other
    sys.stdout = sys.__stdout__


def test_progress_bars_and_other_escapes_are_cleaned():
    assert container_line("a-1 | 10%\r50%\r100%\n") == "100%"
    assert container_line("a-1 | \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ \x1b(Bdone\n") == "link done"


def test_a_step_note_is_shown_without_verbose():
    lines: list[str] = []
    listener = LineProgress(lines.append)
    listener(StepOutput("PreprocessData", "note: ignored column(s) not used as features: Notes"))
    listener(StepOutput("PreprocessData", "wrote splits: {}"))
    assert lines == ["note: PreprocessData: ignored column(s) not used as features: Notes"]


def test_warnings_go_to_the_stderr_of_the_moment(capsys):
    import logging

    from click.testing import CliRunner

    from churn.cli import main

    CliRunner().invoke(main, ["params"])
    CliRunner().invoke(main, ["params"])  # the handler is added once and keeps no stream of its own
    logging.getLogger("churn.runner.local_jobs").warning("TrainModel: not cached (disk full)")
    assert capsys.readouterr().err == "warning: churn.runner.local_jobs: TrainModel: not cached (disk full)\n"
    assert sum(type(h).__name__ == "_StderrHandler" for h in logging.getLogger().handlers) == 1
