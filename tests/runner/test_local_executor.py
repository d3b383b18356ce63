"""churn's local executor (a subclass of the SDK's ``LocalPipelineExecutor``) without Docker: the
real compiled pipeline and the SDK's own execution records, condition, fail and create-model
step executors; only the job steps are fakes that sleep, record and write their outputs."""

from __future__ import annotations

import _thread
import json
import threading
import time

import re

import pytest

from churn.backends import docker
from churn.backends.local import local_backend
from churn.runner.local_jobs import JobsFolder, LocalRun
from churn.runner.scheduling import predecessors
from churn.files import uri_path
from churn.pipeline import TUNING_RANGES, build_pipeline
from churn.runner import local_executor
from churn.progress import LineProgress
from churn.runner.events import Events, RunFinished, RunStarted, StepFinished, StepStarted
from churn.runner.local_executor import GuardedStepExecutors, StepFailure

CANDIDATE_STEPS = ("TuneModel", "EvaluateTuned", "TrainModel", "EvaluateModel", "TrainBaseline", "EvaluateBaseline")


class Jobs:
    """Fake job steps: each sleeps (``seconds`` for the candidate branches), records when it
    runs, writes its declared outputs and answers as local mode would; a step in ``fail``
    fails; SelectModel writes the winner's report with ``accuracy``."""

    def __init__(self, seconds=0.15, fail=(), accuracy=0.9, together=(), durations=None):
        self.seconds, self.fail, self.accuracy = seconds, set(fail), accuracy
        self.durations = durations or {}  # step -> seconds, instead of the default
        #: Steps that each wait until all of them run (so they overlap however slow the machine).
        self.together = set(together)
        self.barrier = threading.Barrier(len(self.together)) if self.together else None
        self.lock = threading.Lock()
        self.running, self.peak, self.log = 0, 0, []
        self.ended: dict[str, float] = {}
        #: The instance type each training step (and TuneModel's trials) was asked for.
        self.instance_types: dict[str, str] = {}

    def factory(self, executor):
        jobs = self

        class Factory(local_executor.GuardedStepExecutors):
            def get(self, step):
                if step.step_type.value in ("Processing", "Training", "Tuning"):
                    return FakeJob(executor, step, jobs)
                return super().get(step)  # the SDK's condition, fail and create-model executors

        return Factory(executor)


class FakeJob:
    def __init__(self, executor, step, jobs: Jobs):
        self.executor, self.step, self.jobs = executor, step, jobs

    def execute(self):
        jobs, name = self.jobs, self.step.name
        args = self.executor.evaluate_step_arguments(self.step)
        with jobs.lock:
            jobs.running += 1
            jobs.peak = max(jobs.peak, jobs.running)
            jobs.log.append(("start", name))
        time.sleep(jobs.durations.get(name, jobs.seconds if name in CANDIDATE_STEPS else 0.01))
        if name in jobs.together:
            jobs.barrier.wait(timeout=30)
        with jobs.lock:
            jobs.running -= 1
            jobs.log.append(("end", name))
            jobs.ended[name] = time.monotonic()
        if name in jobs.fail:
            self.executor.execution.update_step_failure(name, f"{name} broke")
        if "HyperParameterTuningJobConfig" in args:
            resources = args["TrainingJobDefinition"]["HyperParameterTuningResourceConfig"]
            jobs.instance_types[name] = resources["InstanceType"]
        elif "AlgorithmSpecification" in args:
            jobs.instance_types[name] = args["ResourceConfig"]["InstanceType"]
        if "HyperParameterTuningJobConfig" in args:  # a tuning job's properties: its best training job first
            return {
                "HyperParameterTuningJobArn": f"arn:aws:sagemaker:local:000000000000:hyper-parameter-tuning-job/{name.lower()}",
                "TrainingJobDefinition": args["TrainingJobDefinition"],
                "TrainingJobSummaries": [{"TrainingJobName": f"{name}-001-0123abcd", "TunedHyperParameters": dict.fromkeys(TUNING_RANGES, "1")}],
            }
        if "AlgorithmSpecification" in args:
            return {"TrainingJobName": name, "ModelArtifacts": {"S3ModelArtifacts": args["OutputDataConfig"]["S3OutputPath"] + "/model.tar.gz"}}
        outputs = {o["OutputName"]: o for o in args["ProcessingOutputConfig"]["Outputs"]}
        if name == "PreprocessData":  # the manifest's sizing, which the training steps read
            folder = uri_path(outputs["manifest"]["S3Output"]["S3Uri"])
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "manifest.json").write_text(json.dumps({"sizing": {"training_rows": 10, "chosen": "ml.m5.xlarge"}}))
        if name == "SelectModel":
            for output, document in (
                ("selection", {"winner": "xgboost", "summary": "xgboost 0.9", "hyperparameters": "max_depth=5"}),
                ("evaluation", {"binary_classification_metrics": {"accuracy": {"value": jobs.accuracy}}}),
            ):
                folder = uri_path(outputs[output]["S3Output"]["S3Uri"])
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{output}.json").write_text(json.dumps(document))
        return {"ProcessingJobName": name, "ProcessingOutputConfig": {"Outputs": outputs}}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    backend = local_backend(tmp_path_factory.mktemp("runs"))
    return build_pipeline(backend), backend.session()


def _no_registry(step_name, arguments, execution_id):
    """A RegisterModel handler that registers nothing."""


def _execute(compiled, jobs: Jobs, max_parallel=2, parameters=None, register=_no_registry, events=None, run=None):
    pipeline, session = compiled
    return local_executor.execute(
        pipeline, session, parameters or {}, run=run, max_parallel=max_parallel, events=events or Events(),
        own_steps={"RegisterModel": register}, step_executors=jobs.factory,
    )


def _statuses(execution) -> dict[str, str]:
    return {s["StepName"]: s["StepStatus"] for s in execution.list_steps()["PipelineExecutionSteps"]}


def _order_ok(log, graph) -> bool:
    ended = []
    for event, name in log:
        if event == "start":
            assert predecessors(graph)[name] & set(CANDIDATE_STEPS + ("PreprocessData",)) <= set(ended), f"{name} started too early"
        else:
            ended.append(name)
    return True


def test_the_training_steps_take_the_instance_type_the_manifest_chose(compiled):
    """Issue 18, item 5: TrainModel, TrainBaseline and TuneModel's trials read PreprocessData's
    manifest (``sizing.chosen``) through the executor's local property files."""
    jobs = Jobs()
    execution = _execute(compiled, jobs)
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    assert jobs.instance_types == dict.fromkeys(("TuneModel", "TrainModel", "TrainBaseline"), "ml.m5.xlarge")


def test_branches_run_together_and_dependencies_hold(compiled):
    jobs = Jobs(together={"TrainModel", "TrainBaseline"})  # they wait for each other: one at a time would hang
    execution = _execute(compiled, jobs)
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"
    assert jobs.peak == 2 and _order_ok(jobs.log, _graph(compiled))
    assert _statuses(execution) == {
        name: "Succeeded"
        for name in ("PreprocessData", *CANDIDATE_STEPS, "SelectModel", "CheckAccuracy", "CreateModel-CreateModel", "RegisterModel-RegisterModel")
    }


def _graph(compiled):
    from sagemaker.workflow.pipeline import PipelineGraph

    return PipelineGraph.from_pipeline(compiled[0]).adjacency_list


def test_the_bound_is_respected(compiled):
    jobs = Jobs(seconds=0.05)
    _execute(compiled, jobs, max_parallel=1)
    assert jobs.peak == 1
    # One at a time, in definition order where the graph allows.
    assert [n for e, n in jobs.log if e == "start"][:3] == ["PreprocessData", "TuneModel", "EvaluateTuned"]


def test_after_a_failure_nothing_new_starts_and_running_steps_finish(compiled):
    """TuneModel fails at once while TrainModel runs on: TrainModel finishes, but its
    successor EvaluateModel (ready by then) and TrainBaseline never start."""
    jobs = Jobs(fail={"TuneModel"}, durations={"TrainModel": 0.5, "TuneModel": 0.01})
    execution = _execute(compiled, jobs)
    describe = execution.describe()
    assert describe["PipelineExecutionStatus"] == "Failed"
    assert describe["FailureReason"] == "Step 'TuneModel' failed with message: TuneModel broke"
    started = [n for e, n in jobs.log if e == "start"]
    # The two branch steps start side by side, so either may log first.
    assert started[0] == "PreprocessData" and sorted(started[1:]) == ["TrainModel", "TuneModel"]
    assert ("end", "TrainModel") in jobs.log  # the running step was not abandoned
    assert _statuses(execution)["TrainModel"] == "Succeeded"


def test_two_failing_branches_are_each_named_with_their_reason(compiled):
    both = {"EvaluateModel", "EvaluateBaseline"}
    execution = _execute(compiled, Jobs(fail=both, seconds=0.1, together=both))
    message = execution.describe()["FailureReason"]
    assert message.startswith("Step 'Evaluate") and " failed with message: 2 steps failed: " in message
    assert "EvaluateModel: EvaluateModel broke" in message and "EvaluateBaseline: EvaluateBaseline broke" in message


def test_the_gate_reads_the_local_property_file_and_blocks_the_branch_it_does_not_take(compiled):
    """The SDK's own condition step, reading SelectModel's file:// property file; its finish
    event says what it compared and how it came out."""
    seen = []
    execution = _execute(compiled, Jobs(seconds=0.01, accuracy=0.2), events=Events(seen.append))
    [gate] = [e for e in seen if isinstance(e, StepFinished) and e.step == "CheckAccuracy"]
    assert gate.detail == "accuracy 0.2 >= AccuracyThreshold 0.8: false"
    assert all(e.detail is None for e in seen if isinstance(e, StepFinished) and e.step != "CheckAccuracy")
    statuses = _statuses(execution)
    assert statuses["CheckAccuracy"] == "Succeeded" and statuses["AccuracyTooLow"] == "Failed"
    assert "CreateModel-CreateModel" not in statuses
    assert "below the AccuracyThreshold" in execution.describe()["FailureReason"]


def test_a_missing_property_file_fails_the_gate_naming_the_file(compiled, monkeypatch):
    jobs = Jobs(seconds=0.01)
    original = FakeJob.execute

    def without_report(self):
        response = original(self)
        if self.step.name == "SelectModel":
            folder = uri_path(response["ProcessingOutputConfig"]["Outputs"]["evaluation"]["S3Output"]["S3Uri"])
            (folder / "evaluation.json").unlink()
        return response

    monkeypatch.setattr(FakeJob, "execute", without_report)
    execution = _execute(compiled, jobs)
    [gate] = [s for s in execution.list_steps()["PipelineExecutionSteps"] if s["StepName"] == "CheckAccuracy"]
    assert gate["StepStatus"] == "Failed"
    assert gate["FailureReason"].startswith("cannot read property file ") and "evaluation.json" in gate["FailureReason"]


def test_every_step_emits_started_and_finished_events_in_order(compiled):
    seen = []
    lines = []
    execution = _execute(compiled, Jobs(seconds=0.01, fail={"EvaluateBaseline"}), events=Events(seen.append, LineProgress(lines.append, verbose=True)))
    assert seen[0] == RunStarted(execution.pipeline_execution_name)
    finished = {e.step: e for e in seen if isinstance(e, StepFinished)}
    assert {e.step for e in seen if isinstance(e, StepStarted)} == set(finished)
    assert finished["EvaluateBaseline"].status == "Failed" and finished["EvaluateBaseline"].failure_reason == "EvaluateBaseline broke"
    assert finished["PreprocessData"].succeeded and finished["PreprocessData"].seconds >= 0.01
    for step in finished:  # each step's finish comes after its start
        assert seen.index(StepStarted(step)) < seen.index(finished[step])
    assert "  PreprocessData   started" in lines
    assert any(re.fullmatch(r"  EvaluateBaseline +Failed +\d+\.\d s  EvaluateBaseline broke", line) for line in lines), lines


def _register(calls, fail=None):
    def run(step_name, arguments, execution_id):
        calls.append((step_name, arguments, execution_id))
        if fail:
            raise StepFailure(fail)

    return run


def test_the_registration_step_runs_after_create_model_with_its_arguments_resolved(compiled):
    """The compiled RegisterModel step, run by churn's handler with the arguments SageMaker's
    CreateModelPackage would receive: parameters and property files resolved, locations joined."""
    calls = []
    execution = _execute(compiled, Jobs(seconds=0.01), register=_register(calls), parameters={"ModelApprovalStatus": "Approved"})
    ((name, arguments, execution_id),) = calls
    assert (name, execution_id) == ("RegisterModel-RegisterModel", execution.pipeline_execution_name)
    assert arguments["ModelApprovalStatus"] == "Approved" and arguments["ModelPackageGroupName"] == "churn"
    (container,) = arguments["InferenceSpecification"]["Containers"]
    assert container["ModelDataUrl"].startswith("file:///") and container["ModelDataUrl"].endswith(f"/{execution_id}/SelectModel/model/model.tar.gz")
    statistics = arguments["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    assert statistics.endswith(f"/{execution_id}/SelectModel/evaluation/evaluation.json")
    assert arguments["CustomerMetadataProperties"] == {
        "WinningCandidate": "xgboost", "SelectionMetric": "auc", "Candidates": "xgboost 0.9", "Hyperparameters": "max_depth=5",
    }
    steps = {s["StepName"]: s for s in execution.list_steps()["PipelineExecutionSteps"]}
    register = steps["RegisterModel-RegisterModel"]
    assert register["StepStatus"] == "Succeeded"
    assert register["StartTime"] >= steps["CreateModel-CreateModel"]["EndTime"]
    assert execution.describe()["PipelineExecutionStatus"] == "Succeeded"


def test_churns_own_step_failing_fails_the_execution_with_its_reason(compiled):
    execution = _execute(compiled, Jobs(seconds=0.01), register=_register([], fail="cannot register the model in x: locked"))
    assert _statuses(execution)["RegisterModel-RegisterModel"] == "Failed"
    assert execution.describe()["FailureReason"] == (
        "Step 'RegisterModel-RegisterModel' failed with message: cannot register the model in x: locked"
    )


def test_churns_own_step_never_runs_behind_a_blocked_branch(compiled):
    calls = []
    execution = _execute(compiled, Jobs(seconds=0.01, accuracy=0.1), register=_register(calls))
    assert calls == [] and "RegisterModel-RegisterModel" not in _statuses(execution)


def test_a_step_type_without_a_handler_is_refused_as_local_mode_refuses_it(compiled):
    from botocore.exceptions import ClientError

    pipeline, session = compiled
    with pytest.raises(ClientError, match="Step type RegisterModel is not supported in local mode"):
        local_executor.execute(pipeline, session, {}, run=None, max_parallel=2, events=Events(), step_executors=Jobs().factory)


def test_an_unexpected_error_is_raised_not_swallowed(compiled, monkeypatch):
    original = FakeJob.execute

    def crash(self):
        if self.step.name == "TrainModel":
            raise KeyError("bug")
        return original(self)

    monkeypatch.setattr(FakeJob, "execute", crash)
    with pytest.raises(KeyError, match="bug"):
        _execute(compiled, Jobs(seconds=0.01))


def test_ctrl_c_stops_the_jobs_and_waits_for_running_steps(compiled, tmp_path):
    """Ctrl-C while two steps run: no new step starts, the jobs are stopped, and both running
    steps have ended (nothing writes afterwards) before the KeyboardInterrupt goes on."""
    jobs = Jobs(seconds=0.4)
    stopped = []

    class Run(LocalRun):
        def stop_jobs(self):
            stopped.append(time.monotonic())

    def interrupt_when_branches_run(event):
        if event == StepStarted("TrainModel"):  # the tuning branch's step started first
            _thread.interrupt_main()

    folder = JobsFolder.create(tmp_path)
    run = Run(runs_dir=tmp_path, jobs=folder, cache=None, max_parallel=2)
    try:
        with pytest.raises(KeyboardInterrupt):
            _execute(compiled, jobs, events=Events(interrupt_when_branches_run), run=run)
    finally:
        folder.close()
    assert len(stopped) == 1 and jobs.running == 0
    assert stopped[0] < jobs.ended["TrainModel"] and stopped[0] < jobs.ended["TuneModel"]  # stopped first, then waited
    started = [n for e, n in jobs.log if e == "start"]
    # The two branch steps start side by side, so either may log first; no other step starts.
    assert started[0] == "PreprocessData" and sorted(started[1:]) == ["TrainModel", "TuneModel"]
    assert sorted(n for e, n in jobs.log if e == "end") == ["PreprocessData", "TrainModel", "TuneModel"]


def test_a_fault_around_a_guarded_job_fails_that_step_not_the_run(compiled, tmp_path, monkeypatch):
    """The guarded job step executors: local mode ran the job, then Docker could not be asked
    about its containers (a full disk): the step fails with the error, the run goes on to fail."""
    from sagemaker.local import pipeline as sdk_pipeline

    def local_mode_job(self):
        args = self.pipline_executor.evaluate_step_arguments(self.step)
        for output in args["ProcessingOutputConfig"]["Outputs"]:
            folder = uri_path(output["S3Output"]["S3Uri"])
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "part.csv").write_text("1\n")
        return {"ProcessingJobName": self.step.name}

    def docker_gone(job_dir, log_file):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sdk_pipeline._ProcessingStepExecutor, "execute", local_mode_job)
    monkeypatch.setattr(docker, "finish_job_containers", docker_gone)
    folder = JobsFolder.create(tmp_path)
    run = LocalRun(runs_dir=tmp_path, jobs=folder, cache=None, max_parallel=2)
    pipeline, session = compiled
    try:
        execution = local_executor.execute(
            pipeline, session, {}, run=run, max_parallel=2, events=Events(), step_executors=GuardedStepExecutors,
            own_steps={"RegisterModel": _no_registry},
        )
    finally:
        folder.close()
    [preprocess] = execution.list_steps()["PipelineExecutionSteps"]
    assert preprocess["StepName"] == "PreprocessData" and preprocess["StepStatus"] == "Failed"
    assert preprocess["FailureReason"] == "OSError: [Errno 28] No space left on device"
    assert execution.describe()["PipelineExecutionStatus"] == "Failed"


def test_the_session_config_is_the_runs_only_for_the_execution(compiled, tmp_path):
    pipeline, session = compiled
    before = session.config
    folder = JobsFolder.create(tmp_path)
    seen = []
    run = LocalRun(runs_dir=tmp_path, jobs=folder, cache=None, max_parallel=2)
    try:
        local_executor.execute(
            pipeline, session, {}, run=run, max_parallel=2, events=Events(lambda e: seen.append(session.config)),
            step_executors=Jobs(seconds=0.01).factory, own_steps={"RegisterModel": _no_registry},
        )
    finally:
        folder.close()
    assert seen[0] == {"local": run.container_roots} and session.config is before


def test_a_listener_that_raises_ends_the_run_after_the_running_steps(compiled):
    jobs = Jobs(seconds=0.2)

    def broken(event):
        if event == StepStarted("TrainBaseline"):
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        _execute(compiled, jobs, events=Events(broken))
    assert jobs.running == 0 and ("end", "TrainModel") in jobs.log  # the step beside it finished
    assert "SelectModel" not in {n for _, n in jobs.log}


def test_a_step_served_from_the_cache_says_so(compiled, tmp_path):
    class Cache:
        hits = {"PreprocessData": "earlier-execution"}

    seen = []
    folder = JobsFolder.create(tmp_path)
    run = LocalRun(runs_dir=tmp_path, jobs=folder, cache=Cache(), max_parallel=2)
    try:
        _execute(compiled, Jobs(seconds=0.01), events=Events(seen.append), run=run)
    finally:
        folder.close()
    finished = {e.step: e for e in seen if isinstance(e, StepFinished)}
    assert finished["PreprocessData"].cached and not finished["TrainModel"].cached


def test_churns_own_step_failing_unexpectedly_fails_as_a_step(compiled):
    def damaged(step_name, arguments, execution_id):
        raise json.JSONDecodeError("Expecting value", "", 0)

    seen = []
    execution = _execute(compiled, Jobs(seconds=0.01), register=damaged, events=Events(seen.append))
    assert _statuses(execution)["RegisterModel-RegisterModel"] == "Failed"
    assert execution.describe()["FailureReason"].endswith("failed with message: JSONDecodeError: Expecting value: line 1 column 1 (char 0)")
    assert seen[-1] == RunFinished(execution.pipeline_execution_name, "Failed", execution.describe()["FailureReason"])


def test_the_run_finished_event_comes_last_with_the_status(compiled):
    seen = []
    execution = _execute(compiled, Jobs(seconds=0.01), events=Events(seen.append))
    assert seen[-1] == RunFinished(execution.pipeline_execution_name, "Succeeded", None)
    assert sum(isinstance(e, RunFinished) for e in seen) == 1


def test_a_listener_error_after_a_step_failure_is_not_lost(compiled):
    def broken(event):
        if isinstance(event, StepFinished) and not event.succeeded:
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        _execute(compiled, Jobs(seconds=0.01, fail={"TrainModel"}), events=Events(broken))


class _DamagedSelection(Jobs):
    """SelectModel writes a selection.json that is not UTF-8 text (a damaged file)."""

    def factory(self, executor):
        base = super().factory(executor)

        class Factory(type(base)):
            def get(self, step):
                job = base.get(step)
                if step.name != "SelectModel":
                    return job
                original = job.execute

                def execute():
                    result = original()
                    folder = uri_path(result["ProcessingOutputConfig"]["Outputs"]["selection"]["S3Output"]["S3Uri"])
                    (folder / "selection.json").write_bytes(b'{"winner": "\xff\xfe"}')
                    return result

                job.execute = execute
                return job

        return Factory(executor)


def test_a_damaged_property_file_fails_the_registration_step_not_the_whole_run(compiled):
    """RegisterModel's arguments read SelectModel's selection.json: a file that is not UTF-8
    fails that step with a reason naming the file, as a job step's would; the run ends Failed
    (with a summary), not with a crash."""
    calls = []
    execution = _execute(compiled, _DamagedSelection(seconds=0.01), register=_register(calls))
    assert calls == [] and _statuses(execution)["RegisterModel-RegisterModel"] == "Failed"
    assert execution.describe()["PipelineExecutionStatus"] == "Failed"
    assert "cannot read property file " in execution.describe()["FailureReason"] and "selection.json" in execution.describe()["FailureReason"]


def test_a_gate_value_that_rounds_to_its_threshold_is_shown_in_full():
    from churn.runner.local_executor import _comparison

    class Metric:
        json_path = "binary_classification_metrics.accuracy.value"

    class Threshold:
        name = "AccuracyThreshold"

    condition = {"Type": "GreaterThanOrEqualTo", "LeftValue": 0.79996, "RightValue": 0.8}
    expression = {"LeftValue": Metric(), "RightValue": Threshold()}
    assert _comparison(expression, condition) == "accuracy 0.79996 >= AccuracyThreshold 0.8"
    assert _comparison(expression, {**condition, "LeftValue": 0.957957}) == "accuracy 0.958 >= AccuracyThreshold 0.8"
    assert _comparison(expression, {**condition, "Type": "In"}) is None
