import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from churn.schema import (
    LABEL_COLUMN,
    REQUIRED_COLUMNS,
    SchemaError,
    canonical_number,
    canonical_table,
    ignored_columns,
    require_both_classes,
)
from tests.strategies import raw_tables

FLOAT32_MAX = float(np.finfo(np.float32).max)  # 3.4028234663852886e38


@pytest.mark.parametrize(
    "text, expected",
    [("10", "10"), ("10.0", "10"), ("2.70", "2.7"), ("1e2", "100"), ("-0.5", "-0.5"), (".5", "0.5"), ("265.1", "265.1")],
)
def test_canonical_number(text, expected):
    assert canonical_number(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "1_000", "nan", "inf", "1e999", "1,5", "0x10", "--1"])
def test_canonical_number_rejects(text):
    with pytest.raises(ValueError):
        canonical_number(text)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_canonical_number_round_trips_every_float(value):
    assert float(canonical_number(repr(value))) == value


def test_sample_is_valid(sample_raw):
    table = canonical_table(sample_raw)
    assert list(table.columns) == list(REQUIRED_COLUMNS)
    assert len(table) == 3333
    assert table[LABEL_COLUMN].value_counts().to_dict() == {"0": 2850, "1": 483}


def test_phone_and_unknown_columns_are_dropped_and_reported(small_raw):
    frame = small_raw.assign(Phone="382-4657", Extra="x")
    assert ignored_columns(frame) == ["Phone", "Extra"]
    assert canonical_table(frame).equals(canonical_table(small_raw))


def test_column_order_and_whitespace_do_not_matter(small_raw):
    shuffled = small_raw[list(reversed(small_raw.columns))].map(lambda v: f"  {v} ")
    assert canonical_table(shuffled).equals(canonical_table(small_raw))


def test_missing_column_is_named(small_raw):
    with pytest.raises(SchemaError, match=r"missing required column\(s\): 'Day Mins', 'Churn\?'"):
        canonical_table(small_raw.drop(columns=["Day Mins", "Churn?"]))


def test_label_may_be_absent_when_not_required(small_raw):
    table = canonical_table(small_raw.drop(columns=[LABEL_COLUMN]), require_label=False)
    assert LABEL_COLUMN not in table.columns


def test_unknown_label_is_named_with_its_row(small_raw):
    small_raw.loc[3, LABEL_COLUMN] = "yes"
    with pytest.raises(SchemaError, match=r"'Churn\?' must be 'True.' or 'False.'.*row 4: 'yes'"):
        canonical_table(small_raw)


def test_non_numeric_value_is_named_with_its_row(small_raw):
    small_raw.loc[7, "Eve Calls"] = "ninety"
    with pytest.raises(SchemaError, match=r"column 'Eve Calls' must be numeric; bad values at row 8: 'ninety'"):
        canonical_table(small_raw)


def test_nan_is_not_a_number(small_raw):
    small_raw.loc[0, "Day Mins"] = "NaN"
    with pytest.raises(SchemaError, match="'Day Mins' must be numeric"):
        canonical_table(small_raw)


def test_missing_value_is_named(small_raw):
    small_raw.loc[5, "State"] = ""
    with pytest.raises(SchemaError, match=r"column 'State' has missing values at row 6"):
        canonical_table(small_raw)


def test_category_outside_vocabulary_is_named(small_raw):
    small_raw.loc[2, "Area Code"] = "212"
    with pytest.raises(SchemaError, match=r"'Area Code' has values outside its vocabulary at row 3: '212'"):
        canonical_table(small_raw)


def test_empty_and_header_only_frames():
    with pytest.raises(SchemaError, match="empty"):
        canonical_table(pd.DataFrame())
    with pytest.raises(SchemaError, match="header but no data rows"):
        canonical_table(pd.DataFrame(columns=list(REQUIRED_COLUMNS)))


def test_wrong_delimiter_gets_a_hint():
    frame = pd.DataFrame({";".join(REQUIRED_COLUMNS): ["x"]})
    with pytest.raises(SchemaError, match="does not look comma-separated"):
        canonical_table(frame)


@pytest.mark.parametrize("label, missing", [("True.", "negative"), ("False.", "positive")])
def test_single_class_is_rejected(small_raw, label, missing):
    table = canonical_table(small_raw.assign(**{LABEL_COLUMN: label}))
    with pytest.raises(SchemaError, match=f"no {missing}"):
        require_both_classes(table)


@given(raw_tables())
def test_canonical_table_is_idempotent(raw):
    once = canonical_table(raw)
    relabelled = once.assign(**{LABEL_COLUMN: once[LABEL_COLUMN].map({"1": "True.", "0": "False."})})
    assert canonical_table(relabelled).equals(once)


def test_value_outside_float32_range_is_named_with_its_row(small_raw):
    small_raw.loc[11, "Day Mins"] = "1e308"  # finite as a double, infinite as XGBoost's float32
    with pytest.raises(SchemaError) as error:
        canonical_table(small_raw)
    assert str(error.value) == (
        "column 'Day Mins' has values outside float32's range (XGBoost holds features as float32) at row 12: '1e308'"
    )


@pytest.mark.parametrize("text", ["-1e39", "1e39", "3.5e38", " -3.41e38 "])
def test_float32_rule_refuses_magnitudes_beyond_float32(small_raw, text):
    small_raw.loc[4, "Night Charge"] = text
    with pytest.raises(SchemaError, match=rf"'Night Charge' has values outside float32's range .* at row 5: '{text}'"):
        canonical_table(small_raw)


@pytest.mark.parametrize("text", ["3.4e38", "-3.4e38", repr(FLOAT32_MAX), repr(-FLOAT32_MAX), "1e-300"])
def test_float32_rule_accepts_everything_up_to_float32_max(small_raw, text):
    small_raw.loc[4, "Night Charge"] = text
    assert canonical_table(small_raw).loc[4, "Night Charge"] == canonical_number(text)


@pytest.mark.parametrize("spelling", ["415", "415.0", " 415 ", "4.15e2", "0415"])
def test_area_code_spellings_of_415_are_area_code_415(small_raw, spelling):
    small_raw["Area Code"] = spelling
    assert set(canonical_table(small_raw)["Area Code"]) == {"415"}


_HUGE = 1 << 20  # a 1 MB bad value


@pytest.mark.parametrize(
    "column, value, problem",
    [
        ("Eve Calls", "x" * _HUGE, "must be numeric; bad values at row 8: 'xxxx"),
        ("Eve Calls", "0" * _HUGE + "1e39", "must be numeric; bad values at row 8: '0000"),
        ("Eve Calls", "0" * 900 + "1e39", "outside float32's range .* at row 8: '0000"),
        ("State", "Z" * _HUGE, "outside its vocabulary at row 8: 'ZZZZ"),
        ("Churn?", "?" * _HUGE, r"unknown values at row 8: '\?\?\?\?"),
    ],
)
def test_a_huge_bad_value_gives_a_short_message_naming_column_and_row(small_raw, column, value, problem):
    small_raw.loc[7, column] = value
    with pytest.raises(SchemaError) as error:
        canonical_table(small_raw)
    message = str(error.value)
    assert len(message) < 500, len(message)
    assert repr(column) in message and re.search(problem, message)
    assert message.endswith(f"…' ({len(value)} characters)")


def test_quoted_shows_short_values_whole_and_cuts_long_ones():
    from churn.schema import quoted

    assert quoted("ninety") == "'ninety'"
    assert quoted("a" * 40) == repr("a" * 40)
    assert quoted("abcdef" * 10) == f"'{('abcdef' * 10)[:40]}…' (60 characters)"


def test_a_long_digit_string_is_refused_at_once():
    """A 1 MB field of digits ending in a letter: the old pattern backtracked quadratically
    (hours of CPU); run in a subprocess so a regression fails by its timeout."""
    import subprocess
    import sys

    code = (
        "from churn.schema import canonical_number\n"
        "try:\n    canonical_number('9' * 1_000_000 + 'x')\nexcept ValueError as e:\n    print('refused', str(e)[:20])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("refused not a number"), done.stderr
    # Long but sensible spellings are still numbers.
    assert canonical_number("0." + "0" * 900 + "1") == "0"
    assert canonical_number("1" + "0" * 20) == "1e+20"


def test_free_text_is_cut_at_200_characters_and_says_how_long_it_was():
    from churn.schema import shortened

    assert shortened("x" * 200) == "x" * 200
    assert shortened("x" * 201) == "x" * 200 + "… (201 characters)"
    assert shortened("abcdef", limit=3) == "abc… (6 characters)"


@pytest.mark.parametrize(
    "rows, shown",
    [
        ([7], "row 8: 'x'"),
        ([2, 7, 9], "row 3: 'x', row 8: 'x', row 10: 'x'"),
        ([2, 7, 9, 11], "row 3: 'x', row 8: 'x', row 10: 'x' and 1 more"),
        ([2, 7, 9, 11, 12, 13], "row 3: 'x', row 8: 'x', row 10: 'x' and 3 more"),
    ],
)
def test_an_error_shows_the_first_three_bad_rows_and_counts_the_rest(small_raw, rows, shown):
    for row in rows:
        small_raw.loc[row, "Eve Calls"] = "x"
    with pytest.raises(SchemaError) as error:
        canonical_table(small_raw)
    assert str(error.value) == f"column 'Eve Calls' must be numeric; bad values at {shown}"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("9007199254740991", "9007199254740991"),  # 2**53 - 1: every integer up to here is exact
        ("-9007199254740991", "-9007199254740991"),
        ("9007199254740992", "9007199254740992.0"),  # 2**53: 2**53 + 1 reads as this too, so it is a float
        ("-9007199254740992", "-9007199254740992.0"),
        ("9007199254740993", "9007199254740992.0"),
        ("1e16", "1e+16"),
    ],
)
def test_integers_are_spelled_without_a_fraction_only_below_2_to_the_53(text, expected):
    assert canonical_number(text) == expected


def test_a_number_of_1000_characters_is_read_and_one_longer_is_not():
    assert canonical_number("0" * 998 + "17") == "17"
    with pytest.raises(ValueError, match=r"^not a number: '0000"):
        canonical_number("0" * 999 + "17")


def test_canonical_number_says_why_it_refuses():
    with pytest.raises(ValueError, match=r"^not a number: 'abc'$"):
        canonical_number("abc")
    with pytest.raises(ValueError, match=r"^not a finite number: '1e999'$"):
        canonical_number("1e999")


def test_a_missing_column_message_has_no_hint_when_the_file_looks_comma_separated(small_raw):
    with pytest.raises(SchemaError) as error:
        canonical_table(small_raw.drop(columns=["Day Mins", "Churn?"]))
    assert str(error.value) == "missing required column(s): 'Day Mins', 'Churn?'"


@pytest.mark.parametrize("separator", [";", "\t", "|"])
def test_a_single_column_holding_a_separator_gets_the_delimiter_hint(separator):
    frame = pd.DataFrame({separator.join(REQUIRED_COLUMNS): ["x"]})
    with pytest.raises(SchemaError) as error:
        canonical_table(frame)
    message = str(error.value)
    assert message.startswith("missing required column(s): 'State', 'Account Length', 'Area Code', ")
    assert message.endswith(", 'Churn?' (the file does not look comma-separated)")


@pytest.mark.parametrize(
    "columns",
    [["Phone"], ["CUSTOMER INDEX"], ["State,Account Length"], ["State;Account Length", "Phone"]],
)
def test_no_delimiter_hint_without_a_single_column_holding_a_separator(columns):
    frame = pd.DataFrame({name: ["x"] for name in columns})
    with pytest.raises(SchemaError) as error:
        canonical_table(frame)
    assert str(error.value).endswith("'Churn?'")


def test_empty_and_header_only_frames_are_named_exactly():
    with pytest.raises(SchemaError) as empty:
        canonical_table(pd.DataFrame())
    assert str(empty.value) == "input is empty: no header and no rows"
    with pytest.raises(SchemaError) as header_only:
        canonical_table(pd.DataFrame(columns=list(REQUIRED_COLUMNS)))
    assert str(header_only.value) == "input has a header but no data rows"


@pytest.mark.parametrize(
    "label, message",
    [
        ("True.", "label 'Churn?' has no negative ('False.') rows: both classes are needed"),
        ("False.", "label 'Churn?' has no positive ('True.') rows: both classes are needed"),
    ],
)
def test_a_single_class_is_named_with_the_missing_label_spelled_as_in_the_file(small_raw, label, message):
    table = canonical_table(small_raw.assign(**{LABEL_COLUMN: label}))
    with pytest.raises(SchemaError) as error:
        require_both_classes(table)
    assert str(error.value) == message
