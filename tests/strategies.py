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


# --- generated dataset specs and tables of their layout (issue: your own churn table) ---

#: Cell text: letters, digits, spaces inside, a comma and a quote now and then (the CSV writer
#: quotes them), never surrounding spaces (a spec refuses those in a vocabulary).
_word = st.text(alphabet="abcXYZ019 -,'", min_size=1, max_size=8).map(str.strip).filter(bool)
#: How a generated spec writes a missing value; "-1" is a number, so in a column of numbers
#: "-1.0" and " -1 " are missing too.
_MISSING_TOKENS = ("", "NA", "?", "null", "-1")


@st.composite
def _numeric_cell(draw) -> str:
    return draw(st.one_of(
        st.integers(min_value=-500, max_value=5000).map(str),
        st.decimals(min_value=-100, max_value=1000, places=3, allow_nan=False, allow_infinity=False).map(str),
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False).map(repr),
    ))


@st.composite
def dataset_specs(draw) -> dict:
    """A valid dataset spec document: 1-5 feature columns (numeric; categorical with a fixed
    vocabulary, of words or of numbers, or a collected one), maybe missing values, a dropped ID."""
    missing_values = draw(st.lists(st.sampled_from(_MISSING_TOKENS), min_size=1, max_size=3, unique=True))
    names = draw(st.lists(_word.filter(lambda w: "," not in w), min_size=3, max_size=7, unique=True))
    label, drop, *features = names
    labels = draw(st.lists(_word.filter(lambda w: w not in missing_values), min_size=2, max_size=4, unique=True))
    positives = draw(st.integers(1, len(labels) - 1))
    columns = []
    for name in features[:5]:
        kind = draw(st.sampled_from(["numeric", "words", "numbers", "collect", "collect-numbers"]))
        column: dict = {"name": name, "type": "numeric" if kind == "numeric" else "categorical"}
        if kind == "words":
            column["vocabulary"] = draw(st.lists(_word.filter(lambda w: w not in missing_values), min_size=1, max_size=4, unique=True))
        elif kind == "numbers":
            column["vocabulary"] = [str(v) for v in draw(st.lists(st.integers(1, 999), min_size=1, max_size=4, unique=True))]
            column["numbers"] = True
        elif kind.startswith("collect"):
            column["vocabulary"] = "collect"
            if kind == "collect-numbers":
                column["numbers"] = True
        if draw(st.booleans()):
            column["missing"] = True
        columns.append(column)
    return {
        "name": "generated", "label": {"column": label, "positive": labels[:positives], "negative": labels[positives:]},
        "columns": columns, "drop": [drop], "missing_values": missing_values,
    }


def _cell(draw, column: dict, missing_values: list[str]) -> str:
    if column.get("missing") and draw(st.integers(0, 4)) == 0:
        written = draw(st.sampled_from(missing_values))
        numeric = column["type"] == "numeric" or column.get("numbers")
        return draw(st.sampled_from([written, f"{written}.0", f" {written} "])) if numeric and written == "-1" else written
    if column["type"] == "numeric":
        return draw(_numeric_cell().filter(lambda text: "-1" not in missing_values or float(text) != -1))
    vocabulary = column["vocabulary"]
    if vocabulary == "collect" and column.get("numbers"):
        return draw(st.sampled_from(["1", "2", "2.0", "10", "-3", "0.5"]))
    if vocabulary == "collect":
        return draw(_word.filter(lambda w: w not in missing_values))
    value = draw(st.sampled_from(vocabulary))
    if column.get("numbers"):  # another spelling of the same number
        value = draw(st.sampled_from([value, f"{value}.0", f" {value} "]))
    return value


@st.composite
def spec_tables(draw, min_rows: int = 2, max_rows: int = 40) -> tuple[dict, pd.DataFrame]:
    """A generated spec and a valid raw table of its layout (both classes, every collected
    column with a value, the ID column first, unique IDs, maybe a column the spec does not name)."""
    spec = draw(dataset_specs())
    label, missing = spec["label"], spec["missing_values"]
    named = {label["column"], *spec["drop"], *(c["name"] for c in spec["columns"])}
    # sometimes a column the spec does not name: ignored, and reported
    extra = draw(st.one_of(st.none(), _word.filter(lambda w: "," not in w and w not in named)))
    rows = []
    for number in range(draw(st.integers(min_rows, max_rows))):
        row = {spec["drop"][0]: f"id-{number}"}
        for column in spec["columns"]:
            first = number == 0 and column.get("vocabulary") == "collect"
            row[column["name"]] = _cell(draw, {**column, "missing": column.get("missing") and not first}, missing)
        row[label["column"]] = draw(st.sampled_from(label["positive"] + label["negative"]))
        if extra:
            row[extra] = draw(_word)
        rows.append(row)
    rows[0][label["column"]] = label["positive"][0]
    rows[-1][label["column"]] = draw(st.sampled_from(label["negative"]))
    header = [spec["drop"][0], *(c["name"] for c in spec["columns"]), label["column"], *([extra] if extra else [])]
    return spec, pd.DataFrame(rows, columns=header, dtype=str)
