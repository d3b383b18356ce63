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
"""

from __future__ import annotations

import argparse
import heapq
import json
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from churn import dataset, features, schema, sizing, split, tables
from churn.dataset import DEFAULT_SPEC, DatasetSpec
from churn.steps import entrypoint, paths

INPUT_DIR = Path(paths.RAW)
OUTPUT_DIR = Path(paths.OUTPUT)
#: Rows per chunk: peak memory is bounded by this, not by the input size.
CHUNK_ROWS = 100_000


def collected_vocabularies(tables_: Iterable[pd.DataFrame], spec: DatasetSpec) -> dict[str, tuple[str, ...]]:
    """The vocabulary of each collected categorical column: the sorted distinct values (not
    missing) of every canonical table given (numbers by value), whatever their row order. A
    column with no value, or with more than :data:`~churn.dataset.MAX_COLLECTED_VALUES`, is a
    :class:`~churn.schema.SchemaError` naming it."""
    seen: dict[str, set[str]] = {c.name: set() for c in spec.categorical_columns if c.collected}
    for table in tables_:
        for name, values in seen.items():
            values.update(table[name].unique())
            values.discard(schema.MISSING)
            if len(values) > dataset.MAX_COLLECTED_VALUES:
                raise schema.SchemaError(
                    f"column {name!r} has more than {dataset.MAX_COLLECTED_VALUES} distinct values: too many for a "
                    "collected vocabulary (an ID or free text?); drop it in the dataset spec, or bin its values first"
                )
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


def _canonical_chunks(location: Path, spec: DatasetSpec, chunk_rows: int, account: _Account) -> Iterator[pd.DataFrame]:
    """The canonical table of each raw chunk (validated: the first bad chunk raises the run's
    :class:`~churn.schema.SchemaError`), counted into ``account`` on the way."""
    for number, chunk in enumerate(tables.read_raw_chunks(location, chunk_rows)):
        if number == 0:
            account.ignored = schema.ignored_columns(chunk, spec)
        table = schema.canonical_table(chunk, require_label=True, spec=spec)
        account.labels.update(table[spec.label].value_counts().to_dict())
        account.missing.update({name: int((table[name] == schema.MISSING).sum()) for name in spec.feature_source_columns})
        yield table


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


def write_splits_streaming(
    location: Path, output_dir: Path, train_ratio: float, validation_ratio: float, seed: int,
    chunk_rows: int = CHUNK_ROWS, spec: DatasetSpec = DEFAULT_SPEC, host: str | None = None,
) -> dict:
    """Preprocess a raw CSV file or folder of any size into the split files, in bounded memory.

    Each chunk is validated, featurised and split; its rows go, sorted by (hash, line), to one
    temporary run file per split. When every chunk is valid, the runs are merged into the split
    files (an external merge sort), so the bytes equal :func:`split_lines` on the whole table.
    Nothing is written to ``output_dir`` unless the whole input is valid. A spec with collected
    vocabularies costs a first pass over the input, which collects them.
    """
    split.validate_ratios(train_ratio, validation_ratio)
    split.validate_seed(seed)
    if any(c.collected for c in spec.categorical_columns):
        spec = spec.with_vocabularies(collected_vocabularies(_canonical_chunks(location, spec, chunk_rows, _Account()), spec))
    account = _Account()
    with tempfile.TemporaryDirectory(prefix="churn-preprocess-") as scratch:
        runs: dict[str, list[Path]] = {name: [] for name in split.SPLITS}
        for number, table in enumerate(_canonical_chunks(location, spec, chunk_rows, account)):
            keyed = split.keyed_rows(table, features.labelled_lines(table, spec), train_ratio, validation_ratio, seed)
            buckets: tuple[list[str], ...] = tuple([] for _ in split.SPLITS)
            for value, line, which in keyed:
                buckets[which].append(f"{value:016x}\t{line}\n")
            for name, bucket in zip(split.SPLITS, buckets):
                path = Path(scratch) / f"{name}-{number:06d}.txt"
                path.write_text("".join(bucket))
                runs[name].append(path)
        labels = account.labels
        schema.require_both_classes_counts(labels, spec)
        rows, digests, duplicates = {}, {}, 0
        for name in split.SPLITS:
            with ExitStack() as stack, tables.AtomicTextWriter(output_dir / name / split.split_file_name(name, host)) as out:
                count, block, previous = 0, [], None
                for keyed_line in heapq.merge(*(stack.enter_context(p.open()) for p in runs[name])):
                    # Identical rows hash alike, so they arrive side by side (and in one split).
                    duplicates += keyed_line == previous
                    previous = keyed_line
                    block.append(keyed_line[17:])  # drop the 16-digit hash and the tab
                    if len(block) == 8192:
                        out.write("".join(block))
                        count, block = count + len(block), []
                out.write("".join(block))
                count += len(block)
            rows[name], digests[name] = count, out.hexdigest()
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
    if training_instance_type == sizing.AUTO:
        raise ValueError(
            f"{count} shards preprocessing, so no instance counts the whole train split that TrainingInstanceType="
            f"{sizing.AUTO} sizes from: give TrainingInstanceType, such as ml.m5.xlarge"
        )
    collected = [c.name for c in spec.categorical_columns if c.collected]
    if collected:
        raise ValueError(
            f"{count} shards preprocessing, but the dataset spec collects the vocabulary of {', '.join(collected)} from the "
            "whole input, which no instance sees: list the values in the spec, or use 1"
        )
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
