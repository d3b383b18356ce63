"""Running the pipeline on SageMaker: staging, upsert, start, following the execution, and
bringing its results home into ``runs/<execution-id>/`` in the local backend's layout.

Staging is an explicit step before upsert (compiling stays pure): the step code bundle goes to
``s3://<bucket>/<prefix>/code/<hash>/`` and a local input to ``.../input/<sha256>/``, each only
when that content is not there yet.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

from churn import __version__
from churn import parameters as parameter_specs
from churn import sizing
from churn.definition import sizes_training
from churn.backends.cloud import CloudBackend, CloudSettingsError
from churn.backends.code_bundle import bundle_files, bundle_hash
from churn.runner.runs import (
    input_files,
    input_sha256,
    RunError,
    RunInterrupted,
    RunResult,
    finish_run,
    input_uri,
    local_path,
)
from churn.files import text_sha256
from churn.layout import SAMPLE_DATA, TRIALS_FILE, TUNE_STEP
from churn.atomic import write_lines_atomically
from churn.runner.events import Events, Note, RunFinished, RunStarted, StepFinished, StepStarted
from churn.summary import ARTIFACT_STEP, ARTIFACTS, RegisteredModel

TERMINAL = ("Succeeded", "Failed", "Stopped")
COMPLETE_MARKER = ".complete"


def _client_error():
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)


def _explain(error) -> str:
    response = getattr(error, "response", None) or {}
    code = response.get("Error", {}).get("Code")
    message = response.get("Error", {}).get("Message") or str(error)
    if "<html" in message.lower():
        message = "the endpoint answered with an HTML error page instead of an AWS error (does it implement this operation?)"
    return f"{code}: {message}" if code else message


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _exists(s3, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except _client_error() as error:
        if getattr(error, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise


def check_bucket(s3, bucket: str, region: str | None = None) -> None:
    """The bucket exists, this account can use it, and it is in the jobs' region (SageMaker jobs
    read and write S3 in their own region: another region's bucket fails every step)."""
    try:
        s3.head_bucket(Bucket=bucket)
    except _client_error() as error:
        raise RunError(
            f"S3 bucket {bucket!r} does not exist or this account cannot use it ({_explain(error)}); "
            "create it or set CHURN_S3_BUCKET / --bucket"
        ) from None
    if region is None:
        return
    try:
        location = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint")
    except _client_error():
        return  # no s3:GetBucketLocation: SageMaker will say so if the regions differ
    bucket_region = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)
    if bucket_region != region:
        raise RunError(
            f"S3 bucket {bucket!r} is in {bucket_region} but the pipeline runs in {region}: "
            f"use a bucket in {region} or --region {bucket_region}"
        )


def ensure_model_package_group(sm, group: str) -> bool:
    """Create the model package group RegisterModel registers into, unless it exists; return
    whether it was created. (RegisterModel does not create it: the step would fail at the end.)"""
    try:
        sm.describe_model_package_group(ModelPackageGroupName=group)
        return False
    except _client_error() as error:
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        if code not in ("ValidationException", "ResourceNotFound", "ResourceNotFoundException"):
            raise
    sm.create_model_package_group(
        ModelPackageGroupName=group, ModelPackageGroupDescription="churn models (created by churn run --backend cloud)"
    )
    return True


def code_is_staged(s3, backend: CloudBackend, code_hash: str) -> bool:
    bucket, prefix = _split(f"{backend.code_root}/{code_hash}")
    return _exists(s3, bucket, f"{prefix}/{COMPLETE_MARKER}")


def stage_code(s3, backend: CloudBackend) -> list[str]:
    """Upload the step code bundle unless this content is already staged; return new keys."""
    if code_is_staged(s3, backend, bundle_hash(backend.dataset)):
        return []
    bucket, prefix = _split(f"{backend.code_root}/{bundle_hash(backend.dataset)}")
    keys = []
    for name, content in bundle_files(backend.dataset):
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{name}", Body=content)
        keys.append(f"{prefix}/{name}")
    # Written last: a bundle without it is incomplete and is uploaded again.
    s3.put_object(Bucket=bucket, Key=f"{prefix}/{COMPLETE_MARKER}", Body=b"")
    return keys


def stage_input(s3, backend: CloudBackend, uri: str) -> tuple[str, list[str], str | None]:
    """The S3 URI a run reads for ``uri``; local files and folders are uploaded (once per
    content) under ``<prefix>/input/<sha256>/``. Returns the URI, the keys uploaded and the
    sha256 of what was staged (None for an s3:// input, which churn does not read)."""
    if uri.startswith("s3://"):
        bucket, key = _split(uri)
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
        if not listing.get("KeyCount"):
            raise RunError(f"input not found: {uri}")
        return uri, [], None
    if not uri.startswith("file://"):
        raise RunError(f"the cloud backend reads input from s3:// or a local path, not {uri}")
    path = local_path(uri)
    files = input_files(path)
    sha256 = input_sha256(path, files)
    bucket, prefix = _split(backend.input_uri(sha256).rstrip("/"))
    uploaded = []
    if not _exists(s3, bucket, f"{prefix}/{COMPLETE_MARKER}"):
        for file in files:
            name = file.name if file == path else file.relative_to(path).as_posix()
            s3.upload_file(str(file), bucket, f"{prefix}/{name}")
            uploaded.append(f"{prefix}/{name}")
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{COMPLETE_MARKER}", Body=b"")
    # The folder, so that SageMaker's S3Prefix download brings exactly the staged files.
    return f"s3://{bucket}/{prefix}/", uploaded, sha256




def list_steps(sm, arn: str) -> list[dict]:
    steps, token = [], None
    while True:
        kwargs = {"PipelineExecutionArn": arn, **({"NextToken": token} if token else {})}
        try:
            page = sm.list_pipeline_execution_steps(**kwargs)
        except _client_error() as error:
            raise RunError(f"cannot list the steps of execution {arn}: {_explain(error)}") from None
        steps += page.get("PipelineExecutionSteps", [])
        token = page.get("NextToken")
        if not token:
            return steps


def wait_for_execution(sm, arn: str, events: Events, poll_seconds: float, timeout_seconds: float | None):
    """Poll until the execution ends, emitting each step's start and end as SageMaker reports them."""
    seen: dict[str, str] = {}
    deadline = time.monotonic() + timeout_seconds if timeout_seconds else None
    while True:
        try:
            describe = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        except _client_error() as error:
            raise RunError(f"cannot describe execution {arn}: {_explain(error)}") from None
        steps = list_steps(sm, arn)
        for step in reversed(steps):  # SageMaker lists the newest step first
            for event in step_events(step, seen.get(step["StepName"])):
                events.emit(event)
            seen[step["StepName"]] = step.get("StepStatus", "?")
        status = describe.get("PipelineExecutionStatus")
        if status in TERMINAL:
            if status == "Succeeded" and not steps:
                raise RunError(
                    f"execution {arn} reports Succeeded but lists no steps: the endpoint did not run the pipeline"
                )
            return describe, steps
        if deadline and time.monotonic() > deadline:
            raise RunError(
                f"execution {arn} is still {status} after {timeout_seconds:.0f} s; it goes on running on SageMaker "
                "(follow it in SageMaker Studio or stop it with aws sagemaker stop-pipeline-execution)"
            )
        time.sleep(poll_seconds)


#: SageMaker's step statuses that end a step.
STEP_ENDS = ("Succeeded", "Failed", "Stopped")


def step_events(step: dict, before: str | None) -> list:
    """The events a step's status change means: started (once, whatever status SageMaker first
    shows), then finished with its status, seconds, cache hit and reason."""
    status = step.get("StepStatus", "?")
    if status == before:
        return []
    events: list = [] if before is not None else [StepStarted(step["StepName"])]
    if status in STEP_ENDS:
        seconds = _seconds(step.get("StartTime"), step.get("EndTime"))
        events.append(StepFinished(step["StepName"], status, seconds, bool(step.get("CacheHitResult")), step.get("FailureReason")))
    return events


def _seconds(start, end) -> float | None:
    """Seconds between two of SageMaker's times (datetimes from boto3; numbers also accepted)."""
    if start is None or end is None:
        return None
    elapsed = end - start
    return elapsed.total_seconds() if isinstance(elapsed, timedelta) else float(elapsed)


def _download(s3, bucket: str, key: str, target: Path) -> bool:
    if not _exists(s3, bucket, key):
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    s3.download_file(bucket, key, str(partial))
    partial.replace(target)
    return True


def output_execution(steps: list[dict], step_name: str, execution_id: str) -> str:
    """The execution whose prefix holds ``step_name``'s outputs: a step SageMaker served from its
    cache kept its outputs under the execution that ran it (its cache key leaves out output
    locations), named by ``CacheHitResult.SourcePipelineExecutionArn``."""
    step = next((s for s in steps if s.get("StepName") == step_name), {})
    source = (step.get("CacheHitResult") or {}).get("SourcePipelineExecutionArn")
    return source.rsplit("/", 1)[-1] if source else execution_id


def download_results(s3, backend: CloudBackend, execution_id: str, run_dir: Path, steps: list[dict] | None = None) -> list[str]:
    """Bring the splits, manifest and the winner's selection, evaluation.json and model.tar.gz
    into ``run_dir`` (from wherever each step's outputs are: see :func:`output_execution`);
    return the names of the artifacts that do not exist on S3."""
    missing = []
    for name, relative in ARTIFACTS.items():
        source = output_execution(steps or [], ARTIFACT_STEP[name], execution_id)
        bucket, root = _split(f"{backend.artifact_root}/{source}")
        if not _download(s3, bucket, f"{root}/{relative}", run_dir / relative):
            missing.append(name)
    if "manifest" not in missing:
        source = output_execution(steps or [], ARTIFACT_STEP["manifest"], execution_id)
        bucket, root = _split(f"{backend.artifact_root}/{source}")
        missing = _download_shards(s3, bucket, root, run_dir, missing)
    return missing


def _download_shards(s3, bucket: str, root: str, run_dir: Path, missing: list[str]) -> list[str]:
    """A PreprocessData on several instances (ProcessingInstanceCount above 1) wrote one file per
    split and a manifest part per instance (churn.steps.preprocess): bring them all, and put the
    whole input's manifest (:func:`churn.split.merge_shard_manifests`) in place of the common
    one. ``missing``: the artifacts not found; returned without the splits the shards stand for."""
    from churn.split import SPLITS, manifest_part_name, merge_shard_manifests, split_file_name

    manifest_file = run_dir / ARTIFACTS["manifest"]
    manifest = json.loads(manifest_file.read_text())
    hosts = manifest.get("instances", {}).get("hosts") if isinstance(manifest, dict) else None
    if not hosts:
        return missing
    step_dir = manifest_file.parent.parent  # runs/<id>/PreprocessData
    found = {name: all(
        _download(s3, bucket, f"{root}/{step_dir.name}/{name}/{split_file_name(name, host)}", step_dir / name / split_file_name(name, host))
        for host in hosts
    ) for name in SPLITS}
    parts = {}
    for host in hosts:
        target = manifest_file.parent / manifest_part_name(host)
        if _download(s3, bucket, f"{root}/{step_dir.name}/manifest/{target.name}", target):
            parts[host] = json.loads(target.read_text())
    lost = [name for name in missing if name not in SPLITS] + [name for name in SPLITS if not found[name]]
    if len(parts) < len(hosts):
        return lost + [f"manifest part of {host}" for host in hosts if host not in parts]
    write_lines_atomically(manifest_file, [json.dumps(merge_shard_manifests(manifest, parts), indent=2, sort_keys=True)])
    return lost


#: SageMaker's FailureReason holds 1,024 characters; churn shows no more of any message.
MAX_REASON = 1024


def explain_failed_steps(sm, steps: list[dict]) -> None:
    """A failed processing step's FailureReason is SageMaker's generic one; the container's own
    message (``/opt/ml/output/message``) is the job's ExitMessage: put it in its place."""
    for step in steps:
        if step.get("StepStatus") != "Failed":
            continue
        arn = (step.get("Metadata") or {}).get("ProcessingJob", {}).get("Arn")
        if not arn:
            continue
        try:
            job = sm.describe_processing_job(ProcessingJobName=arn.rsplit("/", 1)[-1])
        except _client_error():
            continue  # the generic reason stays
        message = (job.get("ExitMessage") or "").strip()
        if message:
            step["FailureReason"] = message[:MAX_REASON]


def record_trials(sm, steps: list[dict], run_dir: Path, events: Events) -> None:
    """``<run>/TuneModel/trials.json`` from SageMaker's record of the execution's tuning job (a
    tuning step served from the cache is the source execution's job), as a local run writes it.
    A record that cannot be read is a note, never the run's failure."""
    from churn.tuning import service_trials_document

    step = next((s for s in steps if s.get("StepName") == TUNE_STEP), None)
    arn = ((step or {}).get("Metadata") or {}).get("TuningJob", {}).get("Arn")
    if not arn:
        return
    name = arn.rsplit("/", 1)[-1]
    try:
        job = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
        pages = sm.get_paginator("list_training_jobs_for_hyper_parameter_tuning_job").paginate(HyperParameterTuningJobName=name)
        summaries = [summary for page in pages for summary in page["TrainingJobSummaries"]]
        document = service_trials_document(job, summaries, cached=bool(step.get("CacheHitResult")))  # type: ignore[union-attr]
        write_lines_atomically(run_dir / TUNE_STEP / TRIALS_FILE, [json.dumps(document, indent=1)])
    except (*_client_error(), OSError) as error:
        events.emit(Note(f"the trials of tuning job {name} were not recorded: {_explain(error)}"))


def _registered_model(steps: list[dict]) -> RegisteredModel | None:
    """The model package a RegisterModel step created (SageMaker lists it in the step's metadata)."""
    step = next((s for s in steps if "RegisterModel" in (s.get("Metadata") or {})), None)
    arn = (step or {}).get("Metadata", {}).get("RegisterModel", {}).get("Arn")
    if not arn or step is None or step.get("StepStatus") != "Succeeded":
        return None
    group, _, version = arn.split("model-package/", 1)[-1].rpartition("/")
    return RegisteredModel(group, int(version) if version.isdigit() else version, arn)


def _recorded_version(sm, s3, backend: CloudBackend, name: str):
    """The SageMaker pipeline version to run again, checked to be runnable."""
    from churn.pipeline import PIPELINE_NAME
    from churn.versions import VersionError, choose_version, list_cloud_versions

    try:
        found = list_cloud_versions(sm, PIPELINE_NAME)
        chosen = choose_version(found, name, f"of pipeline {PIPELINE_NAME!r} on SageMaker")
    except VersionError as error:
        raise RunError(str(error)) from None
    except _client_error() as error:
        raise RunError(f"cannot list the versions of pipeline {PIPELINE_NAME!r}: {_explain(error)}") from None
    if chosen.code_hash and not code_is_staged(s3, backend, chosen.code_hash):
        raise RunError(
            f"the step code of version {chosen.name} ({backend.code_root}/{chosen.code_hash}) is no longer staged"
        )
    return chosen


def run_cloud(
    backend: CloudBackend,
    overrides: dict[str, object],
    runs_dir: Path,
    *,
    events: Events | None = None,
    poll_seconds: float = 30.0,
    timeout_seconds: float | None = None,
    version: str | None = None,
) -> RunResult:
    """Stage, upsert, start and follow one execution on SageMaker; raise :class:`RunError`
    when it cannot start or be followed, never reporting success that did not happen.

    With ``version`` (a definition hash prefix, see ``churn versions --backend cloud``) nothing
    is upserted: the execution starts from that SageMaker pipeline version (its newest
    version id), whose step code must still be staged."""
    events = events or Events()
    try:
        backend.require_settings()
    except CloudSettingsError as error:
        raise RunError(str(error)) from None
    overrides = dict(overrides)
    parameter_specs.check_together(overrides)
    backend.check_scaling(overrides)  # counts above 1: where they can run
    requested_input = input_uri(str(overrides.get("InputData", SAMPLE_DATA)), "cloud")

    from churn.pipeline import build_pipeline

    session = backend.session()
    s3 = session.boto_session.client("s3")
    sm = session.sagemaker_client
    check_bucket(s3, backend.bucket, backend.region)
    pipeline = build_pipeline(backend)
    recorded = _recorded_version(sm, s3, backend, version) if version else None
    if recorded:
        try:
            parameter_specs.check_tuning(overrides, recorded.tuning, recorded.name)
        except parameter_specs.ParameterError as error:
            raise RunError(str(error)) from None
        if overrides.get("TrainingInstanceType") == sizing.AUTO and not sizes_training(json.loads(recorded.definition or "{}")):
            raise RunError(
                f"TrainingInstanceType={sizing.AUTO} needs a pipeline version that sizes its training jobs from the input; "
                f"version {recorded.name} passes the type to SageMaker as given: name one, such as ml.m5.large"
            )
    try:
        overrides["InputData"], input_keys, staged_sha256 = stage_input(s3, backend, requested_input)
        code_keys = [] if recorded else stage_code(s3, backend)
    except _client_error() as error:
        raise RunError(f"staging to {backend.root} failed: {_explain(error)}") from None
    events.emit(Note(f"staged: {len(code_keys)} code file(s) and {len(input_keys)} input file(s) uploaded"))
    try:
        if ensure_model_package_group(sm, backend.model_package_group):
            events.emit(Note(f"created model package group {backend.model_package_group}"))
    except _client_error() as error:
        raise RunError(f"cannot use model package group {backend.model_package_group!r}: {_explain(error)}") from None

    definition = recorded.definition if recorded else pipeline.definition()
    digest = text_sha256(definition)
    try:
        with backend.sdk_scope():
            if recorded:
                version_id = recorded.pipeline_version_ids[-1]
                events.emit(Note(f"starting pipeline version {version_id} (definition {digest[:12]})"))
                execution = pipeline.start(parameters=overrides, pipeline_version_id=version_id)
            else:
                pipeline.upsert(
                    role_arn=backend.role_arn,
                    description=f"churn {__version__}, definition sha256 {digest}",
                    tags=[{"Key": "churn:version", "Value": __version__}, {"Key": "churn:definition-sha256", "Value": digest}],
                )
                execution = pipeline.start(parameters=overrides)
    except _client_error() as error:
        raise RunError(f"SageMaker refused the pipeline: {_explain(error)}") from None
    arn = execution.arn
    execution_id = arn.rsplit("/", 1)[-1]
    events.emit(Note(f"execution {execution_id} started ({arn})"))
    events.emit(RunStarted(execution_id))
    try:
        describe, steps = wait_for_execution(sm, arn, events, poll_seconds, timeout_seconds)
    except KeyboardInterrupt:
        events.emit(Note(f"stopping execution {execution_id}"))
        sm.stop_pipeline_execution(PipelineExecutionArn=arn)
        raise RunInterrupted(f"interrupted: execution {execution_id} was asked to stop") from None

    explain_failed_steps(sm, steps)
    if describe.get("PipelineExecutionStatus") == "Failed":
        failed = [s for s in steps if s.get("StepStatus") == "Failed" and s.get("FailureReason")]
        if failed:
            describe = {**describe, "FailureReason": f"Step '{failed[0]['StepName']}' failed with message: {failed[0]['FailureReason']}"}
    run_dir = runs_dir / execution_id
    missing = download_results(s3, backend, execution_id, run_dir, steps)
    record_trials(sm, steps, run_dir, events)
    if describe["PipelineExecutionStatus"] == "Succeeded" and missing:
        raise RunError(
            f"execution {execution_id} reports Succeeded but these results are missing from "
            f"{backend.artifact_root}/{execution_id}: {', '.join(missing)}"
        )
    defaults = {p["Name"]: p.get("DefaultValue") for p in json.loads(definition)["Parameters"]}
    result = finish_run(
        backend="cloud", run_dir=run_dir, describe=describe, list_steps=steps,
        parameters={**defaults, **overrides, "InputData": requested_input},
        definition=definition, registered_model=_registered_model(steps),
        input_sha256=staged_sha256,
    )
    events.emit(RunFinished(execution_id, result.status, result.failure_reason))
    return result
