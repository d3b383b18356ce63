"""The raw churn table: validation into canonical string tokens, by a dataset spec.

The layout (columns, vocabularies, label values, missing values) comes from a
:class:`~churn.dataset.DatasetSpec`; without one, the built-in churn.txt layout
(:data:`~churn.dataset.DEFAULT_SPEC`). Pure functions over pandas frames of strings. Values are never parsed by pandas: numbers are
parsed with Python's correctly rounded ``float`` and written back in one canonical spelling,
so the result does not depend on the pandas/numpy version (see :func:`canonical_number`).
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

from churn.dataset import DEFAULT_SPEC, DatasetSpec

#: The built-in churn.txt layout, by name (see :data:`churn.dataset.DEFAULT_SPEC`).
LABEL_COLUMN = DEFAULT_SPEC.label
LABEL_VALUES = DEFAULT_SPEC.label_encoding
OPTIONAL_COLUMNS = DEFAULT_SPEC.drop
#: Categorical columns and their fixed, data-independent vocabularies.
CATEGORIES: dict[str, tuple[str, ...]] = {c.name: c.vocabulary or () for c in DEFAULT_SPEC.categorical_columns}
STATES = list(CATEGORIES["State"])
NUMERIC_COLUMNS = DEFAULT_SPEC.numeric_columns
#: The churn.txt layout, in file order, without the optional ``Phone`` column.
FEATURE_SOURCE_COLUMNS = DEFAULT_SPEC.feature_source_columns
REQUIRED_COLUMNS = DEFAULT_SPEC.required_columns
#: The canonical token of a missing value (in a column whose spec allows it): an empty field,
#: which XGBoost reads as missing and a one-hot block encodes as all zeros.
MISSING = ""

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


def _normalise(
    name: str, column: pd.Series, normal, problem: str, missing: frozenset[str] = frozenset({""}), allow_missing: bool = False,
    missing_numbers: frozenset[str] = frozenset(),
) -> pd.Series:
    """Map every value of a column through ``normal(stripped value)`` (``None``: invalid), each
    distinct value once, so the cost is per distinct value, not per row. A value written as
    missing (one of ``missing``, empty, or in a column of numbers a number equal to one of
    ``missing_numbers``: ``-1.0`` when ``-1`` means missing) becomes :data:`MISSING` where
    ``allow_missing``, else it is an error naming the rows."""
    mapping, written_missing = {}, set()
    for value in column.unique():
        stripped = str(value).strip()
        if stripped in missing or not stripped or (missing_numbers and _number_or_none(stripped) in missing_numbers):
            written_missing.add(value)
            mapping[value] = MISSING if allow_missing else None
        else:
            mapping[value] = normal(stripped)
    tokens = column.map(mapping)
    bad = tokens.isna()
    if bad.any():
        empty = bad & column.isin(written_missing)
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
    outside = [token for token in tokens.unique() if token != MISSING and abs(float(token)) > FLOAT32_MAX]
    if outside:
        bad = tokens.isin(outside)
        raise SchemaError(
            f"column {name!r} has values outside float32's range (XGBoost holds features as float32) "
            f"at {_examples(column, bad)}"
        )


def canonical_table(frame: pd.DataFrame, *, require_label: bool = True, spec: DatasetSpec = DEFAULT_SPEC) -> pd.DataFrame:
    """Validate a raw churn frame (all values strings) and return its canonical tokens.

    The result has the spec's columns in file order (the label last, only if present or
    required), the frame's index (row positions in the file, which error messages report as
    1-based row numbers; a chunk of a large file keeps its offsets), surrounding whitespace
    stripped, numbers in canonical spelling (within float32's finite range, see
    :data:`FLOAT32_MAX`), missing values as :data:`MISSING` where the spec allows them, and the
    label as ``"1"``/``"0"``. Dropped and unknown columns are left out (see
    :func:`ignored_columns`). A categorical column whose vocabulary is collected takes any value
    here (the vocabulary is what the whole input holds). Raises :class:`SchemaError` naming the
    problem.
    """
    if frame.shape[1] == 0:
        raise SchemaError("input is empty: no header and no rows")
    wanted = spec.required_columns if require_label or spec.label in frame.columns else spec.feature_source_columns
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        hint = ""
        if len(frame.columns) == 1 and any(sep in str(frame.columns[0]) for sep in ";\t|"):
            hint = " (the file does not look comma-separated)"
        raise SchemaError(f"missing required column(s): {', '.join(map(repr, missing))}{hint}")
    if len(frame) == 0:
        raise SchemaError("input has a header but no data rows")

    raw = frame.loc[:, list(wanted)].astype(str)
    written_missing = frozenset(spec.missing_values)
    # In a column of numbers a missing value written as a number matches by value (-1.0 is -1).
    missing_numbers = frozenset(n for n in map(_number_or_none, spec.missing_values) if n is not None)
    columns = {}
    for name in wanted:
        if name == spec.label:
            values = " or ".join(map(repr, (*spec.positive, *spec.negative)))
            columns[name] = _normalise(
                name, raw[name], spec.label_encoding.get, f"label {{name!r}} must be {values}; unknown values at {{examples}}",
            )
            continue
        column = spec.column(name)
        if column.kind == "categorical":
            spell = _number_or_none if column.numbers else (lambda text: text)
            vocabulary = None if column.vocabulary is None else set(column.vocabulary)
            problem = (
                "column {name!r} must be numeric; bad values at {examples}" if vocabulary is None
                else "column {name!r} has values outside its vocabulary at {examples}"
            )
            columns[name] = _normalise(
                name, raw[name], lambda text, v=vocabulary, f=spell: f(text) if v is None or f(text) in v else None,
                problem, written_missing, column.missing, missing_numbers if column.numbers else frozenset(),
            )
        else:
            columns[name] = _normalise(
                name, raw[name], _number_or_none, "column {name!r} must be numeric; bad values at {examples}", written_missing, column.missing,
                missing_numbers,
            )
            _require_float32(name, raw[name], columns[name])
    return pd.DataFrame(columns, index=raw.index)


def ignored_columns(frame: pd.DataFrame, spec: DatasetSpec = DEFAULT_SPEC) -> list[str]:
    """Columns of a raw frame that :func:`canonical_table` leaves out (dropped and unknown ones)."""
    return [c for c in frame.columns if c not in spec.required_columns]


def require_both_classes(table: pd.DataFrame, spec: DatasetSpec = DEFAULT_SPEC) -> None:
    """Training data needs churners and non-churners; raise :class:`SchemaError` otherwise."""
    require_both_classes_counts(table[spec.label].value_counts().to_dict(), spec)


def require_both_classes_counts(counts, spec: DatasetSpec = DEFAULT_SPEC) -> None:
    """The same check on label counts (``{"1": n, "0": m}``) gathered chunk by chunk."""
    for token, kind, values in (("1", "positive", spec.positive), ("0", "negative", spec.negative)):
        if counts.get(token, 0) == 0:
            raise SchemaError(f"label {spec.label!r} has no {kind} ({', '.join(map(repr, values))}) rows: both classes are needed")
