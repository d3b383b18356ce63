"""Scoring raw customer rows with a trained model, with the pipeline's own feature code."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from churn import features, model_io, schema, tables
from churn.dataset import DEFAULT_SPEC, DatasetSpec, spec_from_json
from churn.layout import ARTIFACTS


def run_dataset(model_archive: Path | str) -> DatasetSpec | None:
    """The dataset spec a model was trained with, when the archive lies in its run folder
    (``runs/<id>/SelectModel/model/model.tar.gz``): the resolved spec of the run's manifest."""
    archive = Path(model_archive).resolve()
    depth = len(Path(ARTIFACTS["model"]).parts)
    if len(archive.parts) <= depth or archive.parts[-depth:] != Path(ARTIFACTS["model"]).parts:
        return None
    manifest = archive.parents[depth - 1] / ARTIFACTS["manifest"]
    if not manifest.is_file():
        return None
    document = tables.read_json(manifest, "manifest")
    recorded = document.get("dataset") if isinstance(document, dict) else None
    return spec_from_json(recorded) if recorded is not None else None


def dataset_for_scoring(path: Path) -> DatasetSpec:
    """The spec in a dataset spec file or in a run's manifest.json (which records the resolved
    spec); a spec that still collects a vocabulary cannot score (which values, in which order?)."""
    document = tables.read_json(path, "dataset spec")
    if isinstance(document, dict) and "feature_names" in document and "dataset" in document:
        document = document["dataset"]
    spec = spec_from_json(document)
    collected = [c.name for c in spec.categorical_columns if c.collected]
    if collected:
        raise ValueError(
            f"dataset spec {path} collects the vocabulary of {', '.join(map(repr, collected))} from the data: "
            "give the manifest of the run that trained the model (runs/<id>/PreprocessData/manifest/manifest.json)"
        )
    return spec


def churn_probabilities(
    model_archive: Path | str, raw_input: Path | str, allow_pickle: bool = False, spec: DatasetSpec = DEFAULT_SPEC,
) -> np.ndarray:
    """Churn probability of every row of a raw churn CSV of the ``spec`` layout (the label column
    is optional).

    The model must be in one of XGBoost's own formats; a pickled model is loaded only with
    ``allow_pickle`` (loading a pickle can run arbitrary code: see ``model_io``)."""
    import xgboost

    booster = model_io.load_booster(model_archive, allow_pickle)
    table = schema.canonical_table(tables.read_raw(raw_input), require_label=False, spec=spec)
    matrix = features.feature_matrix(table, spec)
    if booster.num_features() != matrix.shape[1]:
        raise model_io.ModelArtifactError(
            f"the model expects {booster.num_features()} features but churn makes {matrix.shape[1]}: "
            "was it trained by another version of this pipeline?"
        )
    return booster.predict(xgboost.DMatrix(matrix))


def format_probabilities(scores: np.ndarray) -> list[str]:
    return [repr(float(s)) for s in scores]
