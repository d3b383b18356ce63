"""The engine container runner without Docker: the translation of local mode's own Compose data
into Docker settings, the container class's parity with the SDK's, the SDK sources it relies on,
and the SDK's real ``process()`` / ``train()`` around a fake runner (what the container writes
becomes the job's outputs and archives; its exit code the job's verdict)."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import re
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from churn.backends import docker
from churn.backends.local import local_backend
from churn.files import file_uri, uri_path
from churn.runner import local_executor
from churn.runner.containers import ContainerNotStarted, EngineRunner, UnsupportedService, translate
from churn.runner.local_jobs import JobsFolder, LocalRun
from churn.runner.request import RunRequest, check_request
from churn.runner.runs import RunError
from sagemaker.local import image as sdk_image
from sagemaker.local.image import _SageMakerContainer, _Volume
from sagemaker.local.local_session import LocalSagemakerClient

#: sha256 (first 16 hex digits) of each SDK source the engine runner relies on, as of sagemaker
#: 2.257.7. A change means: read the method again against churn/runner/local_executor.py.
SDK_SOURCES = {
    "sagemaker.local.image._SageMakerContainer.__init__": "91efdeffbfdb5e75",
    "sagemaker.local.image._SageMakerContainer.process": "e01680b97141793c",
    "sagemaker.local.image._SageMakerContainer.train": "959af68da24e1a0b",
    "sagemaker.local.image._SageMakerContainer._compose": "2f4fcdd71a01d0f7",
    "sagemaker.local.image._SageMakerContainer._generate_compose_file": "aefe9db17b4b279f",
    "sagemaker.local.image._SageMakerContainer._create_docker_host": "1492ea8499cbdf97",
    "sagemaker.local.image._stream_output": "e624060b9a87cf90",
    "sagemaker.local.local_session.LocalSagemakerClient.create_processing_job": "ea795e79386f5403",
    "sagemaker.local.local_session.LocalSagemakerClient.create_training_job": "fbd9d6e17af1279c",
}
IMAGE = "churn-processing:test"


def _resolve(name: str):
    parts = name.split(".")
    for split in range(len(parts), 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:split]))
            break
        except ImportError:
            continue
    for part in parts[split:]:
        found = getattr(found, part)
    return found


def test_the_sdk_sources_the_engine_runner_relies_on_are_the_ones_read():
    assert set(SDK_SOURCES) == set(local_executor.ENGINE_SDK_SOURCES)
    changed = [
        name for name, digest in SDK_SOURCES.items()
        if hashlib.sha256(inspect.getsource(_resolve(name)).encode()).hexdigest()[:16] != digest
    ]
    assert changed == [], f"the SDK changed these; check them against churn/runner/local_executor.py: {changed}"


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return local_backend(tmp_path_factory.mktemp("runs")).session()


@pytest.fixture
def job_root(tmp_path, session):
    previous = session.config
    session.config = {"local": {"container_root": str(tmp_path / "jobs"), "local_code": True}}
    (tmp_path / "jobs").mkdir()
    yield tmp_path / "jobs"
    session.config = previous


class FakeRunner:
    """Stands in for Docker: writes into the host folders bound at ``writes``' container paths,
    records the services it was given, and returns ``code`` (or raises ``raises``)."""

    def __init__(self, code=0, writes=None, raises=None):
        self.code, self.writes, self.raises = code, writes or {}, raises
        self.services: list[dict] = []

    def run_service(self, services, *, job_root, may_start):
        self.services.append(services)
        if self.raises:
            raise self.raises
        ((_, service),) = services.items()
        binds = dict(reversed(v.rsplit(":", 1)) for v in service["volumes"])
        for container_path, files in self.writes.items():
            for name, content in files.items():
                target = Path(binds[container_path]) / name
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
        return self.code


def _container(session, runner=None, **kwargs):
    return local_executor._EngineContainer("local", 1, IMAGE, sagemaker_session=session, runner=runner or FakeRunner(),
                                           may_start=lambda: True, **kwargs)


def _compose_data(container, root: Path, command: str, volumes, env):
    container.container_root = str(root)
    return container._generate_compose_file(command, additional_volumes=volumes, additional_env_vars=env)


@pytest.mark.parametrize("command,entrypoint,arguments", [
    ("process", ["python3", "/opt/ml/processing/input/code/step.py"], ["--seed", "42"]),
    ("train", None, None),
    ("train", ["python3", "-m", "train"], ["--fast"]),
])
@pytest.mark.parametrize("selinux", [False, True])
def test_the_translation_of_local_modes_own_compose_data(session, tmp_path, monkeypatch, command, entrypoint, arguments, selinux):
    monkeypatch.setattr(sdk_image, "SELINUX_ENABLED", selinux)  # what $SAGEMAKER_LOCAL_SELINUX_ENABLED sets at import
    container = _container(session, container_entrypoint=entrypoint, container_arguments=arguments)
    volumes = [_Volume(str(tmp_path / "in"), "/opt/ml/processing/input/data")]
    data = _compose_data(container, tmp_path, command, volumes, {"A": "1", "B": "x=y"})
    assert yaml.safe_load((tmp_path / "docker-compose.yaml").read_text()) == data  # what Compose would read
    ((host, service),) = data["services"].items()
    assert re.fullmatch(r"algo-1-[a-z0-9]{5}", host)
    translated_host, settings_ = translate(data["services"], job_root=tmp_path)
    assert translated_host == host
    assert settings_ == {
        "image": IMAGE, "name": service["container_name"], "stdin_open": True, "tty": True,
        "volumes": [v if selinux else v + ":rw" for v in service["volumes"]], "environment": service["environment"],
        "entrypoint": (entrypoint + arguments) if entrypoint else None,
        "command": None if entrypoint else ["train"],
        "network": "sagemaker-local", "aliases": [host],
        "labels": {docker.JOB_ROOT_LABEL: str(tmp_path), "io.churn.host": host, "io.churn.runner": "engine"},
    }
    assert all(v.endswith(":z") for v in settings_["volumes"]) is selinux
    assert "A=1" in settings_["environment"] and "B=x=y" in settings_["environment"]


@pytest.mark.parametrize("extra", [{"shm_size": "1g"}, {"deploy": {}}, {"ports": ["8080:8080"]}, {"network_mode": "sagemaker"}])
def test_a_compose_setting_the_engine_runner_cannot_honour_is_refused(extra):
    service = {"image": IMAGE, "container_name": "c-algo-1-abcde", "networks": {"sagemaker-local": {"aliases": ["algo-1-abcde"]}}, **extra}
    with pytest.raises(UnsupportedService, match=f"{next(iter(extra))}.*--container-runner compose"):
        translate({"algo-1-abcde": service}, job_root=Path("/j"))


def test_more_than_one_host_or_network_is_refused():
    service = {"image": IMAGE, "container_name": "c", "networks": {"sagemaker-local": None}}
    with pytest.raises(UnsupportedService, match="one container per job"):
        translate({"algo-1-a": service, "algo-2-a": service}, job_root=Path("/j"))
    with pytest.raises(UnsupportedService, match="exactly one network"):
        translate({"algo-1-a": {**service, "networks": {"a": None, "b": None}}}, job_root=Path("/j"))


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)


@settings(max_examples=50, deadline=None)
@given(env=st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True), _TEXT, max_size=5),
       folder=st.text(st.characters(whitelist_categories=("L", "N"), whitelist_characters="$ -_."), min_size=1, max_size=12))
def test_environment_and_volumes_pass_verbatim(session, tmp_path_factory, env, folder):
    root = tmp_path_factory.mktemp("root")
    container = _container(session, container_entrypoint=["true"])
    data = _compose_data(container, root, "process", [_Volume(str(root / folder), "/opt/ml/processing/input/x")], env)
    ((_, service),) = data["services"].items()
    _, settings_ = translate(data["services"], job_root=root)
    assert settings_["environment"] == service["environment"]
    assert settings_["volumes"] == [v + ":rw" for v in service["volumes"]]  # Compose v1 names the default mode


def test_the_container_class_matches_the_sdks_and_runs_no_process(session, monkeypatch):
    started = []
    real_popen = subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(a) or real_popen(*a, **k))
    engine = _container(session)
    assert started == []
    assert re.fullmatch(r"algo-1-[a-z0-9]{5}", engine.hosts[0]) and len(engine.hosts) == 1
    monkeypatch.setattr(_SageMakerContainer, "_get_compose_cmd_prefix", staticmethod(lambda: ["docker-compose"]))
    sdk = _SageMakerContainer("local", 1, IMAGE, sagemaker_session=session)
    ours = {name for name in vars(engine) if not name.startswith("_")}
    assert ours == set(vars(sdk))
    assert {name: getattr(engine, name) for name in ours - {"hosts"}} == {
        name: getattr(sdk, name) for name in ours - {"hosts"} if name != "compose_cmd_prefix"
    } | {"compose_cmd_prefix": []}


def _processing_request(tmp_path: Path) -> dict:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "data.csv").write_text("a,b\n1,2\n")
    return {
        "ProcessingJobName": "churn-processing-job",
        "AppSpecification": {"ImageUri": IMAGE, "ContainerEntrypoint": ["python3", "step.py"], "ContainerArguments": ["--seed", "1"]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "local", "VolumeSizeInGB": 30}},
        "ProcessingInputs": [{"InputName": "data", "S3Input": {
            "S3Uri": file_uri(tmp_path / "in"), "LocalPath": "/opt/ml/processing/input/data", "S3DataType": "S3Prefix",
            "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}}],
        "ProcessingOutputConfig": {"Outputs": [{"OutputName": "out", "S3Output": {
            "S3Uri": file_uri(tmp_path / "out"), "LocalPath": "/opt/ml/processing/output", "S3UploadMode": "EndOfJob"}}]},
        "Environment": {"STEP": "1"},
    }


def _training_request(tmp_path: Path) -> dict:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "train.csv").write_text("1,2\n")
    return {
        "TrainingJobName": "churn-training-job",
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": file_uri(tmp_path / "model")},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "local", "VolumeSizeInGB": 30},
        "InputDataConfig": [{"ChannelName": "train", "ContentType": "text/csv", "DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": file_uri(tmp_path / "train"), "S3DataDistributionType": "FullyReplicated"}}}],
        "HyperParameters": {"max_depth": "5"},
    }


def _client(session, runner):
    return local_executor._ChurnLocalClient(session, container=local_executor.engine_container(runner, lambda: True))


def test_a_processing_jobs_outputs_are_what_its_container_wrote(session, job_root, tmp_path):
    runner = FakeRunner(writes={"/opt/ml/processing/output": {"result.txt": b"done"}})
    request = _processing_request(tmp_path)
    client = _client(session, runner)
    client.create_processing_job(**request)
    assert (tmp_path / "out" / "result.txt").read_bytes() == b"done"
    description = client.describe_processing_job(request["ProcessingJobName"])
    assert description["ProcessingJobStatus"] == "Completed"
    ((_, service),) = runner.services[0].items()
    assert service["entrypoint"] == ["python3", "step.py", "--seed", "1"] and "STEP=1" in service["environment"]


def _members(archive: Path) -> dict[str, bytes]:
    with tarfile.open(archive) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


@pytest.mark.parametrize("code", [0, 3])
def test_a_training_jobs_archives_hold_what_its_container_wrote_whatever_its_exit(session, job_root, tmp_path, code):
    runner = FakeRunner(code=code, writes={"/opt/ml/model": {"m.bin": b"model"}, "/opt/ml/output": {"data/d.txt": b"out"}})
    request = _training_request(tmp_path)
    client = _client(session, runner)
    if code:
        with pytest.raises(RuntimeError, match=r"Failed to run: \['/bin/sh', '-c', 'exit 3'.*code: 3"):
            client.create_training_job(**request)
    else:
        client.create_training_job(**request)
        artifacts = client.describe_training_job(request["TrainingJobName"])["ModelArtifacts"]["S3ModelArtifacts"]
        assert _members(uri_path(artifacts)) == {"m.bin": b"model"}
    model = next((tmp_path / "model").rglob("model.tar.gz"))
    assert _members(model) == {"m.bin": b"model"}
    assert _members(model.with_name("output.tar.gz")) == {"data/d.txt": b"out"}
    ((_, service),) = runner.services[0].items()
    assert service["command"] == "train" and "TRAINING_JOB_NAME=churn-training-job" in service["environment"]


def test_exit_code_130_passes_as_local_mode_lets_it(session, job_root, tmp_path):
    _client(session, FakeRunner(code=130)).create_processing_job(**_processing_request(tmp_path))


def test_a_container_that_does_not_start_fails_the_job_with_dockers_reason(session, job_root, tmp_path):
    runner = FakeRunner(raises=ContainerNotStarted("the job's container did not start: no such image"))
    with pytest.raises(ContainerNotStarted, match="no such image"):
        _client(session, runner).create_processing_job(**_processing_request(tmp_path))


def test_the_churn_client_describes_a_job_as_the_sdks_client_does(session, job_root, tmp_path, monkeypatch):
    """Both clients with the same stand-in for the container (for the SDK's, in place of Compose,
    reading the Compose file Compose would read): the same description."""
    request = _training_request(tmp_path)
    ours = _client(session, FakeRunner(writes={"/opt/ml/model": {"m.bin": b"x"}}))
    ours.create_training_job(**request)
    ours_description = ours.describe_training_job(request["TrainingJobName"])
    runner = FakeRunner(writes={"/opt/ml/model": {"m.bin": b"x"}})

    def compose(self, detached=False):
        services = yaml.safe_load((Path(self.container_root) / "docker-compose.yaml").read_text())["services"]
        return ["/bin/sh", "-c", f"exit {runner.run_service(services, job_root=Path(self.container_root), may_start=lambda: True)}"]

    monkeypatch.setattr(_SageMakerContainer, "_get_compose_cmd_prefix", staticmethod(lambda: ["docker-compose"]))
    monkeypatch.setattr(_SageMakerContainer, "_compose", compose)
    LocalSagemakerClient(session).create_training_job(**request)
    theirs_description = LocalSagemakerClient(session).describe_training_job(request["TrainingJobName"])
    times = {"TrainingStartTime", "TrainingEndTime", "CreationTime", "LastModifiedTime"}
    assert {k: v for k, v in ours_description.items() if k not in times} == {k: v for k, v in theirs_description.items() if k not in times}
    assert ours_description["ModelArtifacts"]["S3ModelArtifacts"].endswith("model.tar.gz")


class _Container:
    def __init__(self, output: bytes, code=0, fail_wait=False):
        self.name, self.output, self.code, self.fail_wait = "abc-algo-1-xyzab", output, code, fail_wait
        self.started = self.removed = False

    def start(self):
        self.started = True

    def remove(self, force=False):
        self.removed = True

    def logs(self, stream, follow):
        return iter(bytes([b]) for b in self.output)

    def wait(self, timeout):
        if self.fail_wait:
            import docker as docker_py

            raise docker_py.errors.NotFound("gone")
        return {"StatusCode": self.code}


class _Client:
    def __init__(self, container):
        self.container, self.created = container, []
        self.containers = self
        self.api = self

    def create(self, **kwargs):
        self.created.append(kwargs)
        return self.container

    def create_endpoint_config(self, aliases):
        return {"Aliases": aliases}

    def close(self):
        pass


def _services(host="algo-1-xyzab"):
    return {host: {"image": IMAGE, "container_name": "abc-" + host, "tty": True, "stdin_open": True, "volumes": ["/a:/opt/ml/model"],
                   "environment": ["A=1"], "command": "train", "networks": {"sagemaker-local": {"aliases": [host]}}}}


def test_the_engine_runner_copies_output_as_compose_lines_and_returns_the_exit_code(capsys):
    container = _Container(b"hello\r\nworld\r\npartial", code=4)
    client = _Client(container)
    assert EngineRunner(lambda: client).run_service(_services(), job_root=Path("/j"), may_start=lambda: True) == 4
    assert capsys.readouterr().out == "abc-algo-1-xyzab | hello\nabc-algo-1-xyzab | world\nabc-algo-1-xyzab | partial\n"
    (created,) = client.created
    assert created["networking_config"] == {"sagemaker-local": {"Aliases": ["algo-1-xyzab"]}}
    assert created["command"] == ["train"] and created["labels"][docker.JOB_ROOT_LABEL] == "/j"
    assert created["volumes"] == ["/a:/opt/ml/model:rw"]


def test_a_container_created_after_ctrl_c_is_removed_not_started():
    container = _Container(b"")
    with pytest.raises(ContainerNotStarted, match="stopped"):
        EngineRunner(lambda: _Client(container)).run_service(_services(), job_root=Path("/j"), may_start=lambda: False)
    assert container.removed and not container.started


def test_a_container_removed_by_ctrl_c_counts_as_killed():
    stopping = iter([True, False])  # may start; then the run is stopping
    result = EngineRunner(lambda: _Client(_Container(b"x\n", fail_wait=True))).run_service(
        _services(), job_root=Path("/j"), may_start=lambda: next(stopping))
    assert result == 137


def test_an_unknown_or_misplaced_container_runner_is_refused():
    with pytest.raises(RunError, match="--container-runner must be one of engine, compose, got 'foo'"):
        check_request(RunRequest(container_runner="foo"))
    with pytest.raises(RunError, match="--container-runner is for the local backend only"):
        check_request(RunRequest(backend="cloud", container_runner="compose"))
    check_request(RunRequest(container_runner="compose"))


@pytest.mark.parametrize("arguments,message", [
    (["--backend", "cloud", "--container-runner", "engine"], "error: --container-runner is for the local backend only; the cloud backend does not support it\n"),
    (["--container-runner", "foo"], "Invalid value for '--container-runner': 'foo' is not one of 'engine', 'compose'."),
])
def test_a_bad_container_runner_option_is_one_line_before_anything_starts(tmp_path, arguments, message):
    from click.testing import CliRunner

    from churn import cli

    result = CliRunner().invoke(cli.main, ["run", "--runs-dir", str(tmp_path / "runs"), *arguments])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


def test_the_executor_installs_the_engine_client_for_engine_runs_only(tmp_path, monkeypatch):
    from churn.pipeline import build_pipeline
    from churn.runner.events import Events

    backend = local_backend(tmp_path / "runs")
    pipeline, pipeline_session = build_pipeline(backend), backend.session()
    seen = []

    class Probe(local_executor.ChurnPipelineExecutor):
        def execute(self):
            seen.append(type(self.local_sagemaker_client))

    monkeypatch.setattr(local_executor, "ChurnPipelineExecutor", Probe)
    OWN = {"RegisterModel": lambda *args: None}  # noqa: N806
    for runner in ("engine", "compose"):
        run = LocalRun(runs_dir=tmp_path, jobs=JobsFolder.create(tmp_path), cache=None, max_parallel=1, container_runner=runner)
        local_executor.execute(pipeline, pipeline_session, {}, run=run, max_parallel=1, events=Events(), own_steps=OWN)
    local_executor.execute(pipeline, pipeline_session, {}, run=None, max_parallel=1, events=Events(), own_steps=OWN)
    assert seen == [local_executor._ChurnLocalClient, LocalSagemakerClient, LocalSagemakerClient]


def test_job_containers_finds_engine_and_compose_containers_of_a_run(monkeypatch, tmp_path):
    scratch = tmp_path / "run-1"
    listed = {
        docker.JOB_ROOT_LABEL: [("e1", {docker.JOB_ROOT_LABEL: str(scratch / "Step" / "tmpabc")}),
                                ("e2", {docker.JOB_ROOT_LABEL: str(tmp_path / "run-2" / "Step" / "tmpabc")})],
        "com.docker.compose.service": [
            ("c1", {"com.docker.compose.service": "algo-1-abcde", "com.docker.compose.project.working_dir": str(scratch / "S" / "t")}),
            ("c2", {"com.docker.compose.service": "web", "com.docker.compose.project.working_dir": str(scratch / "S" / "t")}),
        ],
    }

    class Listed:
        def __init__(self, id_, labels):
            self.id, self.attrs = id_, {"Labels": labels}

    class Client:
        class containers:  # noqa: N801 - docker-py's attribute name
            @staticmethod
            def list(all, sparse, filters):
                return [Listed(*entry) for entry in listed[filters["label"]]]

    import docker as docker_py

    monkeypatch.setattr(docker_py, "from_env", lambda **kwargs: Client())
    assert docker.job_containers(scratch) == {"e1", "c1"}
    assert docker.job_containers() == {"e1", "e2", "c1"}


def test_doctor_needs_compose_only_for_the_compose_runner(monkeypatch, tmp_path):
    monkeypatch.setattr(docker, "compose_command", lambda: None)
    assert docker.compose_for("engine").ok and "not installed" in docker.compose_for("engine").detail
    assert not docker.compose_for("compose").ok
    monkeypatch.setattr(docker, "compose_command", lambda: ["docker-compose"])
    assert docker.compose_for("compose").ok and docker.compose_for("engine").detail.startswith("docker-compose (used by")


def test_the_stand_in_shell_exits_with_the_containers_code(session, tmp_path):
    container = _container(session, runner=FakeRunner(code=7), container_entrypoint=["true"])
    _compose_data(container, tmp_path, "process", [], {})
    argv = container._compose()
    assert subprocess.run(argv).returncode == 7
    with pytest.raises(UnsupportedService):
        container._compose(detached=True)
