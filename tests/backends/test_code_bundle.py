import json
import shutil
import subprocess
import sys
import tarfile

from churn.backends import code_bundle


def test_bundle_runs_the_steps_on_its_own(tmp_path):
    """The bundled files are enough to import every step entrypoint (nothing is missing)."""
    target = code_bundle.write_bundle(tmp_path)
    assert target.name == code_bundle.bundle_hash()
    probe = (
        "import churn, churn.steps.preprocess, churn.steps.evaluate, churn.steps.select;"
        f"assert churn.__file__.startswith({str(target)!r}), churn.__file__"
    )
    result = subprocess.run([sys.executable, "-c", probe], env={"PYTHONPATH": str(target)}, cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_bundle_excludes_orchestration_and_is_content_addressed(tmp_path):
    names = [name for name, _ in code_bundle.bundle_files()]
    assert not any("backends" in n or n.endswith(("cli.py", "pipeline.py")) for n in names)
    first = code_bundle.write_bundle(tmp_path)
    assert code_bundle.write_bundle(tmp_path) == first  # already staged: not rewritten
    assert sorted(p.name for p in tmp_path.iterdir()) == [first.name]


def test_the_archive_runs_the_baseline_in_script_mode(tmp_path, sample_splits):
    """As the official scikit-learn image does: unpack sagemaker_submit_directory into a code
    folder and run sagemaker_program as a file, with the job under /opt/ml (here SM_PREFIX)."""
    archive = dict(code_bundle.bundle_files())[code_bundle.SOURCE_ARCHIVE]
    assert archive == code_bundle._archive(code_bundle.bundle_files()[:-1])  # reproducible
    code = tmp_path / "code"
    (tmp_path / "sourcedir.tar.gz").write_bytes(archive)
    with tarfile.open(tmp_path / "sourcedir.tar.gz") as tar:
        tar.extractall(code, filter="data")
    job = tmp_path / "ml"
    (job / "input" / "config").mkdir(parents=True)
    hyperparameters = {"C": "1.0", "enabled": "true", "sagemaker_program": f'"{code_bundle.BASELINE_PROGRAM}"'}
    (job / "input" / "config" / "hyperparameters.json").write_text(json.dumps(hyperparameters))
    shutil.copytree(sample_splits / "train", job / "input" / "data" / "train")
    result = subprocess.run(
        [sys.executable, code_bundle.BASELINE_PROGRAM], cwd=code, env={"SM_PREFIX": str(job)}, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert (job / "model" / "xgboost-model").is_file()


def test_a_bundle_changed_on_disk_is_written_again(tmp_path):
    """The bundle is mounted writable into containers: a step that wrote into it must not
    change what later runs execute."""
    from churn.backends.code_bundle import bundle_hash, write_bundle, written_bundle_hash

    target = write_bundle(tmp_path)
    assert target.name == bundle_hash() == written_bundle_hash(target)
    schema = target / "churn" / "schema.py"
    original = schema.read_bytes()
    schema.write_text("raise SystemExit('tampered')\n")
    (target / "churn" / "extra.py").write_text("x = 1\n")
    assert written_bundle_hash(target) is None
    assert write_bundle(tmp_path) == target
    assert schema.read_bytes() == original and not (target / "churn" / "extra.py").exists()
    assert written_bundle_hash(target) == target.name


def test_the_bundle_carries_the_runs_dataset_spec():
    """A spec travels in the bundle: its hash (the pipeline version, the cache keys) covers it."""
    from churn.dataset import DEFAULT_SPEC, spec_from_json
    from tests.test_dataset import TELCO

    telco = spec_from_json(TELCO)
    files = dict(code_bundle.bundle_files(telco))
    assert json.loads(files[code_bundle.DATASET_FILE]) == telco.to_json()
    assert code_bundle.bundle_hash(telco) != code_bundle.bundle_hash(DEFAULT_SPEC) == code_bundle.bundle_hash()
    assert dict(code_bundle.bundle_files())[code_bundle.DATASET_FILE] == code_bundle.dataset_bytes(DEFAULT_SPEC)


def test_preprocessing_reads_the_spec_from_the_mounted_bundle():
    from churn.definition import compile_definition
    from churn.steps import paths

    preprocess = next(s for s in compile_definition("local")["Steps"] if s["Name"] == "PreprocessData")
    arguments = preprocess["Arguments"]["AppSpecification"]["ContainerArguments"]
    assert arguments[arguments.index("--dataset") + 1] == f"{paths.CODE}/{code_bundle.DATASET_FILE}"
