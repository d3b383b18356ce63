"""A TuningStep run by churn's local executor, without Docker: a small pipeline compiled by the
SDK with the local backend's LocalPipelineSession (TuneModel, then a step that reads its best
trial); local mode's training client is a fake that writes each trial's log (its validation-auc
a function of the trial's hyperparameters) and model where local mode writes them, and Docker's
container verdict is faked as in test_local_jobs."""

from __future__ import annotations

import _thread
import io
import json
import math
import re
import tarfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from churn.backends import docker
from churn.backends.local import local_backend
from churn.files import file_uri, uri_path
from churn.runner import local_executor
from churn.runner.events import Events, RunStarted, StepFinished
from churn.runner.local_jobs import JobsFolder, LocalRun
from churn.layout import TRIALS_FILE
from churn.runner.step_cache import StepCache
from churn.training_metrics import METRIC_DEFINITIONS

TUNE = "TuneModel"
JOB_NAME = re.compile(r"TuneModel-\d{3}-[0-9a-f]{8}")


def _build(runs: Path, data: Path):
    """TuneModel (max_depth and eta tuned for validation:auc) and UseBest, whose container
    arguments are the best trial's job name and max_depth."""
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.processing import ProcessingOutput, Processor
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner, IntegerParameter
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.parameters import ParameterInteger, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.steps import ProcessingStep, TuningStep

    backend = local_backend(runs)
    session = backend.session()
    with backend.sdk_scope():
        strategy = ParameterString(name="TuningStrategy", default_value="Bayesian")
        max_jobs = ParameterInteger(name="TuningMaxJobs", default_value=6)
        max_parallel = ParameterInteger(name="TuningMaxParallelJobs", default_value=2)
        seed = ParameterInteger(name="TuningSeed", default_value=7)
        estimator = Estimator(
            image_uri="churn-xgboost:test", role=backend.role_arn, instance_count=1, instance_type="local",
            output_path=Join(on="/", values=[backend.artifact_root, ExecutionVariables.PIPELINE_EXECUTION_ID, TUNE]),
            disable_profiler=True, debugger_hook_config=False,
            hyperparameters={"objective": "binary:logistic", "eval_metric": "auc", "num_round": "3"}, sagemaker_session=session,
        )
        tuner = HyperparameterTuner(
            estimator, "validation:auc",
            {"max_depth": IntegerParameter(2, 10), "eta": ContinuousParameter(0.01, 0.5, scaling_type="Logarithmic")},
            metric_definitions=list(METRIC_DEFINITIONS), objective_type="Maximize", strategy=strategy,
            max_jobs=max_jobs, max_parallel_jobs=max_parallel, random_seed=seed,
        )
        tune = TuningStep(TUNE, step_args=tuner.fit({
            channel: TrainingInput(file_uri(data / channel), content_type="text/csv") for channel in ("train", "validation")
        }))
        best = tune.properties.TrainingJobSummaries[0]
        use = ProcessingStep("UseBest", step_args=Processor(
            role=backend.role_arn, image_uri="churn-processing:test", instance_count=1, instance_type="local", sagemaker_session=session,
        ).run(
            outputs=[ProcessingOutput(
                output_name="out", source="/opt/ml/processing/output/out",
                destination=Join(on="/", values=[backend.artifact_root, ExecutionVariables.PIPELINE_EXECUTION_ID, "UseBest", "out"]),
            )],
            arguments=["--job", best.TrainingJobName, "--max-depth", best.TunedHyperParameters["max_depth"]],
        ))
        return Pipeline(name="tuning", parameters=[strategy, max_jobs, max_parallel, seed], steps=[tune, use], sagemaker_session=session), session


def validation_auc(hyperparameters: dict[str, str]) -> float:
    """The fake trial's final validation-auc: best at max_depth 5 and eta 0.1."""
    depth, eta = int(hyperparameters["max_depth"]), float(hyperparameters["eta"])
    return round(0.95 - 0.01 * abs(depth - 5) - 0.05 * abs(math.log10(eta / 0.1)), 6)


class FakeTraining:
    """Local mode's training client for the trials: each job waits until ``together`` jobs run
    (so a wave's trials overlap however slow the machine), writes its containers' output to its
    job folder (where Docker's fake hands it to run_job) and its model where local mode writes a
    ``file://`` output; a job ``fail(name)`` names fails in its container with that reason, or
    raises it when it starts with "raise"."""

    def __init__(self, run: LocalRun, together: int = 1, fail=lambda name: None, on_start=None):
        self.run, self.together, self.fail, self.on_start = run, together, fail, on_start
        self.lock = threading.Lock()
        self.running, self.peak = 0, 0
        self.log: list[tuple[str, str]] = []
        self.requests: dict[str, dict] = {}
        self.failed_dirs: dict[str, str] = {}

    def create_training_job(self, TrainingJobName, **request):  # noqa: N803 - local mode's signature
        name = TrainingJobName
        job_dir = Path(self.run.container_roots["container_root"])
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.log.append(("start", name))
            self.requests[name] = request
        try:
            if self.on_start is not None:
                self.on_start(name)
            deadline = time.monotonic() + 5
            while self.running < self.together and time.monotonic() < deadline:
                time.sleep(0.005)
            time.sleep(0.02)
            auc = validation_auc(request["HyperParameters"])
            job_dir.mkdir(parents=True, exist_ok=True)
            (job_dir / "logs.txt").write_text(
                f"training {name}\n[0]\ttrain-auc:0.8\tvalidation-auc:{auc - 0.03:.6f}\n[1]\ttrain-auc:0.9\tvalidation-auc:{auc:.6f}\n"
            )
            for channel in request.get("InputDataConfig", []):  # as local mode does (sagemaker 2.257)
                channel["DataUri"] = f"/opt/ml/input/data/{channel['ChannelName']}"
            # The model is written before a failure can come: a job may fail after writing it.
            model = uri_path(request["OutputDataConfig"]["S3OutputPath"])
            model.mkdir(parents=True, exist_ok=True)
            with tarfile.open(model / "model.tar.gz", "w:gz") as tar:
                info = tarfile.TarInfo("xgboost-model")
                info.size = 5
                tar.addfile(info, io.BytesIO(b"model"))
            reason = self.fail(name)
            if reason and reason.startswith("raise"):
                raise RuntimeError(reason)
            if reason:
                self.failed_dirs[str(job_dir)] = reason
                return
        finally:
            with self.lock:
                self.running -= 1
                self.log.append(("end", name))

    def describe_training_job(self, TrainingJobName):  # noqa: N803
        request = self.requests[TrainingJobName]
        return {
            "TrainingJobName": TrainingJobName, "TrainingJobStatus": "Completed",
            "ModelArtifacts": {"S3ModelArtifacts": request["OutputDataConfig"]["S3OutputPath"] + "/model.tar.gz"},
        }

    @property
    def started(self) -> list[str]:
        return [name for event, name in self.log if event == "start"]


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    """The pipeline, its session and runs folder (each execution writes to a folder of its own)."""
    root = tmp_path_factory.mktemp("tuning")
    for channel in ("train", "validation"):
        (root / "data" / channel).mkdir(parents=True)
        (root / "data" / channel / f"{channel}.csv").write_text("1,0.5\n0,0.2\n")
    pipeline, session = _build(root / "runs", root / "data")
    return pipeline, session, root / "runs"


class Setting:
    """One test's cache and fakes over the module's pipeline; :meth:`execute` runs it once."""

    def __init__(self, compiled, tmp_path: Path, monkeypatch):
        self.pipeline, self.session, self.runs = compiled
        self.cache = tmp_path / "cache"
        self.finished: list[tuple[str, str]] = []  # (job folder, log) of every container verdict asked for
        self.fakes: list[FakeTraining] = []
        self.use_best: list[dict] = []
        monkeypatch.setattr(docker, "finish_job_containers", self._finish)
        monkeypatch.setattr(docker, "remove_job_containers", lambda folder: None)

    def _finish(self, job_dir, log_file):
        self.finished.append((str(job_dir), str(log_file)))
        for fake in self.fakes:
            if str(job_dir) in fake.failed_dirs:
                return docker.FailedContainer("algo-1", 1, ["ERROR " + fake.failed_dirs[str(job_dir)]]), 1
        return None, 1

    def execute(self, *, parameters=None, max_parallel=3, cache=True, events=(), **fake):
        jobs = JobsFolder.create(self.runs)
        run = LocalRun(
            runs_dir=self.runs, jobs=jobs, cache=StepCache(self.cache, lambda image: "image-id") if cache else None,
            max_parallel=max_parallel,
        )
        training = FakeTraining(run, **fake)
        self.fakes.append(training)
        use_best = self.use_best

        class UseBest:
            def __init__(self, executor, step):
                self.executor, self.step = executor, step

            def execute(self):
                args = self.executor.evaluate_step_arguments(self.step)
                use_best.append(args)
                return {"ProcessingJobName": "UseBest", "ProcessingOutputConfig": {"Outputs": {}}}

        class Factory(local_executor.GuardedStepExecutors):
            def __init__(self, executor):
                super().__init__(executor)
                executor.local_sagemaker_client = training  # local mode's client: the trials' jobs

            def get(self, step):
                return UseBest(self.pipeline_executor, step) if step.name == "UseBest" else super().get(step)

        seen: list = []

        def started(event):
            if isinstance(event, RunStarted):
                run.execution_id = event.execution_id

        try:
            execution = local_executor.execute(
                self.pipeline, self.session, parameters or {}, run=run, max_parallel=2,
                events=Events(started, seen.append, *events), step_executors=Factory,
            )
        finally:
            jobs.close()
        return SimpleNamespace(execution=execution, run=run, training=training, events=seen, folder=self.runs / str(run.execution_id))


@pytest.fixture()
def setting(compiled, tmp_path, monkeypatch):
    return Setting(compiled, tmp_path, monkeypatch)


def _steps(execution) -> dict[str, dict]:
    return {s["StepName"]: s for s in execution.list_steps()["PipelineExecutionSteps"]}


def _trials(result) -> list[dict]:
    return _trials_in(result.folder)


def _trials_in(run_dir: Path) -> list[dict]:
    return json.loads((run_dir / TUNE / TRIALS_FILE).read_text())["trials"]


def _properties(result) -> dict:
    return result.execution.step_execution[TUNE].properties


# --- waves and the bound ---------------------------------------------------------------------


@pytest.mark.parametrize(("tuning_parallel", "run_parallel", "bound"), [(2, 3, 2), (3, 1, 1)])
def test_trials_run_in_waves_within_the_parallel_bound(setting, tuning_parallel, run_parallel, bound):
    """At most min(MaxParallelTrainingJobs, the run's max_parallel) trials at a time, and a wave
    starts once the one before it has ended."""
    result = setting.execute(parameters={"TuningMaxParallelJobs": tuning_parallel}, max_parallel=run_parallel, together=bound)
    assert result.execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    training = result.training
    assert len(training.started) == 6 and training.peak == bound
    for wave in range(6 // bound):
        members = training.started[wave * bound:(wave + 1) * bound]
        ends = [training.log.index(("end", name)) for name in members]
        later = training.started[(wave + 1) * bound:]
        assert all(training.log.index(("start", name)) > max(ends) for name in later)


def test_a_trial_writes_its_model_log_and_metrics_where_sagemaker_and_run_job_put_them(setting):
    result = setting.execute()
    trials = _trials(result)
    assert len(trials) == 6 and all(JOB_NAME.fullmatch(t["job"]) for t in trials)
    for trial in trials:
        request = result.training.requests[trial["job"]]
        folder = result.folder / TUNE / trial["job"]
        # SageMaker's layout: <S3OutputPath>/<TrainingJobName>/output/model.tar.gz
        assert request["OutputDataConfig"]["S3OutputPath"] == file_uri(result.folder / TUNE) + f"/{trial['job']}/output"
        assert (folder / "output" / "model.tar.gz").is_file()
        assert "validation-auc" in (folder / "logs.txt").read_text()
        assert json.loads((folder / "metrics.json").read_text())["final"]["validation:auc"] == trial["objective"]
        assert request["HyperParameters"] == {
            "objective": "binary:logistic", "eval_metric": "auc", "num_round": "3", **trial["hyperparameters"],
        }
        assert request["ResourceConfig"] == {"InstanceCount": 1, "InstanceType": "local", "VolumeSizeInGB": 30}
        assert request["AlgorithmSpecification"]["MetricDefinitions"] == METRIC_DEFINITIONS
        # Each trial's job folder is its own, inside its step's under the run's jobs folder.
        assert any(job.endswith(f"/{TUNE}/{trial['job']}") and "/.jobs/run-" in job for job, _ in setting.finished)


# --- failed trials ---------------------------------------------------------------------------


def test_failed_trials_are_recorded_and_the_tuning_goes_on(setting):
    def fail(name):
        return {"002": "train: the booster broke", "003": "raise Failed to run: docker compose exited 1"}.get(name.split("-")[1])

    result = setting.execute(fail=fail)
    assert result.execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    trials = {t["number"]: t for t in _trials(result)}
    assert len(trials) == 6
    assert (trials[2]["status"], trials[2]["objective"]) == ("Failed", None)
    assert trials[2]["failure"] == "train: the booster broke (container exit code 1)"
    assert (trials[3]["status"], trials[3]["failure"]) == ("Failed", "RuntimeError: raise Failed to run: docker compose exited 1")
    assert all(trials[n]["status"] == "Completed" and trials[n]["objective"] is not None for n in (1, 4, 5, 6))
    # The failed trials' logs say so, in their own folders.
    assert (result.folder / TUNE / trials[2]["job"] / "logs.txt").read_text().endswith(
        "churn: the step failed: train: the booster broke (container exit code 1)\n")
    for number in (2, 3):  # what a failed trial wrote is no result: only its log stays
        folder = result.folder / TUNE / trials[number]["job"]
        assert [p.name for p in folder.iterdir()] == ["logs.txt"], number
    assert (result.folder / TUNE / trials[1]["job"] / "output" / "model.tar.gz").is_file()
    properties = _properties(result)
    assert properties["TrainingJobStatusCounters"] == {
        "Completed": 4, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 2, "Stopped": 0}
    assert properties["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 2}
    assert {s["TrainingJobName"] for s in properties["TrainingJobSummaries"]} == {trials[n]["job"] for n in (1, 4, 5, 6)}


def test_when_every_trial_fails_the_step_fails_naming_their_reasons(setting):
    result = setting.execute(fail=lambda name: f"train: no rows for {name}")
    steps = _steps(result.execution)
    assert steps[TUNE]["StepStatus"] == "Failed" and "UseBest" not in steps
    reason = steps[TUNE]["FailureReason"]
    assert reason.startswith("no trial of 6 reported the objective validation:auc: TuneModel-001-")
    assert "\n" not in reason
    trials = _trials(result)  # recorded although the step failed
    assert [t["status"] for t in trials] == ["Failed"] * 6
    for trial in trials:
        assert f"{trial['job']}: train: no rows for {trial['job']} (container exit code 1)" in reason
    assert result.execution.describe()["PipelineExecutionStatus"] == "Failed" and setting.use_best == []


# --- the best trial, downstream --------------------------------------------------------------


def test_the_best_trial_is_listed_first_and_resolves_downstream(setting):
    result = setting.execute()
    trials = _trials(result)
    best = max(trials, key=lambda t: t["objective"])
    assert best["objective"] == validation_auc(best["hyperparameters"])
    properties = _properties(result)
    summaries = properties["TrainingJobSummaries"]
    assert [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries] == sorted(
        (t["objective"] for t in trials), reverse=True)
    assert summaries[0]["TrainingJobName"] == best["job"] and properties["BestTrainingJob"] == summaries[0]
    assert summaries[0]["TunedHyperParameters"] == best["hyperparameters"]
    assert (properties["HyperParameterTuningJobName"], properties["HyperParameterTuningJobStatus"]) == (TUNE, "Completed")
    # UseBest's arguments, resolved by the executor's own argument evaluation.
    [arguments] = setting.use_best
    assert arguments["AppSpecification"]["ContainerArguments"] == ["--job", best["job"], "--max-depth", best["hyperparameters"]["max_depth"]]
    assert result.execution.describe()["PipelineExecutionStatus"] == "Succeeded"


def test_list_steps_describes_the_tuning_step(setting):
    result = setting.execute()
    steps = _steps(result.execution)
    assert steps[TUNE]["StepStatus"] == "Succeeded" and steps["UseBest"]["StepStatus"] == "Succeeded"
    assert steps[TUNE]["Metadata"] == {"TuningJob": {"Arn": "arn:aws:sagemaker:local:000000000000:hyper-parameter-tuning-job/tunemodel"}}


def test_trials_json_records_every_trial(setting):
    seen = {}

    def look(name):  # as the second wave starts, the first wave's trials are recorded
        if name.split("-")[1] == "003":
            run = setting.fakes[-1].run
            seen["trials"] = _trials_in(setting.runs / str(run.execution_id))

    result = setting.execute(on_start=look)
    assert [t["number"] for t in seen["trials"]] == [1, 2]
    trials = _trials(result)
    assert [t["number"] for t in trials] == [1, 2, 3, 4, 5, 6]
    assert [t["job"] for t in trials] == result.training.started or sorted(t["job"] for t in trials) == sorted(result.training.started)
    for trial in trials:
        assert set(trial) == {"number", "job", "hyperparameters", "status", "objective", "seconds", "cached", "failure", "created"}
        assert trial["job"].startswith(f"TuneModel-{trial['number']:03d}-")
        assert (trial["status"], trial["cached"], trial["failure"]) == ("Completed", False, None)
        assert trial["objective"] == validation_auc(trial["hyperparameters"]) and trial["seconds"] >= 0
        assert set(trial["hyperparameters"]) == {"max_depth", "eta"} and 2 <= int(trial["hyperparameters"]["max_depth"]) <= 10
    document = json.loads((result.folder / TUNE / TRIALS_FILE).read_text())
    best = max(trials, key=lambda t: (t["objective"], -t["number"]))
    assert {k: v for k, v in document.items() if k != "trials"} == {
        "tuning_job": best["job"].rsplit("-", 2)[0], "strategy": "Bayesian", "max_jobs": 6, "max_parallel": 2, "seed": 7,
        "objective": {"metric": "validation:auc", "type": "Maximize"}, "best": best["job"],
    }
    assert _properties(result)["TrainingJobSummaries"][0]["TrainingJobName"] == document["best"]


# --- the cache -------------------------------------------------------------------------------


def test_a_rerun_with_the_same_seed_replays_every_trial_from_the_cache(setting):
    first = setting.execute()
    second = setting.execute()
    assert second.training.started == []  # no trial's job started
    before, after = _trials(first), _trials(second)
    assert [(t["job"], t["hyperparameters"], t["objective"]) for t in after] == [
        (t["job"], t["hyperparameters"], t["objective"]) for t in before]
    assert all(t["cached"] for t in after) and not any(t["cached"] for t in before)
    for trial in after:  # the outputs and the log are the run's own
        assert (second.folder / TUNE / trial["job"] / "output" / "model.tar.gz").is_file()
        assert "cached" in (second.folder / TUNE / trial["job"] / "logs.txt").read_text().splitlines()[0]
    [finished] = [e for e in second.events if isinstance(e, StepFinished) and e.step == TUNE]
    assert finished.cached and finished.status == "Succeeded"
    assert _properties(second)["TrainingJobSummaries"][0]["TrainingJobName"] == _properties(first)["TrainingJobSummaries"][0]["TrainingJobName"]
    # Another seed proposes other trials, which run.
    third = setting.execute(parameters={"TuningSeed": 8})
    assert len(third.training.started) == 6


def test_the_runs_own_bound_does_not_change_the_trials(setting):
    """--max-parallel-steps bounds how many trials run at once, never which are proposed: a run
    with another bound replays the same trials from the cache."""
    first = setting.execute(parameters={"TuningMaxParallelJobs": 3}, max_parallel=1)
    second = setting.execute(parameters={"TuningMaxParallelJobs": 3}, max_parallel=3)
    assert second.training.started == []
    assert [t["hyperparameters"] for t in _trials(second)] == [t["hyperparameters"] for t in _trials(first)]


# --- what the local backend cannot run, and Ctrl-C --------------------------------------------


def test_a_tuning_job_the_local_backend_cannot_run_fails_the_step_with_its_message(setting):
    result = setting.execute(parameters={"TuningStrategy": "Hyperband"})
    steps = _steps(result.execution)
    assert steps[TUNE]["StepStatus"] == "Failed"
    assert steps[TUNE]["FailureReason"] == "TuningStrategy 'Hyperband': the local backend runs Bayesian and Random"
    assert result.training.started == [] and not (result.folder / TUNE / TRIALS_FILE).exists()


def test_ctrl_c_starts_no_new_wave_and_stops_the_running_trials(setting):
    """Ctrl-C while the first wave runs: its trials' jobs are stopped (each job folder asked for
    its containers, the trials' before their step's), no further trial starts, and the trials
    are recorded as stopped before the KeyboardInterrupt goes on."""
    box = {}

    def interrupt(name):
        if name.split("-")[1] == "001":
            # Once both trials of the wave run: a trial prepared after Ctrl-C rightly never starts.
            deadline = time.monotonic() + 10
            while setting.fakes[-1].running < 2 and time.monotonic() < deadline:
                time.sleep(0.005)
            _thread.interrupt_main()
        deadline = time.monotonic() + 10
        while not box["run"].stopping and time.monotonic() < deadline:
            time.sleep(0.01)
        raise RuntimeError("Failed to run: ['docker-compose', 'up'], Process exited with code: 130")

    original = Setting.execute

    def execute(self, **kwargs):
        def remember(event):
            if isinstance(event, RunStarted):
                box["run"] = self.fakes[-1].run

        return original(self, events=(remember,), **kwargs)

    with pytest.raises(KeyboardInterrupt):
        execute(setting, on_start=interrupt, together=2)
    run = box["run"]
    training = setting.fakes[-1]
    assert run.stopping and len(training.started) == 2 and training.running == 0
    trials = _trials_in(setting.runs / str(run.execution_id))
    assert [(t["status"], t["failure"]) for t in trials] == [("Stopped", "stopped by Ctrl-C: the run was interrupted and the job's containers removed")] * 2
    stopped = [job for job, _ in setting.finished]
    for trial in trials:  # stop_jobs asked each trial's own job folder for its containers, before the step's
        own = next(i for i, job in enumerate(stopped) if job.endswith(f"/{TUNE}/{trial['job']}"))
        assert own < next(i for i, job in enumerate(stopped) if job.endswith(f"/{TUNE}"))


def test_the_properties_have_the_shapes_of_sagemakers_descriptions(setting):
    """The tuning step's properties: members of DescribeHyperParameterTuningJob's response (or,
    TrainingJobSummaries, ListTrainingJobsForHyperParameterTuningJob's), each of its shape (the
    local instance type and file:// paths aside)."""
    from tests.aws_contract import _check, service_model

    result = setting.execute(fail=lambda name: "train: broke" if name.split("-")[1] == "002" else None)
    model = service_model()
    describe = model.operation_model("DescribeHyperParameterTuningJob").output_shape
    listing = model.operation_model("ListTrainingJobsForHyperParameterTuningJob").output_shape
    found: list[str] = []
    for name, value in _properties(result).items():
        shape = describe.members.get(name) or listing.members.get(name)
        assert shape is not None, f"{name} is not a member of either response"
        _check(shape, value, name, found)
    assert [f for f in found if "'local'" not in f and "'file://" not in f] == []
    assert set(describe.required_members) | set(listing.required_members) <= set(_properties(result))


def test_an_objective_no_metric_definition_reads_is_refused_before_any_trial():
    from churn.runner.local_tuning import run_tuning
    from churn.tuning import TuningError

    config = {
        "Strategy": "Random", "ResourceLimits": {"MaxNumberOfTrainingJobs": 2, "MaxParallelTrainingJobs": 1},
        "HyperParameterTuningJobObjective": {"Type": "Maximize", "MetricName": "validation:auc"},
        "ParameterRanges": {"IntegerParameterRanges": [{"Name": "max_depth", "MinValue": "2", "MaxValue": "10"}]},
    }
    definition = {"AlgorithmSpecification": {"TrainingImage": "churn-xgboost:test"}, "OutputDataConfig": {"S3OutputPath": "file:///x"}}

    def start(job, request):
        raise AssertionError("a trial started")

    with pytest.raises(TuningError, match=r"^the objective metric 'validation:auc' is not one of the training job's metric definitions \(none\)$"):
        run_tuning(None, TUNE, {"HyperParameterTuningJobConfig": config, "TrainingJobDefinition": definition}, start_trial=start, execution_id="x")


def test_a_failed_tuning_steps_folder_keeps_its_trials_and_their_logs(tmp_path):
    """A failed step's folder is cut down to its records (its outputs could be mistaken for
    results): a tuning step keeps trials.json and each trial's log, nothing else."""
    from churn.runner.local import _keep_only_records

    step = tmp_path / TUNE
    for relative in ("logs.txt", TRIALS_FILE, "t-001/logs.txt", "t-001/metrics.json", "t-001/output/model.tar.gz", "t-002/output/model.tar.gz"):
        (step / relative).parent.mkdir(parents=True, exist_ok=True)
        (step / relative).write_text("x")
    _keep_only_records(step)
    assert sorted(p.relative_to(step).as_posix() for p in step.rglob("*")) == ["logs.txt", "t-001", "t-001/logs.txt", TRIALS_FILE]
    # Any other failed step keeps its log only, whatever its outputs hold.
    other = tmp_path / "PreprocessData"
    for relative in ("logs.txt", "train/logs.txt", "train/train.csv", "manifest/manifest.json"):
        (other / relative).parent.mkdir(parents=True, exist_ok=True)
        (other / relative).write_text("x")
    _keep_only_records(other)
    assert [p.relative_to(other).as_posix() for p in other.rglob("*")] == ["logs.txt"]
