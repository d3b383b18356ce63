import pytest

from churn.schema import SchemaError
from churn.tables import read_raw, write_lines_atomically
from tests.conftest import SAMPLE_CSV


def test_reads_every_value_as_text():
    frame = read_raw(SAMPLE_CSV)
    assert frame.shape == (3333, 20)
    assert frame.loc[0, "Intl Mins"] == "10.0"  # not parsed: canonicalised later


def test_directory_of_csv_files_is_one_table(tmp_path):
    lines = SAMPLE_CSV.read_text().splitlines()
    (tmp_path / "b.csv").write_text("\n".join([lines[0], *lines[11:21]]) + "\n")
    (tmp_path / "a.csv").write_text("\n".join(lines[:11]) + "\n")
    (tmp_path / "README.md").write_text("not data")
    frame = read_raw(tmp_path)
    assert len(frame) == 20 and frame.loc[0, "Account Length"] == "128"


def test_missing_input(tmp_path):
    with pytest.raises(SchemaError, match="input not found"):
        read_raw(tmp_path / "nope.csv")


def test_directory_without_csv(tmp_path):
    with pytest.raises(SchemaError, match=r"no \.csv file"):
        read_raw(tmp_path)


def test_empty_file(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(SchemaError, match="input is empty"):
        read_raw(tmp_path / "empty.csv")


def test_non_utf8_bytes(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(SAMPLE_CSV.read_bytes()[:500] + "Société\n".encode("latin-1"))
    with pytest.raises(SchemaError, match="not UTF-8"):
        read_raw(path)


def test_mismatched_headers_in_a_directory(tmp_path):
    (tmp_path / "a.csv").write_text("a,b\n1,2\n")
    (tmp_path / "b.csv").write_text("a,c\n1,2\n")
    with pytest.raises(SchemaError, match="different header"):
        read_raw(tmp_path)


def test_atomic_write_returns_digest_and_leaves_no_partial(tmp_path):
    digest = write_lines_atomically(tmp_path / "x" / "f.csv", ["a", "b"])
    assert (tmp_path / "x" / "f.csv").read_text() == "a\nb\n"
    assert len(digest) == 64
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["f.csv"]
