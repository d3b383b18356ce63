"""Scoring raw customer rows with a trained model, with the pipeline's own feature code."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from churn import features, model_io, schema, tables
from churn.dataset import CATEGORICAL, DEFAULT_SPEC, DatasetSpec, DatasetSpecError, spec_from_json
from churn.schema import _number_or_none
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


def model_dataset(model_archive: Path | str) -> DatasetSpec | None:
    """The dataset spec the deployable archive carries (``churn/features.json``, written by
    SelectModel), checked against the feature names it records; None for an archive without one."""
    document = model_io.read_features(model_archive)
    return None if document is None else carried_spec(document, str(model_archive))


def carried_spec(document: dict, source: str) -> DatasetSpec:
    """The spec of a features document (``churn/features.json``), checked against the feature
    names it records; ``ModelArtifactError`` names ``source`` when they disagree."""
    try:
        spec = spec_from_json(document["dataset"])
    except (DatasetSpecError, KeyError, TypeError) as error:
        raise model_io.ModelArtifactError(f"{source}: {model_io.FEATURES_MEMBER}: {error}") from None
    if features.feature_names(spec) != document.get("feature_names"):
        raise model_io.ModelArtifactError(
            f"{source}: {model_io.FEATURES_MEMBER} names other features than churn makes from its dataset spec: "
            "was it written by another version of this pipeline?"
        )
    return spec


class LayoutMismatchError(ValueError):
    """A --dataset given for a model that carries another layout."""


def same_layout(given: DatasetSpec, carried: DatasetSpec) -> bool:
    """Whether ``given`` describes the rows ``carried`` scores: the same feature columns (name,
    type, numbers, may be missing; the same vocabulary where ``given`` fixes one, any where it
    collects one), the same label column and the same missing-value spellings. Its name, the
    order of its label values and its dropped columns do not matter for scoring."""
    if (given.label, set(given.missing_values), len(given.columns)) != (carried.label, set(carried.missing_values), len(carried.columns)):
        return False
    return all(
        (g.name, g.kind, g.numbers, g.missing) == (c.name, c.kind, c.numbers, c.missing) and (g.vocabulary is None or g.vocabulary == c.vocabulary)
        for g, c in zip(given.columns, carried.columns)
    )


def dataset_of(model_archive: Path | str, spec_path: Path | None = None) -> DatasetSpec | None:
    """The layout a model scores: the spec its archive carries; else ``spec_path`` (a spec or a
    run's manifest); else the spec recorded in the model's run folder; None: the churn.txt layout.

    A ``spec_path`` that is not the layout the archive carries (:func:`same_layout`) is refused:
    the model's own record is the truth, and scoring another layout would give numbers without
    meaning."""
    carried = model_dataset(model_archive)
    if carried is None:
        return (dataset_for_scoring(spec_path) if spec_path is not None else None) or run_dataset(model_archive)
    if spec_path is not None and not same_layout(_spec_in(spec_path), carried):
        raise LayoutMismatchError(
            f"--dataset {spec_path} is not the layout the model was trained on (it carries its own dataset spec, "
            f"{carried.name!r}): leave --dataset out"
        )
    return carried


def _spec_in(path: Path) -> DatasetSpec:
    """The spec in a dataset spec file or in a run's manifest.json (which records the resolved spec)."""
    document = tables.read_json(path, "dataset spec")
    if isinstance(document, dict) and "feature_names" in document and "dataset" in document:
        document = document["dataset"]
    return spec_from_json(document)


def dataset_for_scoring(path: Path) -> DatasetSpec:
    """The spec in a dataset spec file or in a run's manifest.json (which records the resolved
    spec); a spec that still collects a vocabulary cannot score (which values, in which order?)."""
    spec = _spec_in(path)
    collected = [c.name for c in spec.categorical_columns if c.collected]
    if collected:
        raise ValueError(
            f"dataset spec {path} collects the vocabulary of {', '.join(map(repr, collected))} from the data: "
            "give the manifest of the run that trained the model (runs/<id>/PreprocessData/manifest/manifest.json)"
        )
    return spec


def unseen_as_missing(raw: pd.DataFrame, spec: DatasetSpec) -> tuple[pd.DataFrame, DatasetSpec, dict[str, int]]:
    """Categories the model never saw, written as missing (so encoded as all zeros), with how many
    rows had one, per column. Everything else is validated as in a run."""
    written_missing = spec.missing_values[0] if spec.missing_values else ""
    frame, counts, columns = raw.copy(), {}, []
    for column in spec.columns:
        if column.kind != CATEGORICAL or column.vocabulary is None or column.name not in frame.columns:
            columns.append(column)
            continue
        known = set(column.vocabulary) | set(spec.missing_values)

        def seen(text: str, numbers: bool = column.numbers, known: set[str] = known) -> bool:
            stripped = text.strip()
            if not stripped or stripped in known:
                return True
            if numbers:
                spelled = _number_or_none(stripped)
                return spelled is None or spelled in known  # not a number: the run's own error names it
            return False

        unseen = ~frame[column.name].astype(str).map(seen)
        if unseen.any():
            counts[column.name] = int(unseen.sum())
            frame.loc[unseen, column.name] = written_missing
            column = replace(column, missing=True)
        columns.append(column)
    return frame, replace(spec, columns=tuple(columns), missing_values=tuple(sorted({*spec.missing_values, written_missing}))), counts


@dataclass(frozen=True)
class Scores:
    probabilities: np.ndarray
    #: Rows with a category the model never saw (encoded as all zeros), per column.
    unseen: dict[str, int]


def score(model_archive: Path | str, raw_input: Path | str, allow_pickle: bool = False, spec: DatasetSpec = DEFAULT_SPEC) -> Scores:
    """Churn probability of every row of a raw churn CSV of the ``spec`` layout (the label column
    is optional); a category the model never saw is encoded as all zeros and counted.

    The model must be in one of XGBoost's own formats; a pickled model is loaded only with
    ``allow_pickle`` (loading a pickle can run arbitrary code: see ``model_io``)."""
    return score_rows(model_io.load_booster(model_archive, allow_pickle), tables.read_raw(raw_input), spec)


def score_rows(booster, raw: pd.DataFrame, spec: DatasetSpec = DEFAULT_SPEC) -> Scores:
    """:func:`score` of raw rows already read (every value a string), by a loaded Booster: what
    ``churn predict`` and the serving container both run."""
    import xgboost

    raw, scoring_spec, unseen = unseen_as_missing(raw, spec)
    table = schema.canonical_table(raw, require_label=False, spec=scoring_spec)
    matrix = features.feature_matrix(table, scoring_spec)
    if booster.num_features() != matrix.shape[1]:
        raise model_io.ModelArtifactError(
            f"the model expects {booster.num_features()} features but churn makes {matrix.shape[1]}: "
            "was it trained by another version of this pipeline?"
        )
    return Scores(booster.predict(xgboost.DMatrix(matrix)), unseen)


def churn_probabilities(
    model_archive: Path | str, raw_input: Path | str, allow_pickle: bool = False, spec: DatasetSpec = DEFAULT_SPEC,
) -> np.ndarray:
    """The probabilities of :func:`score`."""
    return score(model_archive, raw_input, allow_pickle, spec).probabilities


def format_probabilities(scores: np.ndarray) -> list[str]:
    return [repr(float(s)) for s in scores]
