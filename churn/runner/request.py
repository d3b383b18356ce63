"""What a run is asked to do, for either backend: one :class:`RunRequest`, checked before anything
starts. A setting the chosen backend does not support is an error naming it, never ignored."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from churn.parameters import ParameterError, check_tuning
from churn.runner.containers import DEFAULT_RUNNER, RUNNERS as CONTAINER_RUNNERS
from churn.runner.runs import RunError

BACKENDS = ("local", "cloud")


@dataclass(frozen=True)
class RunRequest:
    """One run of the pipeline. ``None`` (or the default) means "not asked for"."""

    backend: str = "local"
    #: Pipeline parameter overrides, ``InputData`` (a path, or an ``s3://`` URI on the cloud) included.
    parameters: Mapping[str, object] = field(default_factory=dict)
    #: Where runs are kept (default ``$CHURN_RUNS_DIR`` or ``./runs``); the cloud brings its results here.
    runs_dir: Path | None = None
    #: Run a recorded pipeline version again (``churn versions``): a definition hash prefix.
    version: str | None = None
    #: A dataset spec (JSON file) describing the input's layout (default: the churn.txt layout).
    dataset: Path | None = None
    #: False (``--no-tuning``): compile the pipeline without the tuning branch (TuneModel).
    tuning: bool = True

    # --- the local backend only ---
    #: Run a failed, interrupted or killed execution again from where it stopped.
    resume: str | None = None
    #: False: run every step, reusing nothing from the step cache.
    use_cache: bool = True
    #: False: do not build the project's images when they are missing.
    build_images: bool = True
    #: At most this many independent steps at once (default ``$CHURN_MAX_PARALLEL_STEPS`` or the cores).
    max_parallel_steps: int | None = None
    #: The official AWS images instead of the project's.
    aws_images: bool = False
    #: How step containers start: ``engine`` (the Docker Engine API) or ``compose`` (local mode's
    #: own); it changes no result, so no cache key or replay record holds it.
    container_runner: str = DEFAULT_RUNNER

    # --- the cloud backend only (each also read from its environment variable) ---
    region: str | None = None
    role_arn: str | None = None
    bucket: str | None = None
    prefix: str | None = None
    cache_expiry: str | None = None
    #: How often to ask SageMaker for the status (default 30 s).
    poll_seconds: float | None = None
    #: Give up following the execution after this many seconds.
    timeout_seconds: float | None = None


#: Settings only one backend supports, with the ``churn run`` option that sets each.
ONLY = {
    "local": {
        "resume": "--resume", "use_cache": "--no-cache", "build_images": "--no-build",
        "max_parallel_steps": "--max-parallel-steps", "aws_images": "--aws-images", "container_runner": "--container-runner",
    },
    "cloud": {
        "region": "--region", "role_arn": "--role-arn", "bucket": "--bucket", "prefix": "--prefix",
        "cache_expiry": "--cache-expiry", "poll_seconds": "--poll-seconds", "timeout_seconds": "--timeout",
    },
}
_DEFAULTS = {f.name: f.default for f in fields(RunRequest) if not callable(f.default_factory)}


def _given(request: RunRequest, name: str) -> bool:
    return getattr(request, name) != _DEFAULTS[name]


def only_for(options: list[str], backend: str, asked: str) -> str:
    """Why ``options`` (of ``backend`` only) are refused for a run on the ``asked`` backend."""
    return (
        f"{' and '.join(options)} {'is' if len(options) == 1 else 'are'} for the {backend} backend only; "
        f"the {asked} backend does not support {'it' if len(options) == 1 else 'them'}"
    )


def check_request(request: RunRequest) -> None:
    """Refuse a request its backend cannot honour, naming the options at fault."""
    if request.backend not in BACKENDS:
        raise RunError(f"unknown backend {request.backend!r}: choose one of {', '.join(BACKENDS)}")
    for backend, settings in ONLY.items():
        if backend == request.backend:
            continue
        wrong = [option for name, option in settings.items() if _given(request, name)]
        if wrong:
            raise RunError(only_for(wrong, backend, request.backend))
    if request.resume:
        conflicts = [
            option for given, option in (
                (any(name != "InputData" for name in request.parameters), "--param"),
                ("InputData" in request.parameters, "--input"),
                (not request.use_cache, "--no-cache"),
                (request.version is not None, "--pipeline-version"),
                (request.dataset is not None, "--dataset"),
                (not request.tuning, "--no-tuning"),
            ) if given
        ]
        if conflicts:
            raise RunError(f"--resume runs the failed execution as it was: it takes no {', '.join(conflicts)}")
    if request.version is not None and request.dataset is not None:
        raise RunError("--pipeline-version runs a recorded version with the dataset spec it ran with: it takes no --dataset")
    if request.version is not None and not request.tuning:
        raise RunError("--pipeline-version runs a recorded version with or without tuning as it was compiled: it takes no --no-tuning")
    if not request.resume and request.version is None:
        try:
            check_tuning(request.parameters, request.tuning)
        except ParameterError as error:
            raise RunError(str(error)) from None
    _check_values(request)


def _check_values(request: RunRequest) -> None:
    """Refuse a setting's value no run can take."""
    if request.container_runner not in CONTAINER_RUNNERS:
        raise RunError(f"--container-runner must be one of {', '.join(CONTAINER_RUNNERS)}, got {request.container_runner!r}")
    if request.max_parallel_steps is not None and request.max_parallel_steps < 1:
        raise RunError(f"--max-parallel-steps must be a positive integer, got {request.max_parallel_steps}")
    if request.poll_seconds is not None and not request.poll_seconds > 0:
        raise RunError(f"--poll-seconds must be positive, got {request.poll_seconds}")
    if request.timeout_seconds is not None and not request.timeout_seconds > 0:
        raise RunError(f"--timeout must be positive, got {request.timeout_seconds}")
