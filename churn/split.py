"""A deterministic train/validation/test split decided by a keyed hash of each row's content.

No RNG and no shuffle: a row's split depends only on its canonical content and the seed, so it
does not change with row order, library versions, or rows appended to the file.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

SPLITS = ("train", "validation", "test")
_SCALE = float(2**64)


def validate_ratios(train_ratio: float, validation_ratio: float) -> None:
    """Raise ``ValueError`` naming the parameter unless both ratios are in (0, 1) and leave
    a non-empty share for the test split."""
    for name, value in (("TrainRatio", train_ratio), ("ValidationRatio", validation_ratio)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
        if not 0 < value < 1:
            raise ValueError(f"{name} must be in (0, 1), got {value!r}")
    if train_ratio + validation_ratio >= 1:
        raise ValueError(
            f"TrainRatio + ValidationRatio must be below 1 to leave rows for the test split, "
            f"got {train_ratio!r} + {validation_ratio!r}"
        )


def validate_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"SplitSeed must be a non-negative integer, got {seed!r}")


def row_keys(table: pd.DataFrame) -> list[str]:
    """The content of each canonical row as one string (the canonical table's columns, in the
    spec's order)."""
    columns = [table[c].tolist() for c in table.columns]
    return ["\x1f".join(row) for row in zip(*columns)]


def hash_values(keys: Iterable[str] | Iterable[bytes], seed: int) -> list[int]:
    """Each key's 64-bit BLAKE2b hash keyed by the seed: the split and the order inside it.
    Keys are strings, or their UTF-8 bytes."""
    validate_seed(seed)
    keyed = hashlib.blake2b(digest_size=8, key=str(seed).encode())
    copy = keyed.copy  # the key's block is hashed once, not once per row
    digests = []
    for key in keys:
        hasher = copy()
        hasher.update(key.encode() if isinstance(key, str) else key)
        digests.append(hasher.digest())
    return np.frombuffer(b"".join(digests), dtype=">u8").tolist()


def fractions(values: list[int]) -> np.ndarray:
    """Hash values as numbers in [0, 1): over 2**64."""
    return _fractions(values)


def _fractions(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.float64) / _SCALE


def hash_fractions(keys: Iterable[str], seed: int) -> np.ndarray:
    """Map each key to a number in [0, 1): its hash value over 2**64."""
    return _fractions(hash_values(keys, seed))


def split_indices(fractions: np.ndarray, train_ratio: float, validation_ratio: float) -> np.ndarray:
    """Index into :data:`SPLITS` (0 train, 1 validation, 2 test) for each hash fraction."""
    validate_ratios(train_ratio, validation_ratio)
    return np.searchsorted([train_ratio, train_ratio + validation_ratio], fractions, side="right")


def keyed_rows(
    table: pd.DataFrame, lines: list[str], train_ratio: float, validation_ratio: float, seed: int
) -> list[tuple[int, str, int]]:
    """``(hash value, line, split index)`` for every row, sorted by hash value then line.

    This order is the one order of rows inside each split file, so the files are the same
    bytes whatever order the input rows came in (and however the input is chunked).
    """
    values = hash_values(row_keys(table), seed)
    which = split_indices(_fractions(values), train_ratio, validation_ratio)
    return sorted(zip(values, lines, which.tolist()))


def split_rows(
    table: pd.DataFrame, lines: list[str], train_ratio: float, validation_ratio: float, seed: int
) -> dict[str, list[str]]:
    """Distribute ``lines`` (one per row of a canonical ``table``) over the splits, in memory."""
    ordered = keyed_rows(table, lines, train_ratio, validation_ratio, seed)
    return {name: [line for _, line, w in ordered if w == i] for i, name in enumerate(SPLITS)}
