"""The committed golden digests of the sample's split files, and the one command that writes them.

    python -m tests.parity.goldens --write     # after a deliberate change to the split files

The tests only ever read ``golden_splits.json``; they never write it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

GOLDEN_FILE = Path(__file__).with_name("golden_splits.json")
#: Parameter sets whose split files are pinned: the defaults and one non-default case.
CASES = {
    "default": {"TrainRatio": 0.7, "ValidationRatio": 0.15, "SplitSeed": 42},
    "train-0.6-seed-7": {"TrainRatio": 0.6, "ValidationRatio": 0.2, "SplitSeed": 7},
}


def load() -> dict:
    return json.loads(GOLDEN_FILE.read_text())["cases"]


def in_process_digests(parameters: dict, input_csv: Path) -> dict[str, str]:
    """Split digests from the preprocessing entrypoint run in this process."""
    from churn.diff import SPLIT_ARTIFACTS, file_digest
    from churn.steps import preprocess

    with tempfile.TemporaryDirectory() as out:
        preprocess.main(
            [
                "--input", str(input_csv), "--output", out,
                "--train-ratio", str(parameters["TrainRatio"]),
                "--validation-ratio", str(parameters["ValidationRatio"]),
                "--split-seed", str(parameters["SplitSeed"]),
            ]
        )
        return {name: file_digest(Path(out) / name / f"{name}.csv") for name in SPLIT_ARTIFACTS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="write golden_splits.json (otherwise: show what would change)")
    args = parser.parse_args(argv)
    sample = Path(__file__).resolve().parents[2] / "data" / "sample" / "churn.csv"
    cases = {name: {"parameters": p, "sha256": in_process_digests(p, sample)} for name, p in CASES.items()}
    old = load() if GOLDEN_FILE.exists() else {}
    for name, case in cases.items():
        for split, digest in case["sha256"].items():
            before = old.get(name, {}).get("sha256", {}).get(split)
            if before != digest:
                print(f"{name}/{split}: {before} -> {digest}")
    if args.write:
        document = {"about": "sha256 of data/sample/churn.csv's split files; written only by python -m tests.parity.goldens --write", "cases": cases}
        GOLDEN_FILE.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {GOLDEN_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
