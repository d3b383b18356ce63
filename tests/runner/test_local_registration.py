"""Local registration, churn's own step of the local executor, without Docker."""

from __future__ import annotations

import json
import sqlite3

import pytest

from churn.backends.local import local_backend
from churn.runner.local import _Registration
from churn.registry import Registry
from churn.runner.local_executor import StepFailure
from churn.summary import ARTIFACTS


def _winner(run_dir):
    model = run_dir / ARTIFACTS["model"]
    model.parent.mkdir(parents=True)
    model.write_bytes(b"model")
    evaluation = run_dir / ARTIFACTS["evaluation"]
    evaluation.parent.mkdir(parents=True, exist_ok=True)
    evaluation.write_text(json.dumps({"binary_classification_metrics": {"accuracy": {"value": 0.9, "standard_deviation": 0.01}}}))


def test_a_missing_winning_model_fails_the_step_naming_the_file(tmp_path):
    registration = _Registration(local_backend(tmp_path), tmp_path)
    with pytest.raises(StepFailure, match=r"the winning model .*exec-1/SelectModel/model/model.tar.gz is missing"):
        registration.run("exec-1", {"ModelApprovalStatus": "Approved"})
    assert registration.package is None


def test_the_registration_commits_only_when_told(tmp_path):
    _winner(tmp_path / "exec-1")
    registration = _Registration(local_backend(tmp_path), tmp_path)
    registration.run("exec-1", {"ModelApprovalStatus": "Approved"})
    assert registration.package.version == 1 and registration.package.approval_status == "Approved"
    assert Registry(tmp_path).list() == []  # not before the summary is written
    registration.commit()
    registration.abandon()  # after the commit, a no-op
    [package] = Registry(tmp_path).list()
    assert package.version == 1 and package.execution_id == "exec-1" and package.metrics["accuracy"] == 0.9


def test_an_abandoned_registration_leaves_nothing(tmp_path):
    _winner(tmp_path / "exec-1")
    registration = _Registration(local_backend(tmp_path), tmp_path)
    registration.run("exec-1", {"ModelApprovalStatus": "Approved"})
    registration.abandon()
    assert Registry(tmp_path).list() == []


def test_a_registry_that_cannot_be_opened_fails_the_step(tmp_path):
    _winner(tmp_path / "exec-1")
    (tmp_path / "registry.sqlite").write_text("not a database, but long enough to be read as one " * 20)
    registration = _Registration(local_backend(tmp_path), tmp_path)
    with pytest.raises(StepFailure, match=r"cannot register the model in .*registry.sqlite: "):
        registration.run("exec-1", {"ModelApprovalStatus": "Approved"})
    with pytest.raises(sqlite3.DatabaseError):
        Registry(tmp_path).list()
