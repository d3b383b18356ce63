import numpy as np
import pandas as pd
from hypothesis import given
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
    table = canonical_table(sample_raw.head(5))
    assert isinstance(feature_tokens(table), pd.DataFrame)
    assert list(feature_tokens(table).index) == list(table.index)
