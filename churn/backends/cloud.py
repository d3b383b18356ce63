"""The cloud backend: ``PipelineSession`` on SageMaker, official AWS images, S3 artifacts.

Settings come from arguments or these environment variables:

=========================  ======================================  =================
variable                   meaning                                 default
=========================  ======================================  =================
``CHURN_AWS_REGION``       AWS region (else ``AWS_REGION``,        none
                           ``AWS_DEFAULT_REGION``)
``CHURN_ROLE_ARN``         SageMaker execution role ARN            none
``CHURN_S3_BUCKET``        bucket for code, data and artifacts     none
``CHURN_S3_PREFIX``        key prefix inside the bucket            ``churn``
``CHURN_MODEL_PACKAGE_GROUP``  model package group to register in  ``churn``
``CHURN_CACHE_EXPIRY``     how long step results are reused        ``P30D``
                           (ISO 8601 duration)
=========================  ======================================  =================

Compiling never calls AWS: the bucket is given explicitly (no STS lookup of a default bucket)
and code is referenced by content hash, to be uploaded by the explicit staging step of a run.
Missing settings are replaced by placeholders when only printing a definition.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from churn.backends.base import DEFAULT_MODEL_PACKAGE_GROUP, Backend
from churn import sizing
from churn.backends.images import aws_images
from churn.files import file_sha256
from churn.layout import SAMPLE_DATA

PLACEHOLDER_REGION = "us-east-1"
PLACEHOLDER_ROLE_ARN = "arn:aws:iam::111111111111:role/CHURN_ROLE_ARN-is-not-set"
PLACEHOLDER_BUCKET = "churn-bucket-not-set"
DEFAULT_PREFIX = "churn"
DEFAULT_PROCESSING_INSTANCE = "ml.m5.large"
#: The training steps take the type the input's training rows call for (churn.sizing).
DEFAULT_TRAINING_INSTANCE = sizing.AUTO
DEFAULT_CACHE_EXPIRY = "P30D"
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_DURATION = re.compile(r"P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?")


class CloudSettingsError(ValueError):
    """A cloud setting is missing; the message names its flag and environment variable."""


@dataclass
class CloudBackend(Backend):
    name = "cloud"
    region: str = PLACEHOLDER_REGION
    bucket: str = PLACEHOLDER_BUCKET
    prefix: str = DEFAULT_PREFIX
    #: Only compiling (``churn definition``): the session gets inert credentials, so not even
    #: the credential chain's instance-metadata probe happens.
    compile_only: bool = False
    cache_expiry: str = DEFAULT_CACHE_EXPIRY
    scales_out: bool = True

    @property
    def root(self) -> str:
        """``s3://<bucket>[/<prefix>]``: code, inputs and runs live below it."""
        return f"s3://{self.bucket}" + (f"/{self.prefix}" if self.prefix else "")

    def input_uri(self, sha256: str) -> str:
        """Where an input of this content is staged (a folder)."""
        return f"{self.root}/input/{sha256[:16]}/"

    def session(self):
        if not hasattr(self, "_session"):
            import boto3

            from churn.backends import sdk_adapters  # first: quiets the SDK before it is imported
            from sagemaker.workflow.pipeline_context import PipelineSession

            sdk_adapters.check_sdk_version()
            sdk_adapters.disable_telemetry()
            inert = {"aws_access_key_id": "compile-only", "aws_secret_access_key": "compile-only"}
            boto_session = boto3.Session(region_name=self.region, **(inert if self.compile_only else {}))
            self._session = PipelineSession(
                boto_session=boto_session, default_bucket=self.bucket, default_bucket_prefix=self.prefix or None
            )
        return self._session

    def require_settings(self) -> None:
        """Raise :class:`CloudSettingsError` naming every setting a real run lacks or has wrong."""
        if self.placeholders:
            raise CloudSettingsError("the cloud backend needs these settings: " + "; ".join(self.placeholders))
        if not _ROLE_ARN.fullmatch(self.role_arn):
            raise CloudSettingsError(
                f"role ARN {self.role_arn!r} is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)"
            )
        if not _BUCKET.fullmatch(self.bucket):
            raise CloudSettingsError(f"bucket {self.bucket!r} is not a valid S3 bucket name")

    def cache_config(self):
        from sagemaker.workflow.steps import CacheConfig

        return CacheConfig(enable_caching=True, expire_after=self.cache_expiry)

    def retry_policies(self) -> list:
        """Retry throttling and service faults (the step), and capacity and resource-limit
        errors (the job), with exponential back-off."""
        from sagemaker.workflow.retry import (
            SageMakerJobExceptionTypeEnum,
            SageMakerJobStepRetryPolicy,
            StepExceptionTypeEnum,
            StepRetryPolicy,
        )

        return [
            StepRetryPolicy(
                exception_types=[StepExceptionTypeEnum.THROTTLING, StepExceptionTypeEnum.SERVICE_FAULT],
                interval_seconds=10, backoff_rate=2.0, max_attempts=5,
            ),
            SageMakerJobStepRetryPolicy(
                exception_types=[SageMakerJobExceptionTypeEnum.CAPACITY_ERROR, SageMakerJobExceptionTypeEnum.RESOURCE_LIMIT],
                interval_seconds=60, backoff_rate=2.0, max_attempts=5,
            ),
        ]


def cloud_backend(
    region: str | None = None,
    role_arn: str | None = None,
    bucket: str | None = None,
    prefix: str | None = None,
    model_package_group: str | None = None,
    compile_only: bool = False,
    cache_expiry: str | None = None,
) -> CloudBackend:
    env = os.environ
    given = {
        "region (--region or CHURN_AWS_REGION)": region
        or env.get("CHURN_AWS_REGION")
        or env.get("AWS_REGION")
        or env.get("AWS_DEFAULT_REGION"),
        "role ARN (--role-arn or CHURN_ROLE_ARN)": role_arn or env.get("CHURN_ROLE_ARN"),
        "bucket (--bucket or CHURN_S3_BUCKET)": bucket or env.get("CHURN_S3_BUCKET"),
    }
    placeholders = [name for name, value in given.items() if not value]
    region_, role_, bucket_ = given.values()
    region_ = region_ or PLACEHOLDER_REGION
    bucket_ = bucket_ or PLACEHOLDER_BUCKET
    prefix_ = (prefix if prefix is not None else env.get("CHURN_S3_PREFIX", DEFAULT_PREFIX)).strip("/")
    backend = CloudBackend(
        role_arn=role_ or PLACEHOLDER_ROLE_ARN,
        images=aws_images(region_),
        processing_instance_type=DEFAULT_PROCESSING_INSTANCE,
        training_instance_type=DEFAULT_TRAINING_INSTANCE,
        artifact_root="",
        code_root="",
        input_data="",
        placeholders=placeholders,
        region=region_,
        bucket=bucket_,
        prefix=prefix_,
        model_package_group=model_package_group or env.get("CHURN_MODEL_PACKAGE_GROUP") or DEFAULT_MODEL_PACKAGE_GROUP,
        compile_only=compile_only,
        cache_expiry=_cache_expiry(cache_expiry or env.get("CHURN_CACHE_EXPIRY") or DEFAULT_CACHE_EXPIRY),
    )
    # No empty path segment: "s3://bucket//runs" is another key, and the training toolkit strips
    # a leading slash, so script mode would not find the code archive.
    backend.artifact_root, backend.code_root = f"{backend.root}/runs", f"{backend.root}/code"
    # Where `churn run --backend cloud` stages the sample (content-addressed, as any input).
    backend.input_data = backend.input_uri(file_sha256(SAMPLE_DATA))
    return backend


def _cache_expiry(value: str) -> str:
    if not _DURATION.fullmatch(value):
        raise CloudSettingsError(f"cache expiry must be an ISO 8601 duration such as P30D or PT12H, got {value!r}")
    return value
