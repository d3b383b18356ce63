"""The one entry point that runs the pipeline, for either backend: ``run(request, events)``.

The CLI, the end-to-end tests and the benchmarks call it the same way; what differs between the
backends is behind it (:mod:`churn.runner.local`, :mod:`churn.runner.cloud`)."""

from __future__ import annotations

import contextlib

from churn.parameters import ParameterError, check_tuning
from churn.runner.events import Events
from churn.runner.request import RunRequest, check_request
from churn.runner.runs import RunError, RunResult


def run(request: RunRequest, events: Events | None = None) -> RunResult:
    """Check ``request``, then stage, compile, execute, collect, register and summarize one run.

    Raises :class:`~churn.runner.runs.RunError` when the run cannot start or be followed (its
    message says why), :class:`~churn.runner.runs.RunInterrupted` on Ctrl-C. A run that starts
    and fails returns a result whose status says so."""
    check_request(request)
    events = events or Events()
    if request.backend == "local":
        return _run_local(request, events)
    return _run_cloud(request, events)


def _dataset(request: RunRequest):
    """The request's dataset spec (the churn.txt layout when it names none)."""
    from churn.dataset import DEFAULT_SPEC, DatasetSpecError, spec_from_json

    if request.dataset is None:
        return DEFAULT_SPEC
    from churn.tables import read_json  # pandas: only when a spec is given
    try:
        return spec_from_json(read_json(request.dataset, "dataset spec"))
    except DatasetSpecError as error:
        raise RunError(f"dataset spec {request.dataset}: {error}") from None
    except (ValueError, FileNotFoundError) as error:
        raise RunError(str(error)) from None


def _run_local(request: RunRequest, events: Events) -> RunResult:
    from churn.backends.local import local_backend
    from churn.runner.local import replay_local, resuming, run_local
    from churn.runner.scheduling import default_max_parallel_steps
    from churn.versions import VersionError, find_version

    backend = local_backend(request.runs_dir, aws_images_=request.aws_images)
    backend.dataset, backend.tuning = _dataset(request), request.tuning
    try:
        max_parallel = request.max_parallel_steps or default_max_parallel_steps()
    except ValueError as error:
        raise RunError(str(error)) from None
    overrides, expected_input, expected_definition = dict(request.parameters), None, None
    if request.use_cache and not request.resume and request.version is None:
        # Nothing changed since a run that succeeded: done again from the cache, without compiling
        # (and so without importing the SDK); else None, and the run takes the full path below.
        replayed = replay_local(backend, overrides, events=events, max_parallel_steps=max_parallel)
        if replayed is not None:
            return replayed
    with contextlib.ExitStack() as claims:  # a resume holds its execution's claim until its run ends
        if request.resume:
            resume = claims.enter_context(resuming(backend.runs_dir, request.resume))
            overrides, expected_input, backend.tuning = resume.parameters, resume.input_sha256, resume.tuning
            if resume.code_version:  # the step code and definition the execution ran (a --pipeline-version run's too)
                backend.code_version, expected_definition = resume.code_version, resume.definition_sha256
        if request.version:
            try:
                version = find_version(backend.runs_dir, request.version)
            except VersionError as error:
                raise RunError(str(error)) from None
            backend.code_version, expected_definition, backend.tuning = version.code_hash, version.definition_sha256, version.tuning
            try:
                check_tuning(overrides, backend.tuning, version.name)
            except ParameterError as error:
                raise RunError(str(error)) from None
        return run_local(
            backend, overrides, events=events, build_missing_images=request.build_images, use_cache=request.use_cache,
            resumed_from=request.resume, expected_definition_sha256=expected_definition, max_parallel_steps=max_parallel,
            expected_input_sha256=expected_input, container_runner=request.container_runner,
        )


def _run_cloud(request: RunRequest, events: Events) -> RunResult:
    from churn.backends.cloud import CloudSettingsError, cloud_backend
    from churn.backends.local import DEFAULT_RUNS_DIR
    from churn.runner.cloud import run_cloud

    try:
        backend = cloud_backend(
            region=request.region, role_arn=request.role_arn, bucket=request.bucket, prefix=request.prefix,
            cache_expiry=request.cache_expiry,
        )
    except CloudSettingsError as error:
        raise RunError(str(error)) from None
    backend.dataset, backend.tuning = _dataset(request), request.tuning
    return run_cloud(
        backend, dict(request.parameters), request.runs_dir or DEFAULT_RUNS_DIR, events=events,
        poll_seconds=30.0 if request.poll_seconds is None else request.poll_seconds,
        timeout_seconds=request.timeout_seconds, version=request.version,
    )
