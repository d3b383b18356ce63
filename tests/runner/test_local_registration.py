"""Local registration: the pipeline's RegisterModel step as churn's local executor runs it
(given the step's resolved arguments), without Docker."""

from __future__ import annotations

import json

import pytest

from churn.backends.local import local_backend
from churn.files import file_uri
from churn.runner.local import _Registration
from churn.registry import Registry, RegistryError
from churn.runner.local_executor import StepFailure
from churn.summary import ARTIFACTS


def _winner(run_dir):
    model = run_dir / ARTIFACTS["model"]
    model.parent.mkdir(parents=True)
    model.write_bytes(b"model")
    evaluation = run_dir / ARTIFACTS["evaluation"]
    evaluation.parent.mkdir(parents=True, exist_ok=True)
    evaluation.write_text(json.dumps({"binary_classification_metrics": {"accuracy": {"value": 0.9, "standard_deviation": 0.01}}}))


def _arguments(run_dir, approval="Approved", group="churn"):
    """RegisterModel's arguments as the executor resolves them (CreateModelPackage's shape)."""
    return {
        "ModelPackageGroupName": group,
        "ModelApprovalStatus": approval,
        "InferenceSpecification": {"Containers": [{"Image": "churn-xgboost:test", "ModelDataUrl": file_uri(run_dir / ARTIFACTS["model"])}]},
        "ModelMetrics": {"ModelQuality": {"Statistics": {"S3Uri": file_uri(run_dir / ARTIFACTS["evaluation"])}}},
    }


def _register(registration, run_dir, **arguments):
    registration.run("RegisterModel-RegisterModel", _arguments(run_dir, **arguments), run_dir.name)


def test_a_missing_winning_model_fails_the_step_naming_the_file(tmp_path):
    registration = _Registration(local_backend(tmp_path), tmp_path)
    with pytest.raises(StepFailure, match=r"the winning model .*exec-1/SelectModel/model/model.tar.gz is missing"):
        _register(registration, tmp_path / "exec-1")
    assert registration.package is None


def test_the_registration_commits_only_when_told(tmp_path):
    _winner(tmp_path / "exec-1")
    registration = _Registration(local_backend(tmp_path), tmp_path)
    _register(registration, tmp_path / "exec-1")
    assert registration.package.version == 1 and registration.package.approval_status == "Approved"
    assert Registry(tmp_path).list() == []  # not before the summary is written
    registration.commit()
    registration.abandon()  # after the commit, a no-op
    [package] = Registry(tmp_path).list()
    assert package.version == 1 and package.execution_id == "exec-1" and package.metrics["accuracy"] == 0.9
    assert registration.step_name == "RegisterModel-RegisterModel"


def test_what_is_registered_comes_from_the_steps_arguments(tmp_path):
    _winner(tmp_path / "exec-1")
    registration = _Registration(local_backend(tmp_path), tmp_path)
    _register(registration, tmp_path / "exec-1", approval="Rejected", group="team-churn")
    registration.commit()
    [package] = Registry(tmp_path).list()
    assert (package.group, package.approval_status, package.image) == ("team-churn", "Rejected", "churn-xgboost:test")
    assert package.model_data == file_uri(tmp_path / "exec-1" / ARTIFACTS["model"])


def test_a_missing_evaluation_fails_the_step_naming_the_file(tmp_path):
    _winner(tmp_path / "exec-1")
    (tmp_path / "exec-1" / ARTIFACTS["evaluation"]).unlink()
    registration = _Registration(local_backend(tmp_path), tmp_path)
    with pytest.raises(StepFailure, match=r"its evaluation .*exec-1/SelectModel/evaluation/evaluation.json is missing"):
        _register(registration, tmp_path / "exec-1")


def test_an_abandoned_registration_leaves_nothing(tmp_path):
    _winner(tmp_path / "exec-1")
    registration = _Registration(local_backend(tmp_path), tmp_path)
    _register(registration, tmp_path / "exec-1")
    registration.abandon()
    assert Registry(tmp_path).list() == []


def test_a_registry_that_cannot_be_opened_fails_the_step(tmp_path):
    _winner(tmp_path / "exec-1")
    (tmp_path / "registry.sqlite").write_text("not a database, but long enough to be read as one " * 20)
    registration = _Registration(local_backend(tmp_path), tmp_path)
    with pytest.raises(StepFailure, match=r"cannot register the model in .*registry.sqlite: "):
        _register(registration, tmp_path / "exec-1")
    with pytest.raises(RegistryError, match=r"cannot read the model registry .*registry.sqlite: file is not a database"):
        Registry(tmp_path).list()
