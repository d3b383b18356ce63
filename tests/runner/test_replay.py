"""A no-op re-run without the SDK (``churn.runner.replay``), without Docker: the whole compiled
pipeline (tuning branch included) run by ``run(RunRequest(...))`` through churn's executor and
job guard, with local mode's jobs and Docker's container verdicts faked at their edge (each job
writes its declared outputs and a log); the step cache, the replay record and the fast path are
the real ones."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from churn.backends import docker
from churn.files import uri_path
from churn.layout import REPLAY_DIR
from churn.progress import LineProgress
from churn.registry import Registry
from churn.runner import local, replay
from churn.runner.events import Events, RunFinished, RunStarted, StepFinished, StepStarted
from churn.runner.request import RunRequest
from churn.runner.run import run
from tests.conftest import REPO, SAMPLE_CSV

JOB_STEPS = ("PreprocessData", "TuneModel", "EvaluateTuned", "TrainModel", "EvaluateModel", "TrainBaseline", "EvaluateBaseline", "SelectModel")


def _model_archive(folder: Path, content: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / "model.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))


def _job_log(executor, text: str) -> None:
    """What the job's containers wrote, where Docker's fake verdict hands it to ``run_job``."""
    job_dir = Path(executor.run.container_roots["container_root"])
    job_dir.mkdir(parents=True, exist_ok=True)
    (job_dir / "logs.txt").write_text(text)


class FakeLocalMode:
    """Local mode's jobs and Docker's verdicts: every job writes its outputs and log; ``ran``
    lists the jobs that started (a cached step starts none)."""

    def __init__(self, monkeypatch, real: Path):
        """``real``: the sample's manifest, candidates and selection made by the step code in-process
        (conftest's ``candidate_outputs``), which the fake jobs hand out as their outputs."""
        from sagemaker.local import pipeline as sdk_pipeline

        from churn.runner import local_executor

        self.ran: list[str] = []
        fake = self
        documents = {
            "manifest": real / "manifest" / "manifest.json", "selection": real / "selected" / "selection" / "selection.json",
            "evaluation": real / "selected" / "evaluation" / "evaluation.json", "model": real / "selected" / "model" / "model.tar.gz",
        }

        def processing(step_executor):
            args = step_executor.pipline_executor.evaluate_step_arguments(step_executor.step)
            name = step_executor.step.name
            fake.ran.append(name)
            outputs = {o["OutputName"]: o for o in args["ProcessingOutputConfig"]["Outputs"]}
            for output, spec in outputs.items():
                folder = uri_path(spec["S3Output"]["S3Uri"])
                folder.mkdir(parents=True, exist_ok=True)
                if output in documents:
                    (folder / documents[output].name).write_bytes(documents[output].read_bytes())
                else:
                    (folder / f"{output}.csv").write_text(f"{name},{output}\n")
            _job_log(step_executor.pipline_executor, f"{name} ran\n")
            return {"ProcessingJobName": name, "ProcessingOutputConfig": {"Outputs": outputs}}

        def training(step_executor):
            args = step_executor.pipline_executor.evaluate_step_arguments(step_executor.step)
            fake.ran.append(step_executor.step.name)
            return fake.train(step_executor.pipline_executor, step_executor.step.name, args)

        def trial(tuning_executor, job_name, request):
            fake.ran.append(job_name)
            return fake.train(tuning_executor.pipline_executor, job_name, request)

        monkeypatch.setattr(sdk_pipeline._ProcessingStepExecutor, "execute", processing)
        monkeypatch.setattr(sdk_pipeline._TrainingStepExecutor, "execute", training)
        monkeypatch.setattr(local_executor._GuardedTuning, "start_trial", trial)
        monkeypatch.setattr(docker, "require_ready", lambda *args, **kwargs: None)
        monkeypatch.setattr(docker, "image_id", lambda name: f"sha256:{name}")
        monkeypatch.setattr(docker, "finish_job_containers", lambda job_dir, log_file: (None, 1))
        monkeypatch.setattr(docker, "remove_job_containers", lambda folder: None)

    @staticmethod
    def train(executor, name: str, request: dict) -> dict:
        depth = int(request.get("HyperParameters", {}).get("max_depth", 5))
        _job_log(executor, f"[0]\ttrain-auc:0.8\tvalidation-auc:{0.8 + depth / 100:.4f}\n")
        output = request["OutputDataConfig"]["S3OutputPath"]
        _model_archive(uri_path(output), f"model of {name}".encode())
        return {"TrainingJobName": name, "ModelArtifacts": {"S3ModelArtifacts": output + "/model.tar.gz"}}


@pytest.fixture()
def fakes(monkeypatch, candidate_outputs):
    return FakeLocalMode(monkeypatch, candidate_outputs)


def _run(runs: Path, parameters=None, **settings):
    seen: list = []
    lines: list[str] = []
    result = run(RunRequest(parameters=parameters or {}, runs_dir=runs, **settings), Events(seen.append, LineProgress(lines.append)))
    return result, seen, lines


def _full_path_calls(monkeypatch) -> list[str]:
    """Each start of the full path (``run_local``) is listed."""
    calls: list[str] = []
    original = local.run_local

    def counted(*args, **kwargs):
        calls.append("full")
        return original(*args, **kwargs)

    monkeypatch.setattr(local, "run_local", counted)
    return calls


def _comparable(summary: dict) -> dict:
    """A summary without what differs between two runs of the same pipeline (ids, times)."""
    steps = [{k: v for k, v in s.items() if k not in ("started_at", "finished_at", "duration_seconds")} for s in summary["steps"]]
    registered = {k: v for k, v in (summary["registered_model"] or {}).items() if k not in ("version", "arn")}
    drop = ("execution_id", "started_at", "finished_at", "duration_seconds", "steps", "registered_model", "artifacts", "tuning")
    return {**{k: v for k, v in summary.items() if k not in drop}, "steps": steps, "registered_model": registered}


def _tuning(summary: dict) -> dict:
    trials = [{k: v for k, v in t.items() if k not in ("created", "seconds")} for t in summary["tuning"]["trials"]]
    return {**{k: v for k, v in summary["tuning"].items() if k not in ("trials", "created", "finished")}, "trials": trials}


def _files(run_dir: Path) -> dict[str, bytes]:
    """Every file of a run folder but its records of time and id (its outputs, logs, definition)."""
    skip = {"summary.json", "run.json", "report.html", "trials.json", "logs.txt"}
    return {p.relative_to(run_dir).as_posix(): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file() and p.name not in skip}


@pytest.fixture()
def first(tmp_path, fakes):
    runs = tmp_path / "runs"
    result, _, _ = _run(runs)
    assert result.status == "Succeeded", result.failure_reason
    assert len(list((runs / REPLAY_DIR).glob("*.json"))) == 1
    return runs, result


def test_an_unchanged_rerun_is_replayed_as_a_cached_run_would_be(first, fakes, monkeypatch):
    runs, first_result = first
    fakes.ran.clear()
    for record in (runs / REPLAY_DIR).glob("*.json"):
        record.unlink()
    normal, normal_events, normal_lines = _run(runs)  # no record: the full path, every job step from the cache
    assert fakes.ran == [] and {s["name"]: s["cache_hit"] for s in normal.summary["steps"] if s["name"] in JOB_STEPS} == dict.fromkeys(JOB_STEPS, True)
    calls = _full_path_calls(monkeypatch)
    replayed, events, lines = _run(runs)
    assert calls == [] and fakes.ran == []
    assert replayed.status == "Succeeded" and replayed.execution_id != normal.execution_id
    assert _comparable(replayed.summary) == _comparable(normal.summary)
    assert _tuning(replayed.summary) == _tuning(normal.summary)
    assert set(replayed.summary["artifacts"]) == set(normal.summary["artifacts"])
    assert _files(replayed.run_dir) == _files(normal.run_dir)
    assert sorted(p.relative_to(replayed.run_dir).as_posix() for p in replayed.run_dir.rglob("*")) == sorted(
        p.relative_to(normal.run_dir).as_posix() for p in normal.run_dir.rglob("*")
    )
    for log in normal.run_dir.rglob("logs.txt"):  # each names the execution its outputs came from
        assert (replayed.run_dir / log.relative_to(normal.run_dir)).read_text() == log.read_text()
    run_record = json.loads((replayed.run_dir / "run.json").read_text())
    normal_record = json.loads((normal.run_dir / "run.json").read_text())
    assert {k: v for k, v in run_record.items() if k not in ("execution_id", "started_at", "pid", "process_start")} == {
        k: v for k, v in normal_record.items() if k not in ("execution_id", "started_at", "pid", "process_start")
    }
    assert (replayed.run_dir / "report.html").is_file()
    # The same progress lines (the steps' order aside: the normal run's branches run side by side).
    def shown(lines):
        return sorted(line.split()[0] + " " + line.split()[1] for line in lines)

    assert shown(lines) == shown(normal_lines) and len(lines) == len(normal_lines)
    assert events[0] == RunStarted(replayed.execution_id) and events[-1] == RunFinished(replayed.execution_id, "Succeeded", None)
    assert sorted(e.step for e in events if isinstance(e, StepStarted)) == sorted(e.step for e in normal_events if isinstance(e, StepStarted))
    [gate] = [e for e in events if isinstance(e, StepFinished) and e.step == "CheckAccuracy"]
    [normal_gate] = [e for e in normal_events if isinstance(e, StepFinished) and e.step == "CheckAccuracy"]
    assert gate.detail == normal_gate.detail and gate.detail.startswith("accuracy 0.95") and gate.detail.endswith(": true")
    assert {e.step: e.cached for e in events if isinstance(e, StepFinished)} == {
        e.step: e.cached for e in normal_events if isinstance(e, StepFinished)
    }
    # Registered as a cached run registers: a new version of the same model.
    versions = Registry(runs).list("churn")
    assert sorted(v.version for v in versions) == [1, 2, 3]
    latest = max(versions, key=lambda v: v.version)
    assert latest.execution_id == replayed.execution_id and replayed.summary["registered_model"]["version"] == latest.version
    assert latest.model_data == (replayed.run_dir / "SelectModel" / "model" / "model.tar.gz").as_uri()
    assert latest.selection == normal.summary["selection"]


def test_the_fast_path_does_not_import_the_sdk(first):
    """A re-run in a new process: replayed, and ``sagemaker`` (nor numpy, pandas or matplotlib)
    never imported, the first replay after a run included."""
    runs, first_result = first
    script = f"""
import json, sys
from pathlib import Path
from churn.backends import docker
docker.image_id = lambda name: f"sha256:{{name}}"
def refuse(*args, **kwargs):
    raise SystemExit("the full path was taken")
docker.require_ready = refuse
from churn.runner.request import RunRequest
from churn.runner.run import run
result = run(RunRequest(runs_dir=Path({str(runs)!r})))
print(json.dumps({{"status": result.status, "sdk": sorted(m for m in sys.modules if m == "sagemaker" or m.startswith("sagemaker.")),
                   "heavy": sorted(m for m in ("numpy", "pandas", "matplotlib") if m in sys.modules),
                   "hits": [s["cache_hit"] for s in result.summary["steps"] if s["name"] in {list(JOB_STEPS)!r}]}}))
"""
    outcomes = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=300,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert done.returncode == 0, done.stderr
        outcomes.append(json.loads(done.stdout.strip().splitlines()[-1]))
    # Nor numpy and pandas (half a second of a replay): the modules its checks and records use
    # import them only where their numbers are needed. Nor matplotlib: the first replay's report
    # draws the step graph of an all-cached run, a picture no run drew before, as SVG text.
    assert outcomes == [{"status": "Succeeded", "sdk": [], "heavy": [], "hits": [True] * len(JOB_STEPS)}] * 2


def _replayed(runs: Path, monkeypatch, parameters=None) -> tuple[bool, object]:
    calls = _full_path_calls(monkeypatch)
    result, _, _ = _run(runs, parameters)
    return calls == [], result


def test_a_changed_parameter_takes_the_full_path(first, fakes, monkeypatch):
    runs, _ = first
    fakes.ran.clear()
    replayed, result = _replayed(runs, monkeypatch, {"NumRound": 37})
    assert not replayed and result.status == "Succeeded" and "TrainModel" in fakes.ran
    assert len(list((runs / REPLAY_DIR).glob("*.json"))) == 2  # one per digest


def test_a_changed_input_file_takes_the_full_path(first, fakes, monkeypatch, tmp_path):
    runs, _ = first
    data = tmp_path / "churn.csv"
    data.write_bytes(SAMPLE_CSV.read_bytes())
    result, _, _ = _run(runs, {"InputData": str(data)})  # recorded with this file
    assert result.status == "Succeeded"
    assert _replayed(runs, monkeypatch, {"InputData": str(data)})[0]
    lines = data.read_text().splitlines(keepends=True)
    data.write_text("".join(lines[:-1]))  # one row fewer
    fakes.ran.clear()
    replayed, result = _replayed(runs, monkeypatch, {"InputData": str(data)})
    assert not replayed and result.status == "Succeeded" and fakes.ran[0] == "PreprocessData"


def test_a_replay_reads_the_users_input_once(first, fakes, monkeypatch, tmp_path):
    """The input's sha256 is taken once for the digest and handed to staging, which checks its
    copy against it rather than reading the user's file again (a 1 GB input was read three
    times: for the digest, for staging and for the staged copy's check)."""
    runs, _ = first
    data = tmp_path / "churn.csv"
    data.write_bytes(SAMPLE_CSV.read_bytes())
    assert _run(runs, {"InputData": str(data)})[0].status == "Succeeded"
    opened: list[Path] = []
    original = Path.open

    def counting(self, *args, **kwargs):
        if self == data:
            opened.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", counting)
    replayed, result = _replayed(runs, monkeypatch, {"InputData": str(data)})
    assert replayed and result.status == "Succeeded"
    assert len(opened) == 1


def test_an_input_that_changes_while_it_is_staged_takes_the_full_path(first, fakes, monkeypatch, tmp_path):
    """The digest's content and the staged copy's must agree: a file changed between the two
    reads is not replayed (the full path stages it again and says what it read)."""
    runs, _ = first
    data = tmp_path / "churn.csv"
    data.write_bytes(SAMPLE_CSV.read_bytes())
    assert _run(runs, {"InputData": str(data)})[0].status == "Succeeded"
    for staged in (runs / ".inputs").glob("*/churn.csv"):
        staged.chmod(0o644)
        staged.write_bytes(b"damaged")  # the staged copy must be made again from the user's file
    original = local.stage_input

    def changed_meanwhile(uri, runs_dir, digest=None):
        if digest is not None:
            data.write_text("".join(SAMPLE_CSV.read_text().splitlines(keepends=True)[:-1]))
        return original(uri, runs_dir, digest)

    monkeypatch.setattr(local, "stage_input", changed_meanwhile)
    fakes.ran.clear()
    replayed, result = _replayed(runs, monkeypatch, {"InputData": str(data)})
    assert not replayed and result.status == "Succeeded" and fakes.ran[0] == "PreprocessData"


@pytest.mark.parametrize("damage", ["tampered", "missing"])
def test_a_damaged_or_missing_cache_entry_takes_the_full_path(first, fakes, monkeypatch, damage):
    runs, first_result = first
    [record] = (runs / REPLAY_DIR).glob("*.json")
    key = json.loads(record.read_text())["keys"]["TrainModel"]["key"]
    entry = runs / ".cache" / key
    if damage == "tampered":
        _model_archive(entry / "outputs" / "model", b"another model")
    else:
        import shutil

        shutil.rmtree(entry)
    fakes.ran.clear()
    replayed, result = _replayed(runs, monkeypatch)
    assert not replayed and result.status == "Succeeded"
    assert fakes.ran[0] == "TrainModel" and "PreprocessData" not in fakes.ran  # the full path ran it again
    assert [p.name for p in runs.iterdir() if not p.name.startswith(".") and p.is_dir()].count(result.execution_id) == 1
    assert len([p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]) == 2  # no half replayed folder left


def test_a_rebuilt_image_takes_the_full_path(first, fakes, monkeypatch):
    runs, _ = first
    monkeypatch.setattr(docker, "image_id", lambda name: f"sha256:rebuilt-{name}")
    fakes.ran.clear()
    replayed, result = _replayed(runs, monkeypatch)
    assert not replayed and result.status == "Succeeded" and "PreprocessData" in fakes.ran


@pytest.mark.parametrize("settings", [{"use_cache": False}, {"tuning": False}])
def test_options_the_fast_path_does_not_take_run_in_full(first, fakes, monkeypatch, settings):
    runs, _ = first
    calls = _full_path_calls(monkeypatch)
    result, _, _ = _run(runs, **settings)
    assert calls == ["full"] and result.status == "Succeeded"


def test_a_key_that_comes_out_different_mid_replay_leaves_nothing_and_runs_in_full(first, fakes, monkeypatch):
    """The record's request of a later step no longer gives its recorded key (a case the checks
    made before anything is written cannot see): the half replayed folder is removed and no
    progress line was shown for it."""
    runs, _ = first
    [record] = (runs / REPLAY_DIR).glob("*.json")
    document = json.loads(record.read_text())
    [select] = [s for s in document["steps"] if s["name"] == "SelectModel"]
    select["args"]["AppSpecification"]["ContainerArguments"].append("--changed")
    record.write_text(json.dumps(document))
    calls = _full_path_calls(monkeypatch)
    fakes.ran.clear()
    result, events, _ = _run(runs)
    assert calls == ["full"] and fakes.ran == [] and result.status == "Succeeded"
    assert sum(isinstance(e, RunStarted) for e in events) == 1
    assert len([p for p in runs.iterdir() if p.is_dir() and not p.name.startswith(".")]) == 2


def test_a_damaged_record_is_no_record(tmp_path):
    runs = tmp_path / "runs"
    (runs / REPLAY_DIR).mkdir(parents=True)
    replay.record_path(runs, "ab" * 32).write_text("{not json")
    assert replay.read_record(runs, "ab" * 32) is None
    replay.write_record(runs, "ab" * 32, {"execution_id": "x", "definition": "{}", "parameters": {}, "steps": [], "images": {}, "keys": {}})
    assert replay.read_record(runs, "ab" * 32)["execution_id"] == "x"
    assert replay.read_record(runs, "cd" * 32) is None


def test_with_execution_replaces_the_id_in_every_text():
    value = {"a": ["file:///runs/20260101-000000-aaaaaa/TrainModel/model", 3], "b": {"c": "20260101-000000-aaaaaa"}, "d": None}
    assert replay.with_execution(value, "20260101-000000-aaaaaa", "20260102-000000-bbbbbb") == {
        "a": ["file:///runs/20260102-000000-bbbbbb/TrainModel/model", 3], "b": {"c": "20260102-000000-bbbbbb"}, "d": None,
    }
