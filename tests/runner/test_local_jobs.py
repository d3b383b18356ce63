"""The job-step guard (``run_job``) without Docker or the SDK: local mode's verdict is checked
against the container's exit code and the declared outputs, the cache sees only steps that
passed, paths are the user's."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from sagemaker.local.exceptions import StepExecutionException

from churn.backends import docker
from churn.runner import local_jobs
from churn.runner.local_jobs import JobsFolder, LocalRun, remove_dead_runs, run_job
from churn.runner.step_cache import StepCache
from churn.files import file_uri


class FakeExecution:
    pipeline_execution_name = "exec-1"

    def __init__(self):
        self.failures: list[tuple[str, str]] = []

    def update_step_failure(self, step, message):
        self.failures.append((step, message))
        raise StepExecutionException(step, message)


def _processing_args(tmp_path: Path, raw: Path) -> dict:
    return {
        "AppSpecification": {"ImageUri": "churn-processing:x", "ContainerEntrypoint": ["python3"]},
        "ProcessingInputs": [
            {"InputName": "raw", "S3Input": {"S3Uri": file_uri(raw), "LocalPath": "/opt/ml/processing/input/raw"}},
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {"OutputName": "train", "S3Output": {"S3Uri": file_uri(tmp_path / "run" / "train"), "LocalPath": "/opt/ml/processing/output/train"}},
            ]
        },
    }


@pytest.fixture()
def setting(tmp_path, monkeypatch):
    raw = tmp_path / "runs" / ".inputs" / "abc"
    raw.mkdir(parents=True)
    (raw / "data.csv").write_text("a,b\n1,2\n")
    jobs = JobsFolder.create(tmp_path / "runs")
    run = LocalRun(
        runs_dir=tmp_path / "runs", jobs=jobs, cache=StepCache(tmp_path / "runs" / ".cache", lambda n: "id"), max_parallel=2,
        verified_inputs={file_uri(raw): (raw / "data.csv", __import__("hashlib").sha256(b"a,b\n1,2\n").hexdigest())},
        user_paths={str(raw / "data.csv"): "/home/me/customers.csv", str(raw): "/home/me"}, execution_id="exec-1",
    )
    execution = FakeExecution()
    args = _processing_args(tmp_path, raw)

    def guard(start):
        return run_job(
            run, "PreprocessData", "processing", args, start=start,
            fail=lambda reason: execution.update_step_failure("PreprocessData", reason),
            replay=lambda stored, job_name, outputs: {**stored, "ProcessingJobName": job_name},
            execution_id=execution.pipeline_execution_name,
        )

    containers = {"result": (None, 1), "output": b"reading the input\nwrote 1 row\n"}

    def finish(job_dir, log_file):  # the containers' whole output goes to log_file
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("ab") as out:
            out.write(containers["output"])
        return containers["result"]

    monkeypatch.setattr(docker, "finish_job_containers", finish)
    yield SimpleNamespace(
        run=run, execution=execution, guard=guard, args=args, containers=containers, out=tmp_path / "run" / "train", raw=raw,
        log=tmp_path / "runs" / "exec-1" / "PreprocessData" / "logs.txt",
    )
    jobs.close()


def _job(setting, writes: bool = True):
    """Local mode's job: writes the declared output (or not) and says it succeeded."""

    def start():
        if writes:
            out = Path(setting.args["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"][7:])
            out.mkdir(parents=True, exist_ok=True)
            (out / "train.csv").write_text("1,0\n")
        return {"ProcessingJobName": "job"}

    return start


def test_a_container_that_failed_fails_the_step_though_local_mode_said_succeeded(setting):
    setting.containers["result"] = (
        docker.FailedContainer("c", 2, ["ERROR PreprocessData: input is empty: /opt/ml/processing/input/raw/data.csv"]), 1,
    )
    with pytest.raises(StepExecutionException):
        setting.guard(_job(setting))
    [(step, reason)] = setting.execution.failures
    assert (step, reason) == ("PreprocessData", "PreprocessData: input is empty: /home/me/customers.csv (container exit code 2)")
    assert not list(setting.run.cache.root.glob("*"))


def test_exit_code_130_is_a_failure(setting):
    setting.containers["result"] = (docker.FailedContainer("c", 130, ["interrupted"]), 1)
    with pytest.raises(StepExecutionException, match="container exit code 130"):
        setting.guard(_job(setting))


def test_a_job_without_a_container_fails(setting):
    setting.containers["result"] = (None, 0)
    with pytest.raises(StepExecutionException, match="no container ran for this job"):
        setting.guard(_job(setting))


def test_a_job_that_wrote_no_declared_output_fails_and_is_not_cached(setting):
    with pytest.raises(StepExecutionException, match="ended without writing its declared output train"):
        setting.guard(_job(setting, writes=False))
    assert not list(setting.run.cache.root.glob("*"))


def test_a_passing_step_is_cached_and_the_next_identical_one_served(setting):
    assert setting.guard(_job(setting)) == {"ProcessingJobName": "job"}
    assert len(list(setting.run.cache.root.glob("*"))) == 1
    (setting.out / "train.csv").unlink()
    replayed = setting.guard(lambda: pytest.fail("ran again"))
    assert replayed["ProcessingJobName"].startswith("PreprocessData-cached-")
    assert (setting.out / "train.csv").read_text() == "1,0\n"


def test_a_staged_input_that_changed_fails_the_step_before_it_runs(setting):
    (setting.raw / "data.csv").write_text("a,b\n9,9\n")
    with pytest.raises(StepExecutionException, match="the staged copy of the input /home/me/customers.csv changed"):
        setting.guard(lambda: pytest.fail("ran"))


def test_a_training_archive_without_a_model_file_is_a_missing_output(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    with tarfile.open(folder / "model.tar.gz", "w:gz"):
        pass  # what local mode writes when the container wrote nothing
    assert local_jobs._missing_model({"model": folder}) == ["model"]
    with tarfile.open(folder / "model.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    assert local_jobs._missing_model({"model": folder}) == []


def test_each_step_thread_gets_its_own_container_root(tmp_path):
    import threading

    from sagemaker.utils import get_config_value

    roots = local_jobs._ContainerRoots(tmp_path / "scratch", local_code=True)
    config = {"local": roots}
    seen = {}

    def step(name):
        with roots.use(tmp_path / name):
            seen[name] = get_config_value("local.container_root", config)

    threads = [threading.Thread(target=step, args=(n,)) for n in ("A", "B")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"A": str(tmp_path / "A"), "B": str(tmp_path / "B")}
    assert get_config_value("local.container_root", config) == str(tmp_path / "scratch")
    assert get_config_value("local.local_code", config) is True


def test_dead_runs_are_removed_and_live_ones_kept(tmp_path, monkeypatch):
    import os
    import subprocess
    import sys

    removed_containers = []
    monkeypatch.setattr(docker, "remove_job_containers", lambda folder: removed_containers.append(folder.name))
    live = JobsFolder.create(tmp_path)
    # A run in another process that died without cleaning up (kill -9).
    code = f"from churn.runner.local_jobs import JobsFolder; from pathlib import Path; print(JobsFolder.create(Path({str(tmp_path)!r})).path)"
    dead = Path(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip())
    assert dead.is_dir() and dead != live.path
    removed = remove_dead_runs(tmp_path)
    assert removed == [dead] and not dead.exists() and live.path.is_dir()
    assert removed_containers == [dead.name]
    live.close()
    assert not live.path.exists() and os.listdir(tmp_path / ".jobs") == []


# --- the kept log and metrics ---------------------------------------------------------------


def test_a_passing_step_keeps_its_container_output_in_its_folder(setting):
    setting.guard(_job(setting))
    assert setting.log.read_bytes() == b"reading the input\nwrote 1 row\n"
    assert not list(setting.log.parent.glob(".*partial"))


def test_a_failed_step_keeps_its_output_and_the_whole_failure_reason(setting):
    long_error = "ERROR PreprocessData: column 'x' " + "y" * 3000
    setting.containers["output"] = b"reading the input\n" + long_error.encode() + b"\n"
    setting.containers["result"] = (docker.FailedContainer("c", 2, [long_error]), 1)
    with pytest.raises(StepExecutionException):
        setting.guard(_job(setting))
    [(_, reason)] = setting.execution.failures
    assert len(reason) <= local_jobs.MAX_REASON and str(setting.log) in reason
    kept = setting.log.read_text()
    assert kept.startswith("reading the input\n")
    assert kept.splitlines()[-1] == f"churn: the step failed: {long_error[len('ERROR '):]} (container exit code 2)"


def test_a_step_failing_before_its_container_has_a_log_with_the_reason(setting):
    (setting.raw / "data.csv").write_text("a,b\n9,9\n")
    with pytest.raises(StepExecutionException):
        setting.guard(lambda: pytest.fail("ran"))
    assert setting.log.read_text().startswith("churn: the step failed: the staged copy of the input /home/me/customers.csv changed")


def test_a_cached_step_keeps_the_producing_jobs_log_under_a_header(setting):
    setting.guard(_job(setting))
    setting.run.execution_id = "exec-2"
    setting.guard(lambda: pytest.fail("ran again"))
    cached = setting.log.parent.parent.parent / "exec-2" / "PreprocessData" / "logs.txt"
    header, *rest = cached.read_text().splitlines()
    assert "cached" in header and "exec-1" in header
    assert rest == ["reading the input", "wrote 1 row"]


def test_a_cached_step_whose_log_was_not_kept_says_so(setting):
    setting.guard(_job(setting))
    for log in setting.run.cache.root.glob("*/notes/log.txt"):
        log.unlink()
    setting.run.execution_id = "exec-2"
    setting.guard(lambda: pytest.fail("ran again"))
    text = (setting.log.parent.parent.parent / "exec-2" / "PreprocessData" / "logs.txt").read_text()
    assert text.splitlines() == ["[churn: cached: this step reused the outputs of execution exec-1, whose log was not kept]"]


def test_a_long_log_keeps_its_head_and_end_in_whole_lines():
    data = b"".join(b"line %06d\n" % i for i in range(50_000))  # 600,000 bytes of 12-byte lines
    kept = local_jobs.bounded_log(data, limit=100_000, head=10_000)
    head, marker, tail = kept.partition(b"[churn: ")
    assert data.startswith(head) and 9_988 <= len(head) <= 10_000 and head.endswith(b"\n")
    marker, _, tail = tail.partition(b"\n")
    assert data.endswith(tail) and 89_988 <= len(tail) <= 90_000 and tail.startswith(b"line ")
    assert marker == f"{len(data) - len(head) - len(tail)} bytes of this step's output left out here]".encode()
    assert local_jobs.bounded_log(data[:100_000], limit=100_000, head=10_000) == data[:100_000]


def test_a_long_line_is_cut_between_utf8_characters():
    kept = local_jobs.bounded_log(("é" * 10).encode(), limit=9, head=3)
    head, _, tail = kept.partition(b"\n[churn: ")
    assert head.decode() == "é" and tail.split(b"]\n", 1)[1].decode() == "é" * 3
    kept.decode()  # the whole log is valid UTF-8


def _training_args(tmp_path: Path, definitions) -> dict:
    channel = tmp_path / "splits"
    channel.mkdir(exist_ok=True)
    (channel / "train.csv").write_text("1,0\n")
    algorithm = {"TrainingImage": "churn-xgboost:x", "TrainingInputMode": "File"}
    if definitions is not None:
        algorithm["MetricDefinitions"] = definitions
    return {
        "AlgorithmSpecification": algorithm,
        "HyperParameters": {"num_round": "3"},
        "InputDataConfig": [{"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": file_uri(channel)}}}],
        "OutputDataConfig": {"S3OutputPath": file_uri(tmp_path / "runs" / "exec-1" / "TrainModel")},
    }


@pytest.mark.parametrize("definitions", [None, "churn's"])
def test_a_training_step_keeps_the_series_its_metric_definitions_read(setting, tmp_path, definitions):
    from churn.training_metrics import METRIC_DEFINITIONS, read_series

    args = _training_args(tmp_path, METRIC_DEFINITIONS if definitions else None)
    setting.containers["output"] = (
        b"training on 4 rows\n[0]\ttrain-auc:0.81\tvalidation-auc:0.70\n[1]\ttrain-auc:0.90\tvalidation-auc:0.75\n"
        b"[2]\ttrain-auc:0.95\tvalidation-auc:0.74\nmodel written\n"
    )

    def start():
        model = tmp_path / "runs" / "exec-1" / "TrainModel"
        model.mkdir(parents=True, exist_ok=True)
        with tarfile.open(model / "model.tar.gz", "w:gz") as tar:
            info = tarfile.TarInfo("xgboost-model")
            info.size = 3
            tar.addfile(info, io.BytesIO(b"abc"))
        return {"TrainingJobName": "job"}

    def train(start, execution_id="exec-1"):
        setting.run.execution_id = execution_id
        return run_job(
            setting.run, "TrainModel", "training", args, start=start, fail=pytest.fail,
            replay=lambda stored, job_name, outputs: stored, execution_id=execution_id,
        )

    train(start)
    folder = tmp_path / "runs" / "exec-1" / "TrainModel"
    expected = {"train:auc": [0.81, 0.90, 0.95], "validation:auc": [0.70, 0.75, 0.74]} if definitions else {}
    assert read_series(folder / "metrics.json") == expected
    assert "[2]\ttrain-auc:0.95" in (folder / "logs.txt").read_text()
    # The cache entry holds the outputs only: neither the log nor the series is an output.
    [entry] = setting.run.cache.root.glob("*/entry.json")
    assert sorted(__import__("json").loads(entry.read_text())["files"]) == ["model/model.tar.gz"]
    # A cached re-run has the same series, kept with the entry.
    train(lambda: pytest.fail("ran again"), "exec-2")
    assert read_series(tmp_path / "runs" / "exec-2" / "TrainModel" / "metrics.json") == expected
    notes = sorted(p.name for p in setting.run.cache.root.glob("*/notes/*"))
    assert notes == (["log.txt", "metrics.json"] if definitions else ["log.txt"])


def test_the_cache_keeps_a_bounded_log(setting, monkeypatch):
    monkeypatch.setattr(local_jobs, "MAX_LOG_BYTES", 1000)
    monkeypatch.setattr(local_jobs, "bounded_log", lambda data, limit=1000, head=100, f=local_jobs.bounded_log: f(data, limit, head))
    setting.containers["output"] = b"".join(b"line %04d\n" % i for i in range(1000))
    setting.guard(_job(setting))
    [note] = setting.run.cache.root.glob("*/notes/log.txt")
    assert len(note.read_bytes()) < 1100 and b"left out here" in note.read_bytes()


def test_a_job_stopped_by_ctrl_c_keeps_its_output_and_says_it_was_stopped(setting, monkeypatch):
    removed = []
    monkeypatch.setattr(docker, "remove_job_containers", removed.append)
    setting.containers["output"] = b"[0]\ttrain-auc:0.9\n"

    def start():  # Ctrl-C while the job runs: its output is collected as its containers go
        setting.run.stop_jobs()
        setting.containers["output"], setting.containers["result"] = b"", (None, 0)
        raise RuntimeError("Failed to run: ['docker-compose', 'up'], Process exited with code: 130")

    with pytest.raises(StepExecutionException):  # not Compose's "Failed to run: ... code: 130" (or 137, or 1)
        setting.guard(start)
    assert setting.log.read_text() == f"[0]\ttrain-auc:0.9\nchurn: the step failed: {setting.run.stopped}\n"
    assert setting.execution.failures == [("PreprocessData", setting.run.stopped)] and removed == [setting.run.jobs.path]


def test_a_job_stopped_by_ctrl_c_that_local_mode_calls_a_success_says_it_was_stopped(setting, monkeypatch):
    """Compose can exit 0 once Ctrl-C removed the containers: the job was stopped, not a job
    "without a container" (a hostile Ctrl-C at 8 s hit this in about half the tries)."""
    monkeypatch.setattr(docker, "remove_job_containers", lambda folder: None)
    setting.containers["output"] = b"[0]\ttrain-auc:0.9\n"

    def start():
        setting.run.stop_jobs()
        setting.containers["output"], setting.containers["result"] = b"", (None, 0)
        return {"ProcessingJobName": "job"}

    with pytest.raises(StepExecutionException):
        setting.guard(start)
    assert setting.log.read_text() == f"[0]\ttrain-auc:0.9\nchurn: the step failed: {setting.run.stopped}\n"
    assert setting.execution.failures == [("PreprocessData", setting.run.stopped)]
    assert not list(setting.run.cache.root.glob("*"))


def test_a_job_prepared_after_ctrl_c_does_not_start(setting, monkeypatch):
    """Ctrl-C between a job's preparation and its start (a tuning step's next trial, say): the
    job never starts, so no container can outlive the stop."""
    monkeypatch.setattr(docker, "remove_job_containers", lambda folder: None)
    setting.run.stop_jobs()
    started = []
    with pytest.raises(StepExecutionException):
        setting.guard(lambda: started.append(1) or {"ProcessingJobName": "job"})
    assert started == [] and setting.execution.failures == [("PreprocessData", local_jobs.STOPPED.format("Ctrl-C"))]


@pytest.mark.parametrize("cached, tuning, signal_name", [(True, True, None), (False, True, None), (True, False, "SIGTERM")])
def test_an_interrupted_run_says_what_was_cached(tmp_path, monkeypatch, cached, tuning, signal_name):
    """Ctrl-C: the steps and trials that finished before it were cached (--resume reuses them);
    "nothing of it was cached" is true only of a run without the cache (--no-cache). A run
    without a tuning step mentions no trials; one that SIGTERM stopped says SIGTERM, not Ctrl-C."""
    import contextlib

    from churn.runner import local
    from churn.runner.runs import RunInterrupted

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(local, "execute_locally", interrupted)
    monkeypatch.setattr(docker, "remove_job_containers", lambda folder: None)
    if signal_name:
        monkeypatch.setattr(local_jobs, "interrupted_by", signal_name)
    runs = tmp_path / "runs"
    (runs / "exec-1").mkdir(parents=True)
    jobs = JobsFolder.create(runs)
    run = LocalRun(runs_dir=runs, jobs=jobs, cache=StepCache(runs / ".cache", lambda n: "id") if cached else None, max_parallel=2,
                   execution_id="exec-1")
    backend = SimpleNamespace(sdk_scope=contextlib.nullcontext, tuning=tuning)
    with pytest.raises(RunInterrupted) as raised:
        local._execute_and_summarize(backend, None, None, {}, run, jobs, SimpleNamespace(run=None), None, definition="", requested_input="",
                                     resumed_from=None, input_sha256="")
    said = str(raised.value)
    assert said.startswith(f"interrupted by {signal_name or 'Ctrl-C'}: the execution was stopped and its containers removed; ")
    if cached:
        assert "nothing of it was cached" not in said and "what it stopped was not cached; what finished before was" in said
    else:
        assert "nothing of it was cached" in said
    assert ("trials" in said) == (tuning and cached)
    assert f"its partial outputs are in {runs / 'exec-1.interrupted'} (churn run --resume exec-1 continues it)" in said


def test_a_job_stopped_by_sigterm_says_sigterm_even_if_another_signal_follows(setting, monkeypatch):
    """The stop's reason names the signal that stopped the run (churn run's SIGTERM handler names
    it), and a signal during the clean-up does not rename it."""
    monkeypatch.setattr(docker, "remove_job_containers", lambda folder: None)
    monkeypatch.setattr(local_jobs, "interrupted_by", "SIGTERM")
    setting.run.stop_jobs()
    monkeypatch.setattr(local_jobs, "interrupted_by", "SIGINT")
    assert setting.run.stopped == "stopped by SIGTERM: the run was interrupted and the job's containers removed"
    with pytest.raises(StepExecutionException):
        setting.guard(lambda: {"ProcessingJobName": "job"})
    assert setting.execution.failures == [("PreprocessData", setting.run.stopped)]



class _FakeDocker:
    """docker-py's client as churn's job-container calls use it: list (sparse, by label), get, remove."""

    def __init__(self, listed: dict[str, tuple[str, Path]]):  # id -> (name, job folder)
        self.listed = listed
        fake = self

        class Container:
            def __init__(self, id_):
                name, root = fake.listed[id_]
                self.id, self.attrs = id_, {"Labels": {docker.JOB_ROOT_LABEL: str(root)}, "Names": [f"/{name}"]}

            def remove(self, force):
                fake.listed.pop(self.id)

        class Containers:
            def list(self, all, sparse, filters):
                return [Container(i) for i in fake.listed] if filters["label"] == docker.JOB_ROOT_LABEL else []

            def get(self, id_):
                return Container(id_)

        self.containers = Containers()


def test_doctor_names_the_step_containers_a_killed_run_left_and_removes_them_when_asked(tmp_path, monkeypatch):
    """kill -9 of churn run left its step containers running until the next run in that runs folder,
    and churn doctor did not mention them: it names each dead run with its containers and how to
    remove them (--remove-leftovers, or docker rm -f); a live run's containers are never named."""
    import subprocess
    import sys

    import docker as docker_py
    from click.testing import CliRunner

    from churn.cli import main

    code = (
        "from churn.runner.local_jobs import JobsFolder; from pathlib import Path; import os; "
        f"jobs = JobsFolder.create(Path({str(tmp_path)!r})); jobs.name_execution('20261129-051800-abcdef'); print(jobs.path, os.getpid())"
    )
    dead, pid = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    live = JobsFolder.create(tmp_path)
    live.name_execution("20261129-051900-a1b2c3")
    fake = _FakeDocker({"c1": ("abc-algo-1-xyz", Path(dead) / "TrainModel" / "tmp1"), "c2": ("def-algo-1-uvw", Path(dead) / "TuneModel" / "t-1"),
                        "c3": ("live-algo-1-aaa", live.path / "TrainModel" / "tmp2")})
    monkeypatch.setattr(docker_py, "from_env", lambda **kwargs: fake)
    monkeypatch.setattr(docker, "doctor", lambda runs_dir, runner: [docker.Check("docker", True, "Docker engine 27.0")])

    done = CliRunner().invoke(main, ["doctor", "--runs-dir", str(tmp_path)])
    assert done.exit_code == 1, done.output
    assert done.output.splitlines()[1:] == [
        f"[FAIL] leftovers: run 20261129-051800-abcdef (process {pid}, dead) left 2 step containers: abc-algo-1-xyz, def-algo-1-uvw",
        "       fix: churn doctor --remove-leftovers (or: docker rm -f abc-algo-1-xyz def-algo-1-uvw)",
    ]
    removed = CliRunner().invoke(main, ["doctor", "--runs-dir", str(tmp_path), "--remove-leftovers"])
    assert removed.exit_code == 0 and "[ok] leftovers: removed: run 20261129-051800-abcdef" in removed.output
    assert set(fake.listed) == {"c3"} and not Path(dead).exists() and live.path.is_dir()
    again = CliRunner().invoke(main, ["doctor", "--runs-dir", str(tmp_path)])
    assert again.exit_code == 0 and f"[ok] leftovers: no step containers of dead runs in {tmp_path}" in again.output
    live.close()
