"""Docker for the local backend: preflight checks (``churn doctor``), building the project's
images, and removing what SageMaker local mode leaves behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from churn.backends.images import image_tag, write_context
from churn.layout import PROJECT_DIR, project_file

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def ca_bundle_candidates() -> list[Path]:
    """Where the image build finds CA certificates for pip (TLS-intercepting proxies), the first
    that exists wins: ``$CHURN_CA_BUNDLE``, the host's bundle (Debian/Ubuntu, then
    Fedora/RHEL), a file a user put beside the Dockerfile in a checkout."""
    given = os.environ.get("CHURN_CA_BUNDLE")
    return [
        *([Path(given)] if given else []),
        HOST_CA_BUNDLE,
        Path("/etc/pki/tls/certs/ca-bundle.crt"),
        PROJECT_DIR / "docker" / "extra-ca-certificates.crt",
    ]


#: Where the build context carries the host's CA bundle (read by the Dockerfile when present).
CONTEXT_CA_FILE = "docker/extra-ca-certificates.crt"
MIN_FREE_DISK_GB = 3.0


class DockerError(RuntimeError):
    """Docker is missing, not running or cannot build; the message says how to fix it."""


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, **kwargs)


def compose_command() -> list[str] | None:
    """The Compose the SageMaker SDK will use (it needs "v2" in `docker compose version`, else
    a `docker-compose` executable), or None."""
    if shutil.which("docker"):
        result = _run(["docker", "compose", "version"])
        if result.returncode == 0 and "v2" in result.stdout:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


#: DOCKER_HOST values that name the local daemon's own socket (a stopped daemon, not a wrong address).
LOCAL_DAEMON_SOCKETS = ("unix:///var/run/docker.sock", "unix:///run/docker.sock")


def docker_running() -> Check:
    if not shutil.which("docker"):
        return Check("docker", False, "the docker client is not installed", "install Docker (Debian: apt-get install -y docker.io)")
    import docker

    try:
        version = docker.from_env(timeout=30).version()["Version"]
    except (docker.errors.DockerException, ValueError) as error:  # (ValueError: a DOCKER_HOST that is no URL)
        reason = str(error).splitlines()[0][:200]
        host = os.environ.get("DOCKER_HOST")
        if host and host.rstrip("/") not in LOCAL_DAEMON_SOCKETS:  # a wrong address, not a stopped daemon
            return Check("docker", False, f"cannot reach Docker at DOCKER_HOST={host}: {reason}", "correct DOCKER_HOST, or unset it for the local daemon")
        return Check(
            "docker", False, f"the Docker daemon does not answer: {reason}",
            "start it (systemctl start docker, or: dockerd > /var/log/dockerd.log 2>&1 &)",
        )
    return Check("docker", True, f"Docker engine {version}")


def compose_available() -> Check:
    command = compose_command()
    if command is None:
        return Check(
            "compose", False, "neither `docker compose` (v2) nor `docker-compose` is installed",
            "install the compose plugin, or Debian's docker-compose package (apt-get install -y docker-compose)",
        )
    return Check("compose", True, " ".join(command))


#: The image of Debian's library stack, for the cross-stack parity check only.
PARITY_IMAGE = "churn-debian-stack"


def image_names(parity: bool = False) -> list[str]:
    tag = image_tag()
    return [f"churn-processing:{tag}", f"churn-xgboost:{tag}"] + ([f"{PARITY_IMAGE}:{tag}"] if parity else [])


def missing_images(parity: bool = False) -> list[str]:
    import docker

    client = docker.from_env()
    missing = []
    for name in image_names(parity):
        try:
            client.images.get(name)
        except docker.errors.ImageNotFound:
            missing.append(name)
    return missing


def images_present() -> Check:
    missing = missing_images()
    if missing:
        return Check("images", False, "missing: " + ", ".join(missing), "build them: churn images build")
    return Check("images", True, ", ".join(image_names()))


def disk_space(path: Path) -> Check:
    probe = path if path.exists() else Path.cwd()
    free = shutil.disk_usage(probe).free / 1e9
    ok = free >= MIN_FREE_DISK_GB
    return Check("disk", ok, f"{free:.1f} GB free at {probe}", "" if ok else f"free at least {MIN_FREE_DISK_GB} GB")


#: What Compose is still used for when the default (engine) container runner runs the jobs.
COMPOSE_USES = "used by --container-runner compose, churn serve and image builds"


def compose_for(runner: str) -> Check:
    """Compose's check for ``runner``: required by the ``compose`` runner, for the ``engine``
    runner information only (it never fails)."""
    check = compose_available()
    if runner == "compose":
        return check
    if check.ok:
        return Check("compose", True, f"{check.detail} ({COMPOSE_USES})")
    return Check("compose", True, f"not installed ({COMPOSE_USES}; not needed to run pipelines with the engine runner)")


def doctor(runs_dir: Path, runner: str = "engine") -> list[Check]:
    checks = [docker_running(), compose_for(runner)]
    checks.append(images_present() if checks[0].ok else Check("images", False, "cannot check without Docker", checks[0].fix))
    checks.append(disk_space(runs_dir))
    return checks


#: The label naming the job folder (local mode's ``container_root``) of a container the engine
#: container runner (:mod:`churn.runner.containers`) started.
JOB_ROOT_LABEL = "io.churn.job-root"


#: The one Docker network every local-mode job joins (named in the SDK's Compose files).
LOCAL_MODE_NETWORK = "sagemaker-local"


def ensure_local_mode_network() -> None:
    """Create local mode's network unless it exists. Each job's Compose creates it when missing,
    so two jobs starting at the same time on a fresh engine could create it twice (Docker allows
    duplicate names, after which Compose cannot tell which one to use)."""
    import docker

    client = docker.from_env(timeout=30)
    if not client.networks.list(names=[LOCAL_MODE_NETWORK]):
        client.networks.create(
            LOCAL_MODE_NETWORK, driver="bridge", check_duplicate=True,
            labels={"com.docker.compose.network": LOCAL_MODE_NETWORK, "com.docker.compose.project": "churn"},
        )


def require_ready(runs_dir: Path, build_missing: bool = True, runner: str = "engine") -> None:
    """Raise :class:`DockerError` unless Docker, the images and (for the ``compose`` container
    runner) Compose are ready; build the images first when they are missing and ``build_missing``."""
    for check in (docker_running(), compose_for(runner)):
        if not check.ok:
            raise DockerError(f"{check.name}: {check.detail}; {check.fix}")
    if missing_images():
        if not build_missing:
            raise DockerError(f"images missing: {', '.join(missing_images())}; build them: churn images build")
        build_images()
    ensure_local_mode_network()


def build_log_file() -> Path:
    """Where an image build's whole output goes (the terminal gets one line): one file per tag."""
    return Path(tempfile.gettempdir()) / f"churn-images-{image_tag()}.log"


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def build_images(base_image: str | None = None, parity: bool = False) -> list[str]:
    """Build the project's images with Compose (tags from :func:`image_tag`); return their names.
    ``parity`` adds the Debian-stack image of the cross-stack check. The build's output goes to
    :func:`build_log_file`, not the terminal (stdout stays the command's: ``run --json``); one
    line on stderr says what is built and where the log is, and a failure shows the log's end."""
    command = compose_command()
    if command is None:
        raise DockerError(compose_available().detail + "; " + compose_available().fix)
    log_file = build_log_file()
    print(f"building the images {', '.join(image_names(parity))} (once per churn version; log: {log_file})", file=sys.stderr, flush=True)
    started = time.monotonic()
    env = {**os.environ, "CHURN_IMAGE_TAG": image_tag(), "DOCKER_BUILDKIT": os.environ.get("DOCKER_BUILDKIT", "0")}
    if base_image:
        env["BASE_IMAGE"] = base_image
    profiles = ["--profile", "parity"] if parity else []
    with tempfile.TemporaryDirectory(prefix="churn-images-") as context:
        compose_file = write_context(Path(context))
        # pip inside the build stage trusts these CA certificates too (TLS-intercepting proxies).
        bundle = next((path for path in ca_bundle_candidates() if path.is_file()), None)
        if bundle is not None:
            shutil.copyfile(bundle, Path(context) / CONTEXT_CA_FILE)
        with log_file.open("w") as log:
            result = subprocess.run([*command, "-f", str(compose_file), *profiles, "build"], cwd=context, env=env, stdout=log, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise DockerError(
            f"building the images failed (exit {result.returncode}; the whole log: {log_file}); without a registry, build the base "
            f"image first: bash {project_file('docker/build-base-image.sh')}\n{_tail(log_file)}"
        )
    print(f"built the images in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    return image_names(parity)


def image_id(name: str) -> str:
    """The content id of a local image (what a step cache key must depend on, not the tag)."""
    import docker

    try:
        return docker.from_env().images.get(name).id
    except docker.errors.ImageNotFound:
        return f"missing:{name}"


def job_containers(scratch: Path | None = None) -> set[str]:
    """Ids of the containers of local jobs: those the engine runner starts (labelled with their
    job folder) and those local mode's Compose starts (services ``algo-*``); with ``scratch``,
    only those whose job folder (compose file) lies below that folder (one run's jobs)."""
    return set(_job_container_names(scratch))


def job_container_names(scratch: Path) -> list[str]:
    """The names of :func:`job_containers`' containers, sorted."""
    return sorted(_job_container_names(scratch).values())


def _job_container_names(scratch: Path | None) -> dict[str, str]:
    import docker

    client = docker.from_env()
    found = {}
    # sparse: the list response alone (ids and labels). Without it docker-py inspects each listed
    # container, and a parallel step's job may remove its container in between (404 NotFound).
    for label in (JOB_ROOT_LABEL, "com.docker.compose.service"):
        for container in client.containers.list(all=True, sparse=True, filters={"label": label}):
            job_root = _job_root(container.attrs.get("Labels") or {})
            if job_root is not None and (scratch is None or Path(job_root).resolve().is_relative_to(scratch.resolve())):
                found[container.id] = (container.attrs.get("Names") or [container.id])[0].lstrip("/")
    return found


def _job_root(labels: dict) -> str | None:
    """The job folder of a local job's container (the engine runner's label, else the folder of
    local mode's Compose file for a service ``algo-*``); None for any other container."""
    if JOB_ROOT_LABEL in labels:
        return labels[JOB_ROOT_LABEL]
    if labels.get("com.docker.compose.service", "").startswith("algo-"):
        return labels.get("com.docker.compose.project.working_dir", "")
    return None


#: A failure line longer than this is cut (a 50 MB field once made one).
MAX_REASON_LINE = 64 << 10


@dataclass
class FailedContainer:
    name: str
    exit_code: int
    log_tail: list[str]

    def reason(self) -> str:
        """The container's own account of the failure: its last ``ERROR`` line, else its last
        line (whole up to :data:`MAX_REASON_LINE`; the step's record bounds it, its log does not)."""
        errors = [line for line in self.log_tail if line.startswith("ERROR ")]
        last = errors[-1][len("ERROR "):] if errors else (self.log_tail[-1] if self.log_tail else "no output")
        return f"{last} (container exit code {self.exit_code})"


def remove_container(container_id: str) -> None:
    import docker

    try:
        docker.from_env().containers.get(container_id).remove(force=True)
    except docker.errors.NotFound:
        pass


def finish_job_containers(job_dir: Path, log_file: Path) -> tuple[FailedContainer | None, int]:
    """After one job: append each of its containers' whole log to ``log_file``, remove them,
    and return the first that failed (non-zero exit, or still running) with how many there were.
    The container's exit code is the job's verdict, whatever Compose's own exit code said."""
    import docker

    client = docker.from_env()
    failed, count = None, 0
    for container_id in sorted(job_containers(job_dir)):
        try:
            container = client.containers.get(container_id)
            state = container.attrs.get("State", {})
            code = state.get("ExitCode", 0) if not state.get("Running") else -1
            log = container.logs(stdout=True, stderr=True)
            container.remove(force=True)
        except docker.errors.NotFound:
            continue
        count += 1
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            with log_file.open("ab") as out:
                out.write(log)
        except OSError:  # a full disk loses the log, never the verdict
            pass
        if code and failed is None:
            lines = [line.strip()[:MAX_REASON_LINE] for line in log.decode("utf-8", "replace").splitlines() if line.strip()]
            failed = FailedContainer(container.name, code, lines[-40:] if code != -1 else ["still running when its job ended"])
    return failed, count


def remove_job_containers(scratch: Path) -> None:
    """Remove the job containers whose compose files lie below ``scratch`` (one run's, never
    another run's)."""
    for container_id in job_containers(scratch):
        remove_container(container_id)
