"""The vectorized spelling of numbers (churn.schema._fast_numbers) against the per-value
reference (canonical_number): wherever the fast path gives a spelling, it is the reference's;
and whole columns validated by encoded_table equal the per-value mapping, whatever the spelling."""

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from churn.schema import FLOAT32_MAX, MISSING, _fast_numbers, _number_or_none, canonical_table, encoded_table

ODD = [
    "1e3", "  7 ", "-0", "-0.0", "0", "00", "007", "0.10", "+5", "5.", ".5", "-.5", "1.", "10.0", "2.70", "-2.70",
    "0.0001", "0.00001", "0.000100", "123456789012345", "1234567890123456", "9007199254740993", "99999999999999.9",
    "0.999999999999999", "0.9999999999999999", "3.4028234663852886e38", "3.4028235e38", "1e39", "-1e39", "1e-45",
    "1e-400", "nan", "NaN", "inf", "-inf", "", " ", "-", ".", "1.2.3", "--1", "1-", "1e", "٣", "１２", "1_000", "0x10",
    "5\x00", "\x005", "12\n", "-00.5", "0.5000000000000001", "123.450", "100", "-100.00", "1" * 40, "1" * 41,
]
NUMBERY = st.text(alphabet="0123456789.-+eE ", max_size=24)
DECIMALS = st.builds(
    lambda sign, whole, point, fraction: sign + whole + point + fraction,
    st.sampled_from(["", "-", "+"]), st.text("0123456789", max_size=17), st.sampled_from(["", "."]),
    st.text("0123456789", max_size=17),
)


@pytest.mark.parametrize("text", ODD)
def test_odd_spellings_match_the_reference(text):
    fast = _fast_numbers([text])[0]
    assert fast is None or fast == _number_or_none(text), text


@given(st.lists(st.one_of(NUMBERY, DECIMALS, st.floats(allow_nan=True).map(repr), st.integers().map(str)), max_size=30))
def test_the_fast_path_spells_as_the_reference_does(values):
    for value, fast in zip(values, _fast_numbers(values)):
        assert fast is None or fast == _number_or_none(value), value


@given(st.lists(DECIMALS, min_size=1, max_size=30))
def test_plain_decimals_take_the_fast_path(values):
    """Decimals of at most 15 significant digits, no sign but ``-``, no leading zeros: proven."""
    for value, fast in zip(values, _fast_numbers(values)):
        whole, _, fraction = value.lstrip("-").partition(".")
        digits = (whole.lstrip("0") + fraction.rstrip("0")) if whole.lstrip("0") else fraction.rstrip("0").lstrip("0")
        plain = (not value.startswith("+") and whole and (whole == "0" or not whole.startswith("0")) and len(digits) <= 15
                 and not (whole == "0" and len(fraction) - len(fraction.lstrip("0")) > 3 and fraction.strip("0")))
        if plain:
            assert fast == _number_or_none(value), value


def _reference(values: list[str]) -> list[str | None]:
    """The per-value mapping of a numeric column (no missing values allowed)."""
    out = []
    for value in values:
        token = _number_or_none(value.strip()) if value.strip() else None
        out.append(None if token is None or abs(float(token)) > FLOAT32_MAX else token)
    return out


@given(st.lists(st.one_of(DECIMALS, st.floats(allow_nan=False, width=32).map(repr), st.sampled_from(ODD)), min_size=1, max_size=20))
def test_a_numeric_column_is_the_per_value_mapping(small_raw_values):
    from churn.dataset import DEFAULT_SPEC

    frame = pd.DataFrame({name: ["1"] * len(small_raw_values) for name in DEFAULT_SPEC.required_columns})
    frame["State"] = "KS"
    frame["Area Code"] = "415"
    frame["Int'l Plan"] = "no"
    frame["VMail Plan"] = "no"
    frame["Churn?"] = "True."
    frame["Day Mins"] = small_raw_values
    expected = _reference(small_raw_values)
    if None in expected:
        with pytest.raises(ValueError, match="Day Mins"):
            encoded_table(frame)
    else:
        assert encoded_table(frame).values("Day Mins").tolist() == expected
        assert canonical_table(frame)["Day Mins"].tolist() == expected


def test_missing_values_in_a_numeric_column():
    from churn.dataset import Column, DatasetSpec

    spec = DatasetSpec("t", "y", ("1",), ("0",), (Column("n", "numeric", missing=True),), missing_values=("", "-1", "NA"))
    frame = pd.DataFrame({"n": ["-1.0", " NA ", "", "2.50", "-1", "007", "1e3"], "y": ["1"] * 7})
    assert encoded_table(frame, spec=spec).values("n").tolist() == [MISSING, MISSING, MISSING, "2.5", MISSING, "7", "1000"]


@given(st.lists(st.sampled_from(["", " ", "1", "1.0", "01", "-1", "-1.0", "2.50", "NA"]), min_size=1, max_size=40))
def test_an_encoded_column_counts_a_token_as_its_counts_do(values):
    """``count`` (what preprocessing counts missing values with) against ``counts``, with
    several spellings of one token (``1``, ``1.0``, ``01``; missing as blank, empty, ``NA``, -1)."""
    from churn.dataset import Column, DatasetSpec

    spec = DatasetSpec("t", "y", ("1",), ("0",), (Column("n", "numeric", missing=True),), missing_values=("", "-1", "NA"))
    table = encoded_table(pd.DataFrame({"n": values, "y": ["1"] * len(values)}), spec=spec)
    for token in {*table.unique("n"), MISSING, "1", "absent"}:
        assert table.count("n", token) == table.counts("n").get(token, 0)
