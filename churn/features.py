"""Feature engineering on canonical tables (see :mod:`churn.schema`), by a dataset spec.

The one-hot vocabularies are fixed by the spec (or collected from the whole input before any
row is encoded), so every split, run and backend has the same columns in the same order,
whatever categories a part of the data happens to contain. A missing value (the empty token)
stays empty in a numeric column (XGBoost reads it as missing) and is all zeros in a one-hot
block.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from churn.dataset import DEFAULT_SPEC, DatasetSpec


def vocabularies(spec: DatasetSpec) -> dict[str, tuple[str, ...]]:
    """Each categorical column's vocabulary, in one-hot order (collected ones resolved first)."""
    collected = [c.name for c in spec.categorical_columns if c.vocabulary is None]
    if collected:
        raise ValueError(f"the vocabulary of {', '.join(map(repr, collected))} is collected from the data: resolve it first")
    return {c.name: c.vocabulary or () for c in spec.categorical_columns}


def feature_names(spec: DatasetSpec = DEFAULT_SPEC) -> list[str]:
    """Model input columns, in order: the numeric columns, then one-hot columns ``Column=value``."""
    names = list(spec.numeric_columns)
    for column, vocabulary in vocabularies(spec).items():
        names.extend(f"{column}={value}" for value in vocabulary)
    return names


def feature_tokens(table: pd.DataFrame, spec: DatasetSpec = DEFAULT_SPEC) -> pd.DataFrame:
    """The feature matrix of a canonical table as canonical string tokens, columns in
    :func:`feature_names` order. Tokens are what the split files contain, byte for byte."""
    columns: dict[str, np.ndarray] = {name: table[name].to_numpy() for name in spec.numeric_columns}
    for column, vocabulary in vocabularies(spec).items():
        values = table[column].to_numpy()
        for value in vocabulary:
            columns[f"{column}={value}"] = np.where(values == value, "1", "0").astype(object)
    return pd.DataFrame(columns, index=table.index)


def feature_matrix(table: pd.DataFrame, spec: DatasetSpec = DEFAULT_SPEC) -> np.ndarray:
    """The feature matrix as float64 (a missing value as NaN), for scoring in-process
    (``churn predict``, tests)."""
    tokens = feature_tokens(table, spec)
    return tokens.replace("", np.nan).to_numpy(dtype=np.float64)


@lru_cache(maxsize=64)  # built once per vocabulary, not once per chunk
def one_hot_segments(vocabulary: tuple[str, ...]) -> dict[str, str]:
    """Each category value's whole one-hot block as text, e.g. ``"no"`` -> ``"1,0"``; a missing
    value's block is all zeros."""
    segments = {value: ",".join("1" if value == other else "0" for other in vocabulary) for value in vocabulary}
    return {**segments, "": ",".join("0" for _ in vocabulary)}


def labelled_lines(table: pd.DataFrame, spec: DatasetSpec = DEFAULT_SPEC) -> list[str]:
    """Headerless CSV lines, label first: the XGBoost built-in algorithm's CSV layout.

    The same tokens as :func:`feature_tokens` in the same order; each category's one-hot block
    is looked up whole, so a line joins one piece per column instead of one per feature."""
    vocabulary_of = vocabularies(spec)
    segments = {column: one_hot_segments(vocabulary) for column, vocabulary in vocabulary_of.items()}
    pieces = [table[spec.label].tolist()]
    pieces += [table[name].tolist() for name in spec.numeric_columns]
    pieces += [table[column].map(segments[column]).tolist() for column in vocabulary_of]
    return [",".join(row) for row in zip(*pieces)]
