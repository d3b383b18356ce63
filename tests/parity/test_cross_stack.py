"""Cross-stack check: the preprocessing step run in two library stacks gives the same bytes.

The project's processing image (the pandas / numpy of constraints.txt) and an image of Debian's
own python3-pandas 1.5 / numpy 1.24 / python3-sklearn 1.2 (close to the official
sagemaker-scikit-learn:1.2-1 image, which cannot be pulled here) must both write the golden
split files. Needs Docker (`churn images build --with-parity`).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

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


def _preprocess_in(image: str, bundle, out, parameters: dict, raw: Path = SAMPLE_CSV, spec: Path | None = None) -> dict[str, str | None]:
    out.mkdir()
    dataset = ["-v", f"{spec.parent}:/opt/ml/processing/input/dataset:ro"] if spec else []
    subprocess.run(
        [
            "docker", "run", "--rm", "--network", "none", "--user", f"{os.getuid()}:{os.getgid()}",
            "-v", f"{bundle}:/opt/ml/processing/input/code:ro",
            "-v", f"{raw.parent.resolve()}:/opt/ml/processing/input/raw:ro", *dataset,
            "-v", f"{out}:/opt/ml/processing/output",
            "-e", "PYTHONPATH=/opt/ml/processing/input/code",
            image, "python3", "-m", "churn.steps.preprocess",
            "--train-ratio", str(parameters["TrainRatio"]),
            "--validation-ratio", str(parameters["ValidationRatio"]),
            "--split-seed", str(parameters["SplitSeed"]),
            *(["--dataset", f"/opt/ml/processing/input/dataset/{spec.name}"] if spec else []),
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


def test_both_stacks_write_the_same_bytes_for_another_layout(images, tmp_path):
    """A table of another layout (an ID column, Yes/No labels, blank and NA cells, multi-word
    categories; collected vocabularies) under its inferred spec: the same split bytes in both
    stacks and in this process."""
    from churn.dataset_infer import infer_spec
    from churn.steps import preprocess
    from churn.tables import read_raw_chunks
    from tests.own_data import customers_csv

    (tmp_path / "raw").mkdir()
    (tmp_path / "spec").mkdir()
    table, spec = tmp_path / "raw" / "customers.csv", tmp_path / "spec" / "customers.json"
    table.write_text(customers_csv(3000, seed=11))
    spec.write_text(json.dumps(infer_spec(read_raw_chunks(table, 10_000), "Churn").spec.to_json()))
    parameters = goldens.CASES["default"]
    bundle = write_bundle(tmp_path / "code")
    preprocess.main(["--input", str(table), "--dataset", str(spec), "--output", str(tmp_path / "here")])
    here = {name: file_digest(tmp_path / "here" / name / f"{name}.csv") for name in SPLIT_ARTIFACTS}
    lines = (tmp_path / "here" / "train" / "train.csv").read_text().splitlines()
    assert any(",," in line or line.endswith(",") for line in lines)  # blank TotalCharges: missing values
    for stack, image in images.items():
        assert _preprocess_in(image, bundle, tmp_path / stack, parameters, table, spec) == here, stack
