"""A deterministic train/validation/test split decided by a keyed hash of each row's content.

No RNG and no shuffle: a row's split depends only on its canonical content and the seed, so it
does not change with row order, library versions, or rows appended to the file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import pandas as pd

from churn import sizing
from churn.rules import sharding_problem, validate_ratios, validate_seed  # noqa: F401 - the step code's names

SPLITS = ("train", "validation", "test")
_SCALE = float(2**64)
#: A processing job's instances, as SageMaker Processing describes them to each container:
#: ``{"current_host": "algo-1", "hosts": ["algo-1", "algo-2"], ...}``.
RESOURCE_CONFIG = "/opt/ml/config/resourceconfig.json"


def row_keys(table: pd.DataFrame) -> list[str]:
    """The content of each canonical row as one string (the canonical table's columns, in the
    spec's order)."""
    columns = [table[c].tolist() for c in table.columns]
    return ["\x1f".join(row) for row in zip(*columns)]


def hash_values(keys: Iterable[str] | Iterable[bytes], seed: int) -> list[int]:
    """Each key's 64-bit BLAKE2b hash keyed by the seed: the split and the order inside it.
    Keys are strings, or their UTF-8 bytes."""
    return hash_array(keys, seed).tolist()


def hash_array(keys: Iterable[str] | Iterable[bytes], seed: int) -> np.ndarray:
    """:func:`hash_values` as an array of ``uint64``."""
    validate_seed(seed)
    keyed = hashlib.blake2b(digest_size=8, key=str(seed).encode())
    copy = keyed.copy  # the key's block is hashed once, not once per row
    rows: list = keys if isinstance(keys, list) else list(keys)
    digests: list[bytes] = []
    append = digests.append
    try:
        for key in rows:  # bytes (what preprocessing hashes): no check per key
            hasher = copy()
            hasher.update(key)  # type: ignore[arg-type]
            append(hasher.digest())
    except TypeError:  # a string among them: hashed as its UTF-8 bytes
        digests.clear()
        for key in rows:
            hasher = copy()
            hasher.update(key.encode() if isinstance(key, str) else key)
            append(hasher.digest())
    return np.frombuffer(b"".join(digests), dtype=">u8").astype(np.uint64)


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


@lru_cache(maxsize=16)
def _least_values(train_ratio: float, validation_ratio: float) -> tuple[int, int]:
    """For split index 1 and 2: the least hash value :func:`split_indices` puts at that index
    or after (``2**64``: none), found by bisection through :func:`fractions` and
    :func:`split_indices` themselves (both keep the hash values' order)."""
    least = []
    for index in (1, 2):
        low, high = 0, 2**64  # split_indices(value high) >= index, taking 2**64 as past every value
        while low < high:
            middle = (low + high) // 2
            if int(split_indices(_fractions([middle]), train_ratio, validation_ratio)[0]) >= index:
                high = middle
            else:
                low = middle + 1
        least.append(low)
    return least[0], least[1]


def split_index_array(values: np.ndarray, train_ratio: float, validation_ratio: float) -> np.ndarray:
    """``split_indices(fractions(values.tolist()), ...)`` of ``uint64`` hash values, compared as
    integers with the least value of each split (no conversion of each value to a float)."""
    validate_ratios(train_ratio, validation_ratio)
    which = np.zeros(len(values), dtype=np.intp)
    for least in _least_values(train_ratio, validation_ratio):
        if least < 2**64:
            which += values >= np.uint64(least)
    return which


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


# --- a sharded PreprocessData: several instances, each with whole input files ------------------


def instances(resource_config: object) -> tuple[str, list[str]]:
    """(this instance, every instance of the job) from a processing job's resource config;
    ``("", [])`` without one (outside SageMaker's container contract: a single instance)."""
    if not isinstance(resource_config, dict):
        return "", []
    hosts = resource_config.get("hosts")
    current = resource_config.get("current_host")
    if not isinstance(hosts, list) or len(hosts) <= 1:
        return str(current or ""), [str(h) for h in hosts or []]  # one instance: nothing to tell apart
    if not all(isinstance(h, str) and h for h in hosts) or current not in hosts:
        raise ValueError(f"resourceconfig.json names no current_host among its hosts: {resource_config!r}")
    return str(current), [str(h) for h in hosts]


def split_file_name(name: str, host: str | None = None) -> str:
    """The file of split ``name`` an instance writes: ``train.csv`` for a single instance (what
    every run wrote before instance counts), ``train-algo-2.csv`` for instance ``algo-2`` of
    several, which all upload to the same S3 prefix."""
    return f"{name}-{host}.csv" if host else f"{name}.csv"


def manifest_part_name(host: str) -> str:
    """An instance's own counts when PreprocessData runs on several: ``manifest-algo-2.json``."""
    return f"manifest-{host}.json"


def merge_shard_manifests(manifest: dict, parts: dict[str, dict]) -> dict:
    """The whole input's manifest from a sharded PreprocessData's: its common ``manifest.json``
    (what every instance writes alike) and each instance's part (``host -> part``). Rows, class
    balance and missing values are summed; duplicate rows are those each instance saw (identical
    rows in files of two instances are not counted); the sizing gets the train split's rows."""
    merged = dict(manifest)
    hosts = list(manifest.get("instances", {}).get("hosts", parts))
    missing = [host for host in hosts if host not in parts]
    if missing:
        raise ValueError(f"the sharded manifest lacks the part of instance(s) {', '.join(missing)}")
    ordered = [parts[host] for host in hosts]
    merged["rows"] = {name: sum(int(part["rows"][name]) for part in ordered) for name in SPLITS}
    merged["label_counts"] = {label: sum(int(part["label_counts"][label]) for part in ordered) for label in ("1", "0")}
    missing_counts: dict[str, int] = {}
    for part in ordered:
        for column, count in part.get("missing_counts", {}).items():
            missing_counts[column] = missing_counts.get(column, 0) + int(count)
    merged["missing_counts"] = missing_counts
    merged["duplicate_rows"] = sum(int(part.get("duplicate_rows", 0)) for part in ordered)
    merged["ignored_columns"] = sorted({column for part in ordered for column in part.get("ignored_columns", [])})
    # Each instance's files and their digests (no one digest covers a split of several files).
    merged.pop("sha256", None)
    merged["parts"] = {host: {key: parts[host][key] for key in ("files", "rows", "sha256")} for host in hosts}
    requested = manifest["sizing"]["requested"]
    merged["sizing"] = sizing.sizing(merged["rows"]["train"], requested)
    return merged
