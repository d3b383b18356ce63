import pytest

from churn.backends.local_run import stage_input
from churn.backends.runs import RunError, input_uri
from tests.conftest import SAMPLE_CSV


def test_a_file_is_staged_alone_and_content_addressed(tmp_path):
    staged = stage_input(SAMPLE_CSV.resolve().as_uri(), tmp_path)
    folder = tmp_path / ".inputs" / staged.rsplit("/", 1)[1]
    assert [p.name for p in folder.iterdir()] == ["churn.csv"]
    assert (folder / "churn.csv").read_bytes() == SAMPLE_CSV.read_bytes()
    assert stage_input(SAMPLE_CSV.resolve().as_uri(), tmp_path) == staged


def test_folders_and_remote_uris_are_used_as_they_are(tmp_path):
    assert stage_input(tmp_path.as_uri(), tmp_path) == tmp_path.as_uri()
    assert stage_input("s3://bucket/key.csv", tmp_path) == "s3://bucket/key.csv"


def test_input_uri(tmp_path):
    assert input_uri(str(SAMPLE_CSV)) == SAMPLE_CSV.resolve().as_uri()
    with pytest.raises(RunError, match="input not found"):
        input_uri(str(tmp_path / "none.csv"))
    with pytest.raises(RunError, match="input not found"):
        input_uri((tmp_path / "none.csv").as_uri())
