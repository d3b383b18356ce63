"""Backends: everything that differs between a local run and a SageMaker run, in one place."""

from __future__ import annotations

from churn.backends.base import Backend

BACKENDS = ("local", "cloud")


def get_backend(name: str, **settings) -> Backend:
    """The backend called ``name`` (``local`` or ``cloud``) with its settings."""
    if name == "local":
        from churn.backends.local import local_backend

        return local_backend(**settings)
    if name == "cloud":
        from churn.backends.cloud import cloud_backend

        return cloud_backend(**settings)
    raise ValueError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
