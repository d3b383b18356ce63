import hashlib
import os

import pytest

from churn.runner.local import stage_input
from churn.runner.runs import RunError, input_sha256, input_uri
from churn.files import file_uri, uri_path
from tests.conftest import SAMPLE_CSV


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_file_is_staged_alone_as_a_copy_never_a_link(tmp_path):
    staged = stage_input(file_uri(SAMPLE_CSV.resolve()), tmp_path)
    folder = uri_path(staged.uri)
    assert folder.parent == tmp_path / ".inputs" and folder.name == _sha(SAMPLE_CSV)[:16]
    assert [p.name for p in folder.iterdir()] == ["churn.csv"]
    copy = folder / "churn.csv"
    assert copy.read_bytes() == SAMPLE_CSV.read_bytes()
    assert not os.path.samefile(copy, SAMPLE_CSV) and copy.stat().st_nlink == 1
    assert staged.sha256 == _sha(SAMPLE_CSV) and staged.path == copy
    assert stage_input(file_uri(SAMPLE_CSV.resolve()), tmp_path) == staged


def test_a_staged_copy_that_changed_is_replaced_and_the_user_file_never_changes(tmp_path):
    source = tmp_path / "data.csv"
    source.write_bytes(SAMPLE_CSV.read_bytes())
    runs = tmp_path / "runs"
    staged = stage_input(file_uri(source), runs)
    with staged.path.open("a") as handle:  # what a step writing into its mounted input would do
        handle.write("KS,1,415,no,no,0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,True.\n")
    assert source.read_bytes() == SAMPLE_CSV.read_bytes()
    again = stage_input(file_uri(source), runs)
    assert again.uri == staged.uri and _sha(again.path) == again.sha256 == _sha(source)


def test_the_recorded_sha256_is_of_the_bytes_the_run_reads_after_an_edit_and_revert(tmp_path):
    """Edit the input in place, run, then put the original back: the next run reads (and
    records) the original bytes, not the edited copy it staged before."""
    source = tmp_path / "data.csv"
    original = SAMPLE_CSV.read_bytes()
    source.write_bytes(original)
    runs = tmp_path / "runs"
    first = stage_input(file_uri(source), runs)
    source.write_bytes(original + original.split(b"\n", 1)[1][:200].rsplit(b"\n", 1)[0] + b"\n")
    edited = stage_input(file_uri(source), runs)
    source.write_bytes(original)
    reverted = stage_input(file_uri(source), runs)
    assert edited.sha256 != first.sha256
    assert reverted.sha256 == first.sha256 == _sha(source)
    assert reverted.path.read_bytes() == original


def test_a_folder_is_staged_as_a_copy_of_its_csv_files(tmp_path):
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.csv").write_bytes(SAMPLE_CSV.read_bytes())
    (folder / "sub" / "b.csv").write_text("x\n")
    (folder / "notes.txt").write_text("ignored")
    staged = stage_input(file_uri(folder), tmp_path / "runs")
    target = uri_path(staged.uri)
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == ["a.csv", "sub/b.csv"]
    assert staged.sha256 == input_sha256(folder)
    assert not os.path.samefile(target / "a.csv", folder / "a.csv")


def test_input_uri(tmp_path):
    assert input_uri(str(SAMPLE_CSV)) == "file://" + str(SAMPLE_CSV.resolve())
    with pytest.raises(RunError, match="input not found"):
        input_uri(str(tmp_path / "none.csv"))
    with pytest.raises(RunError, match="input not found"):
        input_uri((tmp_path / "none.csv").as_uri())
    # A user's percent-encoded file:// URI is read; churn's own URIs are not encoded.
    spaced = tmp_path / "my data ü.csv"
    spaced.write_text("x")
    assert input_uri(spaced.as_uri()) == "file://" + str(spaced)
    assert input_uri(str(spaced)) == "file://" + str(spaced)


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("s3://bucket/churn.csv", "the local backend cannot read s3:// URIs; give a local file or folder"),
        ("https://example.com/churn.csv", "cannot read https:// URIs; give a local file or folder (download it first)"),
        ("ftp://example.com/churn.csv", "cannot read ftp:// URIs"),
    ],
)
def test_unsupported_inputs_are_refused_naming_what_is_supported(uri, expected):
    with pytest.raises(RunError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        input_uri(uri, "local")


def test_the_cloud_backend_reads_s3_but_not_http():
    assert input_uri("s3://bucket/churn.csv", "cloud") == "s3://bucket/churn.csv"
    with pytest.raises(RunError, match=r"give a local file or folder or an s3:// URI \(download it first\)"):
        input_uri("http://example.com/churn.csv", "cloud")


def test_local_uris_are_not_percent_encoded(tmp_path):
    folder = tmp_path / "runs with space" / "é"
    assert file_uri(folder) == "file://" + str(folder)
    assert uri_path(file_uri(folder)) == folder


def test_a_copy_an_older_churn_hard_linked_is_replaced(tmp_path):
    """churn before 0.2 hard-linked the user's file into the same folder: never reused."""
    source = tmp_path / "data.csv"
    source.write_bytes(SAMPLE_CSV.read_bytes())
    old = tmp_path / "runs" / ".inputs" / _sha(source)[:16]
    old.mkdir(parents=True)
    (old / "data.csv").hardlink_to(source)
    staged = stage_input(file_uri(source), tmp_path / "runs")
    assert staged.path == old / "data.csv"
    assert not os.path.samefile(staged.path, source) and source.stat().st_nlink == 1


def test_runs_staging_at_once_never_remove_what_another_reads(tmp_path):
    import threading

    source = tmp_path / "data.csv"
    source.write_bytes(SAMPLE_CSV.read_bytes() * 20)
    results, errors = [], []

    def stage():
        try:
            staged = stage_input(file_uri(source), tmp_path / "runs")
            results.append((staged, _sha(staged.path)))
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=stage) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert {(s.uri, digest) for s, digest in results} == {(results[0][0].uri, _sha(source))}
    inputs = tmp_path / "runs" / ".inputs"
    assert sorted(p.name for p in inputs.iterdir()) == [".lock", _sha(source)[:16]]


def test_a_resume_reads_churns_own_uri_of_an_unusual_name(tmp_path):
    odd = tmp_path / "a%41 b.csv"
    odd.write_text("x")
    assert input_uri(file_uri(odd)) == file_uri(odd)
