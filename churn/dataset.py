"""A dataset spec: the layout of a churn table, and what its values mean.

A spec names the label column and which raw values mean churned or stayed, the feature columns
in file order (numeric, or categorical with a fixed vocabulary or one collected from the whole
input), the columns to drop (IDs), and how a missing value is written. The churn.txt layout of
the sample is the built-in :data:`DEFAULT_SPEC`. A spec is a small JSON document
(``churn/schemas/dataset.schema.json``) read by :func:`spec_from_json`, which names the field
of any problem. Pure: no I/O.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

NUMERIC = "numeric"
CATEGORICAL = "categorical"
#: A categorical column's vocabulary taken from the data: the sorted distinct values of the
#: whole input (independent of row order), recorded in the manifest.
COLLECT = "collect"
#: A collected vocabulary may hold at most this many values (one feature each): more is an ID or
#: free text, not a category (drop the column, or bin it before).
MAX_COLLECTED_VALUES = 1000
#: How a missing value is written when the spec does not say: an empty cell.
DEFAULT_MISSING_VALUES: tuple[str, ...] = ("",)


class DatasetSpecError(ValueError):
    """A spec that cannot be used; the message names the field and the problem."""


@dataclass(frozen=True)
class Column:
    """One feature column. A categorical column's ``vocabulary`` is its values in one-hot order
    (None: collected from the data); ``numbers`` compares them as numbers (``415`` and ``415.0``
    are one area code). ``missing``: the column may have missing values (numeric ones reach
    XGBoost as missing; a missing category is all-zero in its one-hot block)."""

    name: str
    kind: str
    vocabulary: tuple[str, ...] | None = None
    numbers: bool = False
    missing: bool = False

    @property
    def collected(self) -> bool:
        return self.kind == CATEGORICAL and self.vocabulary is None


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    label: str
    #: Raw label values meaning churned (encoded ``1``) and stayed (``0``).
    positive: tuple[str, ...]
    negative: tuple[str, ...]
    #: Feature columns in file order.
    columns: tuple[Column, ...]
    #: Columns that may be present and are dropped (IDs); other unknown columns are ignored too,
    #: and reported.
    drop: tuple[str, ...] = ()
    #: How a missing value is written (compared after surrounding whitespace is stripped).
    missing_values: tuple[str, ...] = field(default=DEFAULT_MISSING_VALUES)

    @property
    def numeric_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.kind == NUMERIC)

    @property
    def categorical_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.kind == CATEGORICAL)

    @property
    def feature_source_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Every column a labelled table must have, in file order, the label last."""
        return (*self.feature_source_columns, self.label)

    @property
    def label_encoding(self) -> dict[str, str]:
        return {**{value: "1" for value in self.positive}, **{value: "0" for value in self.negative}}

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def with_vocabularies(self, vocabularies: dict[str, tuple[str, ...]]) -> DatasetSpec:
        """This spec with collected vocabularies filled in (what a run's manifest records)."""
        columns = tuple(
            Column(c.name, c.kind, tuple(vocabularies[c.name]), c.numbers, c.missing) if c.collected else c for c in self.columns
        )
        return DatasetSpec(self.name, self.label, self.positive, self.negative, columns, self.drop, self.missing_values)

    def to_json(self) -> dict:
        def column(c: Column) -> dict:
            record: dict = {"name": c.name, "type": c.kind}
            if c.kind == CATEGORICAL:
                record["vocabulary"] = list(c.vocabulary) if c.vocabulary is not None else COLLECT
                if c.numbers:
                    record["numbers"] = True
            if c.missing:
                record["missing"] = True
            return record

        return {
            "name": self.name,
            "label": {"column": self.label, "positive": list(self.positive), "negative": list(self.negative)},
            "columns": [column(c) for c in self.columns],
            "drop": sorted(self.drop),
            "missing_values": sorted(self.missing_values),
        }


def _strings(value: object, where: str, *, allow_empty_items: bool = False, allow_empty: bool = False) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DatasetSpecError(f"{where} must be a list of strings, got {value!r}")
    if not value and not allow_empty:
        raise DatasetSpecError(f"{where} must not be empty")
    if not allow_empty_items and any(not v.strip() for v in value):
        raise DatasetSpecError(f"{where} holds an empty value")
    duplicates = sorted(v for v, count in Counter(value).items() if count > 1)  # linear: a vocabulary may be long
    if duplicates:
        raise DatasetSpecError(f"{where} repeats {', '.join(map(repr, duplicates))}")
    return tuple(value)


def _object(value: object, where: str, allowed: set[str], required: set[str]) -> dict:
    if not isinstance(value, dict):
        raise DatasetSpecError(f"{where} must be an object, got {value!r}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise DatasetSpecError(f"{where} has unknown field(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(sorted(allowed))}")
    missing = sorted(required - set(value))
    if missing:
        raise DatasetSpecError(f"{where} lacks {', '.join(map(repr, missing))}")
    return value


def _name(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise DatasetSpecError(f"{where} must be a non-empty name without surrounding spaces, got {value!r}")
    return value


def _column(value: object, where: str) -> Column:
    record = _object(value, where, {"name", "type", "vocabulary", "numbers", "missing"}, {"name", "type"})
    name = _name(record["name"], f"{where}.name")
    kind = record["type"]
    if kind not in (NUMERIC, CATEGORICAL):
        raise DatasetSpecError(f"{where} ({name!r}).type must be {NUMERIC!r} or {CATEGORICAL!r}, got {kind!r}")
    for flag in ("numbers", "missing"):
        if not isinstance(record.get(flag, False), bool):
            raise DatasetSpecError(f"{where} ({name!r}).{flag} must be true or false, got {record[flag]!r}")
    if kind == NUMERIC:
        if "vocabulary" in record or "numbers" in record:
            raise DatasetSpecError(f"{where} ({name!r}) is numeric: it has no vocabulary")
        return Column(name, NUMERIC, missing=record.get("missing", False))
    if "vocabulary" not in record:
        raise DatasetSpecError(f"{where} ({name!r}) is categorical: give its vocabulary (a list of values, or {COLLECT!r})")
    vocabulary = record["vocabulary"]
    numbers = record.get("numbers", False)
    if vocabulary != COLLECT:
        vocabulary = _strings(vocabulary, f"{where} ({name!r}).vocabulary")
        spaced = [v for v in vocabulary if v != v.strip()]
        if spaced:
            raise DatasetSpecError(f"{where} ({name!r}).vocabulary: {spaced[0]!r} has surrounding spaces (values are compared stripped)")
        if numbers:
            vocabulary = _number_vocabulary(vocabulary, f"{where} ({name!r}).vocabulary")
    return Column(name, CATEGORICAL, None if vocabulary == COLLECT else vocabulary, numbers, record.get("missing", False))


def _number_vocabulary(values: tuple[str, ...], where: str) -> tuple[str, ...]:
    """A ``numbers`` vocabulary in canonical spelling (``1.0`` is ``1``), each number once."""
    from churn.schema import canonical_number

    spelled = []
    for value in values:
        try:
            spelled.append(canonical_number(value))
        except ValueError:
            raise DatasetSpecError(f"{where}: {value!r} is not a number (the column compares its values as numbers)") from None
    repeated = sorted(v for v, count in Counter(spelled).items() if count > 1)
    if repeated:
        raise DatasetSpecError(f"{where} repeats the number(s) {', '.join(repeated)}")
    return tuple(spelled)


def spec_from_json(document: object) -> DatasetSpec:
    """A spec from its JSON document, or :class:`DatasetSpecError` naming the problem."""
    record = _object(document, "the dataset spec", {"name", "label", "columns", "drop", "missing_values", "$schema", "about"}, {"name", "label", "columns"})
    name = _name(record["name"], "name")
    label = _object(record["label"], "label", {"column", "positive", "negative"}, {"column", "positive", "negative"})
    label_column = _name(label["column"], "label.column")
    positive = _strings(label["positive"], "label.positive")
    negative = _strings(label["negative"], "label.negative")
    both = sorted(set(positive) & set(negative))
    if both:
        raise DatasetSpecError(f"label value(s) {', '.join(map(repr, both))} cannot mean both churned and stayed")
    if not isinstance(record["columns"], list) or not record["columns"]:
        raise DatasetSpecError("columns must be a non-empty list of feature columns")
    columns = tuple(_column(c, f"columns[{i}]") for i, c in enumerate(record["columns"]))
    drop = tuple(sorted(_strings(record.get("drop", []), "drop", allow_empty=True)))
    missing_values = tuple(sorted(_strings(record.get("missing_values", list(DEFAULT_MISSING_VALUES)), "missing_values", allow_empty_items=True)))
    if any(v != v.strip() for v in missing_values):
        raise DatasetSpecError("missing_values are compared after surrounding spaces are stripped: write them without")
    names = [c.name for c in columns]
    repeated = sorted(n for n, count in Counter(names).items() if count > 1)
    if repeated:
        raise DatasetSpecError(f"column(s) {', '.join(map(repr, repeated))} appear more than once in columns")
    for what, clash in (("the label column", [label_column]), ("drop", list(drop))):
        overlap = sorted(set(names) & set(clash))
        if overlap:
            raise DatasetSpecError(f"{', '.join(map(repr, overlap))} is both a feature column and {what}")
    if label_column in drop:
        raise DatasetSpecError(f"the label column {label_column!r} cannot be dropped")
    from churn.schema import _number_or_none  # (schema imports this module)

    for column in columns:
        if column.vocabulary is not None:
            written = set(missing_values) | ({_number_or_none(v) for v in missing_values} if column.numbers else set())
            spelled_missing = sorted(set(column.vocabulary) & written)
            if spelled_missing:
                raise DatasetSpecError(f"column {column.name!r}: {', '.join(map(repr, spelled_missing))} is in its vocabulary and in missing_values")
    return DatasetSpec(name, label_column, positive, negative, columns, drop, missing_values)


_STATES = (
    "AK AL AR AZ CA CO CT DC DE FL GA HI IA ID IL IN KS KY LA MA MD ME MI MN MO MS MT NC ND NE "
    "NH NJ NM NV NY OH OK OR PA RI SC SD TN TX UT VA VT WA WI WV WY"
).split()
_NUMERIC_USAGE = (
    "VMail Message", "Day Mins", "Day Calls", "Day Charge", "Eve Mins", "Eve Calls", "Eve Charge", "Night Mins",
    "Night Calls", "Night Charge", "Intl Mins", "Intl Calls", "Intl Charge", "CustServ Calls",
)

#: The churn.txt layout of the public SageMaker churn examples (data/sample/churn.csv): 20
#: columns, ``Phone`` dropped, label ``Churn?`` with ``True.``/``False.``, nothing missing.
DEFAULT_SPEC = DatasetSpec(
    name="churn.txt",
    label="Churn?",
    positive=("True.",),
    negative=("False.",),
    columns=(
        Column("State", CATEGORICAL, tuple(_STATES)),
        Column("Account Length", NUMERIC),
        Column("Area Code", CATEGORICAL, ("408", "415", "510"), numbers=True),
        Column("Int'l Plan", CATEGORICAL, ("no", "yes")),
        Column("VMail Plan", CATEGORICAL, ("no", "yes")),
        *(Column(name, NUMERIC) for name in _NUMERIC_USAGE),
    ),
    drop=("Phone",),
    missing_values=DEFAULT_MISSING_VALUES,
)
