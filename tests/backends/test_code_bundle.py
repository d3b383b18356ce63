import subprocess
import sys

from churn.backends import code_bundle


def test_bundle_runs_the_steps_on_its_own(tmp_path):
    """The bundled files are enough to import every step entrypoint (nothing is missing)."""
    target = code_bundle.write_bundle(tmp_path)
    assert target.name == code_bundle.bundle_hash()
    probe = (
        "import churn, churn.steps.preprocess, churn.steps.evaluate;"
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
