"""A synthetic churn table of any size: same schema as data/sample, distributions learnt from it.

Each row copies a sample row of a class drawn with the sample's churn rate (so categories and
their class-conditional frequencies, and the correlations between columns, are the sample's),
then jitters every numeric column by a few percent (minutes and charges together, keeping
charge = rate x minutes), rounded to the sample's precision. Fixed seed: the same bytes every time.

    python -m benchmarks.synthetic ROWS OUTPUT.csv [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample" / "churn.csv"
CHUNK = 500_000
PERIODS = ("Day", "Eve", "Night", "Intl")
COUNTS = ("Account Length", "VMail Message", "Day Calls", "Eve Calls", "Night Calls", "Intl Calls", "CustServ Calls")


def generate(rows: int, output: Path, seed: int = 0) -> Path:
    sample = pd.read_csv(SAMPLE, dtype={"Area Code": str})
    rates = {p: (sample[f"{p} Charge"] / sample[f"{p} Mins"].replace(0, np.nan)).median() for p in PERIODS}
    churners = sample[sample["Churn?"] == "True."].reset_index(drop=True)
    stayers = sample[sample["Churn?"] == "False."].reset_index(drop=True)
    churn_rate = len(churners) / len(sample)
    rng = np.random.default_rng(seed)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("w") as handle:
        written = 0
        while written < rows:
            n = min(CHUNK, rows - written)
            is_churn = rng.random(n) < churn_rate
            chunk = pd.concat(
                [
                    churners.iloc[rng.integers(0, len(churners), is_churn.sum())],
                    stayers.iloc[rng.integers(0, len(stayers), n - is_churn.sum())],
                ]
            ).iloc[rng.permutation(n)].reset_index(drop=True)
            for column in COUNTS:
                noisy = chunk[column] * rng.normal(1.0, 0.05, n) + rng.integers(-1, 2, n)
                chunk[column] = np.clip(np.rint(noisy), 0, None).astype(int)
            for period in PERIODS:
                minutes = np.clip(chunk[f"{period} Mins"] * rng.normal(1.0, 0.05, n), 0, None).round(1)
                chunk[f"{period} Mins"] = minutes
                chunk[f"{period} Charge"] = (minutes * rates[period]).round(2)
            chunk.to_csv(handle, index=False, header=written == 0, float_format="%.2f")
            written += n
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("rows", type=int)
    parser.add_argument("output", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    generate(args.rows, args.output, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
