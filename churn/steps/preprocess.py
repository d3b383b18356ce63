"""PreprocessData: raw churn CSV -> train/validation/test split files and a feature manifest.

Container paths: reads every ``*.csv`` under ``/opt/ml/processing/input/raw``; writes
``/opt/ml/processing/output/{train,validation,test}/<split>.csv`` (headerless, label first)
and ``/opt/ml/processing/output/manifest/manifest.json``.

On several instances (``ProcessingInstanceCount`` above 1, SageMaker only; the raw input is
``ShardedByS3Key``, so each instance gets whole files), instance ``algo-2`` writes
``<split>/<split>-algo-2.csv`` and its own counts to ``manifest/manifest-algo-2.json``: the
instances' outputs land in the same S3 prefixes. Every instance writes the same
``manifest.json`` (what no instance needs the others for: the features, the dataset spec, the
training instance type as given, the instances' names); ``churn.split.merge_shard_manifests``
adds the parts up. A row's split depends only on its content and the seed, so the instances'
split files hold, together, exactly the rows one instance would write.

Inside an instance, a large input is read by worker processes (``--workers``, else
``$CHURN_PREPROCESS_WORKERS``, else one per CPU): each takes shares of a file cut at line ends,
validates them and writes sorted runs, and the workers then merge the runs bucket by bucket (by
the hash value's top bits). The split files are the bytes one process writes; an input that
cannot be cut safely (a quote) or has a problem is read by one process, whose error names the
first bad row in file order.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent import futures
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
import pandas as pd

from churn import dataset, features, schema, sizing, split, tables
from churn.dataset import DEFAULT_SPEC, DatasetSpec
from churn.steps import entrypoint, paths

INPUT_DIR = Path(paths.RAW)
OUTPUT_DIR = Path(paths.OUTPUT)
#: Rows per chunk: peak memory is bounded by this (times the workers), not by the input size.
CHUNK_ROWS = 100_000
#: Worker processes (``--workers``; else this variable; else one per CPU). 1: all in this process.
WORKERS_VARIABLE = "CHURN_PREPROCESS_WORKERS"
#: A worker's share of a file is at least this many bytes (ending at a line end); a smaller
#: input is read in this process.
MIN_TASK_BYTES = 8 << 20
#: With workers, each split's rows are cut by the top bits of their hash value into at least
#: 2**MERGE_BUCKET_BITS ranges (buckets), merged in parallel, each written at its place in the
#: split file (the file's order is the hash's).
MERGE_BUCKET_BITS = 4
#: ... and into more for a large input: one bucket per this many input bytes (at most
#: 2**MAX_MERGE_BUCKET_BITS buckets), so that a bucket's rows of every run fit the merge's
#: blocks at once (a merge of many runs in small blocks costs more per row).
MERGE_BUCKET_INPUT_BYTES = 8 << 20
MAX_MERGE_BUCKET_BITS = 12
#: ... and not more than keeps the segments (a bucket's rows of a run, which the parent holds
#: until the merge) at most this many, whatever the input's size: shares times splits times
#: buckets.
MAX_MERGE_SEGMENTS = 1 << 18


def collected_vocabularies(tables_: Iterable[pd.DataFrame], spec: DatasetSpec) -> dict[str, tuple[str, ...]]:
    """The vocabulary of each collected categorical column: the sorted distinct values (not
    missing) of every canonical table given (numbers by value), whatever their row order. A
    column with no value, or with more than :data:`~churn.dataset.MAX_COLLECTED_VALUES`, is a
    :class:`~churn.schema.SchemaError` naming it."""
    seen: dict[str, set[str]] = {c.name: set() for c in spec.categorical_columns if c.collected}
    for table in tables_:
        _collect(seen, table)
    return _sorted_vocabularies(seen, spec)


def _collect(seen: dict[str, set[str]], table) -> None:
    """Add a table's distinct values (not missing) of each collected column to ``seen``."""
    for name, values in seen.items():
        values.update(table.unique(name) if isinstance(table, schema.EncodedTable) else table[name].unique())
        values.discard(schema.MISSING)
        if len(values) > dataset.MAX_COLLECTED_VALUES:
            raise schema.SchemaError(
                f"column {name!r} has more than {dataset.MAX_COLLECTED_VALUES} distinct values: too many for a "
                "collected vocabulary (an ID or free text?); drop it in the dataset spec, or bin its values first"
            )


def _sorted_vocabularies(seen: dict[str, set[str]], spec: DatasetSpec) -> dict[str, tuple[str, ...]]:
    for name, values in seen.items():
        if not values:
            raise schema.SchemaError(f"column {name!r} has no value, only missing ones: drop it in the dataset spec")
    order = {c.name: (lambda v: (float(v), v)) if c.numbers else None for c in spec.categorical_columns if c.collected}
    return {name: tuple(sorted(values, key=order[name])) for name, values in seen.items()}


def split_lines(
    raw: pd.DataFrame, train_ratio: float, validation_ratio: float, seed: int, spec: DatasetSpec = DEFAULT_SPEC,
) -> dict[str, list[str]]:
    """The CSV lines of each split for a raw frame (pure; what the split files contain): the
    in-memory form of :func:`write_splits_streaming`, a public API (README)."""
    split.validate_ratios(train_ratio, validation_ratio)
    split.validate_seed(seed)
    table = schema.canonical_table(raw, require_label=True, spec=spec)
    schema.require_both_classes(table, spec)
    spec = spec.with_vocabularies(collected_vocabularies([table], spec))
    return split.split_rows(table, features.labelled_lines(table, spec), train_ratio, validation_ratio, seed)


@dataclass
class _Account:
    """What a pass over the raw chunks saw: the columns left out, churned ("1") and stayed ("0")
    rows, and missing values per feature column."""

    ignored: list[str] = field(default_factory=list)
    labels: Counter = field(default_factory=Counter)
    missing: Counter = field(default_factory=Counter)


def _canonical_chunks(location: Path, spec: DatasetSpec, chunk_rows: int, account: _Account) -> Iterator[schema.EncodedTable]:
    """The canonical table of each raw chunk, encoded (validated: the first bad chunk raises the
    run's :class:`~churn.schema.SchemaError`), counted into ``account`` on the way."""
    for number, chunk in enumerate(tables.read_raw_chunks(location, chunk_rows)):
        if number == 0:
            account.ignored = schema.ignored_columns(chunk, spec)
        table = schema.encoded_table(chunk, require_label=True, spec=spec)
        account.labels.update(table.counts(spec.label))
        account.missing.update({name: table.count(name, schema.MISSING) for name in spec.feature_source_columns})
        yield table


def _ended(columns: list[tuple[np.ndarray, list[str]]], separator: str, end: str) -> list[tuple[np.ndarray, list[str]]]:
    """``columns`` (codes into distinct tokens) with each token followed by what follows it in a
    row's text (``separator``; the last column's: ``end``), adjacent columns with few pairs of
    tokens between them (at most a quarter of the rows) taken as one: a row's text is then its
    tokens joined with nothing, fewer per row."""
    rows = len(columns[0][0])
    ended = [(codes, [token + separator for token in tokens]) for codes, tokens in columns[:-1]]
    ended.append((columns[-1][0], [token + end for token in columns[-1][1]]))
    merged = [ended[0]]
    for codes, tokens in ended[1:]:
        before, distinct = merged[-1]
        if len(distinct) * len(tokens) <= rows // 4:
            merged[-1] = (before * len(tokens) + codes, [a + b for a in distinct for b in tokens])
        else:
            merged.append((codes, tokens))
    return merged


def _text(columns: list[tuple[np.ndarray, list[str]]], order: np.ndarray | None) -> str:
    """The rows' tokens of :func:`_ended` columns, rows in ``order``, as one text."""
    rows = len(columns[0][0]) if order is None else len(order)
    pieces = np.empty((rows, len(columns)), dtype=object)
    for j, (codes, tokens) in enumerate(columns):
        pieces[:, j] = np.array(tokens, dtype=object)[codes if order is None else codes[order]]
    return "".join(pieces.ravel().tolist())


def _row_keys(table: schema.EncodedTable) -> list[bytes]:
    """:func:`churn.split.row_keys` of an encoded table, UTF-8 encoded, joined as one text (rows
    ended by a newline no token holds) and split again: no Python call per row."""
    columns = list(table.columns.values())
    if any("\n" in "".join(tokens) for _, tokens in columns):
        return [key.encode() for key in split.row_keys(table.frame())]
    return _text(_ended(columns, "\x1f", "\n"), None).encode().split(b"\n")[:-1]


def _line_columns(table: schema.EncodedTable, spec: DatasetSpec) -> list[tuple[np.ndarray, list[str]]]:
    """The columns of :func:`churn.features.labelled_lines` as codes into distinct pieces: the
    label, the numbers, then each category's whole one-hot block."""
    columns = [table.columns[spec.label]] + [table.columns[name] for name in spec.numeric_columns]
    for name, vocabulary in features.vocabularies(spec).items():
        codes, tokens = table.columns[name]
        segments = features.one_hot_segments(vocabulary)
        columns.append((codes, [segments[token] for token in tokens]))
    return columns


def _sorted_runs(
    table: schema.EncodedTable, spec: DatasetSpec, train_ratio: float, validation_ratio: float, seed: int, bucket_bits: int = 0,
) -> Iterator[tuple[int, np.ndarray, memoryview, list[tuple[int, int, int, int, int]]]]:
    """:func:`churn.split.keyed_rows` of a chunk for the streaming merge: for each split with
    rows, its index, the rows' hash values in order, their lines (ASCII, newline-ended), and its
    buckets (the hash value's top ``bucket_bits`` bits: 0 without) as ``(bucket, first row, end
    row, first byte, end byte)`` of those."""
    keys = _row_keys(table)
    hashes = split.hash_array(keys, seed)
    which = split.split_index_array(hashes, train_ratio, validation_ratio)
    order = np.argsort(hashes, kind="stable")
    columns = _line_columns(table, spec)
    tied = np.flatnonzero(hashes[order][1:] == hashes[order][:-1])
    if tied.size:  # equal hash values (repeated rows, or a collision): ordered by line
        order = order.copy()
        start = 0
        while start < tied.size:
            stop = start
            while stop + 1 < tied.size and tied[stop + 1] == tied[stop] + 1:
                stop += 1
            first, last = int(tied[start]), int(tied[stop]) + 2
            rows = order[first:last]
            if len({keys[i] for i in rows.tolist()}) > 1:
                lines = [",".join(tokens[codes[i]] for codes, tokens in columns) for i in rows.tolist()]
                order[first:last] = rows[sorted(range(len(rows)), key=lines.__getitem__)]
            start = stop + 1
    hashes, which = hashes[order], which[order]
    ended = _ended(columns, ",", "\n")
    text = memoryview(_text(ended, order).encode("ascii"))  # every row's line, sorted (by split, then bucket)
    ends = np.zeros(len(order) + 1, dtype=np.int64)  # where each sorted row's line starts and ends
    for codes, tokens in ended:
        ends[1:] += np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))[codes[order]]
    np.cumsum(ends, out=ends)
    buckets = (hashes >> np.uint64(64 - bucket_bits)) if bucket_bits else np.zeros(len(hashes), dtype=np.uint64)
    for index in range(len(split.SPLITS)):
        low, high = int(np.searchsorted(which, index, "left")), int(np.searchsorted(which, index, "right"))
        if high == low:
            continue
        parts = []
        at = low
        while high > at:  # the split's rows, bucket by bucket (sorted by hash, so by bucket)
            bucket = int(buckets[at])
            stop = at + int(np.searchsorted(buckets[at:high], np.uint64(bucket), "right"))
            parts.append((bucket, at - low, stop - low, int(ends[at] - ends[low]), int(ends[stop] - ends[low])))
            at = stop
        yield index, hashes[low:high], text[ends[low]:ends[high]], parts


def _write_run(path: Path, hashes: np.ndarray, lines: bytes | memoryview) -> None:
    """A sorted run: its row count, its hash values (little-endian uint64), its lines."""
    with path.open("wb") as handle:
        handle.write(len(hashes).to_bytes(8, "little"))
        handle.write(hashes.astype("<u8").tobytes())
        handle.write(lines)


class _Segment(NamedTuple):
    """Consecutive rows of a sorted run (a bucket's): ``rows`` rows whose hash values start at
    byte ``hash_at`` of the run file and whose lines are its ``size`` bytes from ``text_at``."""

    path: Path
    hash_at: int
    rows: int
    text_at: int
    size: int


def _segments(path: Path, hashes: np.ndarray, parts: list[tuple[int, int, int, int, int]]) -> Iterator[tuple[int, _Segment]]:
    """Each bucket of a run :func:`_write_run` wrote (``parts`` from :func:`_sorted_runs`)."""
    for bucket, first, stop, start, end in parts:
        yield bucket, _Segment(path, 8 + 8 * first, stop - first, 8 + 8 * len(hashes) + start, end - start)


class _RunReader:
    """Reads a segment of a sorted run block by block: its hash values and lines (without the
    newline)."""

    def __init__(self, segment: _Segment, block_bytes: int):
        self.handle = segment.path.open("rb")
        self.left = segment.rows  # rows not loaded yet
        self.hash_at, self.text_at, self.text_left = segment.hash_at, segment.text_at, segment.size
        self.block_bytes, self.tail = block_bytes, b""
        self.hashes: np.ndarray = np.zeros(0, dtype=np.uint64)
        self.lines: list[bytes] = []
        self.at = 0  # the next row of the block to merge

    def load(self) -> None:
        lines: list[bytes] = []
        while not lines:
            self.handle.seek(self.text_at)
            data = self.handle.read(min(self.block_bytes, self.text_left))
            if not data:
                raise RuntimeError(f"{self.handle.name} ends before its segment's lines do")
            self.text_at += len(data)
            self.text_left -= len(data)
            lines = (self.tail + data).split(b"\n")
            self.tail = lines.pop()
        self.handle.seek(self.hash_at)
        self.hashes = np.frombuffer(self.handle.read(8 * len(lines)), dtype="<u8").astype(np.uint64)
        self.hash_at += 8 * len(lines)
        self.left -= len(lines)
        self.lines, self.at = lines, 0

    def taking(self, bound: tuple[int, bytes] | None) -> int:
        """How many rows of the block, from ``at``, sort at or before ``bound`` (all: None)."""
        if bound is None:
            return len(self.lines) - self.at
        value, line = bound
        stop = int(np.searchsorted(self.hashes, np.uint64(value), "left"))
        stop = max(stop, self.at)
        while stop < len(self.lines) and int(self.hashes[stop]) == value and self.lines[stop] <= line:
            stop += 1
        return stop - self.at


def _merge_runs(segments: list[_Segment], out: tables.AtomicTextWriter | BinaryIO) -> tuple[int, int]:
    """Merge sorted runs into ``out`` in (hash value, line) order, block by block: every row not
    after the least last row of the blocks loaded (of the runs with more to load) goes out at once,
    sorted by numpy. Returns the rows written and how many repeat the row before them."""
    block_bytes = max(1 << 14, min(1 << 20, (64 << 20) // max(1, len(segments))))
    with ExitStack() as stack:
        readers = [_RunReader(segment, block_bytes) for segment in segments]
        for reader in readers:
            stack.callback(reader.handle.close)
        count, duplicates = 0, 0
        previous: tuple[int, bytes] | None = None
        while True:
            for reader in readers:
                if reader.at == len(reader.lines) and reader.left:
                    reader.load()
            readers = [r for r in readers if r.at < len(r.lines)]
            if not readers:
                break
            waiting = [r for r in readers if r.left]
            bound = min((int(r.hashes[-1]), r.lines[-1]) for r in waiting) if waiting else None
            hashes, lines = [], []
            for reader in readers:
                take = reader.taking(bound)
                hashes.append(reader.hashes[reader.at:reader.at + take])
                lines.extend(reader.lines[reader.at:reader.at + take])
                reader.at += take
            merged = np.concatenate(hashes)
            if len(hashes) > 1:
                order = np.argsort(merged, kind="stable")
                merged = merged[order]
                lines = list(map(lines.__getitem__, order.tolist()))
            tied = np.flatnonzero(merged[1:] == merged[:-1])
            start = 0
            while start < tied.size:  # equal hash values from different runs: ordered by line
                stop = start
                while stop + 1 < tied.size and tied[stop + 1] == tied[stop] + 1:
                    stop += 1
                first, last = int(tied[start]), int(tied[stop]) + 2
                lines[first:last] = sorted(lines[first:last])
                start = stop + 1
            duplicates += sum(lines[i] == lines[i + 1] for i in tied.tolist())
            if previous is not None and lines and previous == (int(merged[0]), lines[0]):
                duplicates += 1
            if lines:
                previous = (int(merged[-1]), lines[-1])
                count += len(lines)
                lines.append(b"")  # the last line's newline, without a copy of the whole text
                out.write(b"\n".join(lines))
        return count, duplicates


def check_table(location: Path, spec: DatasetSpec, chunk_rows: int = CHUNK_ROWS) -> str:
    """Validate a raw table against a spec as a run would (chunk by chunk, collected
    vocabularies, both classes needed); return a one-line account (rows, class balance, missing
    values, columns left out), or raise the run's :class:`~churn.schema.SchemaError`."""
    account = _Account()
    collected_vocabularies(_canonical_chunks(location, spec, chunk_rows, account), spec)
    labels = account.labels
    schema.require_both_classes_counts(labels, spec)
    rows = labels["1"] + labels["0"]
    text = f"ok: {rows} rows match {spec.name!r}; churned {labels['1']} ({labels['1'] / rows:.1%}), stayed {labels['0']}"
    gaps = [f"{name} {count}" for name, count in account.missing.items() if count]
    if gaps:
        text += f"; missing values: {', '.join(gaps)}"
    if account.ignored:
        text += f"; left out: {', '.join(account.ignored)}"
    return text


def worker_count(workers: int | None = None) -> int:
    """How many worker processes preprocess: ``workers`` when given, else the
    :data:`WORKERS_VARIABLE` environment variable, else one per CPU (``os.cpu_count()``)."""
    if workers is None:
        text = os.environ.get(WORKERS_VARIABLE, "").strip()
        if not text:
            return max(1, os.cpu_count() or 1)
        try:
            workers = int(text)
        except ValueError:
            raise ValueError(f"{WORKERS_VARIABLE} must be a whole number of worker processes, got {text!r}") from None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"the preprocessing workers must be a whole number of at least 1, got {workers!r}")
    return workers


def merge_bucket_bits(input_bytes: int, shares: int = 1) -> int:
    """How many top bits of the hash value cut a split's rows into buckets for ``input_bytes``
    of input read in ``shares``: :data:`MERGE_BUCKET_BITS`, more for a large input (one bucket
    per about :data:`MERGE_BUCKET_INPUT_BYTES`), at most :data:`MAX_MERGE_BUCKET_BITS` and as
    many as keep the segments within :data:`MAX_MERGE_SEGMENTS`."""
    wanted = max(1, -(-input_bytes // MERGE_BUCKET_INPUT_BYTES))
    bounded = (MAX_MERGE_SEGMENTS // max(1, 3 * shares)).bit_length() - 1
    return max(MERGE_BUCKET_BITS, min(MAX_MERGE_BUCKET_BITS, bounded, (wanted - 1).bit_length()))


@dataclass(frozen=True)
class _Task:
    """A worker's share of the input: the lines in bytes ``[start, end)`` of a file whose
    header is its first ``head`` bytes (``start`` 0: the file's beginning, header included)."""

    number: int
    path: Path
    head: int
    start: int
    end: int


def _tasks(location: Path, chunk_rows: int) -> list[_Task] | None:
    """The input's files cut at line ends into shares of about ``chunk_rows`` rows (at least
    :data:`MIN_TASK_BYTES`); ``None`` where one process reads it (less than two shares' bytes in
    all, or one share) or a file's header cannot be told apart safely."""
    files = tables.raw_csv_files(location)
    if sum(path.stat().st_size for path in files) < 2 * MIN_TASK_BYTES:
        return None
    with files[0].open("rb") as handle:
        sample = handle.read(1 << 20)
    line_bytes = len(sample) / max(1, sample.count(b"\n"))
    # A little under chunk_rows lines: a share is one chunk, not one and a few rows over.
    share = max(MIN_TASK_BYTES, int(chunk_rows * line_bytes * 0.95))
    tasks: list[_Task] = []
    for path in files:
        head = tables.header_end(path)
        if head is None:
            return None
        size = path.stat().st_size
        start = 0
        while start < size:
            end = tables.next_line_start(path, max(start + share, head), size)
            tasks.append(_Task(len(tasks), path, head, start, end))
            start = end
    return tasks if len(tasks) > 1 else None


def _run_task(
    task: _Task, spec: DatasetSpec, chunk_rows: int, splitting: tuple[float, float, int] | None, scratch: Path,
    bucket_bits: int = MERGE_BUCKET_BITS,
) -> dict | None:
    """A worker: validate a share chunk by chunk and count it as :func:`_canonical_chunks` does;
    then write its sorted runs (``splitting``: the ratios and seed) or collect the distinct values
    of the collected columns. ``None``: the share cannot be read apart from the rest of its file
    (a quote)."""
    columns: list[str] | None = None
    ignored: list[str] = []
    account = _Account()
    seen: dict[str, set[str]] = {c.name: set() for c in spec.categorical_columns if c.collected}
    runs: list[tuple[int, int, _Segment]] = []
    for number, chunk in enumerate(tables.read_range_chunks(task.path, task.head, task.start, task.end, chunk_rows)):
        if chunk is None:
            return None
        if task.start and not len(chunk):
            continue
        if columns is None:
            columns, ignored = list(chunk.columns), schema.ignored_columns(chunk, spec)
        table = schema.encoded_table(chunk, require_label=True, spec=spec)
        account.labels.update(table.counts(spec.label))
        account.missing.update({name: table.count(name, schema.MISSING) for name in spec.feature_source_columns})
        if splitting is None:
            _collect(seen, table)
            continue
        for index, hashes, lines, parts in _sorted_runs(table, spec, *splitting, bucket_bits):
            path = scratch / f"{split.SPLITS[index]}-{task.number:06d}-{number:06d}.run"
            _write_run(path, hashes, lines)
            runs.extend((index, bucket, segment) for bucket, segment in _segments(path, hashes, parts))
    return {"columns": columns, "ignored": ignored, "labels": account.labels, "missing": account.missing, "runs": runs, "seen": seen}


#: Segments of sorted runs by (split index, bucket), in the order they are merged.
_Runs = dict[tuple[int, int], list[_Segment]]


@contextmanager
def _pool(workers: int) -> Iterator[futures.ProcessPoolExecutor | None]:
    """Worker processes (started by the first task given them; forked where the platform can),
    or ``None`` for one worker."""
    if workers == 1:
        yield None
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        yield pool


def _pool_pass(
    pool: futures.ProcessPoolExecutor, tasks: list[_Task], workers: int, spec: DatasetSpec, chunk_rows: int,
    splitting: tuple[float, float, int] | None, scratch: Path, bucket_bits: int = MERGE_BUCKET_BITS,
) -> list[dict] | None:
    """Every task's :func:`_run_task`, at most two per worker under way (memory stays bounded by
    the chunk size times the workers); ``None`` as soon as one gives ``None``. A worker's error is
    raised."""
    results: list[dict | None] = [None] * len(tasks)
    waiting = iter(tasks)
    running: dict[futures.Future, int] = {}
    try:
        for task in waiting:
            running[pool.submit(_run_task, task, spec, chunk_rows, splitting, scratch, bucket_bits)] = task.number
            if len(running) >= 2 * workers:
                break
        while running:
            done, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
            for future in done:
                result = results[running.pop(future)] = future.result()
                if result is None:
                    return None
                following = next(waiting, None)
                if following is not None:
                    running[pool.submit(_run_task, following, spec, chunk_rows, splitting, scratch, bucket_bits)] = following.number
    finally:
        for future in running:
            future.cancel()
        futures.wait(running)  # no worker still writing runs when the caller removes them
    return results  # type: ignore[return-value]


def _parallel_runs(
    pool: futures.ProcessPoolExecutor, location: Path, spec: DatasetSpec, chunk_rows: int, splitting: tuple[float, float, int],
    scratch: Path, workers: int,
) -> tuple[DatasetSpec, _Runs, _Account] | None:
    """:func:`_serial_runs` by a pool of worker processes, each given whole shares of a file (cut
    at line ends), its runs cut into buckets (:data:`MERGE_BUCKET_BITS`). ``None`` (and no run
    left behind) when the input is small, cannot be cut safely (a quote), or anything fails: the
    caller then reads it in one process, which reports the first problem in file order with its
    row, as it always has."""
    try:
        tasks = _tasks(location, chunk_rows)
        if tasks is None:
            return None
        if any(c.collected for c in spec.categorical_columns):
            found = _pool_pass(pool, tasks, workers, spec, chunk_rows, None, scratch)
            if found is None:
                return None
            seen: dict[str, set[str]] = {c.name: set() for c in spec.categorical_columns if c.collected}
            for result in found:
                _collect(seen, _Distinct(result["seen"]))
            spec = spec.with_vocabularies(_sorted_vocabularies(seen, spec))
        bucket_bits = merge_bucket_bits(sum(task.end - task.start for task in tasks), len(tasks))
        results = _pool_pass(pool, tasks, workers, spec, chunk_rows, splitting, scratch, bucket_bits)
    except Exception:  # noqa: BLE001 - any problem: the one-process path meets it again and reports it
        results = None
    header = results[0]["columns"] if results else None
    if results is None or header is None or any(r["columns"] not in (None, header) for r in results):
        for path in scratch.glob("*.run"):
            path.unlink()
        return None
    account = _Account(ignored=results[0]["ignored"])
    runs: _Runs = {}
    for result in results:
        account.labels.update(result["labels"])
        account.missing.update(result["missing"])
        for index, bucket, segment in result["runs"]:
            runs.setdefault((index, bucket), []).append(segment)
    return spec, dict(sorted(runs.items())), account


class _Distinct:
    """A worker's distinct values of the collected columns, as :func:`_collect` reads a table."""

    def __init__(self, seen: dict[str, set[str]]):
        self.seen = seen

    def unique(self, name: str) -> set[str]:
        return self.seen[name]


def _serial_runs(
    location: Path, spec: DatasetSpec, chunk_rows: int, splitting: tuple[float, float, int], scratch: Path,
) -> tuple[DatasetSpec, _Runs, _Account]:
    """Every chunk validated, counted and written as sorted runs (one per split) in this process;
    a spec with collected vocabularies costs a first pass over the input, which collects them."""
    if any(c.collected for c in spec.categorical_columns):
        spec = spec.with_vocabularies(collected_vocabularies(_canonical_chunks(location, spec, chunk_rows, _Account()), spec))
    account = _Account()
    runs: _Runs = {(index, 0): [] for index in range(len(split.SPLITS))}
    for number, table in enumerate(_canonical_chunks(location, spec, chunk_rows, account)):
        for index, hashes, lines, parts in _sorted_runs(table, spec, *splitting):
            path = scratch / f"{split.SPLITS[index]}-{number:06d}.run"
            _write_run(path, hashes, lines)
            runs[index, 0].extend(segment for _, segment in _segments(path, hashes, parts))
    return spec, runs, account


def _merge_part(segments: list[_Segment], target: Path, offset: int, size: int) -> tuple[int, int]:
    """A worker: :func:`_merge_runs` of one bucket's runs into ``target`` (a split file being
    written) at ``offset``, where the ``size`` bytes of the bucket's lines go: the buckets of a
    split are written in place by the workers, side by side, not copied after."""
    with target.open("r+b") as out:
        out.seek(offset)
        done = _merge_runs(segments, out)
        if out.tell() != offset + size:
            raise RuntimeError(f"merged {out.tell() - offset} bytes into {target} at {offset}, expected {size}")
    return done


def _hash_range(out: tables.AtomicTextWriter, start: int, size: int) -> None:
    """Add the bytes ``[start, start + size)`` of the file ``out`` writes to its sha256."""
    with out.partial.open("rb") as handle:
        handle.seek(start)
        while size > 0:
            block = handle.read(min(size, 1 << 22))
            if not block:
                raise RuntimeError(f"{out.partial} ends before byte {start + size}")
            out.digest.update(block)
            size -= len(block)


def _merge_splits(
    pool: futures.ProcessPoolExecutor | None, runs: _Runs, output_dir: Path, host: str | None,
) -> tuple[dict[str, int], dict[str, str], int]:
    """Merge the runs into the split files (rows, sha256 and duplicate rows): in this process,
    or each bucket by a worker straight into its place in the split file (a bucket's bytes are
    its runs' lines; the hash values of a bucket all sort before the next's), this process
    reading each split's buckets back in order for its sha256 as they are done."""
    if pool is None:
        return _merge_splits_here(runs, output_dir, host)
    merging: dict[tuple[int, int], futures.Future] = {}
    with ExitStack() as stack:  # on a failure: no worker still writing when the files are removed
        writers, places = [], {}
        for index, name in enumerate(split.SPLITS):
            out = stack.enter_context(tables.AtomicTextWriter(output_dir / name / split.split_file_name(name, host)))
            at = 0
            for key, segments in runs.items():
                if key[0] == index:
                    size = sum(segment.size for segment in segments)
                    places[key] = (at, size)
                    at += size
            out.handle.truncate(at)
            out.handle.flush()
            writers.append(out)
        try:
            for key, segments in runs.items():
                merging[key] = pool.submit(_merge_part, segments, writers[key[0]].partial, *places[key])
            rows, duplicates = dict.fromkeys(split.SPLITS, 0), 0
            for key in runs:
                count, repeated = merging[key].result()
                _hash_range(writers[key[0]], *places[key])
                rows[split.SPLITS[key[0]]] += count
                duplicates += repeated
        finally:
            for future in merging.values():
                future.cancel()
            futures.wait(merging.values())
    return rows, {name: out.hexdigest() for name, out in zip(split.SPLITS, writers)}, duplicates


def _merge_splits_here(runs: _Runs, output_dir: Path, host: str | None) -> tuple[dict[str, int], dict[str, str], int]:
    """:func:`_merge_splits` in this process: each split's runs merged into its file in turn."""
    rows, digests, duplicates = {}, {}, 0
    for index, name in enumerate(split.SPLITS):
        rows[name] = 0
        with tables.AtomicTextWriter(output_dir / name / split.split_file_name(name, host)) as out:
            for key, segments in runs.items():
                if key[0] == index:
                    count, repeated = _merge_runs(segments, out)
                    rows[name] += count
                    duplicates += repeated
        digests[name] = out.hexdigest()
    return rows, digests, duplicates


def write_splits_streaming(
    location: Path, output_dir: Path, train_ratio: float, validation_ratio: float, seed: int,
    chunk_rows: int = CHUNK_ROWS, spec: DatasetSpec = DEFAULT_SPEC, host: str | None = None, workers: int | None = None,
) -> dict:
    """Preprocess a raw CSV file or folder of any size into the split files, in bounded memory.

    Each chunk is validated, featurised and split; its rows go, sorted by (hash, line), to one
    temporary run file per split. When every chunk is valid, the runs are merged into the split
    files (an external merge sort), so the bytes equal :func:`split_lines` on the whole table.
    Nothing is written to ``output_dir`` unless the whole input is valid. A spec with collected
    vocabularies costs a first pass over the input, which collects them. With several
    ``workers`` (:func:`worker_count`) the shares of a large input are read and written as runs
    by worker processes in parallel, and merged by them bucket by bucket; the split files are
    the same bytes.
    """
    split.validate_ratios(train_ratio, validation_ratio)
    split.validate_seed(seed)
    workers = worker_count(workers)
    splitting = (train_ratio, validation_ratio, seed)
    with tempfile.TemporaryDirectory(prefix="churn-preprocess-") as scratch, _pool(workers) as pool:
        done = None if pool is None else _parallel_runs(pool, Path(location), spec, chunk_rows, splitting, Path(scratch), workers)
        spec, runs, account = done or _serial_runs(Path(location), spec, chunk_rows, splitting, Path(scratch))
        labels = account.labels
        schema.require_both_classes_counts(labels, spec)
        rows, digests, duplicates = _merge_splits(pool if done else None, runs, output_dir, host)
    return {
        "rows": rows, "sha256": digests, "ignored_columns": account.ignored, "duplicate_rows": duplicates, "dataset": spec.to_json(),
        # Churned ("1") and stayed ("0") rows of the whole input: the class balance.
        "label_counts": {"1": labels["1"], "0": labels["0"]},
        # Missing values per feature column (only columns with some), of the whole input.
        "missing_counts": {name: count for name, count in account.missing.items() if count},
    }


def write_manifest(output_dir: Path, manifest: dict, name: str = "manifest.json") -> None:
    text = json.dumps(manifest, indent=2, sort_keys=True)
    tables.write_lines_atomically(output_dir / "manifest" / name, [text])


#: What an instance of a sharded PreprocessData counts itself (its ``manifest-<host>.json``).
PART_KEYS = ("rows", "sha256", "ignored_columns", "duplicate_rows", "label_counts", "missing_counts")


def read_resource_config(path: Path) -> object:
    """A processing job's ``resourceconfig.json`` (None where there is none: a single instance)."""
    return tables.read_json(path, "resource config") if path.is_file() else None


def check_shardable(current: str, hosts: list[str], location: Path, training_instance_type: str, spec: DatasetSpec) -> None:
    """Refuse what a sharded PreprocessData cannot do, naming the parameter: size the training
    instances from the whole train split (``auto``), collect a vocabulary from the whole input,
    or run an instance that got no input file (more instances than files)."""
    count = f"ProcessingInstanceCount={len(hosts)}"
    problem = split.sharding_problem(len(hosts), training_instance_type, [c.name for c in spec.categorical_columns if c.collected])
    if problem:
        raise ValueError(problem)
    if location.is_dir() and not any(p.is_file() for p in location.rglob("*.csv")):
        raise ValueError(
            f"instance {current} of {len(hosts)} got no CSV file of InputData: ShardedByS3Key gives each instance whole "
            f"files, so {count} needs at least {len(hosts)} input files"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="churn.steps.preprocess", description=__doc__)
    parser.add_argument("--train-ratio", type=float, default=0.7)
    parser.add_argument("--validation-ratio", type=float, default=0.15)
    parser.add_argument("--split-seed", type=int, default=42)
    parser.add_argument("--dataset", type=Path, default=None, help="a dataset spec (JSON) [default: the churn.txt layout]")
    parser.add_argument("--input", type=Path, default=INPUT_DIR, help="CSV file or directory of CSV files")
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR)

    parser.add_argument(
        "--training-instance-type", default=sizing.LOCAL_TYPES[0],
        help=f"the TrainingInstanceType parameter ({sizing.AUTO}: from the training rows); recorded as the manifest's sizing",
    )
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help="rows per chunk (bounds memory)")
    parser.add_argument(
        "--workers", type=int, default=None,
        help=f"worker processes reading a large input in parallel (1: none) [default: ${WORKERS_VARIABLE}, else one per CPU]",
    )
    parser.add_argument(
        "--resource-config", type=Path, default=Path(split.RESOURCE_CONFIG),
        help="the processing job's instances (SageMaker's resourceconfig.json); several: this one writes its share",
    )
    args = parser.parse_args(argv)

    sizing.sizing(0, args.training_instance_type)  # a bad type fails before the input is read
    spec = DEFAULT_SPEC if args.dataset is None else dataset.spec_from_json(tables.read_json(args.dataset, "dataset spec"))
    current, hosts = split.instances(read_resource_config(args.resource_config))
    host = current if len(hosts) > 1 else None
    if host:
        check_shardable(host, hosts, args.input, args.training_instance_type, spec)
    result = write_splits_streaming(
        args.input, args.output, args.train_ratio, args.validation_ratio, args.split_seed, args.chunk_rows, spec, host,
        args.workers,
    )
    resolved = dataset.spec_from_json(result["dataset"])
    if result["ignored_columns"]:
        print(f"note: ignored column(s) not used as features: {', '.join(result['ignored_columns'])}")
    if result["duplicate_rows"]:
        print(f"note: {result['duplicate_rows']} row(s) repeat an earlier row; they are kept, always in the same split")
    common = {
        "feature_names": features.feature_names(resolved),
        "label": {"column": resolved.label, "encoding": resolved.label_encoding, "position": 0},
        "format": "text/csv, no header, label in the first column",
        "train_ratio": args.train_ratio,
        "validation_ratio": args.validation_ratio,
        "split_seed": args.split_seed,
        "dataset": result["dataset"],
    }
    if host is None:
        # The training steps' instance type (JsonGet "sizing.chosen"), from the training rows.
        write_manifest(args.output, {**common, **result, "sizing": sizing.sizing(result["rows"]["train"], args.training_instance_type)})
        print(f"wrote splits: {json.dumps(result['rows'])}")
        return
    part = {"host": host, "files": {name: split.split_file_name(name, host) for name in split.SPLITS}}
    write_manifest(args.output, {**part, **{key: result[key] for key in PART_KEYS}}, split.manifest_part_name(host))
    # The same bytes from every instance: the type as given (check_shardable refused auto).
    chosen = args.training_instance_type
    write_manifest(
        args.output,
        {
            **common,
            "instances": {"hosts": hosts, "parts": {h: split.manifest_part_name(h) for h in hosts}},
            "sizing": {"training_rows": None, "requested": chosen, "would_choose": None, "chosen": chosen},
        },
    )
    print(f"wrote splits of instance {host} of {len(hosts)}: {json.dumps(result['rows'])}")


if __name__ == "__main__":
    entrypoint.run("PreprocessData", main)
