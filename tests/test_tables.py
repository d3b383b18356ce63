import re

import pandas as pd
import pytest

from churn import tables
from churn.schema import SchemaError
from churn.tables import read_raw, read_raw_chunks, write_lines_atomically
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


def _sample_with_header(path, header: str, rows: int = 10):
    lines = SAMPLE_CSV.read_text().splitlines()
    path.write_text("\n".join([header, *lines[1 : rows + 1]]) + "\n")
    return path


def _sample_header():
    return SAMPLE_CSV.read_text().splitlines()[0]


def test_a_column_named_twice_is_refused(tmp_path):
    path = _sample_with_header(tmp_path / "dup.csv", _sample_header().replace("Day Charge", "Day Mins"))
    message = rf"{re.escape(str(path))}: column 'Day Mins' appears more than once in the header \(columns 7 and 9\)"
    with pytest.raises(SchemaError, match=message):
        read_raw(path)
    with pytest.raises(SchemaError, match=message):
        next(read_raw_chunks(path, chunk_rows=3))


def test_names_differing_only_in_surrounding_whitespace_are_the_same_column(tmp_path):
    header = _sample_header().replace("Account Length", " State", 1).replace("Eve Mins", '" State "')
    path = _sample_with_header(tmp_path / "dup.csv", header)
    with pytest.raises(SchemaError, match=r"column 'State' appears more than once in the header \(columns 1, 2 and 10\)"):
        read_raw(path)


def test_a_repeated_name_in_a_later_file_of_a_directory_names_that_file(tmp_path):
    _sample_with_header(tmp_path / "a.csv", _sample_header())
    _sample_with_header(tmp_path / "b.csv", _sample_header() + ",Churn?")
    with pytest.raises(SchemaError, match=r"b\.csv: column 'Churn\?' appears more than once in the header \(columns 20 and 21\)"):
        read_raw(tmp_path)


def test_header_check_reads_the_header_as_pandas_does(tmp_path):
    """A byte-order mark, blank lines before the header and several unnamed (empty) columns are
    no repeated names: pandas drops the mark, skips the blank lines and numbers unnamed columns."""
    path = tmp_path / "quirks.csv"
    lines = SAMPLE_CSV.read_text().splitlines()
    path.write_bytes(b"\xef\xbb\xbf\n  \n" + "\n".join(line + ",," for line in lines[:6]).encode() + b"\n")
    frame = read_raw(path)
    assert list(frame.columns[:2]) == ["State", "Account Length"] and len(frame) == 5


def test_a_repeated_huge_name_gives_a_short_message(tmp_path):
    name = "n" * 100_000
    path = _sample_with_header(tmp_path / "dup.csv", f"{_sample_header()},{name},{name}")
    with pytest.raises(SchemaError) as error:
        read_raw(path)
    assert len(str(error.value)) < 500 + len(str(path))
    assert "appears more than once in the header (columns 21 and 22)" in str(error.value)


def test_a_huge_parser_error_is_cut(tmp_path, monkeypatch):
    def failing_reader(path, chunk_rows):
        raise pd.errors.ParserError("Error tokenizing data near " + "q" * (1 << 20))

    monkeypatch.setattr(tables, "_csv_reader", failing_reader)
    path = _sample_with_header(tmp_path / "x.csv", _sample_header())
    with pytest.raises(SchemaError, match="not a well-formed CSV file") as error:
        read_raw(path)
    assert len(str(error.value)) < 500 + len(str(path))


def test_a_failing_atomic_write_leaves_no_file_behind(tmp_path):
    target = tmp_path / "out" / "f.csv"
    with pytest.raises(RuntimeError, match="disk on fire"):
        with tables.AtomicTextWriter(target) as out:
            out.write("half a line")
            raise RuntimeError("disk on fire")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_failing_atomic_write_keeps_the_previous_file(tmp_path):
    target = tmp_path / "f.csv"
    write_lines_atomically(target, ["old"])
    with pytest.raises(RuntimeError):
        with tables.AtomicTextWriter(target) as out:
            out.write("new")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["f.csv"]


def test_a_failing_atomic_write_whose_partial_file_vanished_reports_the_failure(tmp_path):
    """The cleanup after a failure does not hide it: if the partial file is already gone (its
    folder removed meanwhile), the caller still sees the error that stopped the write."""
    target = tmp_path / "out" / "f.csv"
    with pytest.raises(RuntimeError, match="disk on fire"):
        with tables.AtomicTextWriter(target) as out:
            out.write("half a line")
            out.partial.unlink()
            raise RuntimeError("disk on fire")
    assert list((tmp_path / "out").iterdir()) == []


def test_a_first_column_named_twice_after_a_byte_order_mark_is_refused(tmp_path):
    """pandas drops a UTF-8 byte-order mark before the first name, so the header check must too."""
    path = tmp_path / "bom.csv"
    header = _sample_header() + ",State"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join([header, *SAMPLE_CSV.read_text().splitlines()[1:4]]).encode() + b"\n")
    with pytest.raises(SchemaError, match=r"column 'State' appears more than once in the header \(columns 1 and 21\)"):
        read_raw(path)


def test_names_differing_only_in_a_quoted_line_break_are_distinct_columns(tmp_path):
    """The header check reads line breaks inside quoted names verbatim, as pandas does: a name
    with CRLF and one with LF are two columns, not a repeated one."""
    path = tmp_path / "breaks.csv"
    path.write_bytes(b'"A\r\nB","A\nB",c\r\n1,2,3\r\n')
    frame = read_raw(path)
    assert list(frame.columns) == ["A\r\nB", "A\nB", "c"] and frame.loc[0, "c"] == "3"


def test_a_repeated_name_after_blank_lines_is_refused(tmp_path):
    """Empty and whitespace-only lines before the header are skipped (as pandas skips them), so
    the header behind them is the one checked."""
    path = tmp_path / "blank.csv"
    header = _sample_header().replace("Day Charge", "Day Mins")
    path.write_text("\n  \n" + "\n".join([header, *SAMPLE_CSV.read_text().splitlines()[1:4]]) + "\n")
    with pytest.raises(SchemaError, match=r"column 'Day Mins' appears more than once in the header \(columns 7 and 9\)"):
        read_raw(path)


def test_a_repeated_name_after_an_unnamed_index_column_is_refused(tmp_path):
    """A file written with its index (``DataFrame.to_csv()``) has an empty first name; the rest
    of that header is still checked."""
    path = tmp_path / "indexed.csv"
    lines = SAMPLE_CSV.read_text().splitlines()
    header = "," + lines[0].replace("Day Charge", "Day Mins")
    path.write_text("\n".join([header, *(f"{i},{line}" for i, line in enumerate(lines[1:4]))]) + "\n")
    with pytest.raises(SchemaError, match=r"column 'Day Mins' appears more than once in the header \(columns 8 and 10\)"):
        read_raw(path)


def test_a_different_header_names_the_file_and_the_first_file(tmp_path):
    for name in ("a", "b"):
        (tmp_path / f"{name}.csv").write_text("a,b\n1,2\n")
    (tmp_path / "c.csv").write_text("a,c\n1,2\n")
    message = f"{tmp_path / 'c.csv'} has a different header from {tmp_path / 'a.csv'}"
    with pytest.raises(SchemaError, match=re.escape(message) + "$"):
        read_raw(tmp_path)


def test_a_malformed_csv_file_gives_the_parser_s_reason(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,2,3\n4,5,6,7\n")
    message = f"input is not a well-formed CSV file: {path}: Error tokenizing data. C error: Expected 3 fields in line 3, saw 4"
    with pytest.raises(SchemaError, match=re.escape(message) + "$"):
        read_raw(path)


def test_a_file_that_is_not_utf8_is_refused_naming_the_offset_of_its_first_bad_byte(tmp_path):
    """The offset is the file's (the parser's own counts from the field it was decoding: it
    said "byte 5" for this file)."""
    good = "State,Account Length\n" + "KS,128\n" * 70
    path = tmp_path / "latin1.csv"
    path.write_bytes(good.encode() + "Zürich,1\n".encode("latin-1"))
    with pytest.raises(SchemaError) as refused:
        read_raw(path)
    assert str(refused.value) == f"input is not UTF-8 text: {path} (byte offset {len(good) + 1}: invalid start byte)"


def test_the_offset_of_a_bad_byte_is_counted_across_read_blocks(tmp_path):
    from churn.tables import _first_invalid_utf8

    path = tmp_path / "long.csv"
    prefix = b"a" * ((1 << 20) - 1) + "é".encode()  # a two-byte character across the first 1 MiB block's end
    path.write_bytes(prefix + b"\xc3(")
    assert _first_invalid_utf8(path) == (len(prefix), "invalid continuation byte")
    third = b"a" * (2 << 20) + b"\xff"  # in the third block: offsets add up over blocks
    path.write_bytes(third)
    assert _first_invalid_utf8(path) == (2 << 20, "invalid start byte")
    path.write_bytes(b"abc\xc3")  # cut short at the end
    assert _first_invalid_utf8(path) == (3, "unexpected end of data")
    path.write_bytes("Zürich".encode())
    assert _first_invalid_utf8(path) is None


def test_when_the_offset_cannot_be_found_the_parsers_reason_is_given_alone(tmp_path, monkeypatch):
    path = tmp_path / "latin1.csv"
    path.write_bytes("State\nZürich\n".encode("latin-1"))
    monkeypatch.setattr(tables, "_first_invalid_utf8", lambda _path: None)
    with pytest.raises(SchemaError) as refused:
        read_raw(path)
    assert str(refused.value) == f"input is not UTF-8 text: {path} (invalid start byte)"
