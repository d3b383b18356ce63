"""The step code shipped to every processing container, addressed by its content hash.

Steps run ``python3 -m churn.steps.<name>`` with ``PYTHONPATH`` pointing at this bundle, so the
same code runs in the project's images and in the official AWS images. Only the step-side
modules are bundled: orchestration code (backends, pipeline, CLI) never changes the hash. The
run's dataset spec travels in the bundle too (``dataset.json``, read by PreprocessData), so the
bundle's hash, and with it the pipeline version and every step's cache key, covers it.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
from functools import lru_cache
from pathlib import Path

import churn
from churn.dataset import DEFAULT_SPEC, DatasetSpec
from churn.files import new_folder

PACKAGE_DIR = Path(churn.__file__).parent
#: Modules the step entrypoints import (tests check the bundle imports on its own).
STEP_SIDE_FILES = (
    "__init__.py",
    "atomic.py",
    "dataset.py",
    "schema.py",
    "features.py",
    "split.py",
    "rules.py",
    "sizing.py",
    "tables.py",
    "metrics.py",
    "model_io.py",
    "steps/__init__.py",
    "steps/entrypoint.py",
    "steps/paths.py",
    "steps/preprocess.py",
    "steps/evaluate.py",
    "selection.py",
    "steps/select.py",
    # The baseline's training code, for script mode on the official scikit-learn image.
    "algorithm/__init__.py",
    "algorithm/hyperparameters.py",
    "algorithm/train.py",
    "algorithm/baseline.py",
    # A cloud endpoint's code: the official XGBoost image serves churn's model in script mode
    # with the feature code ``churn serve`` runs (``algorithm/hosting.py``).
    "algorithm/serve.py",
    "algorithm/hosting.py",
    "serving.py",
    "predict.py",
    "layout.py",
)
#: The run's dataset spec inside the bundle.
DATASET_FILE = "dataset.json"
#: The bundle as one archive (script mode's ``sagemaker_submit_directory``), inside the bundle.
SOURCE_ARCHIVE = "sourcedir.tar.gz"
#: The baseline's training script inside the archive (script mode's ``sagemaker_program``).
BASELINE_PROGRAM = "churn/algorithm/baseline.py"
#: A cloud endpoint's program (its ``SAGEMAKER_PROGRAM``): the serving toolkit imports it as a
#: top-level module, so it is a top-level file of the archive naming churn's handlers.
SERVING_PROGRAM = "churn_endpoint.py"
_SERVING_PROGRAM_SOURCE = (
    b'"""SageMaker script-mode handlers of a churn endpoint (see churn/algorithm/hosting.py)."""\n'
    b"from churn.algorithm.hosting import model_fn, transform_fn  # noqa: F401\n"
)


def _archive(files: tuple[tuple[str, bytes], ...]) -> bytes:
    """A reproducible tar.gz of ``files`` (fixed order, times, owners and modes)."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as compressed:
        with tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name, content in files:
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(content), 0o644
                tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def dataset_bytes(spec: DatasetSpec) -> bytes:
    """A spec as the bundle carries it (sorted, indented JSON)."""
    return (json.dumps(spec.to_json(), indent=2, sort_keys=True) + "\n").encode()


def bundle_files(spec: DatasetSpec = DEFAULT_SPEC) -> tuple[tuple[str, bytes], ...]:
    """(path inside the bundle, content) for every bundled file, in a fixed order: the step code,
    the endpoint program, the dataset spec, and last the same files as one archive."""
    return _bundle_files(dataset_bytes(spec))


@lru_cache(maxsize=8)
def _bundle_files(dataset: bytes) -> tuple[tuple[str, bytes], ...]:
    files = tuple((f"churn/{name}", (PACKAGE_DIR / name).read_bytes()) for name in STEP_SIDE_FILES)
    files = (*files, (SERVING_PROGRAM, _SERVING_PROGRAM_SOURCE), (DATASET_FILE, dataset))
    return (*files, (SOURCE_ARCHIVE, _archive(files)))


def _hash(files) -> str:
    digest = hashlib.sha256()
    for name, content in files:
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()[:16]


def bundle_hash(spec: DatasetSpec = DEFAULT_SPEC) -> str:
    """sha256 over the bundled paths and contents (first 16 hex digits)."""
    return _hash(bundle_files(spec))


def written_bundle_hash(folder: Path) -> str | None:
    """The hash of the bundle as it lies in ``folder`` (None when it is not a whole bundle):
    the files its archive lists, in that order, then the archive. A bundle is mounted into
    containers, so it is checked against its name before every run."""
    try:
        archive = (folder / SOURCE_ARCHIVE).read_bytes()
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            members = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers() if m.isfile()]  # type: ignore[union-attr]  # files only
        files = [(name, (folder / name).read_bytes()) for name, _ in members]
    except (OSError, tarfile.TarError):
        return None
    on_disk = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    if files != members or on_disk != {name for name, _ in files} | {SOURCE_ARCHIVE}:
        return None
    return _hash([*files, (SOURCE_ARCHIVE, archive)])


def write_bundle(directory: Path, spec: DatasetSpec = DEFAULT_SPEC) -> Path:
    """Write the bundle under ``directory/<hash>/`` unless it is already there; return that path.

    Written to a temporary sibling and renamed, so a reader never sees half a bundle.
    """
    target = directory / bundle_hash(spec)
    if target.is_dir():
        if written_bundle_hash(target) == target.name:
            return target
        shutil.rmtree(target)  # changed on disk (a step wrote into its mounted code): written again
    with new_folder(target) as partial:  # another run may publish the same bundle meanwhile
        for name, content in bundle_files(spec):
            path = partial / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    return target
