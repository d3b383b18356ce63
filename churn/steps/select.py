"""SelectModel: pick the candidate with the better selection metric.

Container paths, for each candidate NAME: ``/opt/ml/processing/input/candidates/NAME/evaluation/``
(its ``evaluation.json``, or the ``DISABLED`` marker of a candidate turned off) and
``.../NAME/model/`` (its ``model.tar.gz``), and PreprocessData's ``manifest.json`` at
``/opt/ml/processing/input/manifest/`` -> ``/opt/ml/processing/output/``
``selection/selection.json`` (metric, winner, every candidate's metrics),
``evaluation/evaluation.json`` (the winner's report, byte for byte: the gate reads it and the
registered model carries it) and ``model/model.tar.gz``: the deployable model, the winner's
model file(s) plus ``churn/features.json`` (the resolved dataset spec and the feature names, so
the model alone says which rows it scores; see ``model_io.FEATURES_MEMBER``).
No URI is passed in, so the step's request is the same in every execution (and cacheable).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from churn import model_io, selection, tables
from churn.steps import entrypoint, paths

CANDIDATES_DIR = Path(paths.CANDIDATES)
OUTPUT_DIR = Path(paths.OUTPUT)
REPORT_FILE = "evaluation.json"
SELECTION_FILE = "selection.json"
MODEL_ARCHIVE = "model.tar.gz"
MANIFEST_FILE = Path(paths.MANIFEST) / "manifest.json"


def features_document(manifest: Path) -> dict:
    """What the deployable archive carries from PreprocessData's manifest: the resolved dataset
    spec and the feature names (the column order of the split files)."""
    document = tables.read_json(manifest, "preprocessing manifest")
    features = model_io.features_in(document)
    if features is None:
        raise ValueError(f"preprocessing manifest {manifest} lacks its 'dataset' object or 'feature_names' list")
    return features


def read_candidate(directory: Path, name: str) -> selection.Candidate:
    """A candidate from its evaluation folder: the report, or the reason it was turned off."""
    report = directory / REPORT_FILE
    marker = directory / model_io.DISABLED_FILE
    if report.is_file():
        try:
            return selection.Candidate(name, json.loads(report.read_text()))
        except json.JSONDecodeError as error:
            raise ValueError(f"candidate {name!r}: {REPORT_FILE} is not JSON: {error}") from None
    if marker.is_file():
        return selection.Candidate(name, None, marker.read_text().strip())
    raise FileNotFoundError(f"candidate {name!r} has neither {REPORT_FILE} nor {model_io.DISABLED_FILE} in {directory}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="churn.steps.select", description=__doc__)
    parser.add_argument("--metric", required=True, help="metric to maximise: " + ", ".join(selection.METRIC_NAMES))
    parser.add_argument("--candidate", action="append", required=True, help="a candidate's name, in tie-break order")
    parser.add_argument(
        "--hyperparameters", nargs=2, action="append", default=[], metavar=("NAME", "PAIRS"),
        help="what candidate NAME was trained with: 'name=value name=value' (recorded in selection.json)",
    )
    parser.add_argument("--candidates-dir", type=Path, default=CANDIDATES_DIR)
    parser.add_argument("--manifest", type=Path, default=MANIFEST_FILE, help="PreprocessData's manifest.json")
    parser.add_argument("--output", type=Path, default=OUTPUT_DIR)
    args = parser.parse_args(argv)

    shipped = features_document(args.manifest)
    given = dict(args.hyperparameters)
    unknown = sorted(set(given) - set(args.candidate))
    if unknown:
        parser.error(f"--hyperparameters names no --candidate: {', '.join(unknown)}")
    candidates = [
        dataclasses.replace(read_candidate(args.candidates_dir / name / "evaluation", name), hyperparameters=given.get(name, ""))
        for name in args.candidate
    ]
    document = selection.select(candidates, args.metric)
    winner = args.candidates_dir / document["winner"]
    tables.copy_file_atomically(winner / "evaluation" / REPORT_FILE, args.output / "evaluation" / REPORT_FILE)
    model_io.write_with_features(model_io.find_archive(winner / "model"), shipped, args.output / "model" / MODEL_ARCHIVE)
    tables.write_lines_atomically(args.output / "selection" / SELECTION_FILE, [json.dumps(document, indent=2)])
    print(f"selection: {document['summary']}")


if __name__ == "__main__":
    entrypoint.run("SelectModel", main)
