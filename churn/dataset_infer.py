"""A starting dataset spec inferred from a table (``churn dataset infer``), with the reason for
every decision. Pure: it sees the raw table chunk by chunk and keeps per-column summaries of
bounded size (at most :data:`MAX_VOCABULARY` + 1 distinct values a column), so any file size
works.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import re

import pandas as pd

from churn.dataset import CATEGORICAL, NUMERIC, Column, DatasetSpec, DatasetSpecError
from churn.dataset import spec_from_json
from churn.schema import FLOAT32_MAX, canonical_number

#: Spellings of a missing value that are recognised when seen (compared after stripping).
MISSING_SPELLINGS = ("", "NA", "N/A", "n/a", "NaN", "nan", "null", "NULL", "None", "?", "-")
#: A text column with more distinct values is not a category (an ID, a name, free text).
MAX_VOCABULARY = 100
#: Integer columns with at most this many distinct values are codes (an area code, a 0/1 flag).
MAX_CODES = 3
#: Column names that say "identifier" (customerID, customer_id, Id, ...).
_ID_NAME = re.compile(r"^(?i:id)$|[_ \-](?i:id)$|[a-z](ID|Id)$|^(?i:phone|email|e-mail|name)$")
#: Label values taken to mean churned when ``--positive`` is not given.
POSITIVE_SPELLINGS = ("yes", "y", "true", "true.", "1", "churn", "churned", "left", "t")


@dataclass
class _Seen:
    """What one column held: its distinct values (up to the cap), whether each parses as a number,
    the missing spellings met."""

    values: set[str] = field(default_factory=set)
    overflow: bool = False
    all_numbers: bool = True
    all_integers: bool = True
    missing: set[str] = field(default_factory=set)
    rows: int = 0
    #: Rows written as missing (the label may have none).
    missing_rows: int = 0
    #: Integers strictly increasing down the file, so far (a row number, an index).
    increasing: bool = True
    _last: float | None = None

    def add(self, column: pd.Series) -> None:
        self._follow_order(column)
        for raw in column.unique():
            text = str(raw).strip()
            if text in MISSING_SPELLINGS:
                self.missing.add(text)
                continue
            if not self.overflow:
                self.values.add(text)
                self.overflow = len(self.values) > MAX_VOCABULARY
            if self.all_numbers:
                try:
                    spelled = canonical_number(text)
                    if abs(float(spelled)) > FLOAT32_MAX:  # a run refuses it: not a number XGBoost holds
                        raise ValueError(spelled)
                except ValueError:
                    self.all_numbers = self.all_integers = False
                else:
                    self.all_integers = self.all_integers and "." not in spelled and "e" not in spelled
        present = ~column.str.strip().isin(MISSING_SPELLINGS)
        self.rows += int(present.sum())
        self.missing_rows += int((~present).sum())

    def _follow_order(self, column: pd.Series) -> None:
        if not self.increasing:
            return
        for raw in column:
            try:
                value = float(canonical_number(str(raw).strip()))
            except ValueError:
                self.increasing = False
                return
            if not value.is_integer() or (self._last is not None and value <= self._last):
                self.increasing = False
                return
            self._last = value


@dataclass(frozen=True)
class Inference:
    spec: DatasetSpec
    #: One line per decision: the column, what was decided, and why.
    reasons: list[str]


def _summaries(chunks: Iterable[pd.DataFrame], label: str) -> dict[str, _Seen]:
    seen: dict[str, _Seen] = {}
    for chunk in chunks:
        if not seen:
            order = [str(c) for c in chunk.columns]
            if label not in order:
                raise DatasetSpecError(f"the label column {label!r} is not in the table; its columns: {', '.join(map(repr, order))}")
            seen = {c: _Seen() for c in order}
        for column, summary in seen.items():
            summary.add(chunk[column].astype(str))
    if not seen:
        raise DatasetSpecError("the table is empty")
    return seen


def _label_values(label: str, summary: _Seen, positive: str | None) -> tuple[str, str, str]:
    """(positive, negative, the reason)."""
    values = sorted(summary.values)
    if summary.missing_rows:
        raise DatasetSpecError(
            f"the label column {label!r} is missing on {summary.missing_rows} row(s) (written as "
            f"{', '.join(map(repr, sorted(summary.missing)))}): every row needs a label; remove those rows first"
        )
    if summary.overflow or len(values) != 2:
        more = "+" if summary.overflow else ""
        raise DatasetSpecError(f"the label column {label!r} must hold two values (churned, stayed); it holds {len(values)}{more}")
    if positive is None:
        guessed = [v for v in values if v.lower() in POSITIVE_SPELLINGS]
        if len(guessed) != 1:
            raise DatasetSpecError(f"which label value means churned, {values[0]!r} or {values[1]!r}? give --positive VALUE")
        positive, why = guessed[0], "a usual spelling; --positive to choose"
    elif positive not in values:
        raise DatasetSpecError(f"--positive {positive!r} is not a value of {label!r}; its values: {values[0]!r}, {values[1]!r}")
    else:
        why = "--positive"
    negative = next(v for v in values if v != positive)
    return positive, negative, f"{label}: the label; {positive!r} means churned ({why})"


def _decide(column: str, summary: _Seen) -> tuple[Column | None, str]:
    """The column's spec (None: dropped) and why."""
    may_miss = bool(summary.missing)
    missing_note = f"; missing as {', '.join(map(repr, sorted(summary.missing)))}" if may_miss else ""
    if not summary.values:
        return None, f"{column}: dropped (no value, only missing ones)"
    if _ID_NAME.search(column):
        return None, f"{column}: dropped (its name says it identifies a customer)"
    if summary.increasing and summary.rows > MAX_CODES and not summary.missing:
        return None, f"{column}: dropped (integers increasing down the file: a row number)"
    if summary.all_numbers and summary.all_integers and not summary.overflow and len(summary.values) <= MAX_CODES:
        codes = tuple(sorted({canonical_number(v) for v in summary.values}, key=float))
        why = f"{column}: categorical codes {', '.join(codes)} (integers with at most {MAX_CODES} values){missing_note}"
        return Column(column, CATEGORICAL, codes, numbers=True, missing=may_miss), why
    if summary.all_numbers:
        return Column(column, NUMERIC, missing=may_miss), f"{column}: numeric{missing_note}"
    if summary.overflow:
        return None, f"{column}: dropped (text with more than {MAX_VOCABULARY} distinct values: an ID, a name or free text)"
    if len(summary.values) == summary.rows and summary.rows > MAX_CODES:
        return None, f"{column}: dropped (a different value on every row: an ID)"
    vocabulary = tuple(sorted(summary.values))
    shown = ", ".join(map(repr, vocabulary[:6])) + (f", … ({len(vocabulary)} values)" if len(vocabulary) > 6 else "")
    return Column(column, CATEGORICAL, vocabulary, missing=may_miss), f"{column}: categorical {shown}{missing_note}"


def infer_spec(chunks: Iterable[pd.DataFrame], label: str, positive: str | None = None, name: str = "my-churn-table") -> Inference:
    """A spec for the table whose raw chunks are given, label column ``label``; ``positive`` is
    the raw label value meaning churned (guessed from common spellings when None)."""
    seen = _summaries(chunks, label)
    positive, negative, why = _label_values(label, seen[label], positive)
    reasons = [why]
    columns: list[Column] = []
    drop: list[str] = []
    missing_spellings: set[str] = {""}
    for column, summary in seen.items():
        if column == label:
            continue
        decided, why = _decide(column, summary)
        reasons.append(why)
        if decided is None:
            drop.append(column)
        else:
            columns.append(decided)
            missing_spellings |= summary.missing
    if not columns:
        raise DatasetSpecError("no column is usable as a feature")
    spec = DatasetSpec(name.strip() or "my-churn-table", label, (positive,), (negative,), tuple(columns), tuple(sorted(drop)), tuple(sorted(missing_spellings)))
    return Inference(spec_from_json(spec.to_json()), reasons)  # what is written must read back
