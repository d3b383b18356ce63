"""Pipeline versions remember whether they were compiled with the tuning branch (no Docker):
``--pipeline-version`` compiles the same graph again, and refuses a tuning parameter for a
version compiled without it before anything starts."""

from __future__ import annotations

import json

import pytest

from churn.definition import compile_definition
from churn.runner.request import RunRequest
from churn.runner.run import run
from churn.runner.runs import RunError
from churn.versions import list_versions
from tests.test_report import _make_run


@pytest.fixture()
def two_versions(tmp_path, sample_splits, candidate_outputs):
    """A run of a pipeline with the tuning branch and one of a pipeline without it."""
    runs = tmp_path / "runs"
    for name, tuning, digest in (("a", True, "a" * 64), ("b", False, "b" * 64)):
        folder = _make_run(runs / name, sample_splits, candidate_outputs)
        (folder / "definition.json").write_text(json.dumps(compile_definition("local", tuning=tuning, runs_dir=runs)))
        summary = json.loads((folder / "summary.json").read_text())
        (folder / "summary.json").write_text(json.dumps({**summary, "definition_sha256": digest}))
    return runs


def test_each_version_says_whether_it_has_the_tuning_branch(two_versions):
    assert {v.definition_sha256[0]: v.tuning for v in list_versions(two_versions)} == {"a": True, "b": False}


def test_a_tuning_parameter_for_a_version_without_tuning_is_refused_before_anything_starts(two_versions):
    with pytest.raises(RunError, match=r"^TuningMaxJobs is a parameter of the tuning branch, which --no-tuning leaves out "
                                       r"\(version bbbbbbbbbbbb was compiled without it\)$"):
        run(RunRequest(runs_dir=two_versions, version="bbbbbbbbbbbb", parameters={"TuningMaxJobs": 2}))
