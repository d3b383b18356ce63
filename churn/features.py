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
    columns: dict[str, np.ndarray] = {name: table[name].to_numpy(dtype=object) for name in NUMERIC_COLUMNS}
    for column, vocabulary in CATEGORIES.items():
        values = table[column].to_numpy(dtype=object)
        for value in vocabulary:
            columns[f"{column}={value}"] = np.where(values == value, "1", "0").astype(object)
    return pd.DataFrame(columns, index=table.index, columns=feature_names())


def feature_matrix(table: pd.DataFrame) -> np.ndarray:
    """The feature matrix as float64, for scoring in-process (``churn predict``, tests)."""
    return feature_tokens(table).to_numpy(dtype=str).astype(np.float64)


def labelled_lines(table: pd.DataFrame) -> list[str]:
    """Headerless CSV lines, label first: the XGBoost built-in algorithm's CSV layout."""
    tokens = feature_tokens(table)
    tokens.insert(0, LABEL_COLUMN, table[LABEL_COLUMN].to_numpy(dtype=object))
    return [",".join(row) for row in tokens.itertuples(index=False, name=None)]
