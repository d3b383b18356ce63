"""Feature engineering on canonical tables (see :mod:`churn.schema`).

The one-hot vocabulary is fixed, so every split, run and backend has the same columns in the
same order, whatever categories the data happens to contain.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from churn.schema import CATEGORIES, LABEL_COLUMN, NUMERIC_COLUMNS


def feature_names() -> list[str]:
    """Model input columns, in order: the numeric columns, then one-hot columns ``Column=value``."""
    names = list(NUMERIC_COLUMNS)
    for column, vocabulary in CATEGORIES.items():
        names.extend(f"{column}={value}" for value in vocabulary)
    return names


def feature_tokens(table: pd.DataFrame) -> pd.DataFrame:
    """The feature matrix of a canonical table as canonical string tokens, columns in
    :func:`feature_names` order. Tokens are what the split files contain, byte for byte."""
    columns: dict[str, np.ndarray] = {name: table[name].to_numpy() for name in NUMERIC_COLUMNS}
    for column, vocabulary in CATEGORIES.items():
        values = table[column].to_numpy()
        for value in vocabulary:
            columns[f"{column}={value}"] = np.where(values == value, "1", "0").astype(object)
    return pd.DataFrame(columns, index=table.index)


def feature_matrix(table: pd.DataFrame) -> np.ndarray:
    """The feature matrix as float64, for scoring in-process (``churn predict``, tests)."""
    return feature_tokens(table).to_numpy(dtype=np.float64)


def _one_hot_segments(vocabulary: tuple[str, ...]) -> dict[str, str]:
    """Each category value's whole one-hot block as text, e.g. ``"no"`` -> ``"1,0"``."""
    return {value: ",".join("1" if value == other else "0" for other in vocabulary) for value in vocabulary}


def labelled_lines(table: pd.DataFrame) -> list[str]:
    """Headerless CSV lines, label first: the XGBoost built-in algorithm's CSV layout.

    The same tokens as :func:`feature_tokens` in the same order; each category's one-hot block
    is looked up whole, so a line joins 20 pieces instead of 74."""
    segments = {column: _one_hot_segments(vocabulary) for column, vocabulary in CATEGORIES.items()}
    pieces = [table[LABEL_COLUMN].tolist()]
    pieces += [table[name].tolist() for name in NUMERIC_COLUMNS]
    pieces += [table[column].map(segments[column]).tolist() for column in CATEGORIES]
    return [",".join(row) for row in zip(*pieces)]
