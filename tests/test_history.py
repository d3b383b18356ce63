"""churn runs list and run references (churn.history): every run of a runs folder, finished or
not, newest first; ``latest``, ids and folders wherever a run is expected."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner

from churn.cli import main
from churn.history import DAMAGED, INTERRUPTED, KILLED, RUNNING, RunReferenceError, list_runs, new_execution_id, resolve_run
from churn.layout import RUN_RECORD
from churn.summary import write_summary
from tests.test_summary import _summary


def _finished(runs, execution_id, started, status="Succeeded", **changes):
    folder = runs / execution_id
    folder.mkdir(parents=True)
    write_summary(folder, _summary(execution_id=execution_id, status=status, started_at=started, **changes))
    return folder


def _record(folder, started, pid, **extra):
    folder.mkdir(parents=True)
    (folder / RUN_RECORD).write_text(json.dumps({"execution_id": folder.name, "started_at": started, "pid": pid,
                                                 "input_sha256": "a" * 64, "definition_sha256": "b" * 64, "parameters": {}, **extra}))


@pytest.fixture()
def runs(tmp_path):
    """A runs folder with one run of every kind (and things that are not runs)."""
    runs = tmp_path / "runs"
    _finished(runs, "20261128-080000-aaaaaa", "2026-11-28T08:00:00+00:00",
              selection={"winner": "xgboost", "metric": "auc", "summary": "s", "candidates": {}}, metrics={"auc": 0.91, "accuracy": 0.95})
    _finished(runs, "20261128-081000-bbbbbb", "2026-11-28T08:10:00+00:00", status="Failed")
    _record(runs / "20261128-082000-cccccc.interrupted", "2026-11-28T08:20:00+00:00", os.getpid())
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout
    _record(runs / "20261128-083000-dddddd", "2026-11-28T08:30:00+00:00", int(dead))
    _record(runs / "20261128-084000-eeeeee", "2026-11-28T08:40:00+00:00", os.getpid())
    (runs / "20261128-085000-ffffff").mkdir()
    (runs / "20261128-085000-ffffff" / "summary.json").write_text("{not json")
    (runs / ".cache").mkdir()
    (runs / "not-a-run").mkdir()
    (runs / "registry.sqlite").write_text("")
    return runs


def test_every_run_is_listed_newest_first_with_its_state(runs):
    entries = list_runs(runs)
    assert [(e.execution_id, e.status) for e in entries] == [
        ("20261128-084000-eeeeee", RUNNING),
        ("20261128-083000-dddddd", KILLED),
        ("20261128-082000-cccccc", INTERRUPTED),
        ("20261128-081000-bbbbbb", "Failed"),
        ("20261128-080000-aaaaaa", "Succeeded"),
        ("20261128-085000-ffffff", DAMAGED),  # no start time known: last
    ]
    first = entries[-2]
    assert first.winner == "xgboost" and first.metrics == {"auc": 0.91, "accuracy": 0.95} and first.pipeline_version == "e" * 12
    assert entries[1].input_sha256 == "a" * 64 and entries[1].pipeline_version == "b" * 12


def test_runs_list_command_table_json_status_and_limit(runs):
    table = CliRunner().invoke(main, ["runs", "list", "--runs-dir", str(runs)])
    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].split()[:3] == ["execution", "started", "status"] and len(lines) == 7
    assert re.match(r"20261128-080000-aaaaaa +2026-11-28T08:00:00\+00:00 +Succeeded +2\.5 +eeeeeeeeeeee +ffffffffffff +xgboost \(auc=0\.9100, accuracy=0\.9500\)$", lines[-2])
    document = json.loads(CliRunner().invoke(main, ["runs", "list", "--runs-dir", str(runs), "--json"]).output)
    assert [d["status"] for d in document] == [RUNNING, KILLED, INTERRUPTED, "Failed", "Succeeded", DAMAGED]
    failed = json.loads(CliRunner().invoke(main, ["runs", "list", "--runs-dir", str(runs), "--json", "--status", "failed", "--status", "Killed"]).output)
    assert [d["execution_id"] for d in failed] == ["20261128-083000-dddddd", "20261128-081000-bbbbbb"]
    assert len(json.loads(CliRunner().invoke(main, ["runs", "list", "--runs-dir", str(runs), "--json", "--limit", "2"]).output)) == 2
    assert CliRunner().invoke(main, ["runs", "list", "--runs-dir", str(runs / "none")]).output == "no runs\n"


def test_a_run_is_named_by_folder_id_or_latest(runs):
    assert resolve_run("latest", runs) == runs / "20261128-084000-eeeeee"
    assert resolve_run("20261128-082000-cccccc", runs) == runs / "20261128-082000-cccccc.interrupted"
    assert resolve_run(str(runs / "20261128-080000-aaaaaa"), runs) == runs / "20261128-080000-aaaaaa"
    with pytest.raises(RunReferenceError, match=r"no run 'nope': neither a run folder nor an execution id in .*runs \(churn runs list"):
        resolve_run("nope", runs)
    with pytest.raises(RunReferenceError, match="no run in .* yet"):
        resolve_run("latest", runs / "empty")


def test_report_and_diff_take_ids(runs):
    done = CliRunner().invoke(main, ["diff", "20261128-080000-aaaaaa", "20261128-081000-bbbbbb", "--runs-dir", str(runs)])
    assert "Traceback" not in done.output and "no run" not in done.output
    missing = CliRunner().invoke(main, ["report", "nope", "--runs-dir", str(runs)])
    assert missing.exit_code == 2 and "error: no run 'nope'" in missing.output


def test_execution_ids_sort_by_time():
    early = new_execution_id(datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    late = new_execution_id(datetime(2026, 11, 2, 3, 4, 5, tzinfo=timezone.utc))
    assert re.fullmatch(r"20260102-030405-[0-9a-f]{6}", early) and early < late
    assert new_execution_id() != new_execution_id()


def test_resume_takes_latest_or_an_id_or_a_folder(runs):
    """Resolved to the execution id before anything starts: a succeeded latest run has nothing to resume."""
    missing = CliRunner().invoke(main, ["run", "--runs-dir", str(runs), "--resume", "nope", "--no-build"])
    assert missing.exit_code == 2 and "no run 'nope'" in missing.output
    done = CliRunner().invoke(main, ["run", "--runs-dir", str(runs), "--resume", str(runs / "20261128-080000-aaaaaa"), "--no-build"])
    assert done.exit_code == 2 and "execution 20261128-080000-aaaaaa Succeeded: there is nothing to resume" in done.output


def test_a_reused_pid_is_not_taken_for_the_run(tmp_path):
    from churn.history import is_running, process_start

    me = os.getpid()
    assert is_running({"pid": me, "process_start": process_start(me)})
    assert not is_running({"pid": me, "process_start": (process_start(me) or 0) + 1})  # another process now has the pid
    assert is_running({"pid": me}) and not is_running({}) and not is_running({"pid": "x"})


def test_resume_latest_is_the_newest_resumable_run_and_never_a_running_one(runs, tmp_path):
    from churn.history import latest_resumable
    from churn.runner.local import resume_parameters
    from churn.runner.runs import RunError

    assert latest_resumable(runs) == runs / "20261128-083000-dddddd"  # killed; the newer one still runs
    with pytest.raises(RunError, match="is still running"):
        resume_parameters(runs, "20261128-084000-eeeeee")
    bad = CliRunner().invoke(main, ["runs", "list", "--runs-dir", str(runs), "--status", "Succeded"])
    assert bad.exit_code == 2 and "'Succeded' is not one of 'succeeded', 'failed'" in bad.output
    other = CliRunner().invoke(main, ["run", "--runs-dir", str(tmp_path / "elsewhere"), "--resume", str(runs / "20261128-080000-aaaaaa")])
    assert other.exit_code == 2 and "is not a run of --runs-dir" in other.output


def _resume(runs, execution_id, monkeypatch):
    """``churn run --resume execution_id``'s run up to the point it would start: what run_local got, or the RunError."""
    import churn.runner.local
    from churn.runner.request import RunRequest
    from churn.runner.run import run

    started = []
    monkeypatch.setattr(churn.runner.local, "run_local", lambda *args, **kwargs: started.append(kwargs["resumed_from"]))
    run(RunRequest(backend="local", runs_dir=runs, resume=execution_id))
    return started


def test_resume_latest_skips_a_run_resumed_already(runs, tmp_path):
    """--resume latest resumed the same killed run again and again, each resume registering a model
    version: a run that another run resumed is not picked again; the chain goes on from its newest."""
    from churn.history import latest_resumable

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout
    _finished(runs, "20261128-090000-999999", "2026-11-28T09:00:00+00:00", resumed_from="20261128-083000-dddddd")
    assert latest_resumable(runs) == runs / "20261128-082000-cccccc.interrupted"  # dddddd's resume succeeded
    _record(runs / "20261128-091000-888888", "2026-11-28T09:10:00+00:00", int(dead), resumed_from="20261128-082000-cccccc")
    assert latest_resumable(runs) == runs / "20261128-091000-888888"  # cccccc's resume was killed: it is the one to resume
    runner = CliRunner().invoke(main, ["runs", "list", "--runs-dir", str(runs), "--json"])
    assert json.loads(runner.output)[0]["resumed_from"] == "20261128-082000-cccccc"


def test_resuming_a_run_resumed_already_names_the_run_that_resumed_it(runs, monkeypatch):
    """By id, a resumed run is refused in one line naming its resumer (and what to do), before
    anything runs: one resumed execution never registers two model versions."""
    from churn.runner.runs import RunError

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout
    _finished(runs, "20261128-090000-999999", "2026-11-28T09:00:00+00:00", resumed_from="20261128-083000-dddddd")
    _record(runs / "20261128-091000-888888", "2026-11-28T09:10:00+00:00", int(dead), resumed_from="20261128-081000-bbbbbb")
    with pytest.raises(RunError, match=r"^execution 20261128-083000-dddddd was resumed already by 20261128-090000-999999 \(Succeeded\): "
                                       r"there is nothing to resume$"):
        _resume(runs, "20261128-083000-dddddd", monkeypatch)
    with pytest.raises(RunError, match=r"^execution 20261128-081000-bbbbbb was resumed already by 20261128-091000-888888 \(Killed\): "
                                       r"resume that one: churn run --resume 20261128-091000-888888$"):
        _resume(runs, "20261128-081000-bbbbbb", monkeypatch)
    assert _resume(runs, "20261128-082000-cccccc", monkeypatch) == ["20261128-082000-cccccc"]  # not resumed yet


def test_two_resumes_of_one_run_never_overlap(runs, monkeypatch):
    """A resume claims its execution until its run ends: a second one started meanwhile (before the
    first wrote its run.json) is refused, not run side by side to register a second version."""
    from churn.runner.local import resuming
    from churn.runner.runs import RunError

    with resuming(runs, "20261128-083000-dddddd"):
        with pytest.raises(RunError, match=r"^execution 20261128-083000-dddddd is being resumed by another churn run now$"):
            _resume(runs, "20261128-083000-dddddd", monkeypatch)
    assert _resume(runs, "20261128-083000-dddddd", monkeypatch) == ["20261128-083000-dddddd"]


def test_resume_latest_refuses_while_the_newest_resume_runs(runs):
    """A resume running now, newer than every run left to resume: --resume latest named an older,
    unrelated failure (the review's Z) and would have resumed it; it is refused, naming the resume."""
    from churn.history import RunReferenceError, latest_resumable

    _record(runs / "20261128-092000-777777", "2026-11-28T09:20:00+00:00", os.getpid(), resumed_from="20261128-083000-dddddd")
    with pytest.raises(RunReferenceError, match=r"^the newest resume, 20261128-092000-777777 \(of 20261128-083000-dddddd\), is running now: "):
        latest_resumable(runs)


def test_a_run_resumed_by_a_chain_names_the_chains_last_run(runs, monkeypatch):
    """dddddd resumed by 999999 (killed), resumed by 777777 (interrupted): resuming dddddd points to
    777777, the one to resume, not to 999999, which is refused in turn."""
    from churn.runner.runs import RunError

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout
    _record(runs / "20261128-090000-999999", "2026-11-28T09:00:00+00:00", int(dead), resumed_from="20261128-083000-dddddd")
    _finished(runs, "20261128-092000-777777", "2026-11-28T09:20:00+00:00", status="Failed", resumed_from="20261128-090000-999999")
    last = r"resume that one: churn run --resume 20261128-092000-777777$"
    with pytest.raises(RunError, match=r"^execution 20261128-083000-dddddd was resumed already by a chain of resumes ending in "
                                       r"20261128-092000-777777 \(Failed\): " + last):
        _resume(runs, "20261128-083000-dddddd", monkeypatch)
    with pytest.raises(RunError, match=r"^execution 20261128-090000-999999 was resumed already by 20261128-092000-777777 \(Failed\): " + last):
        _resume(runs, "20261128-090000-999999", monkeypatch)
