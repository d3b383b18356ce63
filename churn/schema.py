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
from pandas._libs import hashtable as _hashtable

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


def _fast_numbers(values: list[str]) -> list[str | None]:
    """:func:`canonical_number` of many values at once, where a vectorized reading can prove the
    spelling: ``None`` where it cannot (the caller asks :func:`canonical_number` for those).

    Proven: an optional ``-``, integer digits without leading zeros, an optional fraction, at
    most 15 significant digits (a double holds 15 decimal digits exactly, so ``repr`` gives the
    same digits back) and at most 3 zeros after the point before the first significant one
    (``repr`` writes ``1e-05`` from the fifth on). Its canonical spelling is the value with the
    fraction's trailing zeros (and a bare point) dropped; zero is ``"0"`` whatever its sign."""
    result: list[str | None] = [None] * len(values)
    if not values:
        return result
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    short = np.flatnonzero((lengths > 0) & (lengths <= 40))
    if not short.size:
        return result
    picked = np.array(values, dtype=object)[short]
    text = np.array(picked.tolist(), dtype=str)  # fixed-width UCS4, padded with NULs
    width = text.dtype.itemsize // 4
    chars = text.view(np.uint32).reshape(len(picked), width)
    length = lengths[short]
    position = np.arange(width)
    inside = position < length[:, None]
    digit = (chars >= 48) & (chars <= 57)
    dot = chars == 46
    minus = (chars == 45) & (position == 0)
    ok = ((digit | dot | minus) | ~inside).all(axis=1) & ((chars != 0) | ~inside).all(axis=1)
    dots = (dot & inside).sum(axis=1)
    ok &= dots <= 1
    point = np.where(dots == 1, dot.argmax(axis=1), length)
    start = minus[:, 0].astype(np.int64)
    integer_digits = point - start
    ok &= integer_digits >= 1
    first = chars[np.arange(len(picked)), np.minimum(start, width - 1)]
    ok &= ~((integer_digits > 1) & (first == 48))
    nonzero = digit & (chars != 48) & (position > point[:, None]) & inside
    fraction = nonzero.any(axis=1)
    last = width - 1 - nonzero[:, ::-1].argmax(axis=1)
    first_fraction = nonzero.argmax(axis=1)
    zero_integer = (integer_digits == 1) & (first == 48)
    significant = np.where(zero_integer, 0, integer_digits) + np.where(
        fraction, np.where(zero_integer, last - first_fraction + 1, last - point), 0
    )
    ok &= significant <= 15
    ok &= ~(zero_integer & fraction & (first_fraction - point - 1 > 3))
    end = np.where(fraction, last + 1, point)
    kept = chars.copy()
    kept[position >= end[:, None]] = 0
    tokens = kept.reshape(-1).view(text.dtype).astype(object)
    tokens[zero_integer & ~fraction] = "0"
    spelled = np.full(len(values), None, dtype=object)
    spelled[short[ok]] = tokens[ok]
    return spelled.tolist()


def _spelled(values: list[str], normal, missing: frozenset[str], allow_missing: bool,
             missing_numbers: frozenset[str], numbers: bool) -> list[str | None]:
    """What :func:`_normalise` maps each distinct value to (``None``: a problem), with numbers
    spelled by :func:`_fast_numbers` where it can (``normal(stripped value, spelling or None)``)."""
    fast = _fast_numbers(values) if numbers else [None] * len(values)
    if missing.intersection(values) or missing_numbers.intersection(fast):
        fast = [None if v in missing or t in missing_numbers else t for v, t in zip(values, fast)]
    tokens: list[str | None] = []
    for value, spelled in zip(values, fast):
        if spelled is not None:
            tokens.append(normal(value, spelled))
            continue
        stripped = str(value).strip()
        if stripped in missing or not stripped or (missing_numbers and _number_or_none(stripped) in missing_numbers):
            tokens.append(MISSING if allow_missing else None)
        else:
            tokens.append(normal(stripped, None))
    return tokens


def _numeric_spelled(values: list[str], missing: frozenset[str], allow_missing: bool, missing_numbers: frozenset[str]) -> list[str | None]:
    """:func:`_spelled` for a numeric column: per value only where :func:`_fast_numbers` cannot."""
    fast = _fast_numbers(values)
    redo = [i for i, t in enumerate(fast) if t is None]
    if missing.intersection(values) or missing_numbers.intersection(fast):
        redo = [i for i, (v, t) in enumerate(zip(values, fast)) if t is None or v in missing or t in missing_numbers]
    if redo:
        again = _spelled([values[i] for i in redo], lambda text, _: _number_or_none(text), missing, allow_missing, missing_numbers, False)
        for i, token in zip(redo, again):
            fast[i] = token
    return fast


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.factorize`` of an object array of strings (a missing value coded -1), through
    pandas' string hash table directly where it has one (twice as fast: no check of the values'
    types first; after ``astype(str)`` they are strings or missing)."""
    table = getattr(_hashtable, "StringHashTable", None)
    if table is not None:
        try:
            distinct, codes = table(len(values)).factorize(values)
            return np.asarray(codes), np.asarray(distinct)
        except (TypeError, ValueError):
            pass
    codes, distinct = pd.factorize(values)
    return np.asarray(codes), np.asarray(distinct)


def _distinct(series: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's code into the column's distinct values (as ``str``), a missing value (NaN, in a
    frame not read by :mod:`churn.tables`) being one more of them."""
    if getattr(series.dtype, "storage", None) == "pyarrow":  # Arrow factorizes its strings itself
        codes, distinct = series.factorize()
        codes, distinct = np.asarray(codes), np.asarray(distinct, dtype=object)
    else:
        codes, distinct = _factorize(series.to_numpy(dtype=object))
    values = [str(v) for v in distinct]
    absent = codes < 0
    if absent.any():
        values.append(str(series.iloc[int(absent.argmax())]))
        codes = np.where(absent, len(values) - 1, codes)
    return codes, values


class EncodedTable:
    """A canonical table (see :func:`canonical_table`) held as, per column, the distinct tokens
    and each row's code into them: what the preprocessing step builds its lines from without a
    Python call per value."""

    def __init__(self, index: pd.Index, columns: dict[str, tuple[np.ndarray, list[str]]], dtypes: dict):
        self.index = index
        self.columns = columns
        self._dtypes = dtypes

    def __len__(self) -> int:
        return len(self.index)

    def unique(self, name: str) -> list[str]:
        """The distinct tokens of a column (each row's token is one of them)."""
        return self.columns[name][1]

    def values(self, name: str) -> np.ndarray:
        codes, tokens = self.columns[name]
        return np.array(tokens, dtype=object)[codes]

    def counts(self, name: str) -> dict[str, int]:
        codes, tokens = self.columns[name]
        counts: dict[str, int] = {}
        for token, count in zip(tokens, np.bincount(codes, minlength=len(tokens)).tolist()):
            if count:
                counts[token] = counts.get(token, 0) + count
        return counts

    def count(self, name: str, token: str) -> int:
        """How many rows of a column hold ``token``: ``counts(name).get(token, 0)``."""
        codes, tokens = self.columns[name]
        found = [number for number, each in enumerate(tokens) if each == token]
        if len(found) == 1:
            return int(np.count_nonzero(codes == found[0]))
        return int(np.isin(codes, found).sum()) if found else 0

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {name: pd.Series(self.values(name), index=self.index, dtype=self._dtypes[name]) for name in self.columns},
            index=self.index,
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
    return encoded_table(frame, require_label=require_label, spec=spec).frame()


def encoded_table(frame: pd.DataFrame, *, require_label: bool = True, spec: DatasetSpec = DEFAULT_SPEC) -> EncodedTable:
    """:func:`canonical_table` as an :class:`EncodedTable`: each column is validated and spelled
    once per distinct value (numbers by :func:`_fast_numbers` where it can), and a column with a
    problem is handed to :func:`_normalise` and :func:`_require_float32`, whose messages name it."""
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
    columns: dict[str, tuple[np.ndarray, list[str]]] = {}
    for name in wanted:
        series = raw[name]
        codes, values = _distinct(series)
        if name == spec.label:
            encoding = spec.label_encoding
            tokens = _spelled(values, lambda text, _, e=encoding: e.get(text), frozenset({""}), False, frozenset(), False)
            if None in tokens:
                values_ = " or ".join(map(repr, (*spec.positive, *spec.negative)))
                _normalise(name, series, encoding.get, f"label {{name!r}} must be {values_}; unknown values at {{examples}}")
            columns[name] = (codes, tokens)  # type: ignore[assignment]
            continue
        column = spec.column(name)
        if column.kind == "categorical":
            vocabulary = None if column.vocabulary is None else set(column.vocabulary)
            numbers = column.numbers

            def normal(text, spelled, v=vocabulary, numbers=numbers):
                token = (spelled if spelled is not None else _number_or_none(text)) if numbers else text
                return token if v is None or token in v else None

            tokens = _spelled(values, normal, written_missing, column.missing, missing_numbers if numbers else frozenset(), numbers)
            if None in tokens:
                spell = _number_or_none if numbers else (lambda text: text)
                problem = (
                    "column {name!r} must be numeric; bad values at {examples}" if vocabulary is None
                    else "column {name!r} has values outside its vocabulary at {examples}"
                )
                _normalise(
                    name, series, lambda text, v=vocabulary, f=spell: f(text) if v is None or f(text) in v else None,
                    problem, written_missing, column.missing, missing_numbers if numbers else frozenset(),
                )
        else:
            tokens = _numeric_spelled(values, written_missing, column.missing, missing_numbers)
            if None in tokens:
                _normalise(
                    name, series, _number_or_none, "column {name!r} must be numeric; bad values at {examples}", written_missing,
                    column.missing, missing_numbers,
                )
            # Beyond float32's range only as repr writes such a number: with an exponent.
            if any("e" in t and abs(float(t)) > FLOAT32_MAX for t in tokens):  # type: ignore[operator, arg-type]
                _require_float32(name, series, pd.Series(np.array(tokens, dtype=object)[codes], index=series.index))
        columns[name] = (codes, tokens)  # type: ignore[assignment]
    return EncodedTable(raw.index, columns, {name: raw[name].dtype for name in wanted})


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
