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


# --- churn predict: no pickle unless asked, bounded archives, never overwrites its own inputs ---


def _predict(tmp_path, *args):
    return subprocess.run([*CHURN, "predict", *map(str, args)], env=_clean_env(tmp_path), capture_output=True, text=True, timeout=120)


def _one_error_line(result, *texts):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for text in texts:
        assert text in lines[0], lines[0]


@pytest.fixture()
def native_archive(tmp_path, trained_booster):
    from tests.conftest import write_model_archive

    return write_model_archive(tmp_path / "model.tar.gz", bytes(trained_booster.save_raw("ubj")))


def test_predict_refuses_a_pickled_model_without_running_it(tmp_path):
    from tests.conftest import SAMPLE_CSV
    from tests.test_model_io import malicious_archive

    marker = tmp_path / "pwned"
    archive = malicious_archive(tmp_path / "model.tar.gz", marker)
    result = _predict(tmp_path, "--model", archive, "--input", SAMPLE_CSV)
    assert not marker.exists(), "churn predict ran the pickle's code"
    _one_error_line(result, "the model file is a Python pickle", "can run arbitrary code", "--allow-pickle")
    assert result.stdout == ""


def test_predict_allow_pickle_loads_a_pickled_booster(tmp_path, trained_booster, native_archive):
    import pickle

    from tests.conftest import SAMPLE_CSV, write_model_archive

    pickled = write_model_archive(tmp_path / "pickled.tar.gz", pickle.dumps(trained_booster))
    result = _predict(tmp_path, "--model", pickled, "--input", SAMPLE_CSV, "--allow-pickle")
    assert result.returncode == 0, result.stderr
    expected = _predict(tmp_path, "--model", native_archive, "--input", SAMPLE_CSV)
    assert result.stdout == expected.stdout and len(result.stdout.splitlines()) == 3333


def test_predict_help_names_the_pickle_risk(tmp_path):
    result = _predict(tmp_path, "--help")
    text = " ".join(result.stdout.split())
    assert "--allow-pickle" in text and "can run arbitrary code when loaded" in text and "SageMaker XGBoost < 1.3-1" in text


def test_predict_refuses_a_gzip_bomb(tmp_path):
    from tests.conftest import SAMPLE_CSV
    from tests.test_model_io import gzip_bomb

    archive = gzip_bomb(tmp_path / "model.tar.gz", 17 * (64 << 20))
    _one_error_line(_predict(tmp_path, "--model", archive, "--input", SAMPLE_CSV), "over the bound of 512.0 MiB", "CHURN_MAX_MODEL_BYTES")


@pytest.mark.parametrize("how", ["same path", "symlink", "hard link"])
def test_predict_never_overwrites_the_model(tmp_path, native_archive, how):
    from tests.conftest import SAMPLE_CSV

    before = native_archive.read_bytes()
    output = {"same path": native_archive, "symlink": tmp_path / "out.csv", "hard link": tmp_path / "out.csv"}[how]
    if how == "symlink":
        output.symlink_to(native_archive)
    elif how == "hard link":
        os.link(native_archive, output)
    result = _predict(tmp_path, "--model", native_archive, "--input", SAMPLE_CSV, "--output", output)
    _one_error_line(result, "is the model archive", "will not overwrite it")
    assert native_archive.read_bytes() == before


def test_predict_never_overwrites_the_input(tmp_path, native_archive):
    from tests.conftest import SAMPLE_CSV

    folder = tmp_path / "customers"
    folder.mkdir()
    shutil.copy(SAMPLE_CSV, folder / "a.csv")
    before = (folder / "a.csv").read_bytes()
    for input_path, output in [(folder / "a.csv", folder / "a.csv"), (folder, folder / "a.csv"), (folder, folder / ".." / "customers" / "a.csv")]:
        result = _predict(tmp_path, "--model", native_archive, "--input", input_path, "--output", output)
        _one_error_line(result, "is the input file", "will not overwrite it")
    assert (folder / "a.csv").read_bytes() == before


def test_predict_writes_its_output_atomically(tmp_path, native_archive):
    from tests.conftest import SAMPLE_CSV

    output = tmp_path / "scores" / "scores.txt"
    result = _predict(tmp_path, "--model", native_archive, "--input", SAMPLE_CSV, "--output", output)
    assert result.returncode == 0, result.stderr
    assert len(output.read_text().splitlines()) == 3333 and "wrote 3333 probabilities" in result.stderr
    assert sorted(p.name for p in output.parent.iterdir()) == ["scores.txt"]  # no partial file left
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not an archive")
    failed = _predict(tmp_path, "--model", garbage, "--input", SAMPLE_CSV, "--output", output)
    _one_error_line(failed, "cannot read model archive")
    assert len(output.read_text().splitlines()) == 3333  # a failed run leaves the earlier output as it was


def test_predict_says_how_many_rows_had_an_unseen_category(tmp_path, trained_booster):
    from tests.conftest import SAMPLE_CSV, write_model_archive

    archive = write_model_archive(tmp_path / "model.tar.gz", bytes(trained_booster.save_raw("ubj")))
    header, *rows = SAMPLE_CSV.read_text().splitlines()[:4]
    rows = [",".join(["XX", *row.split(",")[1:]]) for row in rows[:2]] + rows[2:]
    (tmp_path / "new.csv").write_text("\n".join([header, *rows]) + "\n")
    result = _predict(tmp_path, "--model", archive, "--input", tmp_path / "new.csv")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 3
    assert result.stderr.strip() == "note: categories the model never saw, encoded as all zeros (rows per column): State 2"


def test_the_parameters_are_discoverable():
    """churn params (table and JSON) and churn run --help list every parameter with its type,
    default and allowed values; -h is --help; --version is churn's, --pipeline-version a run's."""
    from click.testing import CliRunner

    from churn import __version__
    from churn.cli import main
    from churn.parameters import SPECS

    table = CliRunner().invoke(main, ["params"])
    assert table.exit_code == 0
    lines = table.output.splitlines()
    assert lines[0].split() == ["name", "type", "default", "allowed", "what", "it", "does"] and len(lines) == 1 + len(SPECS)
    assert lines[5].split()[:4] == ["MaxDepth", "integer", "5", "x"]
    document = json.loads(CliRunner().invoke(main, ["params", "--json"]).output)
    assert [d["name"] for d in document] == [s.name for s in SPECS]
    assert document[1] == {"name": "TrainRatio", "type": "number", "default": "0.7", "allowed": "0 < x < 1", "help": "share of rows in the train split"}
    help_text = CliRunner().invoke(main, ["run", "-h"]).output
    assert "    NumRound=100\n        integer, x > 0: XGBoost boosting rounds\n" in help_text
    assert all(f"  {s.name}=" in help_text for s in SPECS) and "--pipeline-version VERSION" in help_text
    assert CliRunner().invoke(main, ["-h"]).exit_code == 0
    assert CliRunner().invoke(main, ["--version"]).output == f"churn, version {__version__}\n"
    misspelled = CliRunner().invoke(main, ["run", "--param", "NumRounds=5"])
    assert misspelled.exit_code == 2 and "did you mean 'NumRound'?" in misspelled.output
    assert CliRunner().invoke(main, ["run", "--version", "abc"]).exit_code == 2  # not a run option any more


def test_predict_takes_a_registered_model_by_name(tmp_path, native_archive):
    """--model churn:1, churn:latest, churn:latest-approved: the registry's model data, with a
    note naming the version; what cannot be found is one error line."""
    from click.testing import CliRunner

    from churn.cli import main
    from churn.files import file_uri
    from churn.registry import Registry
    from tests.conftest import SAMPLE_CSV

    registry = Registry(tmp_path / "runs")
    registry.register("churn", file_uri(native_archive), "img", {"auc": 0.9}, "run-one", "PendingManualApproval")
    registry.register("churn", file_uri(tmp_path / "gone.tar.gz"), "img", {"auc": 0.9}, "run-two", "PendingManualApproval")
    runner = CliRunner()  # click 8.2+: stdout and stderr apart

    def predict(reference):
        return runner.invoke(main, ["predict", "--model", reference, "--runs-dir", str(tmp_path / "runs"), "--input", str(SAMPLE_CSV)])

    by_file = CliRunner().invoke(main, ["predict", "--model", str(native_archive), "--input", str(SAMPLE_CSV)])
    done = predict("churn:1")
    assert done.exit_code == 0, done.output
    assert f"note: churn version 1 (PendingManualApproval, run run-one): {native_archive}" in done.stderr
    assert done.stdout == by_file.stdout and len(done.stdout.split()) == 3333
    for reference, says in [
        ("churn:latest", f"churn version 2's model data is not on this machine: file://{tmp_path}/gone.tar.gz"),
        ("churn:latest-approved", "no approved version of model group 'churn' in"),
        ("churn:7", "no model package churn version 7"),
        ("other:latest", "no version of model group 'other'"),
        ("nothing-here.tar.gz", "--model nothing-here.tar.gz: no such model file (or registered model GROUP:VERSION"),
    ]:
        refused = predict(reference)
        assert refused.exit_code == 2 and says in refused.stderr and "Traceback" not in refused.stderr, (reference, refused.stderr)
    registry.set_status("churn", 1, "Approved")
    assert predict("churn:latest-approved").stdout == by_file.stdout


def test_the_tuning_line_counts_failed_and_cached_trials_and_names_the_best():
    from churn.cli import tuning_line

    trials = [{"job": "t-001", "objective": 0.91, "cached": True}, {"job": "t-002", "objective": 0.9312345},
              {"job": "t-003", "objective": None, "cached": False}]
    tuning = {"strategy": "Random", "max_parallel": 3, "objective": {"metric": "validation:auc"}, "best": "t-002", "trials": trials}
    assert tuning_line(tuning) == "3 trials (Random, 3 at a time), 1 failed, 1 cached; best validation:auc 0.93123: t-002"
    assert tuning_line({**tuning, "best": None}).endswith("; no trial reported the objective")
