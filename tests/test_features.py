import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from churn.features import feature_matrix, feature_names, feature_tokens, labelled_lines
from churn.schema import CATEGORIES, NUMERIC_COLUMNS, canonical_table
from tests.strategies import raw_tables


def test_feature_names_are_fixed():
    names = feature_names()
    assert len(names) == len(NUMERIC_COLUMNS) + sum(len(v) for v in CATEGORIES.values()) == 73
    assert names[:2] == ["Account Length", "VMail Message"]
    assert "State=DC" in names and "Area Code=415" in names and names[-1] == "VMail Plan=yes"
    assert len(set(names)) == len(names)


def test_one_hot_rows_have_exactly_one_one_per_category(sample_raw):
    tokens = feature_tokens(canonical_table(sample_raw))
    for column, vocabulary in CATEGORIES.items():
        block = tokens[[f"{column}={v}" for v in vocabulary]].astype(int)
        assert (block.sum(axis=1) == 1).all()


def test_first_sample_row_line(sample_raw):
    line = labelled_lines(canonical_table(sample_raw.head(1)))[0]
    values = line.split(",")
    assert values[0] == "0"  # False. -> 0, label first
    assert values[1:4] == ["128", "25", "265.1"]
    assert values[12] == "10"  # Intl Mins "10.0" in canonical spelling
    assert len(values) == 74


def test_feature_matrix_matches_tokens(sample_raw):
    table = canonical_table(sample_raw.head(50))
    matrix = feature_matrix(table)
    assert matrix.dtype == np.float64 and matrix.shape == (50, 73)
    assert matrix[0, 2] == 265.1


@given(raw_tables(min_rows=1, max_rows=20), st.data())
def test_feature_columns_never_depend_on_which_categories_occur(raw, data):
    # Restrict every categorical column to whatever one value hypothesis picks.
    for column, vocabulary in CATEGORIES.items():
        raw[column] = data.draw(st.sampled_from(vocabulary))
    tokens = feature_tokens(canonical_table(raw))
    assert list(tokens.columns) == feature_names()
    assert set(np.unique(tokens.iloc[:, len(NUMERIC_COLUMNS):].to_numpy())) <= {"0", "1"}


def test_tokens_keep_row_index(sample_raw):
    table = canonical_table(sample_raw.iloc[[7, 3, 11]])  # not 0, 1, 2: the input's own labels
    assert isinstance(feature_tokens(table), pd.DataFrame)
    assert list(feature_tokens(table).index) == list(table.index)


#: The model's input columns, written out (not computed): the 15 numeric columns of the
#: churn.txt layout, then one-hot blocks for State (51, DC included), Area Code, Int'l Plan and
#: VMail Plan. Training (the split files) and scoring (``churn predict``) both depend on it.
STATE_CODES = (
    "AK AL AR AZ CA CO CT DC DE FL GA HI IA ID IL IN KS KY LA MA MD ME MI MN MO MS MT NC ND NE "
    "NH NJ NM NV NY OH OK OR PA RI SC SD TN TX UT VA VT WA WI WV WY"
).split()
FEATURE_NAMES = [
    "Account Length", "VMail Message", "Day Mins", "Day Calls", "Day Charge",
    "Eve Mins", "Eve Calls", "Eve Charge", "Night Mins", "Night Calls", "Night Charge",
    "Intl Mins", "Intl Calls", "Intl Charge", "CustServ Calls",
    *(f"State={code}" for code in STATE_CODES),
    "Area Code=408", "Area Code=415", "Area Code=510",
    "Int'l Plan=no", "Int'l Plan=yes",
    "VMail Plan=no", "VMail Plan=yes",
]


def test_the_full_feature_list_is_pinned_in_order():
    assert len(STATE_CODES) == 51 and len(FEATURE_NAMES) == 73
    assert feature_names() == FEATURE_NAMES


@settings(max_examples=60, deadline=None)
@given(raw_tables(min_rows=1, max_rows=25))
def test_training_lines_and_the_scoring_matrix_agree_column_by_column(raw):
    """No train/serve skew: column j of ``feature_matrix`` (what ``churn predict`` scores) is
    field j+1 of ``labelled_lines`` (what training reads), and both mean the named feature."""
    table = canonical_table(raw)
    lines = labelled_lines(table)
    matrix = feature_matrix(table)
    tokens = feature_tokens(table)
    assert matrix.shape == (len(raw), 73) and list(tokens.columns) == FEATURE_NAMES
    for row, (line, (_, source)) in enumerate(zip(lines, raw.iterrows())):
        fields = line.split(",")
        assert len(fields) == 74 and fields[0] == ("1" if source["Churn?"] == "True." else "0")
        assert fields[1:] == list(tokens.iloc[row])
        assert [float(v) for v in fields[1:]] == list(matrix[row])
        for j, name in enumerate(FEATURE_NAMES):
            column, sep, value = name.partition("=")
            if sep:  # one-hot: 1 exactly where the raw row has that category value
                expected = 1.0 if source[column].strip() == value else 0.0
            else:
                expected = float(source[column])
            assert matrix[row, j] == expected, (name, source[column] if not sep else source[column])


def _small_spec(vocabulary=("a b", "c")):
    from churn.dataset import CATEGORICAL, NUMERIC, Column, DatasetSpec

    return DatasetSpec(
        "small", "y", ("Y",), ("N",),
        (Column("kind", CATEGORICAL, vocabulary, missing=True), Column("n", NUMERIC, missing=True)),
    )


def test_a_spec_decides_the_features_and_a_missing_value_stays_missing():
    spec = _small_spec()
    table = pd.DataFrame({"kind": ["a b", "", "c"], "n": ["1", "2.5", ""], "y": ["1", "0", "1"]})
    assert feature_names(spec) == ["n", "kind=a b", "kind=c"]
    assert labelled_lines(table, spec) == ["1,1,1,0", "0,2.5,0,0", "1,,0,1"]
    assert feature_tokens(table, spec).values.tolist() == [["1", "1", "0"], ["2.5", "0", "0"], ["", "0", "1"]]
    matrix = feature_matrix(table, spec)
    assert np.isnan(matrix[2, 0]) and matrix[1].tolist() == [2.5, 0, 0]


def test_a_collected_vocabulary_must_be_resolved_before_encoding():
    import pytest

    spec = _small_spec(vocabulary=None)
    with pytest.raises(ValueError, match=r"^the vocabulary of 'kind' is collected from the data: resolve it first$"):
        feature_names(spec)
    with pytest.raises(ValueError, match="collected from the data"):
        labelled_lines(pd.DataFrame({"kind": ["c"], "n": ["1"], "y": ["1"]}), spec)
    from dataclasses import replace

    from churn.dataset import CATEGORICAL, Column

    two = replace(spec, columns=(*spec.columns, Column("plan", CATEGORICAL, None)))
    with pytest.raises(ValueError, match=r"^the vocabulary of 'kind', 'plan' is collected from the data: resolve it first$"):
        feature_names(two)
    resolved = spec.with_vocabularies({"kind": ("c", "d")})
    assert feature_names(resolved) == ["n", "kind=c", "kind=d"]
