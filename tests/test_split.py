from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churn.features import labelled_lines
from churn.schema import canonical_table
from churn import split
from churn.split import SPLITS, hash_fractions, row_keys, split_indices, split_rows, validate_ratios, validate_seed
from tests.strategies import raw_tables

ratios = st.tuples(
    st.floats(min_value=0.05, max_value=0.9), st.floats(min_value=0.05, max_value=0.9)
).filter(lambda r: r[0] + r[1] < 0.95)
seeds = st.integers(min_value=0, max_value=2**31)


def _split(raw, train, validation, seed):
    table = canonical_table(raw)
    return split_rows(table, labelled_lines(table), train, validation, seed)


@given(raw_tables(), ratios, seeds)
def test_split_is_a_partition(raw, r, seed):
    parts = _split(raw, *r, seed)
    table = canonical_table(raw)
    assert Counter(sum(parts.values(), [])) == Counter(labelled_lines(table))


@given(raw_tables(), ratios, seeds, st.randoms(use_true_random=False))
def test_split_does_not_depend_on_row_order(raw, r, seed, random):
    order = list(range(len(raw)))
    random.shuffle(order)
    assert _split(raw.iloc[order], *r, seed) == _split(raw, *r, seed)


@given(raw_tables(), ratios, seeds)
def test_split_is_deterministic_for_a_seed(raw, r, seed):
    assert _split(raw.copy(), *r, seed) == _split(raw.copy(), *r, seed)


@given(raw_tables(max_rows=30), raw_tables(max_rows=30), ratios, seeds)
def test_rows_keep_their_split_when_rows_are_appended(raw, extra, r, seed):
    before = canonical_table(raw)
    after = canonical_table(pd.concat([raw, extra], ignore_index=True))
    which_before = split_indices(hash_fractions(row_keys(before), seed), *r)
    which_after = split_indices(hash_fractions(row_keys(after), seed), *r)
    assert (which_after[: len(before)] == which_before).all()


@settings(max_examples=25, deadline=None)
@given(ratios, seeds)
def test_ratios_hold_on_large_inputs(r, seed):
    n = 20_000
    which = split_indices(hash_fractions((f"customer-{i}" for i in range(n)), seed), *r)
    shares = np.bincount(which, minlength=3) / n
    expected = [r[0], r[1], 1 - r[0] - r[1]]
    # Binomial standard deviation at n=20000 is at most 0.0036: 0.02 is over 5 sigma.
    assert np.allclose(shares, expected, atol=0.02), (shares, expected)


def test_seed_changes_the_split(sample_raw):
    a = _split(sample_raw, 0.7, 0.15, 1)
    b = _split(sample_raw, 0.7, 0.15, 2)
    assert a["test"] != b["test"]


def test_sample_split_sizes(sample_raw):
    parts = _split(sample_raw, 0.7, 0.15, 42)
    assert {k: len(v) for k, v in parts.items()} == {"train": 2310, "validation": 524, "test": 499}
    assert tuple(parts) == SPLITS


@pytest.mark.parametrize(
    "train, validation, message",
    [
        (0, 0.1, "TrainRatio must be in"),
        (1.0, 0.1, "TrainRatio must be in"),
        (0.7, -0.1, "ValidationRatio must be in"),
        (0.7, 0.3, "must be below 1"),
        (float("nan"), 0.1, "TrainRatio must be a number"),
        ("0.7", 0.1, "TrainRatio must be a number"),
    ],
)
def test_bad_ratios_are_named(train, validation, message):
    with pytest.raises(ValueError, match=message):
        validate_ratios(train, validation)


@pytest.mark.parametrize("seed", [-1, 1.5, True, "3"])
def test_bad_seed_is_named(seed):
    with pytest.raises(ValueError, match="SplitSeed"):
        validate_seed(seed)


def test_each_split_is_a_half_open_interval_of_hash_fractions():
    """Train takes [0, train), validation [train, train + validation), test the rest: a fraction
    exactly at a boundary belongs to the split that starts there."""
    fractions = np.array([0.0, 0.49999, 0.5, 0.69999, 0.7, 0.99999])
    assert split_indices(fractions, 0.5, 0.2).tolist() == [0, 0, 1, 1, 2, 2]
    assert split_indices(np.array([0.25, 0.75]), 0.25, 0.5).tolist() == [1, 2]


hash_values_ = st.integers(min_value=0, max_value=2**64 - 1)


@given(st.lists(hash_values_, max_size=50), ratios)
def test_split_index_array_is_split_indices_of_the_fractions(values, r):
    """The integer comparison preprocessing uses gives the split of the float fractions,
    including at and next to each split's least hash value and the ends of the range."""
    least = [value for value in split._least_values(*r) if value < 2**64]
    edges = [0, 1, 2**53, 2**63, 2**64 - 2, 2**64 - 1] + [v + d for v in least for d in (-2, -1, 0, 1, 2) if 0 <= v + d < 2**64]
    values = values + edges
    array = np.array(values, dtype=np.uint64)
    assert split.split_index_array(array, *r).tolist() == split_indices(split.fractions(values), *r).tolist()


@given(st.lists(st.binary(max_size=40) | st.text(max_size=20), max_size=30), seeds)
def test_hash_array_holds_the_hash_values(keys, seed):
    assert split.hash_array(keys, seed).tolist() == split.hash_values(keys, seed)
    assert split.hash_array(keys, seed).dtype == np.uint64
