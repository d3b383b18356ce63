"""Hypothesis strategies for raw churn tables (every value a string, churn.txt layout)."""

from __future__ import annotations

import pandas as pd
from hypothesis import strategies as st

from churn.schema import CATEGORIES, LABEL_COLUMN, NUMERIC_COLUMNS, REQUIRED_COLUMNS

_decimal = st.one_of(
    st.integers(min_value=0, max_value=400).map(str),
    st.decimals(min_value=0, max_value=400, places=2, allow_nan=False, allow_infinity=False).map(str),
    st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False).map(repr),
)


@st.composite
def raw_rows(draw, categories: dict[str, tuple[str, ...]] | None = None) -> dict[str, str]:
    vocab = categories or CATEGORIES
    row = {name: draw(st.sampled_from(values)) for name, values in vocab.items()}
    row.update({name: draw(_decimal) for name in NUMERIC_COLUMNS})
    row[LABEL_COLUMN] = draw(st.sampled_from(["True.", "False."]))
    return row


@st.composite
def raw_tables(draw, min_rows: int = 1, max_rows: int = 60, both_classes: bool = True) -> pd.DataFrame:
    """A valid raw table; with ``both_classes`` it has churners and non-churners."""
    rows = draw(st.lists(raw_rows(), min_size=min_rows, max_size=max_rows))
    if both_classes:
        rows[0][LABEL_COLUMN] = "True."
        rows.append({**rows[-1], LABEL_COLUMN: "False."})
    return pd.DataFrame(rows, columns=list(REQUIRED_COLUMNS))
