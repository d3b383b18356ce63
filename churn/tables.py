"""Reading raw churn CSV files and writing split files: the only file I/O of the step code."""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import json
from pathlib import Path

import pandas as pd

from churn.atomic import AtomicTextWriter, copy_file_atomically, write_lines_atomically  # noqa: F401 - the step code's names
from churn.schema import SchemaError, quoted, shortened


def raw_csv_files(location: Path) -> list[Path]:
    """A CSV file, or every ``*.csv`` below a directory (sorted): the files of one raw table."""
    if location.is_file():
        return [location]
    if not location.exists():
        raise SchemaError(f"input not found: {location}")
    files = sorted(p for p in location.rglob("*.csv") if p.is_file())
    if not files:
        raise SchemaError(f"no .csv file in input directory {location}")
    return files


def _csv_reader(path, chunk_rows: int):
    """pandas' C reader over a file (or a buffer of a file's bytes), every value a string."""
    return pd.read_csv(
        path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8", chunksize=chunk_rows
    )


def _header_names(path: Path) -> list[str] | None:
    """The header fields of a CSV file as pandas will take them (first non-blank line, a UTF-8
    byte-order mark dropped), or ``None`` when the file has no header or cannot be read as CSV
    text: pandas then raises the error the caller reports (empty file, not UTF-8, malformed).
    A header field longer than the csv module's field limit (128 KiB) also gives ``None``."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            for row in csv.reader(handle):
                if row and not (len(row) == 1 and not row[0].strip()):  # pandas skips blank lines
                    return row
    except (UnicodeDecodeError, csv.Error):
        return None
    return None


def _require_unique_names(path: Path) -> None:
    """Refuse a header that names a column twice (after stripping surrounding whitespace): pandas
    would rename the second one (``Day Mins.1``) and one of the two would be silently dropped."""
    positions: dict[str, list[int]] = {}
    for number, name in enumerate(_header_names(path) or [], start=1):
        if name.strip():  # empty names are pandas' distinct "Unnamed: n" columns, ignored later
            positions.setdefault(name.strip(), []).append(number)
    for name, numbers in positions.items():
        if len(numbers) > 1:
            listed = ", ".join(map(str, numbers[:-1])) + f" and {numbers[-1]}"
            raise SchemaError(f"{path}: column {quoted(name)} appears more than once in the header (columns {listed})")


def read_raw_chunks(location: Path | str, chunk_rows: int):
    """Yield the raw table in chunks of at most ``chunk_rows`` rows (values as strings), each
    indexed by its row positions across all files, so memory stays bounded by the chunk size.
    Column names are stripped of surrounding whitespace; a name repeated in a header is refused."""
    files = raw_csv_files(Path(location))
    header = None
    offset = 0
    for path in files:
        _require_unique_names(path)
        try:
            for chunk in _csv_reader(path, chunk_rows):
                chunk.columns = [str(c).strip() for c in chunk.columns]
                if header is None:
                    header = list(chunk.columns)
                elif list(chunk.columns) != header:
                    raise SchemaError(f"{path} has a different header from {files[0]}")
                chunk.index = range(offset, offset + len(chunk))
                offset += len(chunk)
                yield chunk
        except pd.errors.EmptyDataError:
            raise SchemaError(f"input is empty: {path}") from None
        except UnicodeDecodeError as error:
            position, reason = _first_invalid_utf8(path) or (None, error.reason)
            where = f"byte offset {position}: " if position is not None else ""
            raise SchemaError(f"input is not UTF-8 text: {path} ({where}{reason})") from None
        except pd.errors.ParserError as error:
            raise SchemaError(f"input is not a well-formed CSV file: {path}: {shortened(str(error).strip())}") from None


def header_end(path: Path, limit: int = 1 << 20) -> int | None:
    """Where the first line holding more than line ends (the header pandas reads) ends: the
    offset just past its ``\\n``; ``None`` when the file's beginning could be read otherwise
    (a quote, a lone ``\\r``, no such line within ``limit`` bytes)."""
    with path.open("rb") as handle:
        head = handle.read(limit)
    start = len(head) - len(head.lstrip(b"\r\n"))
    end = head.find(b"\n", start)
    if start == len(head) or end < 0 or b'"' in head[:end]:
        return None
    if b"\r" in head[start:end].rstrip(b"\r") or b"\r" in head[:start].replace(b"\r\n", b""):
        return None
    return end + 1


def next_line_start(path: Path, offset: int, size: int) -> int:
    """The first offset at or after ``offset`` that starts a line (just past a ``\\n``), or
    ``size`` (the file's end)."""
    with path.open("rb") as handle:
        handle.seek(offset)
        while offset < size:
            block = handle.read(1 << 16)
            if not block:
                return size
            found = block.find(b"\n")
            if found >= 0:
                return offset + found + 1
            offset += len(block)
    return size


def read_range_chunks(path: Path, head: int, start: int, end: int, chunk_rows: int):
    """The chunks of the lines in bytes ``[start, end)`` of a file, read as pandas reads the
    whole file (the file's first ``head`` bytes, its header, put before them; ``start`` 0: the
    file's beginning, header included), column names stripped; ``None`` instead of a first
    chunk when those bytes hold a quote (a line may then go on past a line end). Rows are
    indexed from 0."""
    if not start:
        _require_unique_names(path)
    with path.open("rb") as handle:
        prefix = handle.read(head) if start else b""
        handle.seek(start)
        data = handle.read(end - start)
    if b'"' in data:
        yield None
        return
    offset = 0
    for chunk in _csv_reader(io.BytesIO(prefix + data), chunk_rows):
        chunk.columns = [str(c).strip() for c in chunk.columns]
        chunk.index = range(offset, offset + len(chunk))
        offset += len(chunk)
        yield chunk


def _first_invalid_utf8(path: Path) -> tuple[int, str] | None:
    """Where the file stops being UTF-8: the offset (from 0) of its first invalid byte and why.
    The parser's own error counts from the start of the field or buffer it was decoding."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with path.open("rb") as handle:
        for block in itertools.chain(iter(lambda: handle.read(1 << 20), b""), [b""]):  # b"": the end
            try:
                decoder.decode(block, final=not block)
            except UnicodeDecodeError as error:  # error.object: the bytes held back before plus this block
                return offset + len(block) - len(error.object) + error.start, error.reason
            offset += len(block)
    return None


def read_raw(location: Path | str) -> pd.DataFrame:
    """Read the whole raw table from a CSV file or directory of CSV files, every value as a
    string. Files of a directory must share one header; rows follow in file-name order."""
    chunks = list(read_raw_chunks(location, chunk_rows=1_000_000))
    return pd.concat(chunks)


def read_json(path: Path, what: str) -> object:
    """A small JSON document (a dataset spec), or ``ValueError`` naming the file and the problem."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} not found: {path}") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{what} {path} is not UTF-8 text (byte {error.start})") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{what} {path} is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})") from None
