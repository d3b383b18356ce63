"""``churn models list|approve|reject`` and a report rebuilt after an approval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from churn.cli import main
from churn.files import file_uri
from churn.registry import Registry
from churn.report import REPORT_FILE, build_report
from tests.test_report import _make_run

SELECTION = {"metric": "auc", "winner": "xgboost", "candidates": {}, "summary": "xgboost auc=0.9212 winner / logistic-regression auc=0.8233"}


def _churn(*args):
    return CliRunner().invoke(main, [*map(str, args)])


@pytest.fixture()
def registry(tmp_path) -> Registry:
    """churn 1 and 3: the same archive; 2: another; 4: an archive no longer on this machine."""
    (tmp_path / "one.tar.gz").write_bytes(b"model one")
    (tmp_path / "two.tar.gz").write_bytes(b"model two")
    registry = Registry(tmp_path / "runs")
    for number, archive in enumerate(("one", "two", "one", "gone"), 1):
        registry.register(
            "churn", file_uri(tmp_path / f"{archive}.tar.gz"), "img", {"accuracy": 0.95, "auc": 0.9}, f"run-{number}",
            "PendingManualApproval", SELECTION,
        )
    return registry


def _blocks(output: str) -> dict[str, list[str]]:
    """The listing by version: its header line's reference -> its lines."""
    return {block.splitlines()[0].split()[0]: block.splitlines() for block in output.strip().split("\n\n")}


def test_list_shows_run_path_winner_metrics_and_equal_archives(registry, tmp_path):
    done = _churn("models", "list", "--runs-dir", registry.path.parent)
    assert done.exit_code == 0, done.output
    blocks = _blocks(done.stdout)
    assert list(blocks) == ["churn:1", "churn:2", "churn:3", "churn:4"]
    header, *details = blocks["churn:3"]
    assert header.startswith("churn:3  PendingManualApproval  run run-3  created ")
    assert f"    model     {tmp_path / 'one.tar.gz'}  sha256 " in details[0]
    assert "    winner    xgboost by auc: xgboost auc=0.9212 winner / logistic-regression auc=0.8233" in details
    assert "    metrics   accuracy=0.9500 auc=0.9000" in details
    assert details[-1] == "    note      same model bytes as version 1"
    assert not any("same model bytes" in line for line in blocks["churn:1"] + blocks["churn:2"] + blocks["churn:4"])
    assert f"{tmp_path / 'gone.tar.gz'} (file missing)  sha256 unknown" in blocks["churn:4"][1]
    assert not any(line.lstrip().startswith("approval") for line in blocks["churn:3"])  # never changed, no comment
    assert all(len(line) <= 100 for line in done.stdout.splitlines() if not line.startswith("    model "))


def test_list_as_json(registry, tmp_path):
    done = _churn("models", "list", "--runs-dir", registry.path.parent, "--json")
    listed = json.loads(done.stdout)
    assert [(v["reference"], v["run"], v["same_model_bytes_as"]) for v in listed] == [
        ("churn:1", "run-1", None), ("churn:2", "run-2", None), ("churn:3", "run-3", 1), ("churn:4", "run-4", None),
    ]
    first = listed[0]
    assert first["model_path"] == str(tmp_path / "one.tar.gz") and first["model_file_exists"] is True
    assert first["model_sha256"] == listed[2]["model_sha256"] != listed[1]["model_sha256"]
    assert (listed[3]["model_file_exists"], listed[3]["model_sha256"]) == (False, None)
    assert (first["approval_status"], first["approval_description"], first["winner"]) == ("PendingManualApproval", None, "xgboost")
    assert first["metrics"] == {"accuracy": 0.95, "auc": 0.9} and first["group"] == "churn" and first["version"] == 1
    assert json.loads(_churn("models", "list", "--runs-dir", registry.path.parent, "--json", "--group", "other").stdout) == []


def test_approve_with_a_comment_and_reject_replaces_it(registry):
    runs = registry.path.parent
    approved = _churn("models", "approve", "churn", "2", "--comment", "auc checked on March data", "--runs-dir", runs)
    assert approved.exit_code == 0 and approved.stdout == "churn version 2: Approved (auc checked on March data)\n"
    package = registry.get("churn", 2)
    assert (package.approval_status, package.approval_description) == ("Approved", "auc checked on March data")
    approval = [line for line in _blocks(_churn("models", "list", "--runs-dir", runs).stdout)["churn:2"] if "approval" in line]
    assert approval == [f"    approval  Approved as of {package.updated_at}: auc checked on March data"]
    assert json.loads(_churn("models", "list", "--runs-dir", runs, "--json").stdout)[1]["approval_description"] == "auc checked on March data"

    rejected = _churn("models", "reject", "churn:2", "--comment", "drifted", "--runs-dir", runs)  # a reference works too
    assert rejected.exit_code == 0 and rejected.stdout == "churn version 2: Rejected (drifted)\n"
    assert (registry.get("churn", 2).approval_status, registry.get("churn", 2).approval_description) == ("Rejected", "drifted")
    assert _churn("models", "approve", "churn:latest", "--runs-dir", runs).stdout == "churn version 4: Approved\n"
    assert _churn("models", "approve", "churn", "2", "--runs-dir", runs).exit_code == 0
    assert registry.get("churn", 2).approval_description == "drifted"  # a new status without a comment keeps it
    assert _churn("models", "reject", "churn", "2", "--comment", "", "--runs-dir", runs).exit_code == 0
    assert registry.get("churn", 2).approval_description is None  # an empty comment removes it


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("approve", "churn", "9"), 1, "error: no model package churn version 9"),
        (("reject", "other", "1"), 1, "error: no model package other version 1"),
        (("approve", "churn:9"), 1, "error: no model package churn version 9"),
        (("approve", "other:latest"), 1, "error: no version of model group 'other'"),
        (("approve", "churn"), 2, "error: which version of churn? give GROUP VERSION, GROUP:VERSION or GROUP:latest"),
        (("approve", "churn", "1", "--comment", "x" * 1025), 1, "error: an approval description holds at most 1024 characters"),
    ],
)
def test_bad_input_is_one_error_line(registry, args, code, says):
    done = _churn("models", *args, "--runs-dir", registry.path.parent)
    assert done.exit_code == code and done.stderr.startswith(says) and len(done.stderr.splitlines()) == 1, done.stderr
    assert {p.approval_status for p in registry.list()} == {"PendingManualApproval"}


def test_a_missing_registry_lists_nothing_and_creates_nothing(tmp_path):
    assert _churn("models", "list", "--runs-dir", tmp_path / "runs").stdout == "no registered models\n"
    assert _churn("models", "list", "--runs-dir", tmp_path / "runs", "--json").stdout == "[]\n"
    refused = _churn("models", "approve", "churn", "1", "--runs-dir", tmp_path / "runs")
    assert refused.exit_code == 1 and "no model registry at" in refused.stderr
    assert not (tmp_path / "runs").exists()


# --- the report shows the registry's status now ---


@pytest.fixture()
def registered_run(tmp_path, sample_splits, candidate_outputs) -> Path:
    """A finished local run abc123 in runs/ whose summary names churn version 3 (no status
    recorded), and a registry where version 3 is the run's."""
    run_dir = _make_run(tmp_path / "runs" / "abc123", sample_splits, candidate_outputs)
    registry = Registry(tmp_path / "runs")
    for execution_id in ("earlier-1", "earlier-2", "abc123"):
        registry.register(
            "churn", file_uri(run_dir / "SelectModel/model/model.tar.gz"), "img", {"auc": 0.9}, execution_id, "PendingManualApproval"
        )
    return run_dir


def test_a_report_rebuilt_after_an_approval_shows_it(registered_run):
    registry = Registry(registered_run.parent)
    created = registry.get("churn", 3).created_at
    assert f"churn version 3: <b>PendingManualApproval</b> <span class=\"muted\">(as of {created})</span>" in build_report(registered_run)

    done = _churn("models", "approve", "churn", "3", "--comment", "checked <by> Ann & Bo", "--runs-dir", registered_run.parent)
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[1] == f"rebuilt {registered_run / REPORT_FILE} (it shows the new status)"
    page = (registered_run / REPORT_FILE).read_text()
    updated = registry.get("churn", 3).updated_at
    assert f"churn version 3: <b>Approved</b> (checked &lt;by&gt; Ann &amp; Bo) <span class=\"muted\">(as of {updated})</span>" in page

    assert _churn("models", "reject", "churn:3", "--comment", "", "--runs-dir", registered_run.parent).exit_code == 0
    page = (registered_run / REPORT_FILE).read_text()
    assert "churn version 3: <b>Rejected</b> <span" in page and "Ann" not in page


def test_a_version_of_a_run_without_its_folder_rebuilds_nothing(registered_run):
    done = _churn("models", "approve", "churn", "1", "--runs-dir", registered_run.parent)
    assert done.stdout == "churn version 1: Approved\n" and not (registered_run.parent / "earlier-1").exists()
    assert not (registered_run / REPORT_FILE).exists()


def _recorded(run_dir: Path, **changes) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    summary["registered_model"]["approval_status"] = "PendingManualApproval"
    (run_dir / "summary.json").write_text(json.dumps({**summary, **changes}))


def test_the_report_falls_back_to_the_recorded_status(registered_run):
    registry = Registry(registered_run.parent)
    registry.set_status("churn", 3, "Approved", "fine")
    _recorded(registered_run, backend="cloud")  # a cloud run: SageMaker's registry, not this one
    finished = json.loads((registered_run / "summary.json").read_text())["finished_at"]
    recorded = f"churn version 3: <b>PendingManualApproval</b> <span class=\"muted\">(as of {finished})</span>"
    assert recorded in build_report(registered_run)
    _recorded(registered_run, backend="local", execution_id="another-run")  # version 3 of this registry is another run's
    assert recorded in build_report(registered_run)
    (registered_run.parent / "registry.sqlite").unlink()
    _recorded(registered_run, backend="local", execution_id="abc123")
    assert recorded in build_report(registered_run) and not (registered_run.parent / "registry.sqlite").exists()
