"""Your own churn table, end to end in containers: infer a spec, run with it, predict with the
registered model (tox -e local-pipeline)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from churn.cli import main
from churn.registry import Registry
from churn.runner.request import RunRequest
from churn.runner.run import run
from churn.summary import ARTIFACTS
from tests.own_data import customers_csv

pytestmark = pytest.mark.docker


def test_another_layout_runs_registers_and_predicts(tmp_path):
    table, spec = tmp_path / "customers.csv", tmp_path / "spec.json"
    table.write_text(customers_csv())
    inferred = CliRunner().invoke(main, ["dataset", "infer", "--input", str(table), "--label", "Churn", "--output", str(spec)])
    assert inferred.exit_code == 0, inferred.output

    result = run(RunRequest(parameters={"InputData": str(table)}, dataset=spec, runs_dir=tmp_path / "runs"))

    assert result.status == "Succeeded", result.failure_reason
    manifest = json.loads((result.run_dir / ARTIFACTS["manifest"]).read_text())
    assert manifest["dataset"]["name"] == "customers" and manifest["ignored_columns"] == ["customerID"]
    assert "Payment Method=Bank transfer (automatic)" in manifest["feature_names"] and len(manifest["feature_names"]) == 16
    train = (result.run_dir / ARTIFACTS["train"]).read_text().splitlines()
    assert any(",," in line or line.endswith(",") for line in train)  # blank TotalCharges: missing values
    assert result.record.metrics["auc"] > 0.75
    [package] = Registry(tmp_path / "runs").list("churn")
    assert package.execution_id == result.execution_id

    predicted = CliRunner().invoke(main, ["predict", "--model", str(result.run_dir / ARTIFACTS["model"]), "--input", str(table)])
    assert predicted.exit_code == 0, predicted.output
    scores = [float(line) for line in predicted.output.split()]
    assert len(scores) == 1500 and all(0 < s < 1 for s in scores)
