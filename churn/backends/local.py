"""The local backend: ``LocalPipelineSession``, every step in a container under Docker.

No AWS account: a region and dummy credentials are set on the session's own boto3 session
(never in the user's environment), and every artifact is a local file under the runs folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from churn.backends.base import Backend
from churn.backends.images import aws_images, project_images
from churn.backends.runs import SAMPLE_DATA
from churn.files import file_uri, uri_path

#: Local mode needs *a* region; nothing is sent to it.
LOCAL_REGION = "us-east-1"
#: Local mode never checks the role, but the SDK requires one.
LOCAL_ROLE_ARN = "arn:aws:iam::000000000000:role/churn-local"
DEFAULT_RUNS_DIR = Path(os.environ.get("CHURN_RUNS_DIR", "runs"))


@dataclass
class LocalBackend(Backend):
    name = "local"
    runs_dir: Path = DEFAULT_RUNS_DIR

    def session(self):
        if not hasattr(self, "_session"):
            import boto3

            from churn.backends import sdk_adapters  # first: quiets the SDK before it is imported
            from sagemaker.workflow.pipeline_context import LocalPipelineSession

            sdk_adapters.check_sdk_version()
            sdk_adapters.disable_telemetry()
            boto_session = boto3.Session(
                region_name=LOCAL_REGION,
                # Dummy keys stop botocore from probing the instance-metadata endpoint.
                aws_access_key_id="churn-local",
                aws_secret_access_key="churn-local",
            )
            self._session = LocalPipelineSession(boto_session=boto_session, default_bucket="churn-local")
            install_local_adaptations()
        return self._session


def local_backend(runs_dir: Path | str | None = None, aws_images_: bool = False, compile_only: bool = False) -> LocalBackend:
    """The local backend writing under ``runs_dir`` (default ``$CHURN_RUNS_DIR`` or ``./runs``).

    ``aws_images_`` selects the official AWS images instead of the project's own.
    ``compile_only`` changes nothing here: local credentials are always inert.
    """
    runs = Path(runs_dir or DEFAULT_RUNS_DIR).resolve()
    return LocalBackend(
        role_arn=LOCAL_ROLE_ARN,
        images=aws_images(LOCAL_REGION) if aws_images_ else project_images(),
        processing_instance_type="local",
        training_instance_type="local",
        artifact_root=file_uri(runs),
        code_root=file_uri(runs / ".code"),
        input_data=file_uri(SAMPLE_DATA.resolve()),
        runs_dir=runs,
    )


# --- Adaptations of SageMaker local mode (sagemaker 2.257.x; see sdk_adapters.SUPPORTED_SDK) ---


def _read_local_property_file(executor, pipeline_variable, step_name):
    """JsonGet on a PropertyFile whose processing output is a ``file://`` folder.

    The SDK's local executor parses the output URI as ``s3://`` and, for ``file://``, fails with
    a misleading "Invalid json path". Returns ``None`` when the output is not a local folder.
    """
    import json

    from sagemaker.local.utils import get_using_dot_notation
    from sagemaker.workflow.properties import PropertyFile

    reference = pipeline_variable.property_file
    if isinstance(reference, PropertyFile):
        property_file = reference
    else:
        step = executor.pipeline_dag.step_map[pipeline_variable.step_name]
        property_file = next(f for f in step.property_files if f.name == reference)
    outputs = executor.execution.step_execution.get(pipeline_variable.step_name).properties
    output_uri = outputs["ProcessingOutputConfig"]["Outputs"][property_file.output_name]["S3Output"]["S3Uri"]
    if not output_uri.startswith("file://"):
        return None
    path = uri_path(output_uri) / property_file.path
    try:
        document = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        executor.execution.update_step_failure(step_name, f"cannot read property file {path}: {error}")
    try:
        return get_using_dot_notation(document, pipeline_variable.json_path)
    except ValueError:
        executor.execution.update_step_failure(
            step_name, f"json path '{pipeline_variable.json_path}' not found in {path}"
        )


def install_local_adaptations() -> None:
    """Teach the local executor to read ``file://`` property files; and, for a session that
    carries a churn run (``churn_run``, a :class:`~churn.backends.local_jobs.LocalRun`), to
    guard every job step (container exit codes, declared outputs, the step cache) and to run
    independent steps at the same time. Idempotent."""
    from sagemaker.local import pipeline as local_pipeline
    from sagemaker.local.pipeline import LocalPipelineExecutor

    from churn.backends.local_jobs import guarded
    from churn.backends.local_scheduler import execute_concurrently

    original = LocalPipelineExecutor._evaluate_json_get_function  # noqa: SLF001 - pinned SDK internals
    if getattr(original, "churn_adapted", False):
        return
    local_pipeline._ProcessingStepExecutor.execute = guarded(local_pipeline._ProcessingStepExecutor.execute, "processing")  # noqa: SLF001
    local_pipeline._TrainingStepExecutor.execute = guarded(local_pipeline._TrainingStepExecutor.execute, "training")  # noqa: SLF001

    def evaluate_json_get(self, pipeline_variable, step_name):
        if pipeline_variable.property_file:
            value = _read_local_property_file(self, pipeline_variable, step_name)
            if value is not None:
                return value
        return original(self, pipeline_variable, step_name)

    sdk_execute = LocalPipelineExecutor.execute

    def execute(self):
        run = getattr(self.sagemaker_session, "churn_run", None)
        # A session churn did not set up (a plain LocalPipelineSession) keeps the SDK's loop.
        if run is None:
            return sdk_execute(self)
        run.started(self.execution.pipeline_execution_name)
        return execute_concurrently(self, run.max_parallel, stop_jobs=run.stop_jobs)

    evaluate_json_get.churn_adapted = True
    LocalPipelineExecutor._evaluate_json_get_function = evaluate_json_get  # noqa: SLF001
    LocalPipelineExecutor.execute = execute
