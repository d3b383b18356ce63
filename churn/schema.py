"""The raw churn table: its columns, and validation into canonical string tokens.

Pure functions over pandas frames of strings. Values are never parsed by pandas: numbers are
parsed with Python's correctly rounded ``float`` and written back in one canonical spelling,
so the result does not depend on the pandas/numpy version (see :func:`canonical_number`).
"""

from __future__ import annotations

import math
import re

import numpy as np
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

#: A decimal literal. The digits before and after the point are matched by separate groups, so a
#: long digit string that is not a number fails in linear time (``\d+\.?\d*`` was quadratic:
#: a 50 MB field of digits held preprocessing at full CPU for hours).
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
#: Longer values are not taken for numbers at all (a float64 needs at most 24 characters).
MAX_NUMBER_CHARS = 1000
_MAX_EXAMPLES = 3
#: At most this many characters of an input value are echoed into a message (see :func:`quoted`).
MAX_SHOWN_CHARS = 40
#: The largest finite float32: XGBoost holds features as float32, so a larger magnitude (finite
#: as a double, e.g. ``1e308``) would become infinite in training.
FLOAT32_MAX = float(np.finfo(np.float32).max)


class SchemaError(ValueError):
    """The input does not have the churn table's layout; the message names the problem."""


def canonical_number(text: str) -> str:
    """The one spelling of a decimal number: integers without a fraction, others as ``repr``.

    ``"10.0"`` -> ``"10"``, ``"2.70"`` -> ``"2.7"``, ``"1e2"`` -> ``"100"``. Raises
    ``ValueError`` for anything that is not a finite decimal number.
    """
    if len(text) > MAX_NUMBER_CHARS or not _NUMBER.fullmatch(text):
        raise ValueError(f"not a number: {text!r}")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def quoted(value: object) -> str:
    """An input value for a message: its ``repr``, cut to the first :data:`MAX_SHOWN_CHARS`
    characters with its length when longer (``'abcdef…' (1048576 characters)``), so a huge bad
    value cannot make a huge failure reason."""
    text = str(value)
    if len(text) <= MAX_SHOWN_CHARS:
        return repr(text)
    return f"{text[:MAX_SHOWN_CHARS] + '…'!r} ({len(text)} characters)"


def shortened(text: str, limit: int = 200) -> str:
    """Free text that may quote the input (a parser's error message), cut to ``limit`` characters."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def _examples(column: pd.Series, bad: pd.Series) -> str:
    """The first bad values with their row numbers (1-based data rows: index label + 1)."""
    rows = bad[bad].index[:_MAX_EXAMPLES]
    shown = ", ".join(f"row {i + 1}: {quoted(column.loc[i])}" for i in rows)
    more = int(bad.sum()) - len(rows)
    return shown + (f" and {more} more" if more > 0 else "")


def _normalise(name: str, column: pd.Series, normal, problem: str) -> pd.Series:
    """Map every value of a column through ``normal(stripped value)`` (``None``: invalid), each
    distinct value once, so the cost is per distinct value, not per row."""
    mapping = {}
    for value in column.unique():
        stripped = str(value).strip()
        mapping[value] = normal(stripped) if stripped else None
    tokens = column.map(mapping)
    bad = tokens.isna()
    if bad.any():
        empty = bad & (column.str.strip() == "")
        if empty.any():
            raise SchemaError(f"column {name!r} has missing values at {_examples(column, empty)}")
        raise SchemaError(problem.format(name=name, examples=_examples(column, bad)))
    return tokens


def _number_or_none(text: str) -> str | None:
    try:
        return canonical_number(text)
    except ValueError:
        return None


def _require_float32(name: str, column: pd.Series, tokens: pd.Series) -> None:
    """Numeric tokens must lie within float32's finite range (checked once per distinct value)."""
    outside = [token for token in tokens.unique() if abs(float(token)) > FLOAT32_MAX]
    if outside:
        bad = tokens.isin(outside)
        raise SchemaError(
            f"column {name!r} has values outside float32's range (XGBoost holds features as float32) "
            f"at {_examples(column, bad)}"
        )


def canonical_table(frame: pd.DataFrame, *, require_label: bool = True) -> pd.DataFrame:
    """Validate a raw churn frame (all values strings) and return its canonical tokens.

    The result has the required columns in :data:`REQUIRED_COLUMNS` order (the label only if
    present or required), the frame's index (row positions in the file, which error messages
    report as 1-based row numbers; a chunk of a large file keeps its offsets), surrounding
    whitespace stripped, numbers in canonical spelling (within float32's finite range, see
    :data:`FLOAT32_MAX`) and the label as ``"1"``/``"0"``. ``Phone`` and unknown columns are
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

    raw = frame.loc[:, list(wanted)].astype(str)
    columns = {}
    for name in wanted:
        if name in CATEGORIES:
            vocabulary = set(CATEGORIES[name])
            spell = _number_or_none if name == "Area Code" else (lambda text: text)
            columns[name] = _normalise(
                name, raw[name], lambda text, v=vocabulary, f=spell: f(text) if f(text) in v else None,
                "column {name!r} has values outside its vocabulary at {examples}",
            )
        elif name == LABEL_COLUMN:
            columns[name] = _normalise(
                name, raw[name], LABEL_VALUES.get,
                "label {name!r} must be 'True.' or 'False.'; unknown values at {examples}",
            )
        else:
            columns[name] = _normalise(name, raw[name], _number_or_none, "column {name!r} must be numeric; bad values at {examples}")
            _require_float32(name, raw[name], columns[name])
    return pd.DataFrame(columns, index=raw.index)


def ignored_columns(frame: pd.DataFrame) -> list[str]:
    """Columns of a raw frame that :func:`canonical_table` drops (``Phone`` and unknown ones)."""
    return [c for c in frame.columns if c not in REQUIRED_COLUMNS]


def require_both_classes(table: pd.DataFrame) -> None:
    """Training data needs churners and non-churners; raise :class:`SchemaError` otherwise."""
    require_both_classes_counts(table[LABEL_COLUMN].value_counts().to_dict())


def require_both_classes_counts(counts) -> None:
    """The same check on label counts (``{"1": n, "0": m}``) gathered chunk by chunk."""
    for token, name in (("1", "positive ('True.')"), ("0", "negative ('False.')")):
        if counts.get(token, 0) == 0:
            raise SchemaError(f"label {LABEL_COLUMN!r} has no {name} rows: both classes are needed")
