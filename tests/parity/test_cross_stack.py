"""Cross-stack check: the preprocessing step run in two library stacks gives the same bytes.

The project's processing image (the pandas / numpy of constraints.txt) and an image of Debian's
own python3-pandas 1.5 / numpy 1.24 / python3-sklearn 1.2 (close to the official
sagemaker-scikit-learn:1.2-1 image, which cannot be pulled here) must both write the golden
split files. Needs Docker (`churn images build --with-parity`).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from churn.backends import docker
from churn.backends.code_bundle import write_bundle
from churn.diff import SPLIT_ARTIFACTS, file_digest
from tests.conftest import SAMPLE_CSV
from tests.parity import goldens
from tests.parity.test_golden_splits import assert_matches_golden

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def images():
    if docker.missing_images(parity=True):
        docker.build_images(parity=True)
    processing, _, debian = docker.image_names(parity=True)
    return {"project": processing, "debian-stack": debian}


def _preprocess_in(image: str, bundle, out, parameters: dict) -> dict[str, str | None]:
    out.mkdir()
    subprocess.run(
        [
            "docker", "run", "--rm", "--network", "none", "--user", f"{os.getuid()}:{os.getgid()}",
            "-v", f"{bundle}:/opt/ml/processing/input/code:ro",
            "-v", f"{SAMPLE_CSV.parent.resolve()}:/opt/ml/processing/input/raw:ro",
            "-v", f"{out}:/opt/ml/processing/output",
            "-e", "PYTHONPATH=/opt/ml/processing/input/code",
            image, "python3", "-m", "churn.steps.preprocess",
            "--train-ratio", str(parameters["TrainRatio"]),
            "--validation-ratio", str(parameters["ValidationRatio"]),
            "--split-seed", str(parameters["SplitSeed"]),
        ],
        check=True, capture_output=True, text=True,
    )
    return {name: file_digest(out / name / f"{name}.csv") for name in SPLIT_ARTIFACTS}


def test_the_debian_stack_really_is_another_stack(images):
    versions = {
        name: subprocess.run(
            ["docker", "run", "--rm", image, "python3", "-c", "import pandas, numpy; print(pandas.__version__, numpy.__version__)"],
            check=True, capture_output=True, text=True,
        ).stdout.split()
        for name, image in images.items()
    }
    assert versions["debian-stack"][0].startswith("1.5") and versions["project"][0] != versions["debian-stack"][0]


@pytest.mark.parametrize("case", sorted(goldens.CASES))
@pytest.mark.parametrize("stack", ["project", "debian-stack"])
def test_both_stacks_write_the_golden_split_files(images, tmp_path, case, stack):
    bundle = write_bundle(tmp_path / "code")
    digests = _preprocess_in(images[stack], bundle, tmp_path / "out", goldens.CASES[case])
    assert_matches_golden(case, digests, f"preprocessing in the {stack} image ({images[stack]})")
