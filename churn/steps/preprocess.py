"""PreprocessData: raw churn CSV -> train/validation/test split files and a feature manifest.

Container paths: reads every ``*.csv`` under ``/opt/ml/processing/input/raw``; writes
``/opt/ml/processing/output/{train,validation,test}/<split>.csv`` (headerless, label first)
and ``/opt/ml/processing/output/manifest/manifest.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from churn import features, schema, split, tables
from churn.steps import entrypoint

INPUT_DIR = Path("/opt/ml/processing/input/raw")
OUTPUT_DIR = Path("/opt/ml/processing/output")


def split_lines(raw: pd.DataFrame, train_ratio: float, validation_ratio: float, seed: int) -> dict[str, list[str]]:
    """The CSV lines of each split for a raw frame (pure; what the split files contain)."""
    split.validate_ratios(train_ratio, validation_ratio)
    split.validate_seed(seed)
    table = schema.canonical_table(raw, require_label=True)
    schema.require_both_classes(table)
    return split.split_rows(table, features.labelled_lines(table), train_ratio, validation_ratio, seed)


def write_outputs(lines: dict[str, list[str]], output_dir: Path, manifest: dict) -> dict:
    """Write every split and then the manifest (with row counts and sha256 of each file)."""
    manifest = {**manifest, "rows": {}, "sha256": {}}
    for name in split.SPLITS:
        digest = tables.write_lines_atomically(output_dir / name / f"{name}.csv", lines[name])
        manifest["rows"][name] = len(lines[name])
        manifest["sha256"][name] = digest
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    tables.write_lines_atomically(output_dir / "manifest" / "manifest.json", [text.rstrip("\n")])
    return manifest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="churn.steps.preprocess", description=__doc__)
    parser.add_argument("--train-ratio", type=float, default=0.7)
    parser.add_argument("--validation-ratio", type=float, default=0.15)
    parser.add_argument("--split-seed", type=int, default=42)
    parser.add_argument("--input", type=Path, default=INPUT_DIR, help="CSV file or directory of CSV files")
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR)
    args = parser.parse_args(argv)

    raw = tables.read_raw(args.input)
    ignored = schema.ignored_columns(raw)
    if ignored:
        print(f"ignoring column(s) not used as features: {', '.join(ignored)}")
    lines = split_lines(raw, args.train_ratio, args.validation_ratio, args.split_seed)
    manifest = write_outputs(
        lines,
        args.output,
        {
            "feature_names": features.feature_names(),
            "label": {"column": schema.LABEL_COLUMN, "encoding": schema.LABEL_VALUES, "position": 0},
            "format": "text/csv, no header, label in the first column",
            "train_ratio": args.train_ratio,
            "validation_ratio": args.validation_ratio,
            "split_seed": args.split_seed,
            "ignored_columns": ignored,
        },
    )
    print(f"wrote splits: {json.dumps(manifest['rows'])}")


if __name__ == "__main__":
    entrypoint.run("PreprocessData", main)
