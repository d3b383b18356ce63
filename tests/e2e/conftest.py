from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def backend_name(request) -> str:
    return request.config.getoption("--backend")


@pytest.fixture(scope="session")
def e2e_runs_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-runs")


@pytest.fixture(scope="session")
def run_pipeline(backend_name, e2e_runs_dir):
    """Runs the pipeline on the chosen backend: ``run_pipeline(overrides) -> RunResult``."""

    def run(overrides: dict | None = None):
        overrides = dict(overrides or {})
        if backend_name == "local":
            from churn.backends.local import local_backend
            from churn.backends.local_run import run_local

            return run_local(local_backend(e2e_runs_dir), overrides, progress=print)
        from churn.backends.cloud import cloud_backend
        from churn.backends.cloud_run import run_cloud

        return run_cloud(cloud_backend(), overrides, e2e_runs_dir, progress=print, poll_seconds=20, timeout_seconds=3600)

    return run


@pytest.fixture(scope="session")
def default_run(run_pipeline):
    return run_pipeline()
