"""The engine container runner lays out a job exactly as local mode's own Compose runner does.

Each job runs twice with the same name, request and destinations: through the SDK's
``LocalSagemakerClient`` (Compose) and through churn's engine client. A probe inside the
container records what it finds (every entry under ``/opt/ml`` with its mode, owner and content
hash, the environment, argv, working folder, user, tty, the mounts under ``/opt/ml``, whether its
host name resolves to itself), then writes known outputs and exits with a chosen code. The two
runs are compared file by file: the probe's record, the uploaded outputs or archives' members,
the job descriptions and the containers' settings. Only the differences listed in
:data:`NORMALIZED` are allowed; anything else fails.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
from pathlib import Path

import docker as docker_sdk
import pytest

from churn.backends import docker
from churn.backends.local import local_backend
from churn.files import file_uri, uri_path
from churn.runner import local_executor
from churn.runner.containers import EngineRunner
from sagemaker.local.image import _SageMakerContainer
from sagemaker.local.local_session import LocalSagemakerClient

pytestmark = pytest.mark.docker

#: What may differ between the two runners' runs of one job, and how it is normalized: the
#: random host name (``algo-1-<5>``), the container's id (HOSTNAME, its own network alias), the
#: per-run job folders in bind sources, the order of binds (the SDK builds them from a set),
#: labels (Compose's vs churn's) and timestamps (excluded).
NORMALIZED = ("host name", "HOSTNAME", "container id alias", "job folders", "bind order", "labels", "timestamps")
HOST = re.compile(r"algo-1-[a-z0-9]{5}")

PROBE = r'''
import hashlib, json, os, re, socket, stat, sys
HOST = re.compile(rb"algo-1-[a-z0-9]{5}")
def entries():
    found = []
    for root, dirs, files in os.walk("/opt/ml"):
        for name in dirs + files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            entry = [path, stat.filemode(info.st_mode), f"{info.st_uid}:{info.st_gid}"]
            if stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    entry += [info.st_size, hashlib.sha256(HOST.sub(b"algo-1-HOST", handle.read())).hexdigest()]
            found.append(entry)
    return sorted(found)
def mounts():
    with open("/proc/self/mountinfo") as handle:
        fields = [line.split() for line in handle]
    return sorted([f[4], f[5].split(",")[0]] for f in fields if f[4].startswith("/opt/ml"))
config = next(p for p in ("/opt/ml/input/config/resourceconfig.json", "/opt/ml/config/resourceconfig.json") if os.path.exists(p))
host = json.load(open(config))["current_host"]
record = {
    "tree": entries(), "env": sorted([k, v] for k, v in os.environ.items() if k != "HOSTNAME"),
    "argv": sys.argv[1:], "cwd": os.getcwd(), "ids": [os.getuid(), os.getgid()],
    "tty": [sys.stdin.isatty(), sys.stdout.isatty()], "mounts": mounts(),
    "resolves_to_itself": socket.gethostbyname(host) == socket.gethostbyname(socket.gethostname()),
}
text = HOST.sub(b"algo-1-HOST", json.dumps(record, indent=1, sort_keys=True).encode())
outputs = [v for k, v in sorted(os.environ.items()) if k.startswith("PROBE_OUTPUT_")]
if not outputs:  # a training job
    os.makedirs("/opt/ml/output/data", exist_ok=True)
    open("/opt/ml/model/m.bin", "wb").write(b"model")
    open("/opt/ml/output/data/d.txt", "w").write("data")
    open("/opt/ml/output/failure", "w").close()
    outputs = ["/opt/ml/output/data"]
for folder in outputs:
    open(os.path.join(folder, "probe.json"), "wb").write(text)
print("probe done", flush=True)
sys.exit(int(os.environ.get("PROBE_EXIT", "0")))
'''


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """The processing image, and a training image built from it whose ``train`` runs the probe."""
    docker.require_ready(tmp_path_factory.mktemp("runs"), build_missing=True, runner="compose")
    processing = docker.image_names()[0]
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        for name, text, mode in (
            ("Dockerfile", f"FROM {processing}\nCOPY probe.py /probe.py\nCOPY train /usr/local/bin/train\n", 0o644),
            ("probe.py", PROBE, 0o644),
            ("train", "#!/bin/sh\nexec python3 /probe.py \"$@\"\n", 0o755),
        ):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    context.seek(0)
    tag = f"churn-probe:{processing.split(':')[1]}"
    docker_sdk.from_env().images.build(fileobj=context, custom_context=True, tag=tag, rm=True)
    return processing, tag


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    return local_backend(tmp_path_factory.mktemp("runs")).session()


def _processing_request(tmp_path: Path, image: str, exit_code: int = 0) -> dict:
    data = tmp_path / "in" / "folder"
    data.mkdir(parents=True)
    (data / "a.csv").write_text("a,b\n1,2\n")
    (tmp_path / "in" / "single").mkdir()
    (tmp_path / "in" / "single" / "one.txt").write_text("one\n")
    outputs = {"train": "/opt/ml/processing/train", "report": "/opt/ml/processing/report"}
    return {
        "ProcessingJobName": "churn-probe-processing",
        "AppSpecification": {"ImageUri": image, "ContainerEntrypoint": ["python3", "-c", PROBE], "ContainerArguments": ["--seed", "42"]},
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": 1, "InstanceType": "local", "VolumeSizeInGB": 30}},
        "ProcessingInputs": [
            {"InputName": name, "S3Input": {"S3Uri": file_uri(path), "LocalPath": f"/opt/ml/processing/input/{name}", "S3DataType": "S3Prefix",
                                            "S3InputMode": "File", "S3DataDistributionType": "FullyReplicated"}}
            for name, path in (("folder", data), ("file", tmp_path / "in" / "single" / "one.txt"))
        ],
        "ProcessingOutputConfig": {"Outputs": [
            {"OutputName": name, "S3Output": {"S3Uri": file_uri(tmp_path / "out" / name), "LocalPath": local, "S3UploadMode": "EndOfJob"}}
            for name, local in outputs.items()
        ]},
        "Environment": {"PROBE_EXIT": str(exit_code), **{f"PROBE_OUTPUT_{name.upper()}": local for name, local in outputs.items()}},
    }


def _training_request(tmp_path: Path, image: str, exit_code: int = 0, entrypoint: bool = False) -> dict:
    channels = {}
    for channel in ("train", "validation"):
        (tmp_path / "in" / channel).mkdir(parents=True)
        (tmp_path / "in" / channel / f"{channel}.csv").write_text("1,2,3\n")
        channels[channel] = tmp_path / "in" / channel
    code = tmp_path / "in" / "code"
    code.mkdir()
    (code / "script.py").write_text("print('hi')\n")
    algorithm = {"TrainingImage": image, "TrainingInputMode": "File"}
    if entrypoint:
        algorithm |= {"ContainerEntrypoint": ["python3", "/probe.py"], "ContainerArguments": ["--fast", "1"]}
    return {
        "TrainingJobName": "churn-probe-training",
        "AlgorithmSpecification": algorithm,
        "OutputDataConfig": {"S3OutputPath": file_uri(tmp_path / "out" / "model")},
        "ResourceConfig": {"InstanceCount": 1, "InstanceType": "local", "VolumeSizeInGB": 30},
        "InputDataConfig": [
            {"ChannelName": channel, "ContentType": "text/csv", "DataSource": {"S3DataSource": {
                "S3DataType": "S3Prefix", "S3Uri": file_uri(path), "S3DataDistributionType": "FullyReplicated"}}}
            for channel, path in channels.items()
        ],
        "HyperParameters": {"max_depth": "5", "eta": "0.2", "sagemaker_submit_directory": json.dumps(file_uri(code)),
                            "sagemaker_program": json.dumps("script.py")},
        "Environment": {"PROBE_EXIT": str(exit_code)},
    }


def _client(runner: str, session):
    if runner == "compose":
        return LocalSagemakerClient(session)
    return local_executor._ChurnLocalClient(session, container=local_executor.engine_container(EngineRunner(), lambda: True))


def _container_record(job_dir: Path) -> dict:
    """The job's container's settings, normalized (then removed, as churn removes it)."""
    client = docker_sdk.from_env()
    (container_id,) = docker.job_containers(job_dir)
    container = client.containers.get(container_id)
    attrs = container.attrs
    labels = attrs["Config"]["Labels"] or {}
    root = labels.get(docker.JOB_ROOT_LABEL) or labels["com.docker.compose.project.working_dir"]
    network = attrs["NetworkSettings"]["Networks"]["sagemaker-local"]
    exit_code = attrs["State"]["ExitCode"]
    container.remove(force=True)

    def normal(text: str) -> str:
        text = text.replace(root, "<ROOT>")
        text = re.sub(re.escape(str(job_dir)) + r"/tmp[A-Za-z0-9_]+", "<DATA>", text)  # noqa: S108 - mkdtemp names, not a file
        return HOST.sub("algo-1-HOST", text)

    config = attrs["Config"]
    return {
        "Tty": config["Tty"], "OpenStdin": config["OpenStdin"], "Entrypoint": config["Entrypoint"], "Cmd": config["Cmd"],
        "Env": sorted(e for e in config["Env"] if not e.startswith("HOSTNAME=")), "User": config["User"], "WorkingDir": config["WorkingDir"],
        "Image": config["Image"],
        "Binds": sorted(normal(b) for b in attrs["HostConfig"]["Binds"]),
        "Aliases": sorted({normal(a) for a in network["Aliases"] or [] if not container_id.startswith(a)}),
        "ExitCode": exit_code,
    }


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _archive_members(folder: Path) -> dict[str, dict[str, bytes]]:
    found = {}
    for archive in sorted(folder.rglob("*.tar.gz")):
        with tarfile.open(archive) as tar:
            found[str(archive.relative_to(folder))] = {
                m.name: (tar.extractfile(m).read() if m.isfile() else m.type) for m in tar.getmembers()
            }
    return found


def _run_both(tmp_path: Path, session, kind: str, request: dict, fails: bool) -> dict[str, dict]:
    """The job through each runner; what each left, keyed by runner."""
    results = {}
    for runner in ("compose", "engine"):
        job_dir = tmp_path / "jobs" / runner
        job_dir.mkdir(parents=True)
        previous = session.config
        session.config = {"local": {"container_root": str(job_dir), "local_code": True}}
        client = _client(runner, session)
        error = None
        try:
            getattr(client, f"create_{kind}_job")(**request)
        except RuntimeError as raised:
            error = re.sub(r"\[.*\]", "<ARGV>", str(raised))
        finally:
            session.config = previous
        name = request["ProcessingJobName" if kind == "processing" else "TrainingJobName"]
        description = None
        if error is None:
            description = getattr(client, f"describe_{kind}_job")(name)
            for key in ("TrainingStartTime", "TrainingEndTime", "ProcessingStartTime", "ProcessingEndTime", "CreationTime", "LastModifiedTime"):
                description.pop(key, None)
        out = tmp_path / "out"
        results[runner] = {
            "error": error, "description": json.loads(json.dumps(description, default=str)), "container": _container_record(job_dir),
            "outputs": _tree(out) if kind == "processing" else _archive_members(out),
        }
        shutil.move(out, tmp_path / f"out-{runner}")
    assert (results["compose"]["error"] is not None) is fails
    return results


def _probe_records(tmp_path: Path, kind: str) -> dict[str, dict]:
    records = {}
    for runner in ("compose", "engine"):
        out = tmp_path / f"out-{runner}"
        if kind == "processing":
            text = (out / "train" / "probe.json").read_bytes()
        else:
            with tarfile.open(next(out.rglob("output.tar.gz"))) as tar:
                text = tar.extractfile("data/probe.json").read()
        records[runner] = json.loads(text)
    return records


def _assert_same(results: dict, records: dict) -> None:
    assert records["engine"] == records["compose"]
    assert records["engine"]["resolves_to_itself"] and records["engine"]["tty"] == [True, True]
    for part in ("error", "description", "container", "outputs"):
        assert results["engine"][part] == results["compose"][part], part


def test_a_processing_job_is_laid_out_as_local_modes_compose_runner_lays_it_out(images, session, tmp_path):
    request = _processing_request(tmp_path, images[0])
    results = _run_both(tmp_path, session, "processing", request, fails=False)
    records = _probe_records(tmp_path, "processing")
    _assert_same(results, records)
    assert records["engine"]["argv"] == ["--seed", "42"]
    assert "/opt/ml/processing/input/folder/a.csv" in {entry[0] for entry in records["engine"]["tree"]}
    assert set(results["engine"]["outputs"]) == {"train/probe.json", "report/probe.json"}


@pytest.mark.parametrize("entrypoint", [False, True], ids=["command", "entrypoint"])
def test_a_training_job_is_laid_out_as_local_modes_compose_runner_lays_it_out(images, session, tmp_path, entrypoint):
    request = _training_request(tmp_path, images[1], entrypoint=entrypoint)
    results = _run_both(tmp_path, session, "training", request, fails=False)
    records = _probe_records(tmp_path, "training")
    _assert_same(results, records)
    tree = {entry[0] for entry in records["engine"]["tree"]}
    assert {"/opt/ml/input/config/hyperparameters.json", "/opt/ml/input/config/inputdataconfig.json",
            "/opt/ml/input/data/train/train.csv", "/opt/ml/code/script.py"} <= tree
    (members,) = [m for name, m in results["engine"]["outputs"].items() if name.endswith("model.tar.gz")]
    assert members == {"m.bin": b"model"}
    assert records["engine"]["argv"] == (["--fast", "1"] if entrypoint else [])


def test_a_failing_training_job_fails_alike_and_still_leaves_its_archives(images, session, tmp_path):
    results = _run_both(tmp_path, session, "training", _training_request(tmp_path, images[1], exit_code=3), fails=True)
    _assert_same(results, _probe_records(tmp_path, "training"))
    assert results["engine"]["container"]["ExitCode"] == 3 and "code: 3" in results["engine"]["error"]


def test_compose_is_not_needed_by_the_engine_runner(images, session, tmp_path, monkeypatch):
    """The SDK's probe for Compose is never called: the job runs with it failing."""
    def no_compose():
        raise ImportError("no docker compose here")

    monkeypatch.setattr(_SageMakerContainer, "_get_compose_cmd_prefix", staticmethod(no_compose))
    job_dir = tmp_path / "jobs"
    job_dir.mkdir()
    session.config, previous = {"local": {"container_root": str(job_dir), "local_code": True}}, session.config
    try:
        _client("engine", session).create_processing_job(**_processing_request(tmp_path, images[0]))
    finally:
        session.config = previous
    assert _container_record(job_dir)["ExitCode"] == 0
    assert (uri_path(file_uri(tmp_path / "out" / "train")) / "probe.json").is_file()
