"""A registered model on a SageMaker endpoint: ``churn deploy`` and ``churn undeploy`` (cloud).

``deploy`` takes a version of the backend's model package group (``churn:3``,
``churn:latest-approved``), checks it before anything is created (Approved unless allowed
otherwise; its model data and its endpoint code still on S3), then makes what SageMaker hosts:

* a model, ``<endpoint>-v<version>-<time>``: the model package itself (``ModelPackageName``), so
  the endpoint runs exactly the registered container, image, model data and environment. An
  unapproved version (``--allow-unapproved``) is deployed from a copy of the package's container
  instead, with the package named in the model's tags;
* an endpoint configuration of the same name (one variant, ``AllTraffic``);
* the endpoint: created, or, when it exists, updated to the new configuration (SageMaker swaps
  the instances without downtime). Once it is InService on the new configuration, the
  configurations and models churn made for it earlier are deleted.

A version registered by churn's cloud backend carries script-mode settings for SageMaker's
XGBoost image (:mod:`churn.algorithm.hosting`), so its endpoint answers raw customer rows as
``churn serve`` does. ``undeploy`` deletes the endpoint and the configurations and models churn
made for it. Only boto3's SageMaker and S3 clients are used (no SDK internals).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from churn.backends.cloud import CloudBackend
from churn.backends.code_bundle import SERVING_PROGRAM
from churn.runner.cloud import _client_error, _exists, _explain, _split

#: SageMaker's pattern and length for endpoint, endpoint configuration and model names.
NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
VARIANT = "AllTraffic"
DEFAULT_INSTANCE_TYPE = "ml.m5.large"
#: Tags on what churn creates: which endpoint it belongs to, and from which package version.
ENDPOINT_TAG, PACKAGE_TAG = "churn:endpoint", "churn:model-package"
#: Endpoint statuses a wait ends on (besides InService on another configuration: a rollback).
ENDPOINT_DONE = ("Failed", "OutOfService", "UpdateRollbackFailed")


class DeployError(RuntimeError):
    """A deployment that cannot be made or finished; the message says why, in one line."""


@dataclass
class Deployment:
    endpoint: str
    package_arn: str
    version: int
    approval: str
    model: str
    #: "created", "updated" (the endpoint existed), or "started" (not waited for).
    action: str
    status: str
    #: Whether the endpoint takes raw customer rows (the package carries churn's endpoint program).
    raw_rows: bool
    seconds: float | None = None
    removed: list[str] = field(default_factory=list)


def parse_reference(reference: str, group: str) -> str:
    """``GROUP:VERSION`` / ``GROUP:latest`` / ``GROUP:latest-approved`` -> what follows the colon;
    the group must be the backend's (``--model-package-group``)."""
    named, colon, what = reference.partition(":")
    if not colon or not what:
        raise DeployError(f"--model {reference}: expected {group}:VERSION, {group}:latest or {group}:latest-approved")
    if named != group:
        raise DeployError(f"--model {reference}: the model package group is {group!r} (set CHURN_MODEL_PACKAGE_GROUP for another)")
    if what not in ("latest", "latest-approved") and not what.isdigit():
        raise DeployError(f"--model {reference}: {what!r} is not a version number, latest or latest-approved")
    return what


def find_package(sm, group: str, what: str) -> dict:
    """DescribeModelPackage of the version ``what`` names in ``group``."""
    try:
        pages = sm.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending")
        packages = [p for page in pages for p in page.get("ModelPackageSummaryList", [])]
    except _client_error() as error:
        raise DeployError(f"cannot list model package group {group!r}: {_explain(error)}") from None
    if what == "latest-approved":
        packages = [p for p in packages if p.get("ModelApprovalStatus") == "Approved"]
    elif what != "latest":
        packages = [p for p in packages if p.get("ModelPackageVersion") == int(what)]
    if what in ("latest", "latest-approved"):  # a registration that did not complete is no candidate
        packages = [p for p in packages if p.get("ModelPackageStatus", "Completed") == "Completed"]
    if not packages:
        known = "no approved version" if what == "latest-approved" else f"no version {what}" if what != "latest" else "no version"
        raise DeployError(f"model package group {group!r} has {known}")
    newest = max(packages, key=lambda p: p.get("ModelPackageVersion") or 0)
    try:
        return sm.describe_model_package(ModelPackageName=newest["ModelPackageArn"])
    except _client_error() as error:
        raise DeployError(f"cannot describe {newest['ModelPackageArn']}: {_explain(error)}") from None


def _container(package: dict) -> dict:
    containers = (package.get("InferenceSpecification") or {}).get("Containers") or []
    if len(containers) != 1:
        raise DeployError(f"{package['ModelPackageArn']} has {len(containers)} inference containers; churn registers one")
    return containers[0]


def _check_s3(s3, container: dict, arn: str) -> None:
    """The model data and the endpoint code the container reads are still on S3 (an endpoint
    whose files are gone fails only after SageMaker's start-up timeout)."""
    wanted = [("model data", container.get("ModelDataUrl"))]
    wanted.append(("endpoint code", (container.get("Environment") or {}).get("SAGEMAKER_SUBMIT_DIRECTORY")))
    for what, uri in wanted:
        if not uri or not str(uri).startswith("s3://"):
            continue
        bucket, key = _split(uri)
        try:
            present = _exists(s3, bucket, key)
        except _client_error() as error:
            raise DeployError(f"cannot read {uri} ({what} of {arn}): {_explain(error)}") from None
        if not present:
            raise DeployError(f"the {what} of {arn} is gone from S3: {uri}")


#: The longest ``-v<version>-<time>`` suffix is 23 characters: a name keeps the endpoint's first 40.
NAME_STEM = 40


def _name(endpoint: str, version: int) -> str:
    """``<endpoint>-v<version>-<UTC time>``, the endpoint cut to fit SageMaker's 63 characters."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    suffix = f"-v{version}-{stamp}"
    return endpoint[: 63 - len(suffix)].rstrip("-") + suffix


def _describe_endpoint(sm, endpoint: str) -> dict | None:
    try:
        return sm.describe_endpoint(EndpointName=endpoint)
    except _client_error() as error:
        code = getattr(error, "response", {}).get("Error", {}).get("Code")
        message = getattr(error, "response", {}).get("Error", {}).get("Message", "")
        if code == "ValidationException" and "Could not find endpoint" in message:
            return None
        raise DeployError(f"cannot describe endpoint {endpoint!r}: {_explain(error)}") from None


def require_settings(backend: CloudBackend, role: bool = True) -> None:
    """The region, and the role a new model needs (not the bucket: nothing is staged)."""
    missing = [name for name in backend.placeholders if name.startswith("region") or (role and name.startswith("role"))]
    if missing:
        raise DeployError("deploying needs these settings: " + "; ".join(missing))


def check_endpoint_name(endpoint: str) -> None:
    if len(endpoint) > 63 or not NAME.fullmatch(endpoint):
        raise DeployError(
            f"--endpoint {endpoint!r}: an endpoint name is 1 to 63 letters, digits and hyphens, starting and ending with a letter or digit"
        )


def _check_existing(sm, endpoint: str, existing: dict | None) -> None:
    """An existing endpoint is updated only when churn made it and it can take an update."""
    if existing is None:
        return
    if not _tagged_for(sm, existing["EndpointArn"], endpoint):
        raise DeployError(f"endpoint {endpoint!r} exists and was not made by churn deploy (no {ENDPOINT_TAG} tag): choose another --endpoint")
    status = existing.get("EndpointStatus")
    if status in ("Failed", "UpdateRollbackFailed"):
        # SageMaker: DeleteEndpoint is the only operation a failed endpoint takes.
        raise DeployError(f"endpoint {endpoint!r} is {status}: remove it with churn undeploy --endpoint {endpoint}, then deploy again")
    if status != "InService":
        raise DeployError(f"endpoint {endpoint!r} is {status}: wait until it is InService, then deploy again")


def deploy(
    backend: CloudBackend,
    reference: str,
    endpoint: str,
    *,
    instance_type: str = DEFAULT_INSTANCE_TYPE,
    instance_count: int = 1,
    allow_unapproved: bool = False,
    wait: bool = True,
    poll_seconds: float = 30.0,
    timeout_seconds: float | None = None,
    note=lambda line: None,
) -> Deployment:
    """Deploy the model package version ``reference`` names to ``endpoint`` (see the module).
    Ctrl-C or a timeout while SageMaker deploys is a :class:`DeployError` saying what goes on."""
    check_endpoint_name(endpoint)
    what = parse_reference(reference, backend.model_package_group)
    require_settings(backend)
    session = backend.session()
    sm, s3 = session.sagemaker_client, session.boto_session.client("s3")
    package = find_package(sm, backend.model_package_group, what)
    arn, version, approval = package["ModelPackageArn"], int(package.get("ModelPackageVersion") or 0), package.get("ModelApprovalStatus", "?")
    if approval != "Approved" and not allow_unapproved:
        raise DeployError(
            f"{backend.model_package_group} version {version} is {approval}, not Approved: approve it "
            "(aws sagemaker update-model-package --model-approval-status Approved) or pass --allow-unapproved"
        )
    container = _container(package)
    _check_s3(s3, container, arn)
    raw_rows = (container.get("Environment") or {}).get("SAGEMAKER_PROGRAM") == SERVING_PROGRAM
    if not raw_rows:
        note(f"{backend.model_package_group} version {version} does not carry churn's endpoint program: its endpoint takes feature rows only")
    existing = _describe_endpoint(sm, endpoint)
    _check_existing(sm, endpoint, existing)
    name = _name(endpoint, version)
    tags = [{"Key": ENDPOINT_TAG, "Value": endpoint}, {"Key": PACKAGE_TAG, "Value": arn}]
    if approval == "Approved":
        primary = {"ModelPackageName": arn}
    else:
        # SageMaker deploys a versioned model package only when it is Approved.
        note(f"{backend.model_package_group} version {version} is {approval}: deployed from a copy of its container (--allow-unapproved)")
        primary = {key: container[key] for key in ("Image", "ModelDataUrl", "Environment") if container.get(key)}
    started = time.monotonic()
    made: list[tuple[str, str]] = []
    try:
        sm.create_model(ModelName=name, ExecutionRoleArn=backend.role_arn, PrimaryContainer=primary, Tags=tags)
        made.append(("model", name))
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[{"VariantName": VARIANT, "ModelName": name, "InitialInstanceCount": instance_count, "InstanceType": instance_type}],
            Tags=tags,
        )
        made.append(("configuration", name))
        if existing:
            sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=name)
        else:
            sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=name, Tags=[tags[0]])
    except _client_error() as error:
        _delete_made(sm, made)
        raise DeployError(f"SageMaker refused the deployment of {arn} to {endpoint!r}: {_explain(error)}") from None
    note(f"{'updating' if existing else 'creating'} endpoint {endpoint} with model {name} ({instance_count} x {instance_type})")
    result = Deployment(endpoint, arn, version, approval, name, "updated" if existing else "created", "Creating", raw_rows)
    if not wait:
        result.action, result.status = "started", "Updating" if existing else "Creating"
        return result
    try:
        described = wait_in_service(sm, endpoint, name, poll_seconds, timeout_seconds)
    except (KeyboardInterrupt, _Waited) as stopped:
        reason = "interrupted" if isinstance(stopped, KeyboardInterrupt) else str(stopped)
        if existing:
            raise DeployError(
                f"{reason}: SageMaker goes on updating endpoint {endpoint!r} to {name}; it serves the previous version "
                f"({existing.get('EndpointConfigName')}) until the update ends (aws sagemaker describe-endpoint --endpoint-name {endpoint})"
            ) from None
        raise DeployError(f"{reason}: SageMaker goes on creating endpoint {endpoint!r}; churn undeploy --endpoint {endpoint} removes it") from None
    except _RolledBack as back:
        _delete_made(sm, made)  # churn's own new model and configuration, which nothing uses
        raise DeployError(
            f"the update of endpoint {endpoint!r} to {backend.model_package_group} version {version} failed and SageMaker rolled it back: "
            f"it still serves {back.serving} ({back.reason})"
        ) from None
    result.status, result.seconds = described["EndpointStatus"], time.monotonic() - started
    result.removed = sweep(sm, endpoint, keep=name)
    return result


class _Waited(Exception):
    """The wait for an endpoint timed out (SageMaker goes on)."""


class _RolledBack(Exception):
    """An update failed and the endpoint is back in service on its previous configuration."""

    def __init__(self, serving: str, reason: str):
        super().__init__(reason)
        self.serving, self.reason = serving, reason


def wait_in_service(sm, endpoint: str, config: str, poll_seconds: float, timeout_seconds: float | None) -> dict:
    """Poll until ``endpoint`` is InService on ``config``. A failed update that SageMaker rolled
    back (InService on another configuration) is :class:`_RolledBack`; a failed endpoint names
    SageMaker's reason."""
    deadline = time.monotonic() + timeout_seconds if timeout_seconds else None
    while True:
        described = _describe_endpoint(sm, endpoint)
        if described is None:
            raise DeployError(f"endpoint {endpoint!r} disappeared while it was being deployed")
        status, serving = described.get("EndpointStatus"), described.get("EndpointConfigName")
        reason = described.get("FailureReason") or f"the endpoint is {status} on configuration {serving}"
        if status == "InService" and serving == config:
            return described
        if status == "InService":
            raise _RolledBack(str(serving), reason)
        if status in ENDPOINT_DONE:
            raise DeployError(f"endpoint {endpoint!r} did not go into service with {config}: {reason}")
        if deadline and time.monotonic() > deadline:
            raise _Waited(f"endpoint {endpoint!r} is still {status} after {timeout_seconds:.0f} s")
        time.sleep(poll_seconds)


def sweep(sm, endpoint: str, keep: str | None) -> list[str]:
    """Delete the endpoint configurations and models churn made for ``endpoint`` (tagged so),
    except ``keep``: what deployments replaced, or, after ``--no-wait``, an interrupted wait or
    a rollback, left behind. Another endpoint's, or anything not churn's, is left alone."""
    stem = endpoint[:NAME_STEM].rstrip("-")  # every name churn makes for the endpoint starts so
    removed = []
    for kind, operation, key, name_key, arn_key, delete in (
        ("endpoint configuration", "list_endpoint_configs", "EndpointConfigs", "EndpointConfigName", "EndpointConfigArn", sm.delete_endpoint_config),
        ("model", "list_models", "Models", "ModelName", "ModelArn", sm.delete_model),
    ):
        for item in _listed(sm, operation, key, stem):
            name = item[name_key]
            if name == keep or not _tagged_for(sm, item[arn_key], endpoint):
                continue
            try:
                delete(**{name_key: name})
                removed.append(f"{kind} {name}")
            except _client_error():
                continue  # still in use (by a configuration SageMaker has not let go of): the next sweep
    return removed


def _listed(sm, operation: str, key: str, stem: str) -> list[dict]:
    """Every item ``operation`` lists whose name contains ``stem`` (those listed before an error)."""
    items: list[dict] = []
    try:
        for page in sm.get_paginator(operation).paginate(NameContains=stem):
            items += page.get(key, [])
    except _client_error():
        pass  # what could not be listed is left for the next sweep
    return items


def _tagged_for(sm, arn: str, endpoint: str) -> bool:
    try:
        tags = sm.list_tags(ResourceArn=arn).get("Tags", [])
    except _client_error():
        return False
    return {"Key": ENDPOINT_TAG, "Value": endpoint} in tags


def _delete_made(sm, made: list[tuple[str, str]]) -> None:
    """Undo what this deployment created (its configuration, then its model), nothing else."""
    for kind, name in reversed(made):
        call, key = (sm.delete_endpoint_config, "EndpointConfigName") if kind == "configuration" else (sm.delete_model, "ModelName")
        try:
            call(**{key: name})
        except _client_error():
            pass


def undeploy(backend: CloudBackend, endpoint: str) -> list[str]:
    """Delete ``endpoint`` and the configurations and models churn made for it; return what was
    deleted. An endpoint churn did not make is refused."""
    check_endpoint_name(endpoint)
    require_settings(backend, role=False)
    sm = backend.session().sagemaker_client
    described = _describe_endpoint(sm, endpoint)
    if described is None:
        raise DeployError(f"there is no endpoint {endpoint!r} in {backend.region}")
    if not _tagged_for(sm, described["EndpointArn"], endpoint):
        raise DeployError(f"endpoint {endpoint!r} was not made by churn deploy (no {ENDPOINT_TAG} tag): delete it with the AWS console or CLI")
    try:
        sm.delete_endpoint(EndpointName=endpoint)
    except _client_error() as error:
        raise DeployError(f"cannot delete endpoint {endpoint!r}: {_explain(error)}") from None
    return [f"endpoint {endpoint}", *sweep(sm, endpoint, keep=None)]
