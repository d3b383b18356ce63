"""The raw churn table: its columns, and validation into canonical string tokens.

Pure functions over pandas frames of strings. Values are never parsed by pandas: numbers are
parsed with Python's correctly rounded ``float`` and written back in one canonical spelling,
so the result does not depend on the pandas/numpy version (see :func:`canonical_number`).
"""

from __future__ import annotations

import math
import re

import pandas as pd

LABEL_COLUMN = "Churn?"
LABEL_VALUES = {"True.": "1", "False.": "0"}
OPTIONAL_COLUMNS = ("Phone",)

#: Categorical columns and their fixed, data-independent vocabularies.
STATES = (
    "AK AL AR AZ CA CO CT DC DE FL GA HI IA ID IL IN KS KY LA MA MD ME MI MN MO MS MT NC ND NE "
    "NH NJ NM NV NY OH OK OR PA RI SC SD TN TX UT VA VT WA WI WV WY"
).split()
CATEGORIES: dict[str, tuple[str, ...]] = {
    "State": tuple(STATES),
    "Area Code": ("408", "415", "510"),
    "Int'l Plan": ("no", "yes"),
    "VMail Plan": ("no", "yes"),
}

NUMERIC_COLUMNS = (
    "Account Length",
    "VMail Message",
    "Day Mins",
    "Day Calls",
    "Day Charge",
    "Eve Mins",
    "Eve Calls",
    "Eve Charge",
    "Night Mins",
    "Night Calls",
    "Night Charge",
    "Intl Mins",
    "Intl Calls",
    "Intl Charge",
    "CustServ Calls",
)

#: The churn.txt layout, in file order, without the optional ``Phone`` column.
FEATURE_SOURCE_COLUMNS = (
    "State",
    "Account Length",
    "Area Code",
    "Int'l Plan",
    "VMail Plan",
    *NUMERIC_COLUMNS[1:],
)
REQUIRED_COLUMNS = (*FEATURE_SOURCE_COLUMNS, LABEL_COLUMN)

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_MAX_EXAMPLES = 3


class SchemaError(ValueError):
    """The input does not have the churn table's layout; the message names the problem."""


def canonical_number(text: str) -> str:
    """The one spelling of a decimal number: integers without a fraction, others as ``repr``.

    ``"10.0"`` -> ``"10"``, ``"2.70"`` -> ``"2.7"``, ``"1e2"`` -> ``"100"``. Raises
    ``ValueError`` for anything that is not a finite decimal number.
    """
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"not a number: {text!r}")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _examples(column: pd.Series, bad: pd.Series) -> str:
    rows = bad[bad].index[:_MAX_EXAMPLES]
    shown = ", ".join(f"row {i + 1}: {column.iloc[i]!r}" for i in rows)
    more = int(bad.sum()) - len(rows)
    return shown + (f" and {more} more" if more > 0 else "")


def _canonical_numbers(name: str, column: pd.Series) -> pd.Series:
    """Canonicalise a column of number strings; each distinct value is parsed once."""
    mapping: dict[str, str | None] = {}
    for value in column.unique():
        try:
            mapping[value] = canonical_number(value)
        except ValueError:
            mapping[value] = None
    tokens = column.map(mapping)
    bad = tokens.isna()
    if bad.any():
        raise SchemaError(f"column {name!r} must be numeric; bad values at {_examples(column, bad)}")
    return tokens


def canonical_table(frame: pd.DataFrame, *, require_label: bool = True) -> pd.DataFrame:
    """Validate a raw churn frame (all values strings) and return its canonical tokens.

    The result has the required columns in :data:`REQUIRED_COLUMNS` order (the label only if
    present or required), a fresh 0..n-1 index, surrounding whitespace stripped, numbers in
    canonical spelling and the label as ``"1"``/``"0"``. ``Phone`` and unknown columns are
    dropped (see :func:`ignored_columns`). Raises :class:`SchemaError` naming the problem.
    """
    if frame.shape[1] == 0:
        raise SchemaError("input is empty: no header and no rows")
    wanted = REQUIRED_COLUMNS if require_label or LABEL_COLUMN in frame.columns else FEATURE_SOURCE_COLUMNS
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        hint = ""
        if len(frame.columns) == 1 and any(sep in str(frame.columns[0]) for sep in ";\t|"):
            hint = " (the file does not look comma-separated)"
        raise SchemaError(f"missing required column(s): {', '.join(map(repr, missing))}{hint}")
    if len(frame) == 0:
        raise SchemaError("input has a header but no data rows")

    table = frame.loc[:, list(wanted)].astype(str).reset_index(drop=True)
    table = table.apply(lambda col: col.str.strip())
    for name in wanted:
        empty = table[name] == ""
        if empty.any():
            raise SchemaError(f"column {name!r} has missing values at {_examples(table[name], empty)}")
    for name, vocabulary in CATEGORIES.items():
        if name == "Area Code":
            table[name] = _canonical_numbers(name, table[name])
        unknown = ~table[name].isin(vocabulary)
        if unknown.any():
            raise SchemaError(
                f"column {name!r} has values outside its vocabulary at {_examples(table[name], unknown)}"
            )
    for name in NUMERIC_COLUMNS:
        table[name] = _canonical_numbers(name, table[name])
    if LABEL_COLUMN in wanted:
        label = table[LABEL_COLUMN]
        unknown = ~label.isin(list(LABEL_VALUES))
        if unknown.any():
            raise SchemaError(
                f"label {LABEL_COLUMN!r} must be 'True.' or 'False.'; "
                f"unknown values at {_examples(label, unknown)}"
            )
        table[LABEL_COLUMN] = label.map(LABEL_VALUES)
    return table


def ignored_columns(frame: pd.DataFrame) -> list[str]:
    """Columns of a raw frame that :func:`canonical_table` drops (``Phone`` and unknown ones)."""
    return [c for c in frame.columns if c not in REQUIRED_COLUMNS]


def require_both_classes(table: pd.DataFrame) -> None:
    """Training data needs churners and non-churners; raise :class:`SchemaError` otherwise."""
    counts = table[LABEL_COLUMN].value_counts()
    for token, name in (("1", "positive ('True.')"), ("0", "negative ('False.')")):
        if counts.get(token, 0) == 0:
            raise SchemaError(f"label {LABEL_COLUMN!r} has no {name} rows: both classes are needed")
