"""Container image URIs: the project's own images (built from this repo) or AWS's official ones."""

from __future__ import annotations

import hashlib
from pathlib import Path

from churn import __version__
from churn.backends.code_bundle import PACKAGE_DIR

REPO_DIR = PACKAGE_DIR.parent
#: Files whose content decides what is inside the project's images.
IMAGE_INPUTS = (
    "constraints.txt",
    "docker",
    "docker-compose.yml",
    ".dockerignore",
    "churn/__init__.py",
    "churn/model_io.py",
    "churn/algorithm",
)
#: Local, per-machine files that never change what an image does.
_NOT_IMAGE_INPUTS = ("extra-ca-certificates.crt",)
#: Versions of the official images the project's images stand in for.
AWS_SKLEARN_VERSION = "1.2-1"
AWS_XGBOOST_VERSION = "1.7-1"


def image_tag() -> str:
    """``<version>-<hash of the lock file and Dockerfiles>``, so a stale image is never reused."""
    digest = hashlib.sha256()
    for top in IMAGE_INPUTS:
        root = REPO_DIR / top
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            if path.name in _NOT_IMAGE_INPUTS or "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(REPO_DIR)).encode() + b"\0" + path.read_bytes())
    return f"{__version__}-{digest.hexdigest()[:12]}"


def project_images():
    from churn.backends.base import Images

    tag = image_tag()
    xgboost = f"churn-xgboost:{tag}"
    processing = f"churn-processing:{tag}"
    return Images(processing=processing, training=xgboost, evaluation=xgboost, baseline=processing)


def aws_images(region: str):
    """The official SageMaker images (a local JSON lookup in the SDK; no network)."""
    import churn.backends.sdk_adapters  # noqa: F401  (first: quiets the SDK before it is imported)
    from churn.backends.base import Images
    from sagemaker import image_uris

    sklearn = image_uris.retrieve("sklearn", region=region, version=AWS_SKLEARN_VERSION)
    xgboost = image_uris.retrieve("xgboost", region=region, version=AWS_XGBOOST_VERSION)
    return Images(processing=sklearn, training=xgboost, evaluation=xgboost, baseline=sklearn, baseline_script_mode=True)
