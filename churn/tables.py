"""Reading raw churn CSV files and writing split files: the only file I/O of the step code."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pandas as pd

from churn.schema import SchemaError


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


def read_raw(location: Path | str) -> pd.DataFrame:
    """Read the raw table from a CSV file or directory of CSV files, every value as a string.

    Files of a directory must share one header; rows are concatenated in file-name order.
    """
    frames = []
    for path in raw_csv_files(Path(location)):
        try:
            frame = pd.read_csv(
                path, dtype=str, keep_default_na=False, na_filter=False, encoding="utf-8", skipinitialspace=False
            )
        except pd.errors.EmptyDataError:
            raise SchemaError(f"input is empty: {path}") from None
        except UnicodeDecodeError as error:
            raise SchemaError(f"input is not UTF-8 text: {path} (byte {error.start}: {error.reason})") from None
        except pd.errors.ParserError as error:
            raise SchemaError(f"input is not a well-formed CSV file: {path}: {error}") from None
        frame.columns = [str(c).strip() for c in frame.columns]
        if frames and list(frame.columns) != list(frames[0].columns):
            raise SchemaError(f"{path} has a different header from {raw_csv_files(Path(location))[0]}")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def write_lines_atomically(path: Path, lines: list[str]) -> str:
    """Write ``lines`` (newline-terminated) to ``path`` via a temporary file; return its sha256."""
    data = "".join(line + "\n" for line in lines).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_bytes(data)
    os.replace(temporary, path)
    return hashlib.sha256(data).hexdigest()
