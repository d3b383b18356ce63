"""Properties of the preprocessing over generated dataset specs and tables of their layout
(tests.strategies.spec_tables): the splits partition the rows whatever their order and chunking,
missing values survive the trip to the split files, and a bad cell raises the schema error only."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from churn import features, schema
from churn.dataset import CATEGORICAL, NUMERIC, spec_from_json
from churn.schema import SchemaError
from churn.steps import preprocess
from tests.strategies import dataset_specs, spec_tables

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
RATIOS = (0.6, 0.2, 11)


def _resolved(spec, raw):
    table = schema.canonical_table(raw, spec=spec)
    return table, spec.with_vocabularies(preprocess.collected_vocabularies([table], spec))


def missing_cells(raw: pd.DataFrame, spec) -> dict[str, int]:
    """How many cells of each feature column are written as missing (the test's own reading:
    one of the spec's spellings, or in a column of numbers the same number as one)."""
    written = set(spec.missing_values)
    numbers = set()
    for token in written:
        try:
            numbers.add(float(token))
        except ValueError:
            pass

    def is_missing(text: str, numeric: bool) -> bool:
        text = text.strip()
        if text in written or not text:
            return True
        try:
            return numeric and float(text) in numbers
        except ValueError:
            return False

    return {
        c.name: int(raw[c.name].map(lambda t, n=c.kind == NUMERIC or c.numbers: is_missing(t, n)).sum()) for c in spec.columns
    }


def _csv(raw: pd.DataFrame) -> str:
    out = io.StringIO()
    raw.to_csv(out, index=False)
    return out.getvalue()


@PROPERTY
@given(spec_tables(), st.randoms(use_true_random=False), st.integers(1, 9))
def test_the_splits_partition_the_rows_in_any_order_and_chunking(tmp_path_factory, generated, rng, chunk_rows):
    document, raw = generated
    spec = spec_from_json(document)
    lines = preprocess.split_lines(raw, *RATIOS, spec)
    table, resolved = _resolved(spec, raw)
    assert sorted(line for split in lines.values() for line in split) == sorted(features.labelled_lines(table, resolved))

    shuffled = raw.sample(frac=1, random_state=rng.randrange(2**32)).reset_index(drop=True)
    assert preprocess.split_lines(shuffled, *RATIOS, spec) == lines
    folder = tmp_path_factory.mktemp("generated")
    (folder / "raw.csv").write_text(_csv(shuffled))
    result = preprocess.write_splits_streaming(folder / "raw.csv", folder / "out", *RATIOS, chunk_rows=chunk_rows, spec=spec)
    for name, expected in lines.items():
        assert (folder / "out" / name / f"{name}.csv").read_text().splitlines() == expected
    assert spec_from_json(result["dataset"]) == resolved
    missing = missing_cells(raw, spec)
    assert result["missing_counts"] == {name: count for name, count in missing.items() if count}
    assert result["ignored_columns"] == [name for name in raw.columns if name not in spec.required_columns]


@PROPERTY
@given(spec_tables())
def test_missing_values_survive_the_trip_to_the_split_files(generated):
    """A missing number is an empty field (XGBoost's missing, NaN when read back); a missing
    category is its one-hot block of zeros; nothing else is missing."""
    document, raw = generated
    spec = spec_from_json(document)
    lines = preprocess.split_lines(raw, *RATIOS, spec)
    _, resolved = _resolved(spec, raw)
    text = "".join(line + "\n" for split in lines.values() for line in split)
    matrix = pd.read_csv(io.StringIO(text), header=None, dtype=float, keep_default_na=False, na_values=[""]).to_numpy()[:, 1:]
    names = features.feature_names(resolved)
    missing = missing_cells(raw, spec)
    for column in resolved.columns:
        count = missing[column.name]
        if column.kind == NUMERIC:
            assert int(np.isnan(matrix[:, names.index(column.name)]).sum()) == count, column.name
        else:
            block = [i for i, name in enumerate(names) if name.startswith(f"{column.name}=")]
            assert len(block) == len(column.vocabulary)
            assert int((matrix[:, block].sum(axis=1) == 0).sum()) == count, column.name
            assert not np.isnan(matrix[:, block]).any()


def _corrupt(draw, document: dict, raw: pd.DataFrame) -> tuple[int, str, str]:
    """A row, a column and a value the spec refuses there."""
    row = draw(st.integers(0, len(raw) - 1))
    options = [(document["label"]["column"], "not-a-label-value")]
    for column in document["columns"]:
        if column["type"] == NUMERIC:
            options.append((column["name"], "12abc"))
        elif column["vocabulary"] != "collect":
            options.append((column["name"], "999999" if column.get("numbers") else "outside-the-vocabulary"))
        elif column.get("numbers"):
            options.append((column["name"], "x"))
        if not column.get("missing"):
            options.append((column["name"], document["missing_values"][0]))
    name, value = draw(st.sampled_from(options))
    return row, name, value


@PROPERTY
@given(spec_tables(), st.data())
def test_a_bad_cell_raises_the_schema_error_only_and_writes_nothing(tmp_path_factory, generated, data):
    document, raw = generated
    spec = spec_from_json(document)
    row, name, value = _corrupt(data.draw, document, raw)
    raw.loc[row, name] = value
    with pytest.raises(SchemaError) as error:
        preprocess.split_lines(raw, *RATIOS, spec)
    if name != document["label"]["column"]:  # (a label error may instead be "no churned rows")
        assert f"{name!r}" in str(error.value) and f"row {row + 1}" in str(error.value)
    folder = tmp_path_factory.mktemp("bad")
    (folder / "raw.csv").write_text(_csv(raw))
    with pytest.raises(SchemaError):
        preprocess.write_splits_streaming(folder / "raw.csv", folder / "out", *RATIOS, chunk_rows=data.draw(st.integers(1, 9)), spec=spec)
    with pytest.raises(SchemaError):
        preprocess.check_table(folder / "raw.csv", spec)
    assert not (folder / "out").exists()


@pytest.mark.parametrize("kind", [
    (NUMERIC, False, False, True), (NUMERIC, False, False, False), (CATEGORICAL, True, True, True),
    (CATEGORICAL, True, False, True), (CATEGORICAL, False, True, True), (CATEGORICAL, False, False, False),
])
def test_the_strategy_makes_every_kind_of_column(kind):
    """The generator reaches every column kind (type, collected, numbers, missing): the
    properties above are not stuck on one corner."""
    def has(document):
        return any(
            (c["type"], c.get("vocabulary") == "collect", bool(c.get("numbers")), bool(c.get("missing"))) == kind
            for c in document["columns"]
        )

    assert has(find(dataset_specs(), has, settings=settings(database=None)))
