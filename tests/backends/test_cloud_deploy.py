# ruff: noqa: F811 - the emulator fixtures of test_cloud_run.py, imported by name
"""``churn deploy`` / ``churn undeploy`` against the AWS API emulator (moto) as a real HTTP server.

The registered version comes from a cloud run: the run goes through the emulator with the
simulated execution of test_cloud_run.py, and the CreateModelPackage request the pipeline service
would make for its RegisterModel step (resolved from the compiled definition and checked against
the service model) is sent to the emulator, as SageMaker would. Every request ``deploy`` makes is
checked against the service model's patterns, enums and lengths too (tests/aws_contract.py).
The emulator lacks UpdateEndpoint and says InService at once; where a test needs more, it is
taught SageMaker's documented behaviour.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from churn.cli import main
from churn.runner import deploy as deployment
from churn.runner.cloud import run_cloud
from tests.aws_contract import violations
from tests.backends.test_cloud_run import (  # noqa: F401 - fixtures
    BUCKET,
    REGION,
    _backend,
    aws,
    emulator,
    property_files,
    simulate,
    step_results,
)

ACCOUNT = "123456789012"
#: The operations deploy and undeploy make (the run that registers a version makes others).
DEPLOY_OPERATIONS = {
    f"{verb}{noun}" for verb in ("Create", "Describe", "Update", "Delete") for noun in ("Model", "EndpointConfig", "Endpoint")
} | {"ListModelPackages", "DescribeModelPackage", "ListTags"}


#: One real registration (a run's RegisterModel request and the S3 objects the run left), made by
#: the first test that registers and replayed into each test's fresh emulator afterwards.
_RECORDED: dict = {}


def _register(aws, simulator, tmp_path, approval: str | None = None) -> str:
    """A cloud run, then its RegisterModel request sent to the emulator; the new version's ARN."""
    s3 = aws["s3"]
    if not _RECORDED:
        assert run_cloud(_backend(), {}, tmp_path, poll_seconds=0.01).status == "Succeeded"
        [request] = [r for _, operation, r in simulator.requests if operation == "CreateModelPackage"]
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
        _RECORDED.update(request=request, objects={key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() for key in keys})
    elif not s3.list_objects_v2(Bucket=BUCKET).get("KeyCount"):
        for key, body in _RECORDED["objects"].items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    request = dict(_RECORDED["request"])
    if approval:
        request["ModelApprovalStatus"] = approval
    try:
        aws["sm"].describe_model_package_group(ModelPackageGroupName=request["ModelPackageGroupName"])
    except aws["sm"].exceptions.ClientError:
        aws["sm"].create_model_package_group(ModelPackageGroupName=request["ModelPackageGroupName"])
    return aws["sm"].create_model_package(**request)["ModelPackageArn"]


@pytest.fixture()
def requests_made():
    """Every SageMaker request of this test's deploy/undeploy, checked like AWS checks it."""
    made: list[tuple[str, dict]] = []
    original = deployment.CloudBackend.session

    def session(self):
        created = not hasattr(self, "_session")
        result = original(self)
        if created:
            result.sagemaker_client.meta.events.register(
                "before-parameter-build.sagemaker",
                lambda params, model, **_: made.append((model.name, dict(params))) if model.name in DEPLOY_OPERATIONS else None,
            )
        return result

    pytest.MonkeyPatch.setattr(_PATCH, deployment.CloudBackend, "session", session)
    yield made
    _PATCH.undo()
    for operation, params in made:
        assert violations(operation, params) == [], operation


_PATCH = pytest.MonkeyPatch()


@pytest.fixture()
def update_endpoint(aws, monkeypatch):
    """Teaches the emulator UpdateEndpoint: the endpoint moves to the new configuration."""
    from moto.sagemaker import responses
    from moto.sagemaker.models import sagemaker_backends

    calls = []

    def update(self):
        name, config = self._get_param("EndpointName"), self._get_param("EndpointConfigName")
        backend = sagemaker_backends[ACCOUNT][REGION]
        endpoint = backend.endpoints[name]
        described = backend.describe_endpoint_config(config)
        endpoint.endpoint_config_name = config
        endpoint.production_variants = endpoint._process_production_variants(described["ProductionVariants"])
        calls.append((name, config))
        return json.dumps({"EndpointArn": endpoint.arn})

    monkeypatch.setattr(responses.SageMakerResponse, "update_endpoint", update, raising=False)
    return calls


def _deploy(reference="churn:1", endpoint="churn-prod", **options):
    return deployment.deploy(_backend(), reference, endpoint, poll_seconds=0.01, **options)


def test_an_approved_version_is_deployed_from_its_model_package(aws, simulate, tmp_path, requests_made):
    arn = _register(aws, simulate(), tmp_path, approval="Approved")
    result = _deploy()
    assert (result.status, result.action, result.version, result.raw_rows) == ("InService", "created", 1, True)
    sm = aws["sm"]
    endpoint = sm.describe_endpoint(EndpointName="churn-prod")
    assert endpoint["EndpointStatus"] == "InService" and endpoint["EndpointConfigName"] == result.model
    config = sm.describe_endpoint_config(EndpointConfigName=result.model)
    [variant] = config["ProductionVariants"]
    assert variant == {**variant, "VariantName": "AllTraffic", "ModelName": result.model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
    model = sm.describe_model(ModelName=result.model)
    assert model["PrimaryContainer"]["ModelPackageName"] == arn
    assert [op for op, _ in requests_made if op.startswith("Create")] == ["CreateModel", "CreateEndpointConfig", "CreateEndpoint"]
    assert result.model.startswith("churn-prod-v1-")


def test_the_registered_package_serves_raw_rows_with_the_staged_endpoint_code(aws, simulate, tmp_path):
    """What the package asks SageMaker's XGBoost image to run is on S3 and is churn's program."""
    import io
    import tarfile

    arn = _register(aws, simulate(), tmp_path)
    [container] = aws["sm"].describe_model_package(ModelPackageName=arn)["InferenceSpecification"]["Containers"]
    environment = container["Environment"]
    assert environment["SAGEMAKER_PROGRAM"] == "churn_endpoint.py"
    assert environment["SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT"] == "text/csv" and environment["SAGEMAKER_REGION"] == REGION
    bucket, key = environment["SAGEMAKER_SUBMIT_DIRECTORY"].removeprefix("s3://").split("/", 1)
    archive = aws["s3"].get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        names = set(tar.getnames())
    assert {"churn_endpoint.py", "churn/algorithm/hosting.py", "churn/algorithm/serve.py", "churn/serving.py", "churn/predict.py"} <= names
    bucket, key = container["ModelDataUrl"].removeprefix("s3://").split("/", 1)
    assert aws["s3"].head_object(Bucket=bucket, Key=key)["ContentLength"] > 0


def test_an_unapproved_version_is_refused_before_anything_is_made(aws, simulate, tmp_path):
    _register(aws, simulate(), tmp_path, approval="PendingManualApproval")
    with pytest.raises(deployment.DeployError, match="churn version 1 is PendingManualApproval, not Approved: approve it .* or pass --allow-unapproved"):
        _deploy()
    assert aws["sm"].list_models()["Models"] == [] and aws["sm"].list_endpoints()["Endpoints"] == []


def test_allow_unapproved_deploys_a_copy_of_the_packages_container(aws, simulate, tmp_path, requests_made):
    arn = _register(aws, simulate(), tmp_path, approval="Rejected")
    notes: list[str] = []
    result = _deploy(allow_unapproved=True, note=notes.append)
    assert result.status == "InService" and result.approval == "Rejected"
    primary = aws["sm"].describe_model(ModelName=result.model)["PrimaryContainer"]
    [container] = aws["sm"].describe_model_package(ModelPackageName=arn)["InferenceSpecification"]["Containers"]
    assert "ModelPackageName" not in primary
    assert (primary["Image"], primary["ModelDataUrl"], primary["Environment"]) == (container["Image"], container["ModelDataUrl"], container["Environment"])
    assert any("deployed from a copy of its container" in n for n in notes)
    tags = aws["sm"].list_tags(ResourceArn=aws["sm"].describe_model(ModelName=result.model)["ModelArn"])["Tags"]
    assert {"Key": "churn:model-package", "Value": arn} in tags


def test_latest_approved_is_the_newest_approved_version(aws, simulate, tmp_path):
    simulator = simulate()
    first = _register(aws, simulator, tmp_path, approval="Approved")
    _register(aws, simulator, tmp_path, approval="PendingManualApproval")
    assert _deploy("churn:latest-approved").package_arn == first
    with pytest.raises(deployment.DeployError, match="churn version 2 is PendingManualApproval"):
        _deploy("churn:latest", endpoint="churn-other")
    with pytest.raises(deployment.DeployError, match="model package group 'churn' has no version 7"):
        _deploy("churn:7")
    assert _deploy("churn:01", endpoint="churn-zero").package_arn == first  # a version is a number


def test_deploying_again_updates_the_endpoint_and_removes_what_it_replaced(aws, simulate, tmp_path, update_endpoint, requests_made):
    simulator = simulate()
    _register(aws, simulator, tmp_path, approval="Approved")
    first = _deploy()
    _register(aws, simulator, tmp_path, approval="Approved")
    second = _deploy("churn:2")
    assert second.action == "updated" and update_endpoint == [("churn-prod", second.model)]
    assert sm_names(aws) == ([second.model], [second.model])
    assert second.removed == [f"endpoint configuration {first.model}", f"model {first.model}"]
    assert "UpdateEndpoint" in [op for op, _ in requests_made]


def sm_names(aws) -> tuple[list[str], list[str]]:
    sm = aws["sm"]
    return ([m["ModelName"] for m in sm.list_models()["Models"]], [c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]])


def test_an_endpoint_that_fails_names_sagemakers_reason(aws, simulate, tmp_path, monkeypatch):
    from moto.sagemaker import models

    _register(aws, simulate(), tmp_path, approval="Approved")
    describe = models.SageMakerModelBackend.describe_endpoint

    def failed(self, name):
        return {**describe(self, name), "EndpointStatus": "Failed",
                "FailureReason": "The primary container for production variant AllTraffic did not pass the ping health check."}

    monkeypatch.setattr(models.SageMakerModelBackend, "describe_endpoint", failed)
    with pytest.raises(deployment.DeployError, match="did not go into service .*did not pass the ping health check"):
        _deploy()


def test_a_version_whose_files_are_gone_is_refused(aws, simulate, tmp_path):
    arn = _register(aws, simulate(), tmp_path, approval="Approved")
    [container] = aws["sm"].describe_model_package(ModelPackageName=arn)["InferenceSpecification"]["Containers"]
    bucket, key = container["ModelDataUrl"].removeprefix("s3://").split("/", 1)
    aws["s3"].delete_object(Bucket=bucket, Key=key)
    with pytest.raises(deployment.DeployError, match=f"the model data of {arn} is gone from S3: s3://{BUCKET}/"):
        _deploy()
    assert aws["sm"].list_models()["Models"] == []


def test_undeploy_removes_the_endpoint_its_configuration_and_model(aws, simulate, tmp_path, requests_made):
    _register(aws, simulate(), tmp_path, approval="Approved")
    result = _deploy()
    removed = deployment.undeploy(_backend(), "churn-prod")
    assert removed == ["endpoint churn-prod", f"endpoint configuration {result.model}", f"model {result.model}"]
    assert aws["sm"].list_endpoints()["Endpoints"] == [] and sm_names(aws) == ([], [])
    with pytest.raises(deployment.DeployError, match="there is no endpoint 'churn-prod' in us-east-1"):
        deployment.undeploy(_backend(), "churn-prod")


def _foreign_endpoint(sm) -> None:
    """An endpoint "theirs", with its configuration and model, that churn did not make (no tags)."""
    sm.create_model(ModelName="theirs", ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/r", PrimaryContainer={"Image": "x"})
    sm.create_endpoint_config(EndpointConfigName="theirs", ProductionVariants=[
        {"VariantName": "AllTraffic", "ModelName": "theirs", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    sm.create_endpoint(EndpointName="theirs", EndpointConfigName="theirs")


def test_undeploy_leaves_an_endpoint_churn_did_not_make(aws):
    sm = aws["sm"]
    _foreign_endpoint(sm)
    with pytest.raises(deployment.DeployError, match="endpoint 'theirs' was not made by churn deploy"):
        deployment.undeploy(_backend(), "theirs")
    assert [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]] == ["theirs"]


def test_deploy_does_not_take_over_an_endpoint_churn_did_not_make(aws, simulate, tmp_path):
    _register(aws, simulate(), tmp_path, approval="Approved")
    sm = aws["sm"]
    _foreign_endpoint(sm)
    with pytest.raises(deployment.DeployError, match="endpoint 'theirs' exists and was not made by churn deploy .*: choose another --endpoint"):
        _deploy(endpoint="theirs")
    assert sm.describe_endpoint(EndpointName="theirs")["EndpointConfigName"] == "theirs"
    assert sm_names(aws) == (["theirs"], ["theirs"])


def _endpoint_status(monkeypatch, status: str, **extra) -> None:
    """The emulator's endpoints report ``status`` (it knows InService only)."""
    from moto.sagemaker import models

    describe = models.SageMakerModelBackend.describe_endpoint
    monkeypatch.setattr(models.SageMakerModelBackend, "describe_endpoint", lambda self, name: {**describe(self, name), "EndpointStatus": status, **extra})


def test_a_failed_endpoint_is_not_updated_but_named_for_undeploy(aws, simulate, tmp_path, monkeypatch, update_endpoint):
    _register(aws, simulate(), tmp_path, approval="Approved")
    first = _deploy()
    _endpoint_status(monkeypatch, "Failed", FailureReason="ping health check")
    with pytest.raises(deployment.DeployError, match="endpoint 'churn-prod' is Failed: remove it with churn undeploy --endpoint churn-prod, then deploy again"):
        _deploy()
    assert update_endpoint == [] and sm_names(aws) == ([first.model], [first.model])


def test_a_rolled_back_update_says_what_still_serves_and_leaves_nothing_new(aws, simulate, tmp_path, monkeypatch):
    """SageMaker rolls a failed update back: the endpoint is InService on its old configuration."""
    from moto.sagemaker import responses

    simulator = simulate()
    _register(aws, simulator, tmp_path, approval="Approved")
    first = _deploy()
    _register(aws, simulator, tmp_path, approval="Approved")
    monkeypatch.setattr(responses.SageMakerResponse, "update_endpoint", lambda self: json.dumps({"EndpointArn": "x"}), raising=False)
    _endpoint_status(monkeypatch, "InService", FailureReason="The primary container for production variant AllTraffic did not pass the ping health check.")
    with pytest.raises(deployment.DeployError, match=(
        f"the update of endpoint 'churn-prod' to churn version 2 failed and SageMaker rolled it back: it still serves {first.model} "
        r"\(The primary container .* ping health check.\)")):
        _deploy("churn:2")
    assert sm_names(aws) == ([first.model], [first.model])


def test_a_wait_that_ends_early_says_what_sagemaker_goes_on_doing(aws, simulate, tmp_path, update_endpoint):
    simulator = simulate()
    _register(aws, simulator, tmp_path, approval="Approved")
    with pytest.MonkeyPatch.context() as patch:
        _endpoint_status(patch, "Creating")
        with pytest.raises(deployment.DeployError, match=(
                "endpoint 'churn-prod' is still Creating after 0 s: SageMaker goes on creating endpoint 'churn-prod'; "
                "churn undeploy --endpoint churn-prod removes it")):
            _deploy(timeout_seconds=0.001)
    _register(aws, simulator, tmp_path, approval="Approved")
    with pytest.MonkeyPatch.context() as patch:
        _endpoint_status(patch, "Updating")
        patch.setattr(deployment, "_check_existing", lambda sm, endpoint, existing: None)
        with pytest.raises(deployment.DeployError, match=(
                r"SageMaker goes on updating endpoint 'churn-prod' to churn-prod-v2-\S+; it serves the previous version \(churn-prod-v1-")):
            _deploy("churn:2", timeout_seconds=0.001)


def test_what_no_wait_left_behind_goes_with_the_next_deployment(aws, simulate, tmp_path, update_endpoint):
    simulator = simulate()
    _register(aws, simulator, tmp_path, approval="Approved")
    first = _deploy(wait=False)
    assert (first.action, first.status) == ("started", "Creating")
    _register(aws, simulator, tmp_path, approval="Approved")
    second = _deploy("churn:2", wait=False)
    assert second.action == "started" and sm_names(aws) == ([first.model, second.model], [first.model, second.model])
    _register(aws, simulator, tmp_path, approval="Approved")
    third = _deploy("churn:3")
    assert sm_names(aws) == ([third.model], [third.model])
    assert sorted(third.removed) == sorted(f"{kind} {name}" for kind in ("model", "endpoint configuration") for name in (first.model, second.model))


def test_a_refused_create_removes_only_what_this_deployment_made(aws, simulate, tmp_path, monkeypatch):
    """SageMaker refuses a model name that exists (the emulator would replace it: taught here)."""
    from moto.sagemaker import models
    from moto.sagemaker.exceptions import ValidationError

    create = models.SageMakerModelBackend.create_model

    def create_new(self, model_name, *args, **kwargs):
        if model_name in self._models:
            raise ValidationError(message=f'Cannot create already existing model "{model_name}".')
        return create(self, model_name, *args, **kwargs)

    monkeypatch.setattr(models.SageMakerModelBackend, "create_model", create_new)
    _register(aws, simulate(), tmp_path, approval="Approved")
    monkeypatch.setattr(deployment, "_name", lambda endpoint, version: "churn-prod-v1-fixed")
    first = _deploy()
    with pytest.raises(deployment.DeployError, match="SageMaker refused the deployment"):
        _deploy(endpoint="churn-other")  # the same model name: CreateModel refuses it
    assert sm_names(aws) == ([first.model], [first.model])


@pytest.mark.parametrize(("arguments", "message"), [
    (["--model", "churn:1", "--endpoint", "bad_name"], "--endpoint 'bad_name': an endpoint name is 1 to 63 letters, digits and hyphens"),
    (["--model", "churn:1", "--endpoint", "a" + "-" * 70 + "b"], "--endpoint 'a-----"),
    (["--model", "other:1", "--endpoint", "e"], "--model other:1: the model package group is 'churn'"),
    (["--model", "churn:one", "--endpoint", "e"], "--model churn:one: 'one' is not a version number, latest or latest-approved"),
    (["--backend", "local", "--model", "churn:1", "--endpoint", "e"], "--backend local: this command deploys to SageMaker (--backend cloud); to host a model on this machine, use churn serve"),
])
def test_cli_deploy_errors_are_one_line(aws, arguments, message):
    result = CliRunner().invoke(main, ["deploy", *arguments, "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/churn"])
    assert result.exit_code != 0
    assert result.output.strip() == f"error: {message}" or result.output.strip().startswith(f"error: {message}"), result.output
    assert "Traceback" not in result.output


def test_cli_deploy_and_undeploy(aws, simulate, tmp_path, monkeypatch):
    _register(aws, simulate(), tmp_path, approval="Approved")
    monkeypatch.setenv("CHURN_ROLE_ARN", f"arn:aws:iam::{ACCOUNT}:role/churn")
    monkeypatch.setattr(deployment, "wait_in_service", lambda sm, endpoint, config, poll, timeout: sm.describe_endpoint(EndpointName=endpoint))
    result = CliRunner().invoke(main, ["deploy", "--model", "churn:latest-approved", "--endpoint", "churn-prod"])
    assert result.exit_code == 0, result.output
    assert "endpoint churn-prod is InService with arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/1" in result.output
    assert "it takes raw customer rows (text/csv or application/json)" in result.output
    result = CliRunner().invoke(main, ["undeploy", "--endpoint", "churn-prod"])
    assert result.exit_code == 0 and result.output.startswith("deleted endpoint churn-prod, endpoint configuration churn-prod-v1-"), result.output
