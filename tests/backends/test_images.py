"""The image build context is put together from the installation (checkout or wheel alike)."""

import re
import subprocess
from pathlib import Path

import pytest

from churn.backends import docker, images
from churn.layout import SHIPPED_FILES

REPO = Path(__file__).resolve().parents[2]


def test_the_context_holds_exactly_what_the_tag_hashes(tmp_path):
    compose = images.write_context(tmp_path)
    assert compose == tmp_path / "docker-compose.yml" and compose.is_file()
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == sorted(name for name, _ in images.context_files())
    assert "churn/algorithm/train.py" in written and "churn/model_io.py" in written
    assert not [name for name in written if "__pycache__" in name or name.startswith("churn/runner")]


def test_every_file_the_dockerfile_copies_is_in_the_context(tmp_path):
    """A COPY of a file the context lacks would fail only when an image is built."""
    images.write_context(tmp_path)
    dockerfile = (tmp_path / "docker" / "Dockerfile").read_text()
    sources = []
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            sources += line.split()[1:-1]
    assert sources
    for source in sources:
        if source.endswith("[t]"):  # optional: the host's CA bundle, copied in when it has one
            assert source == docker.CONTEXT_CA_FILE[:-1] + "[t]"
            continue
        assert (tmp_path / source).exists(), f"the Dockerfile copies {source}, which the build context lacks"


def test_the_tag_follows_the_content_not_the_place(monkeypatch, tmp_path):
    before = images.image_tag()
    assert re.fullmatch(r"\d+\.\d+\.\d+-[0-9a-f]{12}", before)
    copy = tmp_path / "copy"
    images.write_context(copy)
    moved = [(name, copy / name) for name, _ in images.context_files()]
    monkeypatch.setattr(images, "context_files", lambda: moved)
    assert images.image_tag() == before
    (copy / "docker" / "Dockerfile").write_text((copy / "docker" / "Dockerfile").read_text() + "\n# changed\n")
    assert images.image_tag() != before


def test_every_shipped_file_is_tracked_and_in_the_source_distribution_manifest():
    """setup.py copies SHIPPED_FILES into the wheel; MANIFEST.in must carry them into an sdist."""
    tracked = set(subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split())
    manifest = (REPO / "MANIFEST.in").read_text().split()
    for name in SHIPPED_FILES:
        assert name in tracked, name
        assert name in manifest, f"MANIFEST.in does not include {name}"
    assert set(images.CONTEXT_PROJECT_FILES) <= set(SHIPPED_FILES)


def test_a_failed_build_names_the_installed_base_image_script(monkeypatch):
    monkeypatch.setattr(docker, "compose_command", lambda: ["false"])
    with pytest.raises(docker.DockerError, match=r"build the base image first: bash /.+/docker/build-base-image\.sh"):
        docker.build_images()


def test_the_build_context_carries_the_ca_bundle_a_user_names(monkeypatch, tmp_path):
    """pip inside the image build trusts $CHURN_CA_BUNDLE (a host that is not Debian, a proxy)."""
    import sys

    bundle = tmp_path / "corporate.pem"
    bundle.write_text("MY CA")
    monkeypatch.setenv("CHURN_CA_BUNDLE", str(bundle))
    check = "import sys; sys.exit(0 if open('docker/extra-ca-certificates.crt').read() == 'MY CA' else 3)"
    monkeypatch.setattr(docker, "compose_command", lambda: [sys.executable, "-c", check])
    assert docker.build_images() == docker.image_names()
    assert docker.ca_bundle_candidates()[0] == bundle


def test_a_build_writes_its_output_to_a_log_and_one_line_to_stderr(monkeypatch, capsys):
    """stdout stays the command's own (churn run --json on a first run is pure JSON); the build's
    hundreds of lines go to a log file named on stderr; a failure shows the log's end."""
    import sys

    monkeypatch.setattr(docker, "compose_command", lambda: [sys.executable, "-c", "print('Step 1/9 : FROM debian'); print('Successfully built 3f2a')"])
    assert docker.build_images() == docker.image_names()
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("building the images ") and str(docker.build_log_file()) in err and "built the images in" in err
    assert "Step 1/9 : FROM debian" in docker.build_log_file().read_text()
    monkeypatch.setattr(docker, "compose_command", lambda: [sys.executable, "-c", "print('Step 3/9 : RUN pip install'); print('boom: no network'); raise SystemExit(1)"])
    with pytest.raises(docker.DockerError, match=r"(?s)the whole log: .*churn-images-.*\.log.*boom: no network"):
        docker.build_images()
    assert capsys.readouterr().out == ""
