"""Parity of a backend's runs with the committed goldens and schemas (`-m e2e --backend ...`)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

import churn
from churn.diff import diff_runs, split_digests
from tests.parity import goldens
from tests.parity.test_golden_splits import assert_matches_golden

pytestmark = pytest.mark.e2e
SUMMARY_SCHEMA = json.loads((Path(churn.__file__).parent / "schemas" / "summary.schema.json").read_text())


@pytest.fixture(scope="module")
def non_default_run(run_pipeline):
    case = goldens.CASES["train-0.6-seed-7"]
    return run_pipeline(dict(case, NumRound=10))


def test_default_split_files_match_the_goldens(default_run, backend_name):
    assert_matches_golden("default", split_digests(default_run.run_dir), f"the {backend_name} backend")


def test_non_default_split_files_match_the_goldens(non_default_run, backend_name):
    assert non_default_run.status == "Succeeded", non_default_run.failure_reason
    assert_matches_golden("train-0.6-seed-7", split_digests(non_default_run.run_dir), f"the {backend_name} backend")


def test_summary_has_the_shared_shape(default_run, non_default_run):
    for result in (default_run, non_default_run):
        jsonschema.validate(json.loads((result.run_dir / "summary.json").read_text()), SUMMARY_SCHEMA)


def test_churn_diff_compares_two_runs(default_run, non_default_run):
    same = diff_runs(default_run.run_dir, default_run.run_dir)
    assert same.splits_identical and not same.parameters
    assert same.winners == (default_run.summary["selection"]["winner"],) * 2
    other = diff_runs(default_run.run_dir, non_default_run.run_dir)
    assert other.splits == {"train": "different", "validation": "different", "test": "different"}
    assert other.parameters["SplitSeed"] == (42, 7) and other.parameters["NumRound"] == (100, 10)
    assert set(other.metrics) >= {"accuracy", "auc"}


def test_churn_diff_command(default_run, non_default_run):
    import subprocess
    import sys

    def diff(*runs):
        return subprocess.run([sys.executable, "-m", "churn.cli", "diff", *map(str, runs), "--check"], capture_output=True, text=True)

    same = diff(default_run.run_dir, default_run.run_dir)
    assert same.returncode == 0 and "split train: identical" in same.stdout and "parameters: identical" in same.stdout
    winner = default_run.summary["selection"]["winner"]
    assert f"winner: {winner} vs {winner}" in same.stdout
    other = diff(default_run.run_dir, non_default_run.run_dir)
    assert other.returncode == 1
    assert "split test: different" in other.stdout and "parameter SplitSeed: 42 -> 7" in other.stdout
    assert "metric accuracy:" in other.stdout
