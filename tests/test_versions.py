"""Pipeline versions on the local backend (Docker): two versions after a change to a step
script, and `--pipeline-version` of the first reproduces its split files byte for byte."""

from __future__ import annotations

import subprocess
import sys

import pytest

from churn.backends import code_bundle
from churn.backends.local import local_backend
from churn.runner.local import run_local
from churn.runner.runs import RunError
from churn.diff import split_digests
from churn.versions import VersionError, find_version, list_versions

pytestmark = pytest.mark.docker



def _changed_split_script(monkeypatch):
    """A step script edited the way a user might: the seed handling of the split changes."""
    original = code_bundle.bundle_files()
    edited = tuple(
        (name, content.replace(b"key=str(seed).encode()", b"key=str(seed + 1).encode()") if name == "churn/split.py" else content)
        for name, content in original
    )
    assert edited != original
    monkeypatch.setattr(code_bundle, "bundle_files", lambda spec=None: edited)


def test_versions_are_listed_and_an_old_one_runs_again(tmp_path, monkeypatch):
    runs = tmp_path / "runs"
    first = run_local(local_backend(runs), {"NumRound": 5})
    _changed_split_script(monkeypatch)
    second = run_local(local_backend(runs), {"NumRound": 5})
    assert first.status == second.status == "Succeeded"
    assert split_digests(first.run_dir) != split_digests(second.run_dir)

    versions = list_versions(runs)
    assert [v.definition_sha256 for v in versions] == [first.summary["definition_sha256"], second.summary["definition_sha256"]]
    assert versions[0].code_hash != versions[1].code_hash and versions[0].runs == [first.execution_id]
    listed = subprocess.run([sys.executable, "-m", "churn.cli", "versions", "--runs-dir", str(runs)], capture_output=True, text=True)
    assert listed.returncode == 0 and versions[0].name in listed.stdout and versions[1].name in listed.stdout

    old = find_version(runs, versions[0].name)
    backend = local_backend(runs)
    backend.code_version = old.code_hash
    again = run_local(backend, {"NumRound": 5}, expected_definition_sha256=old.definition_sha256)
    assert again.status == "Succeeded"
    assert again.summary["definition_sha256"] == old.definition_sha256
    assert split_digests(again.run_dir) == split_digests(first.run_dir)


def test_unknown_or_unreproducible_versions_are_clear_errors(tmp_path):
    runs = tmp_path / "runs"
    run_local(local_backend(runs), {"NumRound": 5})
    with pytest.raises(VersionError, match="no version 'ffffffff'"):
        find_version(runs, "ffffffff")
    with pytest.raises(RunError, match="cannot be rebuilt by this churn"):
        run_local(local_backend(runs), {}, expected_definition_sha256="0" * 64)
