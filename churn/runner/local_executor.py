"""The local backend's pipeline executor: the only module of churn that imports ``sagemaker.local``.

SageMaker local mode runs a pipeline with ``LocalPipelineExecutor``: one step at a time, in one
topological order, deciding a job's status from its ``docker compose`` process, reading
property files only from ``s3://``. :class:`ChurnPipelineExecutor` is a subclass of it that

- runs every step whose predecessors succeeded, up to ``max_parallel`` at a time, each on a
  thread of its own behind a ``concurrent.futures.Future`` (Kedro's ready-set loop); a condition
  step still blocks
  the branch it does not take; after a failure nothing new starts, running steps finish and the
  execution fails naming every failed step with its own reason; on Ctrl-C no new step starts,
  the running jobs' containers are removed, the running steps are waited for, and the
  KeyboardInterrupt goes on to the caller;
- builds its job step executors through its own factory (the SDK's per-instance seam
  ``_step_executor_factory``): processing and training steps run through
  :func:`churn.runner.local_jobs.run_job` (container exit codes, declared outputs, the
  step cache, the staged input's hash);
- reads ``file://`` property files (the SDK's ``JsonGet`` parses every output as ``s3://``);
- runs the step types local mode cannot run (RegisterModel) itself, through a handler given
  the step's arguments resolved as SageMaker would receive them (local registration);
- runs a TuningStep (local mode refuses the type) as SageMaker runs a hyperparameter tuning
  job: waves of training jobs, each through ``run_job`` (:mod:`churn.runner.local_tuning`), the
  step's properties those of ``DescribeHyperParameterTuningJob`` with its
  ``TrainingJobSummaries``, so that ``Steps.<Step>.TrainingJobSummaries[0]...`` resolves;
- emits lifecycle events (:mod:`churn.runner.events`) for every step.

No SDK class or method is replaced for this: the subclass is constructed per execution with its
settings as arguments. (One process-wide change remains, made by :func:`execute`: local mode's
telemetry-decorated job methods are unwrapped, see ``sdk_adapters.unwrap_telemetry``.)

SDK internals used, each checked on sagemaker 2.257 (2.257.1; those for Tuning steps on
2.257.7; ``SUPPORTED_SDK`` in :mod:`churn.backends.sdk_adapters` refuses other versions):

- ``sagemaker.local.entities._LocalPipelineExecution(execution_id, pipeline, PipelineParameters,
  local_session)``, its ``step_execution`` records, ``mark_step_executing``,
  ``update_step_properties``, ``update_step_failure`` (which raises ``StepExecutionException``),
  ``update_execution_success`` / ``update_execution_failure``, ``status``, ``failure_reason``
  (what ``Pipeline.start`` builds in local mode; built here so that the execution runs on this
  subclass: the SDK's ``_LocalPipeline.start`` constructs its own ``LocalPipelineExecutor``);
- ``_LocalPipelineExecution._initialize_step_execution(steps)`` (overridden in a subclass to
  accept the step types churn runs itself and Tuning; its refusal of other types is kept) and
  ``_LocalPipelineExecutionStep(name, step_type, description, display_name)`` for those steps;
  for a Tuning step a subclass adds an entry to its ``_step_type_to_output_format_map`` (what
  ``_construct_metadata`` reads for ``list_steps()``, keyed by ``StepTypeEnum``) and reads its
  ``properties``;
- ``LocalPipelineExecutor``: ``pipeline_dag`` (``adjacency_list``, ``step_map``),
  ``_blocked_steps``, ``_step_executor_factory``, ``_execute_step``,
  ``evaluate_step_arguments``, ``_evaluate_json_get_function``;
- ``_StepExecutorFactory.get``, ``_StepExecutor(pipeline_executor, step)``,
  ``_ProcessingStepExecutor`` / ``_TrainingStepExecutor`` (``execute``,
  ``_convert_list_to_dict``, ``pipline_executor`` [sic], ``step``);
- ``LocalPipelineExecutor.local_sagemaker_client``: ``create_training_job(TrainingJobName,
  **request)`` and ``describe_training_job(TrainingJobName)`` (what ``_TrainingStepExecutor``
  calls), for a tuning step's trials;
- ``sagemaker.local.utils.get_using_dot_notation``;
- the ``local.container_root`` setting of the session's ``config``, read by local mode when it
  creates a job's folder;
- ``LocalSagemakerClient``'s telemetry-decorated job methods (see
  :func:`churn.backends.sdk_adapters.unwrap_telemetry`).

For the ``engine`` container runner (:mod:`churn.runner.containers`; each checked on sagemaker
2.257.7, whose sources :data:`ENGINE_SDK_SOURCES` pins in its tests):

- ``sagemaker.local.image._SageMakerContainer``: :class:`_EngineContainer` subclasses it,
  repeats its ``__init__`` without the Compose probe (``_get_compose_cmd_prefix``, called on the
  class by name, which raises ImportError without Compose), records what
  ``_generate_compose_file`` returns and overrides ``_compose``, which ``process()`` and
  ``train()`` call once, after the whole ``/opt/ml`` layout, right before they ``Popen`` its
  result and stream it (``_stream_output``), and before their ``finally`` blocks upload the
  outputs and make the model and output archives;
- ``LocalSagemakerClient.create_processing_job`` / ``create_training_job`` (their argument
  plumbing repeated by :class:`_ChurnLocalClient` to build that container), its class registries
  ``_processing_jobs`` / ``_training_jobs`` (which the inherited ``describe_*`` read), and
  ``sagemaker.local.entities._LocalProcessingJob`` / ``_LocalTrainingJob`` as they are;
- ``LocalPipelineExecutor.local_sagemaker_client``, replaced on the executor per execution.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import logging
import random
import signal
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import cast

from churn.backends import sdk_adapters  # first: quiets the SDK before it is imported
from churn.runner.containers import EngineRunner, UnsupportedService
from churn.runner.local_jobs import LocalRun, StepFailure, bounded, run_job
from churn.runner.local_tuning import TuningFailed, run_tuning
from churn.runner.scheduling import failure_message, predecessors, ready_steps
from churn.files import file_uri, uri_path
from churn.history import new_execution_id
from churn.runner.events import Events, RunFinished, RunStarted, StepFinished, StepOutput, StepStarted
from churn.runner.step_output import StepOutputRouter, routed_stdout
from churn.tuning import TuningError
from sagemaker.local import pipeline as sdk_pipeline
from sagemaker.local.entities import _LocalPipelineExecution, _LocalPipelineExecutionStep, _LocalProcessingJob, _LocalTrainingJob
from sagemaker.local.exceptions import StepExecutionException
from sagemaker.local.image import _SageMakerContainer
from sagemaker.local.local_session import LocalSagemakerClient
from sagemaker.local.utils import check_for_studio, get_using_dot_notation

#: How long Ctrl-C waits for the running steps to end once their containers are removed.
STOP_TIMEOUT_SECONDS = 120.0
#: How often the scheduling thread wakes up while steps run (so Ctrl-C is handled promptly).
_POLL_SECONDS = 0.2

#: Local mode's telemetry-decorated job methods (see ``sdk_adapters.unwrap_telemetry``).
_TELEMETRY_WRAPPED = ("create_processing_job", "create_training_job", "create_transform_job", "create_model", "create_pipeline")


#: How churn runs a step type local mode cannot run (RegisterModel):
#: ``handler(step_name, arguments, execution_id)``, given the step's arguments resolved as
#: SageMaker would receive them; it does the work or raises :class:`StepFailure`.
OwnStepHandler = Callable[[str, dict, str], None]


#: The step type churn's executor runs as SageMaker runs it, though local mode refuses it.
TUNING = "Tuning"


class _TuningExecutionStep(_LocalPipelineExecutionStep):
    """A Tuning step's execution record: ``list_steps()`` gives its metadata as SageMaker's
    ListPipelineExecutionSteps does (``{"TuningJob": {"Arn": ...}}``); the SDK's record has no
    entry for the type and raises KeyError (checked on sagemaker 2.257)."""

    def __init__(self, *args, **kwargs):
        from sagemaker.workflow.steps import StepTypeEnum

        super().__init__(*args, **kwargs)
        self._step_type_to_output_format_map[StepTypeEnum.TUNING] = self._construct_tuning_metadata

    def _construct_tuning_metadata(self):
        return {"TuningJob": {"Arn": self.properties["HyperParameterTuningJobArn"]}}


class _ChurnExecution(_LocalPipelineExecution):
    """Local mode's execution record, accepting the step types churn runs itself and Tuning
    steps (local mode refuses a pipeline that has any step type it cannot run)."""

    def __init__(self, *args, own_step_types: Iterable[str] = (), **kwargs):
        self._own_step_types = frozenset(own_step_types)  # before: the parent's __init__ reads it
        super().__init__(*args, **kwargs)

    def _initialize_step_execution(self, steps):
        """The SDK's, after recording the steps it would refuse that churn runs (checked on
        sagemaker 2.257: it recurses into a condition's branches through this method)."""
        accepted = []
        for step in steps:
            kind = getattr(getattr(step, "step_type", None), "value", None)
            record = {TUNING: _TuningExecutionStep}.get(kind, _LocalPipelineExecutionStep if kind in self._own_step_types else None)
            if record is not None:
                self.step_execution[step.name] = record(step.name, step.step_type, step.description, step.display_name)
                accepted.append(step)
        super()._initialize_step_execution([s for s in steps if not any(s is a for a in accepted)])


# --- the engine container runner --------------------------------------------------------------

#: The SDK code the engine runner relies on, by qualified name, each read when the SDK changes
#: (the tests pin their sources' sha256 as of sagemaker 2.257.7).
ENGINE_SDK_SOURCES = (
    "sagemaker.local.image._SageMakerContainer.__init__",
    "sagemaker.local.image._SageMakerContainer.process",
    "sagemaker.local.image._SageMakerContainer.train",
    "sagemaker.local.image._SageMakerContainer._compose",
    "sagemaker.local.image._SageMakerContainer._generate_compose_file",
    "sagemaker.local.image._SageMakerContainer._create_docker_host",
    "sagemaker.local.image._stream_output",
    "sagemaker.local.local_session.LocalSagemakerClient.create_processing_job",
    "sagemaker.local.local_session.LocalSagemakerClient.create_training_job",
)


class _EngineContainer(_SageMakerContainer):
    """Local mode's job container, started through the Docker Engine API instead of Compose:
    ``process()`` and ``train()`` are the SDK's, so the ``/opt/ml`` layout, the config files, the
    uploads and the archives are local mode's own (checked on sagemaker 2.257.7)."""

    def __init__(
        self, instance_type, instance_count, image, sagemaker_session=None, container_entrypoint=None, container_arguments=None,
        *, runner, may_start,
    ):
        # image.py 73-137 (checked on sagemaker 2.257.7) without line 102, the Compose probe
        # ``_SageMakerContainer._get_compose_cmd_prefix()``: called on the class by name, it cannot
        # be overridden, and it raises ImportError on a machine without Compose.
        if check_for_studio():
            raise UnsupportedService("the engine runner does not run in SageMaker Studio; use --container-runner compose")
        self.compose_cmd_prefix: list[str] = []
        self.sagemaker_session = sagemaker_session
        self.instance_type = instance_type
        self.instance_count = instance_count
        self.image = image
        self.container_entrypoint = container_entrypoint
        self.container_arguments = container_arguments
        suffix = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(5))  # noqa: S311 - as the SDK's
        self.is_studio = False
        self.hosts = [f"algo-{i}-{suffix}" for i in range(1, self.instance_count + 1)]
        self.container_root = None
        self.container = None
        self._runner = runner
        self._may_start = may_start
        self._compose_data: dict | None = None

    def _generate_compose_file(self, command, additional_volumes=None, additional_env_vars=None):
        """The SDK's (it writes ``docker-compose.yaml`` too), kept for :meth:`_compose`:
        ``process()`` drops what it returns (checked on sagemaker 2.257.7)."""
        self._compose_data = super()._generate_compose_file(command, additional_volumes, additional_env_vars)
        return self._compose_data

    def _compose(self, detached=False):
        """Run the job's container; return what ``process()`` / ``train()`` then run in place of
        Compose: a shell exiting with the container's exit code, so that ``_stream_output`` and the
        SDK's ``finally`` blocks (outputs, archives, clean-up) go on as after Compose (checked on
        sagemaker 2.257.7: called once per job, after ``_generate_compose_file``, right before
        ``subprocess.Popen``)."""
        if detached or self._compose_data is None:
            raise UnsupportedService("the engine runner runs training and processing jobs only; use --container-runner compose")
        code = self._runner.run_service(self._compose_data["services"], job_root=Path(self.container_root), may_start=self._may_start)
        return ["/bin/sh", "-c", f"exit {code}", "churn-engine-runner"]


def engine_container(runner, may_start: Callable[[], bool]):
    """What :class:`_ChurnLocalClient` builds a job's container with, for the engine runner."""
    return functools.partial(_EngineContainer, runner=runner, may_start=may_start)


_sdk_client_logger = logging.getLogger("sagemaker.local.local_session")


class _ChurnLocalClient(LocalSagemakerClient):
    """Local mode's client, whose processing and training jobs run in the container ``container``
    builds (its arguments those of ``_SageMakerContainer``); ``describe_*`` are the SDK's and read
    the same job registries (checked on sagemaker 2.257.7)."""

    def __init__(self, sagemaker_session, *, container):
        super().__init__(sagemaker_session)
        self._container = container

    def create_processing_job(  # the SDK's signature, named as SageMaker's API names the fields
        self, ProcessingJobName, AppSpecification, ProcessingResources, Environment=None, ProcessingInputs=None,  # noqa: N803
        ProcessingOutputConfig=None, **kwargs,  # noqa: N803
    ):
        # local_session.py 88-149, checked on sagemaker 2.257.7 (without its telemetry decorator).
        for setting, what in (("ExperimentConfig", "Experiment configuration"), ("NetworkConfig", "Network configuration"),
                              ("StoppingCondition", "Stopping condition")):
            if setting in kwargs:
                _sdk_client_logger.warning("%s is not supported in local mode.", what)
        container = self._container(
            ProcessingResources["ClusterConfig"]["InstanceType"], ProcessingResources["ClusterConfig"]["InstanceCount"],
            AppSpecification["ImageUri"], sagemaker_session=self.sagemaker_session,
            container_entrypoint=AppSpecification.get("ContainerEntrypoint"), container_arguments=AppSpecification.get("ContainerArguments"),
        )
        processing_job = _LocalProcessingJob(container)
        processing_job.start(ProcessingInputs or [], ProcessingOutputConfig or {}, Environment or {}, ProcessingJobName)
        LocalSagemakerClient._processing_jobs[ProcessingJobName] = processing_job  # noqa: SLF001 - what describe_* reads

    def create_training_job(  # the SDK's signature, named as SageMaker's API names the fields
        self, TrainingJobName, AlgorithmSpecification, OutputDataConfig, ResourceConfig, InputDataConfig=None, Environment=None,  # noqa: N803
        **kwargs,
    ):
        # local_session.py 171-220, checked on sagemaker 2.257.7 (without its telemetry decorator).
        container = self._container(
            ResourceConfig["InstanceType"], ResourceConfig["InstanceCount"], AlgorithmSpecification["TrainingImage"],
            sagemaker_session=self.sagemaker_session,
        )
        if AlgorithmSpecification.get("ContainerEntrypoint", None):
            container.container_entrypoint = AlgorithmSpecification["ContainerEntrypoint"]
        if AlgorithmSpecification.get("ContainerArguments", None):
            container.container_arguments = AlgorithmSpecification["ContainerArguments"]
        training_job = _LocalTrainingJob(container)
        training_job.start(InputDataConfig or {}, OutputDataConfig, kwargs.get("HyperParameters", {}), Environment or {}, TrainingJobName)
        LocalSagemakerClient._training_jobs[TrainingJobName] = training_job  # noqa: SLF001 - what describe_* reads


# --- step executors --------------------------------------------------------------------------


def _fault(error: Exception) -> str:
    """A step's FailureReason for a fault around its work (a damaged file, a full disk, Docker)."""
    return bounded(f"{type(error).__name__}: {error}")


def _fail(step_executor) -> Callable[[str], None]:
    def fail(reason: str) -> None:
        step_executor.pipline_executor.execution.update_step_failure(step_executor.step.name, reason)

    return fail


class _GuardedJob:
    """A job step executor run through :func:`~churn.runner.local_jobs.run_job`."""

    kind: str

    def execute(self):
        executor: ChurnPipelineExecutor = self.pipline_executor
        step, execution = self.step.name, executor.execution
        try:
            args = executor.evaluate_step_arguments(self.step)
            return run_job(
                executor.run, step, self.kind, args,
                start=executor.captured(step, super().execute), fail=_fail(self),
                replay=lambda stored, name, outputs: self.replay(stored, args, name, outputs),
                execution_id=execution.pipeline_execution_name,
            )
        except StepExecutionException:
            raise
        except Exception as error:  # noqa: BLE001 - a fault around the job (disk, Docker) fails this step, not the run
            execution.update_step_failure(step, _fault(error))


class _GuardedProcessing(_GuardedJob, sdk_pipeline._ProcessingStepExecutor):  # noqa: SLF001
    kind = "processing"

    def replay(self, stored: dict, args: dict, job_name: str, outputs) -> dict:
        """The description of a processing job served from the cache, as the SDK shapes it."""
        response = {
            **stored,
            "ProcessingJobName": job_name,
            "ProcessingInputs": args.get("ProcessingInputs", []),
            "ProcessingOutputConfig": args["ProcessingOutputConfig"],
        }
        response["ProcessingOutputConfig"] = {
            **response["ProcessingOutputConfig"],
            "Outputs": self._convert_list_to_dict(response, "ProcessingOutputConfig.Outputs", "OutputName"),
        }
        response["ProcessingInputs"] = self._convert_list_to_dict(response, "ProcessingInputs", "InputName")
        return response


class _GuardedTraining(_GuardedJob, sdk_pipeline._TrainingStepExecutor):  # noqa: SLF001
    kind = "training"

    def replay(self, stored: dict, args: dict, job_name: str, outputs) -> dict:
        return {
            **stored,
            "TrainingJobName": job_name,
            "OutputDataConfig": args["OutputDataConfig"],
            "ModelArtifacts": {"S3ModelArtifacts": file_uri(outputs["model"] / "model.tar.gz")},
        }


class _GuardedTuning(sdk_pipeline._StepExecutor):  # noqa: SLF001
    """A Tuning step, run as SageMaker runs a hyperparameter tuning job
    (:func:`~churn.runner.local_tuning.run_tuning`): trials are training jobs started as
    ``_TrainingStepExecutor`` starts its job (checked on sagemaker 2.257)."""

    def execute(self):
        executor: ChurnPipelineExecutor = self.pipline_executor
        step, execution = self.step.name, executor.execution
        try:
            args = executor.evaluate_step_arguments(self.step)
            return run_tuning(executor.run, step, args, start_trial=self.start_trial, execution_id=execution.pipeline_execution_name)
        except StepExecutionException:
            raise
        except (TuningError, TuningFailed) as failure:
            execution.update_step_failure(step, bounded(str(failure)))
        except Exception as error:  # noqa: BLE001 - a fault around the trials (disk, Docker) fails this step, not the run
            execution.update_step_failure(step, _fault(error))

    def start_trial(self, job_name: str, request: dict) -> dict:
        """Run one trial's training job in local mode; its description (its container lines are
        the tuning step's)."""
        executor = cast(ChurnPipelineExecutor, self.pipline_executor)
        client = executor.local_sagemaker_client

        def start() -> dict:
            client.create_training_job(job_name, **request)
            return client.describe_training_job(job_name)

        return cast(dict, executor.captured(self.step.name, start)())


class GuardedStepExecutors(sdk_pipeline._StepExecutorFactory):  # noqa: SLF001
    """The executor's step executor factory: job and tuning steps guarded, every other kind the SDK's."""

    def get(self, step):
        from sagemaker.workflow.steps import StepTypeEnum

        guarded = {
            StepTypeEnum.PROCESSING: _GuardedProcessing, StepTypeEnum.TRAINING: _GuardedTraining, StepTypeEnum.TUNING: _GuardedTuning,
        }.get(step.step_type)
        if guarded is not None and self.pipeline_executor.run is not None:
            return guarded(self.pipeline_executor, step)
        return super().get(step)


# --- the executor ----------------------------------------------------------------------------


class ChurnPipelineExecutor(sdk_pipeline.LocalPipelineExecutor):
    """``LocalPipelineExecutor`` with concurrent steps, guarded jobs, ``file://`` property files,
    churn's own steps and lifecycle events. ``run`` None keeps the SDK's job executors (a
    compile check, the unit tests); with the ``engine`` container runner, jobs and tuning trials
    go through :class:`_ChurnLocalClient`; ``step_executors(executor)`` replaces the factory."""

    def __init__(
        self,
        execution,
        sagemaker_session,
        *,
        run: LocalRun | None,
        max_parallel: int,
        events: Events,
        stop_jobs: Callable[[], None] | None = None,
        own_steps: Mapping[str, OwnStepHandler] | None = None,
        step_executors: Callable[[ChurnPipelineExecutor], object] | None = None,
    ):
        super().__init__(execution, sagemaker_session)
        self.run = run
        if run is not None and run.container_runner == "engine":  # its jobs and tuning trials alike
            self.local_sagemaker_client = _ChurnLocalClient(
                sagemaker_session, container=engine_container(EngineRunner(), lambda: not run.stopping),
            )
        self.max_parallel = max_parallel
        self.events = events
        self.stop_jobs = stop_jobs
        self.own_steps = dict(own_steps or {})
        self._step_executor_factory = (step_executors or GuardedStepExecutors)(self)
        #: Set by :func:`execute` while the run executes: job output becomes StepOutput events.
        self.router: StepOutputRouter | None = None

    def captured(self, step: str, job: Callable[[], object]) -> Callable[[], object]:
        """``job``, with what it writes to ``sys.stdout`` (local mode's Compose stream) taken as
        container lines of ``step``."""
        def run():
            if self.router is None:
                return job()
            with self.router.capture(step):
                return job()

        return run

    def _own_handler(self, name: str) -> OwnStepHandler | None:
        return self.own_steps.get(self.pipeline_dag.step_map[name].step_type.value)

    # --- one step ----------------------------------------------------------------------------

    def _run_step(self, name: str) -> BaseException | None:
        """Run one step (graph or churn's own), emitting its events; return what it raised (a
        listener's error too: it ends the run like any crash, after the running steps)."""
        started = time.monotonic()
        raised: BaseException | None = None
        try:
            self.events.emit(StepStarted(name))
            handler = self._own_handler(name)
            if handler is not None:
                self._execute_own_step(self.pipeline_dag.step_map[name], handler)
            else:
                self._execute_step(self.pipeline_dag.step_map[name])
        except BaseException as error:  # noqa: BLE001 - handed to the scheduling thread
            raised = error
        record = self.execution.step_execution.get(name)
        if record is not None and record.status in ("Succeeded", "Failed"):
            cached = bool(self.run and self.run.cache and name in self.run.cache.hits)
            reason = bounded(record.failure_reason) if record.failure_reason else None
            detail = self._condition_detail(name) if record.status == "Succeeded" else None
            try:
                self.events.emit(StepFinished(name, record.status, time.monotonic() - started, cached, reason, detail))
            except BaseException as error:  # noqa: BLE001 - a listener's error ends the run, even after a step failure
                raised = error if raised is None or isinstance(raised, StepExecutionException) else raised
        return raised

    def _condition_detail(self, name: str) -> str | None:
        """A condition step's comparisons with the values it compared and its outcome, e.g.
        ``accuracy 0.9580 >= AccuracyThreshold 0.8: true``; None for any other step, or a
        condition it cannot put so (never an error: it only describes what already ran).
        Uses ``ConditionStep.step_only_arguments`` and ``LocalPipelineExecutor._parse_arguments``,
        as the SDK's own condition executor does (sagemaker 2.257.1)."""
        step = self.pipeline_dag.step_map[name]
        if getattr(step.step_type, "value", None) != "Condition":
            return None
        try:
            expressions = step.step_only_arguments["Conditions"]
            resolved = self._parse_arguments(step.step_only_arguments, name)["Conditions"]
            parts = [_comparison(expression, condition) for expression, condition in zip(expressions, resolved)]
            outcome = (self.execution.step_execution[name].properties or {}).get("Outcome")
        except Exception:  # noqa: BLE001 - a description only
            return None
        if not parts or None in parts:
            return None
        return "; ".join(p for p in parts if p) + ("" if outcome is None else f": {str(outcome).lower()}")

    def _execute_own_step(self, step, handler: OwnStepHandler) -> None:
        self.execution.mark_step_executing(step.name)
        try:
            arguments = self.evaluate_step_arguments(step)  # an unreadable property file fails the step here
            handler(step.name, arguments, self.execution.pipeline_execution_name)
        except StepExecutionException:
            raise  # the step is already recorded as failed
        except StepFailure as failure:
            self.execution.update_step_failure(step.name, failure.reason)
        except Exception as error:  # noqa: BLE001 - a damaged file, a full disk: this step fails, as a job step would
            self.execution.update_step_failure(step.name, _fault(error))
        # No properties: the SDK's list_steps has no metadata shape for a RegisterModel step.
        self.execution.update_step_properties(step.name, {})

    # --- the graph ---------------------------------------------------------------------------

    def execute(self):
        """Run the execution, independent steps side by side; return it."""
        self.events.emit(RunStarted(self.execution.pipeline_execution_name))
        waits = predecessors(self.pipeline_dag.adjacency_list)
        order = [name for name in self.pipeline_dag.step_map if name in waits]
        own = {name for name in order if self._own_handler(name) is not None}
        succeeded: set[str] = set()
        started: set[str] = set()
        failures: list[StepExecutionException] = []
        crashes: list[BaseException] = []

        def settle(name: str, error: BaseException | None) -> None:
            if error is None:
                succeeded.add(name)
            elif isinstance(error, StepExecutionException):
                failures.append(error)
            else:
                crashes.append(error)

        running: dict[concurrent.futures.Future, str] = {}
        threads: list[threading.Thread] = []
        try:
            while True:
                if not failures and not crashes:
                    ready = ready_steps(order, waits, succeeded, started, self._blocked_steps)
                    for name in [n for n in ready if n not in own][: self.max_parallel - len(running)]:
                        started.add(name)
                        with _interrupts_deferred():  # a step is started and known, or neither
                            future, thread = self._start(name)
                            running[future] = name
                            threads.append(thread)
                    own_ready = [n for n in ready if n in own]
                    if own_ready and not running:  # churn's own steps run on this thread, alone
                        started.add(own_ready[0])
                        settle(own_ready[0], self._run_step(own_ready[0]))
                        continue
                if not running:
                    break
                finished, _ = concurrent.futures.wait(running, timeout=_POLL_SECONDS, return_when=concurrent.futures.FIRST_COMPLETED)
                for future in finished:
                    settle(running.pop(future), future.result())
        except KeyboardInterrupt:
            self._stop(threads)
            raise
        if crashes:
            raise crashes[0]
        if failures:
            message = failure_message([(f.step_name, f.message) for f in failures])
            self.execution.update_execution_failure(failures[0].step_name, message)
        else:
            self.execution.update_execution_success()
        self.events.emit(RunFinished(self.execution.pipeline_execution_name, self.execution.status, self.execution.failure_reason))
        return self.execution

    def _start(self, name: str) -> tuple[concurrent.futures.Future, threading.Thread]:
        """Run step ``name`` on a thread of its own; its future holds what :meth:`_run_step`
        returns. Daemon threads: a step still hung after Ctrl-C's wait does not keep the process
        from exiting (each step's container runs in Docker, so threads only wait)."""
        future: concurrent.futures.Future = concurrent.futures.Future()

        def work() -> None:
            future.set_running_or_notify_cancel()
            future.set_result(self._run_step(name))

        thread = threading.Thread(target=work, name=f"step-{name}", daemon=True)
        thread.start()
        return future, thread

    def _stop(self, threads: list[threading.Thread]) -> None:
        """Ctrl-C: (nothing new starts) remove the running jobs' containers, then wait at most
        ``STOP_TIMEOUT_SECONDS`` for every step thread to end, so nothing writes into the run
        folder afterwards. Further Ctrl-Cs during the wait are ignored."""
        with _interrupts_ignored():
            if self.stop_jobs is not None:
                self.stop_jobs()
            deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))

    # --- property files ----------------------------------------------------------------------

    def _evaluate_json_get_function(self, pipeline_variable, step_name):
        """``JsonGet`` on a PropertyFile whose processing output is a ``file://`` folder (the
        SDK parses every output URI as ``s3://`` and fails with a misleading "Invalid json
        path"); any other ``JsonGet`` is the SDK's."""
        if pipeline_variable.property_file:
            value = self._read_local_property_file(pipeline_variable, step_name)
            if value is not None:
                return value
        return super()._evaluate_json_get_function(pipeline_variable, step_name)

    def _read_local_property_file(self, pipeline_variable, step_name):
        from sagemaker.workflow.properties import PropertyFile

        reference = pipeline_variable.property_file
        if isinstance(reference, PropertyFile):
            property_file = reference
        else:
            step = self.pipeline_dag.step_map[pipeline_variable.step_name]
            property_file = next(f for f in step.property_files if f.name == reference)
        outputs = self.execution.step_execution.get(pipeline_variable.step_name).properties
        output_uri = outputs["ProcessingOutputConfig"]["Outputs"][property_file.output_name]["S3Output"]["S3Uri"]
        if not output_uri.startswith("file://"):
            return None
        path = uri_path(output_uri) / property_file.path
        try:
            document = json.loads(path.read_text())
        except (OSError, ValueError) as error:  # ValueError: not JSON, or not UTF-8 text
            self.execution.update_step_failure(step_name, f"cannot read property file {path}: {error}")
        try:
            return get_using_dot_notation(document, pipeline_variable.json_path)
        except ValueError:
            self.execution.update_step_failure(step_name, f"json path '{pipeline_variable.json_path}' not found in {path}")


_OPERATORS = {
    "Equals": "==", "GreaterThan": ">", "GreaterThanOrEqualTo": ">=", "LessThan": "<", "LessThanOrEqualTo": "<=",
}


def _operand(expression, value) -> str:
    """An operand as a person reads it: the metric a JsonGet reads, or the parameter, and its value."""
    path = getattr(expression, "json_path", None)
    name = None
    if isinstance(path, str):
        segments = path.split(".")
        name = segments[-2] if segments[-1] == "value" and len(segments) > 1 else segments[-1]
    elif isinstance(getattr(expression, "name", None), str):
        name = expression.name
    return f"{name} {value}" if name else str(value)


def _shown(left, right) -> tuple[str, str]:
    """Both values of a comparison, rounded unless rounding makes them look equal (0.79996 is
    not shown as 0.8 next to a threshold of 0.8 and a false outcome)."""
    def rounded(value) -> str:
        return f"{value:.4g}" if isinstance(value, float) else str(value)

    short = rounded(left), rounded(right)
    return short if short[0] != short[1] or left == right else (repr(left), repr(right))


def _comparison(expression: dict, condition: dict) -> str | None:
    """One condition of a ConditionStep in words, or None for a kind it does not put so."""
    operator = _OPERATORS.get(str(condition.get("Type")))
    if operator is None:
        return None
    left, right = _shown(condition["LeftValue"], condition["RightValue"])
    return f"{_operand(expression['LeftValue'], left)} {operator} {_operand(expression['RightValue'], right)}"


@contextmanager
def _interrupts_deferred():
    """On the main thread, hold a Ctrl-C (SIGINT) that arrives inside the block until it ends,
    then raise it: what the block starts is never half started. Elsewhere Ctrl-C cannot arrive."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt


@contextmanager
def _interrupts_ignored():
    """On the main thread, ignore Ctrl-C inside the block (the clean-up after the first one)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def execute(
    pipeline,
    session,
    parameters: dict,
    *,
    run: LocalRun | None,
    max_parallel: int,
    events: Events,
    own_steps: Mapping[str, OwnStepHandler] | None = None,
    step_executors=None,
):
    """Run ``pipeline`` once in local mode with ``parameters``; return the finished execution
    (``describe()``, ``list_steps()``, ``pipeline_parameters``). With ``run`` (a
    :class:`~churn.runner.local_jobs.LocalRun`) job steps are guarded and each runs from a
    folder of its own (the session's ``local.container_root``, per thread, for this call only)."""
    sdk_adapters.unwrap_telemetry(LocalSagemakerClient, _TELEMETRY_WRAPPED)  # idempotent
    execution = _ChurnExecution(
        execution_id=new_execution_id(), pipeline=pipeline, PipelineParameters=parameters, local_session=session,
        own_step_types=own_steps or {},
    )
    previous = session.config
    if run is not None:
        session.config = {"local": run.container_roots}
    try:
        executor = ChurnPipelineExecutor(
            execution, session, run=run, max_parallel=max_parallel, events=events,
            stop_jobs=run.stop_jobs if run is not None else None, own_steps=own_steps, step_executors=step_executors,
        )
        with routed_stdout(lambda step, text: events.emit(StepOutput(step, text))) as executor.router:
            return executor.execute()
    finally:
        session.config = previous


def hosting_session(boto_session):
    """A ``LocalSession`` for hosting a model (``Model.deploy(instance_type="local")``): local
    mode's public session, made here as every use of ``sagemaker.local`` is (checked on 2.257)."""
    from sagemaker.local import LocalSession

    return LocalSession(boto_session=boto_session)
