"""The package as a user gets it: a wheel built from this checkout, installed (not editable) into a
fresh virtual environment, run from an empty directory (``tox -e wheel``, run by CI).

The installed CLI must find its default input and its image build context inside the package;
nothing may reach back into this checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from churn.layout import SHIPPED_FILES
from tests.parity import goldens
from tests.parity.test_golden_splits import assert_matches_golden

pytestmark = pytest.mark.wheel

REPO = Path(__file__).resolve().parents[2]


def _run(command, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, command))} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _tracked() -> list[str]:
    return _run(["git", "ls-files"], cwd=REPO).stdout.split()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of the checkout's tracked files, built from a copy of them (a build folder or
    stray files in the checkout cannot leak into it)."""
    source = tmp_path_factory.mktemp("source")
    for name in _tracked():
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)])
    (found,) = out.glob("churn-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """The ``bin`` folder of a fresh virtual environment with the wheel and its pinned dependencies."""
    venv = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "-c", str(REPO / "constraints.txt"), str(wheel)])
    return venv / "bin"


def test_the_wheel_carries_the_project_files_and_no_tests(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    package = {name for name in names if name.startswith("churn/")}
    tracked = {name for name in _tracked() if name.startswith("churn/")}
    assert package == tracked | {f"churn/_resources/{name}" for name in SHIPPED_FILES}
    for name in SHIPPED_FILES:
        assert zipfile.ZipFile(wheel).read(f"churn/_resources/{name}") == (REPO / name).read_bytes(), name
    assert not [name for name in names if name.startswith(("tests/", "benchmarks/"))]


def test_an_installed_churn_runs_the_sample_from_an_empty_directory(installed, tmp_path):
    from churn.backends.images import image_tag

    empty = tmp_path / "somewhere"
    empty.mkdir()
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "CHURN_RUNS_DIR")}
    # The installed package builds the same images as the checkout: the build context is the same.
    assert _run([str(installed / "churn"), "images", "tag"], cwd=empty, env=env).stdout.strip() == image_tag()
    where = _run([str(installed / "python"), "-c", "import churn, churn.layout as l; print(churn.__file__); print(l.SAMPLE_DATA)"], cwd=empty, env=env)
    package, sample = where.stdout.split()
    assert Path(package).is_relative_to(installed.parent) and Path(sample).is_relative_to(installed.parent)

    _run([str(installed / "churn"), "run"], cwd=empty, env=env)

    (run_dir,) = [path for path in (empty / "runs").iterdir() if path.is_dir() and not path.name.startswith(".")]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "Succeeded"
    assert summary["parameters"]["InputData"] == Path(sample).as_uri()
    from churn.diff import SPLIT_ARTIFACTS, file_digest

    digests = {name: file_digest(run_dir / "PreprocessData" / name / f"{name}.csv") for name in SPLIT_ARTIFACTS}
    assert_matches_golden("default", digests, "the installed wheel's run")
    assert goldens.CASES["default"] == {name: summary["parameters"][name] for name in goldens.CASES["default"]}
