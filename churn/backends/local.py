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
from churn.files import file_uri
from churn.layout import CODE_DIR, SAMPLE_DATA

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
                aws_secret_access_key="churn-local",  # noqa: S106 - a dummy key, as the comment says
            )
            self._session = LocalPipelineSession(boto_session=boto_session, default_bucket="churn-local")
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
        code_root=file_uri(runs / CODE_DIR),
        input_data=file_uri(SAMPLE_DATA.resolve()),
        runs_dir=runs,
    )
