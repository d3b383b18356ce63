"""A local endpoint: a model hosted on this machine the way SageMaker hosts it.

Through the SDK's local mode (checked on sagemaker 2.257): the model is a ``sagemaker.model.Model``
of the project's XGBoost image and the deployable ``model.tar.gz``, deployed with
``instance_type="local"``; local mode unpacks the archive into the container's ``/opt/ml/model``,
runs ``docker compose`` with the image's ``serve`` and waits for ``GET /ping``, as SageMaker does
before an endpoint is InService. The image's server (:mod:`churn.algorithm.serve`) takes raw
customer rows because the archive carries the model's dataset spec (``churn/features.json``).
Only public SDK API is used here: ``LocalSession``, its ``config``, ``Model.deploy`` and the
predictor's ``delete_endpoint`` / ``delete_model``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from churn.backends import docker
from churn.files import file_uri
from churn.runner.local_executor import hosting_session
from churn.runner.step_output import container_line

#: SageMaker's hosting port inside the container; local mode publishes it on ``port``.
CONTAINER_PORT = 8080


@dataclass
class LocalEndpoint:
    name: str
    port: int
    #: Seconds from the deploy call until ``/ping`` answered.
    start_seconds: float
    predictor: object = field(repr=False, default=None)
    scratch: Path | None = field(repr=False, default=None)

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}/invocations"

    lines: _ContainerLines | None = field(repr=False, default=None)
    stopping: bool = False

    def stop(self) -> None:
        """Stop and remove the endpoint's containers (local mode's ``docker compose down``)."""
        self.stopping = True
        try:
            if self.predictor is not None:
                self.predictor.delete_endpoint(delete_endpoint_config=True)  # type: ignore[attr-defined]
                self.predictor.delete_model()  # type: ignore[attr-defined]
        finally:
            if self.scratch is not None:
                docker.remove_job_containers(self.scratch)
                shutil.rmtree(self.scratch, ignore_errors=True)
            if self.lines is not None:
                self.lines.close()

    def quiet_end(self) -> None:
        """The SDK's hosting thread ends by raising the Compose exit code of a stopped endpoint as
        a failure (sagemaker 2.257): not printed once :meth:`stop` was called."""
        previous = threading.excepthook

        def hook(args):
            if not (self.stopping and type(args.thread).__name__ == "_HostingContainer"):
                previous(args)

        threading.excepthook = hook


class _ContainerLines(io.TextIOBase):
    """``sys.stdout`` while an endpoint runs: local mode streams the container's Compose output
    there; its container lines go on as ``endpoint | <text>`` (no Compose chatter, no colour)."""

    def __init__(self, out):
        super().__init__()
        self.out, self.pending, self.lock = out, "", threading.Lock()
        sys.stdout = self

    def write(self, text: str) -> int:
        with self.lock:
            *complete, self.pending = (self.pending + text).split("\n")
            for raw in complete:
                line = container_line(raw)
                if line is not None:
                    self.out.write(f"endpoint | {line}\n")
            self.out.flush()
        return len(text)

    def close(self) -> None:
        if sys.stdout is self:
            sys.stdout = self.out
        super().close()


def start(model_archive: Path, image: str, port: int, name: str = "churn-local") -> LocalEndpoint:
    """Deploy ``model_archive`` in ``image`` on ``localhost:port``; returns once it answers
    ``/ping``. The caller stops it (:meth:`LocalEndpoint.stop`), also on Ctrl-C."""
    from churn.backends.local import LOCAL_ROLE_ARN, local_backend

    _require_free(port)
    session = hosting_session(local_backend().session().boto_session)
    scratch = Path(tempfile.mkdtemp(prefix="churn-endpoint-"))
    # local mode's settings: its Compose files under scratch (so stop() finds what is left), the port.
    session.config = {"local": {"local_code": True, "serving_port": port, "container_root": str(scratch)}}
    from sagemaker.model import Model

    model = Model(image_uri=image, model_data=file_uri(model_archive), role=LOCAL_ROLE_ARN, sagemaker_session=session, name=name)
    endpoint = LocalEndpoint(name, port, 0.0, None, scratch)
    # local mode's /ping poll retries through urllib3, which warns of each refused connection.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    endpoint.lines = _ContainerLines(sys.stdout)
    endpoint.quiet_end()
    started = time.monotonic()
    try:
        # wait=False: local mode's create_endpoint returns once /ping answered; waiting on top of it
        # first sleeps the SDK's 30 s endpoint poll interval (sagemaker 2.257).
        endpoint.predictor = model.deploy(initial_instance_count=1, instance_type="local", endpoint_name=name, wait=False)
    except BaseException:
        # Ctrl-C or a failure before deploy returned: the endpoint local mode registered (its
        # Compose may be starting) is deleted too, so no container outlives the command.
        with contextlib.suppress(Exception):
            session.delete_endpoint(name)
        endpoint.stop()
        raise
    endpoint.start_seconds = time.monotonic() - started
    return endpoint


class EndpointError(RuntimeError):
    """The endpoint cannot start (its port is taken)."""


def _require_free(port: int) -> None:
    """Local mode publishes the port on every interface and takes any answer to /ping there as
    its container's: a port already in use would be someone else's endpoint."""
    import socket

    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", port))  # noqa: S104 - where local mode will publish it
        except OSError as error:
            raise EndpointError(f"port {port} is in use ({error.strerror}): choose another with --port") from None
