"""EvaluateModel / EvaluateBaseline: score the test split with a candidate's model and write
``evaluation.json``. A candidate turned off by a parameter (its archive holds ``DISABLED``)
gets that marker copied instead, and nothing is scored.

Container paths: ``/opt/ml/processing/input/model/model.tar.gz``,
``/opt/ml/processing/input/test/*.csv`` (headerless, label first) ->
``/opt/ml/processing/output/evaluation/evaluation.json``.

The model must be in one of XGBoost's own formats; a pickled model (SageMaker XGBoost before
1.3-1) is refused, since loading a pickle can run arbitrary code, unless the job's environment
sets ``CHURN_ALLOW_PICKLED_MODEL=1`` (the pipeline never does).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost

from churn import metrics, model_io, tables
from churn.steps import entrypoint, paths

MODEL_DIR = Path(paths.MODEL)
TEST_DIR = Path(paths.TEST)
OUTPUT_DIR = Path(paths.output("evaluation"))
REPORT_FILE = "evaluation.json"


def read_labelled_csv(location: Path) -> tuple[np.ndarray, np.ndarray]:
    """Labels and features of headerless, label-first CSV files (a file or a directory: every
    ``*.csv`` in name order, such as a sharded PreprocessData's ``test-algo-1.csv``,
    ``test-algo-2.csv``; an empty one, an instance's share without test rows, adds none). The
    labels stay as read: :func:`churn.metrics.evaluation_report` refuses any that is not 0 or 1."""
    files = tables.raw_csv_files(location)
    frames = [pd.read_csv(p, header=None, dtype=np.float64) for p in files if p.stat().st_size]
    if not frames:
        raise ValueError(f"the test split has no rows: {', '.join(p.name for p in files)} are empty")
    data = pd.concat(frames).to_numpy()
    return data[:, 0], data[:, 1:]


def score(booster: xgboost.Booster, features: np.ndarray) -> np.ndarray:
    return booster.predict(xgboost.DMatrix(features))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="churn.steps.evaluate", description=__doc__)
    parser.add_argument("--model", type=Path, default=MODEL_DIR, help="model.tar.gz or a directory holding it")
    parser.add_argument("--test", type=Path, default=TEST_DIR)
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR)
    parser.add_argument("--threshold", type=float, default=metrics.DECISION_THRESHOLD, help="score at or above which a row is churn")
    args = parser.parse_args(argv)

    archive = model_io.find_archive(args.model)
    disabled = model_io.disabled_reason(archive)
    if disabled is not None:
        tables.write_lines_atomically(args.output / model_io.DISABLED_FILE, [disabled])
        print(f"not evaluated: {disabled}")
        return
    booster = model_io.load_booster(archive, model_io.pickle_allowed_by_environment(), opt_in=model_io.ENV_OPT_IN)
    labels, features = read_labelled_csv(args.test)
    report = metrics.evaluation_report(labels, score(booster, features), threshold=args.threshold)
    text = json.dumps(report, indent=2)
    tables.write_lines_atomically(args.output / REPORT_FILE, [text])
    summary = {k: round(v["value"], 4) for k, v in report["binary_classification_metrics"].items() if "value" in v}
    print(f"evaluation: {json.dumps(summary)}")


if __name__ == "__main__":
    entrypoint.run("EvaluateModel", main)
