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
    """Runs the pipeline on the chosen backend: ``run_pipeline(overrides, tuning=True, **request_settings) -> RunResult``."""

    def run(overrides: dict | None = None, tuning: bool = True, **settings):
        from churn.progress import LineProgress
        from churn.runner.events import Events
        from churn.runner.request import RunRequest
        from churn.runner.run import run as run_pipeline

        cloud = {"poll_seconds": 20, "timeout_seconds": 3600} if backend_name == "cloud" else {}
        request = RunRequest(backend=backend_name, parameters=dict(overrides or {}), runs_dir=e2e_runs_dir, tuning=tuning, **cloud, **settings)
        return run_pipeline(request, Events(LineProgress(print)))

    return run


@pytest.fixture(scope="session")
def default_run(run_pipeline):
    return run_pipeline()
