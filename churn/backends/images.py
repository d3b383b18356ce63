"""Container image URIs: the project's own images (built from this repo) or AWS's official ones."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from churn import __version__
from churn.layout import IMAGE_FILES, PACKAGE_DIR, project_file

#: The project files an image is built from, by their path in the build context (the context is
#: put together from the installation, so a checkout and an installed wheel build the same).
CONTEXT_PROJECT_FILES = IMAGE_FILES
#: The package's modules an image carries (its algorithms' code, and the feature code the XGBoost
#: image's ``serve`` scores raw customer rows with), relative to the package.
SERVING_MODULES = ("serving.py", "predict.py", "features.py", "schema.py", "tables.py", "atomic.py", "dataset.py", "layout.py")
CONTEXT_PACKAGE_FILES = ("__init__.py", "model_io.py", "algorithm", *SERVING_MODULES)
#: Versions of the official images the project's images stand in for.
AWS_SKLEARN_VERSION = "1.2-1"
AWS_XGBOOST_VERSION = "1.7-1"


def context_files() -> list[tuple[str, Path]]:
    """(path in the build context, the installation's file) for everything that decides what is
    inside the project's images, in a fixed order."""
    files = [(name, project_file(name)) for name in CONTEXT_PROJECT_FILES]
    for name in CONTEXT_PACKAGE_FILES:
        root = PACKAGE_DIR / name
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
        files += [(f"churn/{path.relative_to(PACKAGE_DIR).as_posix()}", path) for path in paths]
    return files


def image_tag() -> str:
    """``<version>-<hash of the build context>``, so a stale image is never reused."""
    digest = hashlib.sha256()
    for name, path in context_files():
        digest.update(name.encode() + b"\0" + path.read_bytes())
    return f"{__version__}-{digest.hexdigest()[:12]}"


def write_context(folder: Path) -> Path:
    """Lay the build context out in ``folder``; return its compose file."""
    for name, path in context_files():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return folder / "docker-compose.yml"


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
    return Images(processing=sklearn, training=xgboost, evaluation=xgboost, baseline=sklearn, baseline_script_mode=True,
                  training_builtin=True)
