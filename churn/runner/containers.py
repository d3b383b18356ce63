"""How a local job's container starts: through the Docker Engine API (``engine``, the default) or
through SageMaker local mode's own Compose runner (``compose``).

SageMaker local mode lays out a job's ``/opt/ml`` folders and config files, writes a Compose file
with one service per host, and runs ``docker compose up`` on it. With the ``engine`` runner churn
keeps all of local mode's layout and aftermath (:mod:`churn.runner.local_executor` hooks in at the
moment local mode would start Compose) and starts that one service's container itself, with
docker-py: :func:`translate` turns the Compose service into ``containers.create`` arguments (every
key consumed or refused), and :class:`EngineRunner` creates, starts and follows the container and
returns its exit code. The container is left for :func:`churn.backends.docker.finish_job_containers`
(its log and exit code decide the step, as with Compose); it carries the label
:data:`JOB_ROOT_LABEL` by which churn finds it.

Nothing here imports the SageMaker SDK.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

from churn.backends.docker import JOB_ROOT_LABEL

#: The container runners ``churn run --container-runner`` accepts; the first is the default.
RUNNERS = ("engine", "compose")
DEFAULT_RUNNER = RUNNERS[0]
#: The HTTP timeout of the engine runner's Docker calls (local mode gives Compose the same, as
#: ``COMPOSE_HTTP_TIMEOUT``); following the output and waiting for the exit have none.
DOCKER_TIMEOUT_SECONDS = 120
#: What a container removed by Ctrl-C counts as (Docker's exit code of a killed container).
KILLED = 137

#: The Compose service keys the engine runner turns into Docker settings; any other key (local
#: mode's GPU ``deploy``, serving ``ports``, Studio's ``network_mode``, a ``local.container_config``
#: setting) is refused rather than dropped.
_CONSUMED = frozenset({"image", "container_name", "stdin_open", "tty", "volumes", "environment", "command", "entrypoint", "networks"})


class ContainerNotStarted(RuntimeError):
    """The engine runner could not start a job's container (or Ctrl-C came first)."""


class UnsupportedService(ContainerNotStarted):
    """A Compose service the engine runner cannot start as local mode's Compose would."""


def check_runner(name: str) -> None:
    if name not in RUNNERS:
        raise ValueError(f"unknown container runner {name!r}: choose one of {', '.join(RUNNERS)}")


def translate(services: dict, *, job_root: Path) -> tuple[str, dict]:
    """The one host of local mode's Compose ``services`` and its container's settings, as
    ``docker.DockerClient.containers.create`` keyword arguments plus ``aliases`` (the host's
    names on its network). Values are passed as Compose would read them from the file, except
    that ``$`` is not interpolated (SageMaker passes environment values verbatim)."""
    if len(services) != 1:
        raise UnsupportedService(
            f"the engine runner starts one container per job, local mode asked for {len(services)}; use --container-runner compose"
        )
    ((host, service),) = services.items()
    unknown = sorted(set(service) - _CONSUMED)
    if unknown:
        raise UnsupportedService(
            f"the engine runner does not support the Compose setting{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            "use --container-runner compose"
        )
    networks = service.get("networks") or {}
    if len(networks) != 1:
        raise UnsupportedService(f"the engine runner joins exactly one network, the job names {len(networks)}; use --container-runner compose")
    ((network, settings),) = networks.items()
    command = service.get("command")
    return host, {
        "image": service["image"],
        "name": service["container_name"],
        "stdin_open": bool(service.get("stdin_open", False)),
        "tty": bool(service.get("tty", False)),
        "volumes": [_bind(volume) for volume in service.get("volumes") or []],
        "environment": list(service.get("environment") or []),
        "entrypoint": service.get("entrypoint"),
        # Compose v1 splits a string command as a shell would; local mode's are single words.
        "command": command.split() if isinstance(command, str) else command,
        "network": network,
        "aliases": list((settings or {}).get("aliases") or []),
        "labels": {JOB_ROOT_LABEL: str(job_root), "io.churn.host": host, "io.churn.runner": "engine"},
    }


def _bind(volume: str) -> str:
    """A Compose volume ``host:container[:mode]`` as Compose v1 hands it to Docker: with its mode,
    ``rw`` when none is given (local mode's paths are absolute POSIX paths, its modes ``z`` only)."""
    return volume if volume.count(":") >= 2 else f"{volume}:rw"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__


class EngineRunner:
    """Runs one job's container through the Docker Engine API; its output goes to ``sys.stdout``
    as Compose's does (``<container> | <line>``), where churn's step output router takes it."""

    name = "engine"

    def __init__(self, client_factory: Callable[[], object] | None = None):
        self._client_factory = client_factory

    def _client(self):
        if self._client_factory is not None:
            return self._client_factory()
        import docker

        return docker.from_env(timeout=DOCKER_TIMEOUT_SECONDS)

    def run_service(self, services: dict, *, job_root: Path, may_start: Callable[[], bool]) -> int:
        """Create, start and follow the container of local mode's Compose ``services``; return its
        exit code. ``may_start()`` False (Ctrl-C) between create and start removes it instead.
        Raises :class:`ContainerNotStarted` when Docker refuses it."""
        import docker

        _, settings = translate(services, job_root=job_root)
        network, aliases = settings.pop("network"), settings.pop("aliases")
        client = self._client()  # one per job: step threads share no HTTP session
        try:
            try:
                container = client.containers.create(
                    **settings, network=network, networking_config={network: client.api.create_endpoint_config(aliases=aliases)},
                )
            except docker.errors.DockerException as error:
                raise ContainerNotStarted(f"the job's container was not created: {_first_line(error)}") from None
            if not may_start():
                container.remove(force=True)
                raise ContainerNotStarted("the run was stopped before the job's container started")
            try:
                container.start()
            except docker.errors.DockerException as error:
                raise ContainerNotStarted(f"the job's container did not start: {_first_line(error)}") from None
            self._follow(container)
            try:
                return int(container.wait(timeout=None)["StatusCode"])
            except docker.errors.DockerException:
                if not may_start():  # Ctrl-C removed it while it ran
                    return KILLED
                raise
        finally:
            client.close()

    @staticmethod
    def _follow(container) -> None:
        """Copy the container's output to ``sys.stdout`` line by line until it ends (or is removed)."""
        pending = bytearray()

        def write(line: bytes) -> None:
            sys.stdout.write(f"{container.name} | {line.decode('utf-8', 'replace').rstrip(chr(13))}\n")

        try:
            for chunk in container.logs(stream=True, follow=True):  # a tty's output comes byte by byte
                pending.extend(chunk)
                if b"\n" in chunk:
                    *lines, rest = bytes(pending).split(b"\n")
                    pending = bytearray(rest)
                    for line in lines:
                        write(line)
        except Exception as error:  # noqa: BLE001 - the stream broke (the container was removed): its exit decides
            logging.getLogger(__name__).debug("%s: its output stream ended early (%s)", container.name, error)
        if pending:
            write(bytes(pending))
