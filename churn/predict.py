"""Scoring raw customer rows with a trained model, with the pipeline's own feature code."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from churn import features, model_io, schema, tables


def churn_probabilities(model_archive: Path | str, raw_input: Path | str, allow_pickle: bool = False) -> np.ndarray:
    """Churn probability of every row of a raw churn CSV (the label column is optional).

    The model must be in one of XGBoost's own formats; a pickled model is loaded only with
    ``allow_pickle`` (loading a pickle can run arbitrary code: see ``model_io``)."""
    import xgboost

    booster = model_io.load_booster(model_archive, allow_pickle)
    table = schema.canonical_table(tables.read_raw(raw_input), require_label=False)
    matrix = features.feature_matrix(table)
    if booster.num_features() != matrix.shape[1]:
        raise model_io.ModelArtifactError(
            f"the model expects {booster.num_features()} features but churn makes {matrix.shape[1]}: "
            "was it trained by another version of this pipeline?"
        )
    return booster.predict(xgboost.DMatrix(matrix))


def format_probabilities(scores: np.ndarray) -> list[str]:
    return [repr(float(s)) for s in scores]
