"""``churn definition`` needs no AWS account, no credentials and no network."""

import json
import os
import shutil
import subprocess
import sys

import pytest

CHURN = [sys.executable, "-m", "churn.cli"]


def _clean_env(tmp_path):
    """No AWS variables and an empty HOME (no ~/.aws), as on a machine that never saw AWS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CHURN_"))}
    env["HOME"] = str(tmp_path)
    return env


def _no_network(command):
    """Run in a network namespace with no interfaces (root, as in CI), else plainly."""
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True) if shutil.which("unshare") else None
    if probe is None or probe.returncode != 0:
        pytest.fail("unshare -n is unavailable: the no-network guarantee cannot be checked here")
    return ["unshare", "-n", *command]


@pytest.mark.parametrize("backend", ["local", "cloud"])
def test_definition_works_offline_without_aws(tmp_path, backend):
    result = subprocess.run(
        _no_network([*CHURN, "definition", "--backend", backend, "--param", "NumRound=25"]),
        env=_clean_env(tmp_path), capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert {p["Name"]: p.get("DefaultValue") for p in document["Parameters"]}["NumRound"] == 25
    if backend == "cloud":
        assert "placeholders stand in for unset cloud settings" in result.stderr
        assert "CHURN_S3_BUCKET" in result.stderr


def test_bad_parameter_is_rejected_with_its_name(tmp_path):
    result = subprocess.run(
        [*CHURN, "definition", "--param", "TrainRatio=2"], env=_clean_env(tmp_path), capture_output=True, text=True
    )
    assert result.returncode == 2
    assert "TrainRatio must be in (0, 1), got '2'" in result.stderr
    assert result.stdout == ""


def test_models_commands(tmp_path):
    from churn.registry import Registry

    Registry(tmp_path).register("churn", "file:///m.tar.gz", "img", {"accuracy": 0.95, "auc": 0.9}, "abc123", "PendingManualApproval")
    env = _clean_env(tmp_path)
    listed = subprocess.run([*CHURN, "models", "list", "--runs-dir", str(tmp_path)], env=env, capture_output=True, text=True)
    assert listed.returncode == 0 and "PendingManualApproval" in listed.stdout and "0.9500" in listed.stdout
    approved = subprocess.run([*CHURN, "models", "approve", "churn", "1", "--runs-dir", str(tmp_path)], env=env, capture_output=True, text=True)
    assert approved.stdout.strip() == "churn version 1: Approved"
    missing = subprocess.run([*CHURN, "models", "reject", "churn", "2", "--runs-dir", str(tmp_path)], env=env, capture_output=True, text=True)
    assert missing.returncode == 1 and "no model package churn version 2" in missing.stderr
    assert Registry(tmp_path).get("churn", 1).approval_status == "Approved"
