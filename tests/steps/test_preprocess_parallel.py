"""PreprocessData with worker processes (--workers): the split files and the manifest's counts are
the bytes and numbers of the one-process path, and a bad input fails with the one-process path's
message (its first bad row in file order), leaving no output behind."""

from __future__ import annotations

import io
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from churn.dataset import spec_from_json
from churn.schema import SchemaError
from churn.steps import preprocess
from tests.conftest import SAMPLE_CSV
from tests.strategies import spec_tables

SPLITS = ("train", "validation", "test")


@pytest.fixture
def small_shares(monkeypatch):
    """Shares of a few rows (a small input would else be read in one process), and a record of
    whether the pool wrote the runs (``True``) or the one-process path did (``False``)."""
    monkeypatch.setattr(preprocess, "MIN_TASK_BYTES", 1)
    taken: list[bool] = []
    parallel = preprocess._parallel_runs

    def recording(*args, **kwargs):
        done = parallel(*args, **kwargs)
        taken.append(done is not None)
        return done

    monkeypatch.setattr(preprocess, "_parallel_runs", recording)
    return taken


def _written(out) -> dict[str, bytes]:
    return {name: (out / name / f"{name}.csv").read_bytes() for name in SPLITS}


def _both(source, folder, chunk_rows, spec=preprocess.DEFAULT_SPEC, ratios=(0.7, 0.15, 42)):
    one = preprocess.write_splits_streaming(source, folder / "one", *ratios, chunk_rows=chunk_rows, spec=spec, workers=1)
    two = preprocess.write_splits_streaming(source, folder / "two", *ratios, chunk_rows=chunk_rows, spec=spec, workers=2)
    return one, two


def _odd_spellings(count: int) -> str:
    """The sample's first rows with numbers spelled oddly (trailing zeros, exponents, signs,
    spaces, leading zeros, a missing area code spelled 415.0) and some rows repeated."""
    header, *rows = SAMPLE_CSV.read_text().splitlines()
    names = header.split(",")
    spellings = {"Day Mins": lambda v: f"{float(v):.4f}", "Eve Mins": lambda v: f" {v} ", "Night Charge": lambda v: f"{float(v) * 10:e}",
                 "Account Length": lambda v: f"+{v}", "CustServ Calls": lambda v: f"00{v}", "Area Code": lambda v: f"{v}.0"}
    odd = []
    for number, row in enumerate(rows[:count]):
        fields = row.split(",")
        for name, spell in spellings.items():
            if number % 3 == list(spellings).index(name) % 3:
                fields[names.index(name)] = spell(fields[names.index(name)])
        odd.append(",".join(fields))
    return "\n".join([header, *odd, *odd[:25]]) + "\n"


@pytest.mark.parametrize("chunk_rows", [1, 7, 1000])
def test_workers_write_the_bytes_of_one_process(tmp_path, small_shares, chunk_rows):
    source = tmp_path / "odd.csv"
    source.write_text(_odd_spellings(400 if chunk_rows < 1000 else 3333))
    one, two = _both(source, tmp_path, chunk_rows)
    assert small_shares == [True]  # the pool wrote the runs (one share per chunk of rows)
    assert _written(tmp_path / "two") == _written(tmp_path / "one")
    assert two == one and one["duplicate_rows"] == 25


def test_workers_read_every_file_of_a_folder_and_crlf_lines(tmp_path, small_shares):
    header, *rows = SAMPLE_CSV.read_text().splitlines()
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "a.csv").write_bytes(("\r\n".join([header, *rows[:900]]) + "\r\n").encode())
    (folder / "b.csv").write_text("\n\n" + "\n".join([header, *rows[900:]]) + "\n\n")
    one, two = _both(folder, tmp_path, 50)
    assert small_shares == [True]
    assert _written(tmp_path / "two") == _written(tmp_path / "one") and two == one
    assert sum(one["rows"].values()) == 3333


def test_a_quoted_field_is_read_by_one_process(tmp_path, small_shares):
    """A quote may hold a line end, so a file with one is not cut into shares: the same bytes."""
    source = tmp_path / "quoted.csv"
    text = _odd_spellings(300)
    source.write_text(text.replace(",415,", ',"415",', 3))
    one, two = _both(source, tmp_path, 7)
    assert small_shares == [False]
    assert _written(tmp_path / "two") == _written(tmp_path / "one") and two == one


def _slowly(task, *args):
    """A worker whose first share takes longest, so later shares (and their errors) come first."""
    if task.number == 0:
        time.sleep(1.0)
    return _RUN_TASK(task, *args)


_RUN_TASK = preprocess._run_task


@pytest.mark.parametrize("chunk_rows", [1, 7])
def test_a_bad_row_fails_as_in_one_process_whichever_worker_finishes_first(tmp_path, small_shares, monkeypatch, chunk_rows):
    header, *rows = SAMPLE_CSV.read_text().splitlines()
    names = header.split(",")
    rows = rows[:300]
    fields = rows[4].split(",")
    fields[names.index("Day Mins")] = "12x5"  # row 5: not a number, in the slow first share
    rows[4] = ",".join(fields)
    fields = rows[250].split(",")
    fields[names.index("State")] = "ZZ"  # row 251: outside the vocabulary, in a quick later share
    rows[250] = ",".join(fields)
    source = tmp_path / "bad.csv"
    source.write_text("\n".join([header, *rows]) + "\n")
    with pytest.raises(SchemaError) as serial:
        preprocess.write_splits_streaming(source, tmp_path / "one", 0.7, 0.15, 42, chunk_rows=chunk_rows, workers=1)
    monkeypatch.setattr(preprocess, "_run_task", _slowly)
    with pytest.raises(SchemaError) as parallel:
        preprocess.main(["--input", str(source), "--output", str(tmp_path / "two"), "--chunk-rows", str(chunk_rows), "--workers", "2"])
    assert str(parallel.value) == str(serial.value) == "column 'Day Mins' must be numeric; bad values at row 5: '12x5'"
    assert small_shares == [False]
    assert not (tmp_path / "one").exists() and not (tmp_path / "two").exists()
    assert not list(tmp_path.rglob("*.partial"))


def test_a_single_class_input_fails_as_in_one_process(tmp_path, small_shares):
    header, *rows = SAMPLE_CSV.read_text().splitlines()
    source = tmp_path / "stayed.csv"
    source.write_text("\n".join([header, *(r for r in rows if r.endswith("False."))]) + "\n")
    with pytest.raises(SchemaError, match="label 'Churn\\?' has no positive"):
        preprocess.write_splits_streaming(source, tmp_path / "out", 0.7, 0.15, 42, chunk_rows=100, workers=2)
    assert small_shares == [True] and not (tmp_path / "out").exists()


def _csv(raw) -> str:
    out = io.StringIO()
    raw.to_csv(out, index=False)
    return out.getvalue()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(spec_tables(max_rows=60), st.sampled_from([1, 2, 7]))
def test_workers_write_the_bytes_of_one_process_for_any_spec(tmp_path_factory, small_shares, generated, chunk_rows):
    """Generated specs (collected vocabularies, missing values, numbers as categories) and
    tables (odd spellings; quoted fields fall back to one process)."""
    document, raw = generated
    spec = spec_from_json(document)
    folder = tmp_path_factory.mktemp("generated")
    (folder / "raw.csv").write_text(_csv(raw))
    one, two = _both(folder / "raw.csv", folder, chunk_rows, spec, (0.6, 0.2, 11))
    assert _written(folder / "two") == _written(folder / "one") and two == one


def test_the_worker_count_comes_from_the_argument_the_variable_or_the_cpus(monkeypatch):
    monkeypatch.delenv(preprocess.WORKERS_VARIABLE, raising=False)
    monkeypatch.setattr(preprocess.os, "cpu_count", lambda: 6)
    assert preprocess.worker_count() == 6
    monkeypatch.setenv(preprocess.WORKERS_VARIABLE, "3")
    assert preprocess.worker_count() == 3
    assert preprocess.worker_count(1) == 1
    monkeypatch.setenv(preprocess.WORKERS_VARIABLE, "many")
    with pytest.raises(ValueError, match="CHURN_PREPROCESS_WORKERS must be a whole number of worker processes, got 'many'"):
        preprocess.worker_count()
    with pytest.raises(ValueError, match="at least 1, got 0"):
        preprocess.worker_count(0)


@pytest.mark.parametrize("chunk_rows", [1, 7, 1000])
def test_many_merge_buckets_write_the_bytes_of_one_process(tmp_path, small_shares, monkeypatch, chunk_rows):
    """A large input's many buckets (here one per byte of input, at most 2**8): each bucket a
    segment of every run, merged by a worker at its place in the split file; repeated rows
    (equal hash values) in many runs and buckets."""
    monkeypatch.setattr(preprocess, "MERGE_BUCKET_INPUT_BYTES", 1)
    monkeypatch.setattr(preprocess, "MAX_MERGE_BUCKET_BITS", 8)
    source = tmp_path / "odd.csv"
    source.write_text(_odd_spellings(400 if chunk_rows < 1000 else 3333))
    one, two = _both(source, tmp_path, chunk_rows)
    assert small_shares == [True]
    assert _written(tmp_path / "two") == _written(tmp_path / "one") and two == one


def test_the_merge_buckets_grow_with_the_input():
    bits = preprocess.merge_bucket_bits
    assert bits(0) == bits(1) == bits(16 * preprocess.MERGE_BUCKET_INPUT_BYTES) == preprocess.MERGE_BUCKET_BITS
    assert bits(16 * preprocess.MERGE_BUCKET_INPUT_BYTES + 1) == preprocess.MERGE_BUCKET_BITS + 1
    assert bits(900 << 20, 100) == 7  # 10**7 synthetic rows: 128 buckets
    assert bits(1 << 60) == preprocess.MAX_MERGE_BUCKET_BITS
    # The parent holds shares x 3 splits x buckets segments: bounded, down to the least buckets.
    assert bits(9 << 30, 1000) == 6 and preprocess.MAX_MERGE_SEGMENTS >= 1000 * 3 * 2**6
    assert bits(1 << 40, 10**6) == preprocess.MERGE_BUCKET_BITS


def _failing_merge(*args):
    raise OSError("disk full")


def test_a_failing_merge_leaves_no_split_file(tmp_path, small_shares, monkeypatch):
    """The workers write the buckets into the split files in place: a failure removes them all."""
    source = tmp_path / "odd.csv"
    source.write_text(_odd_spellings(400))
    monkeypatch.setattr(preprocess, "_merge_part", _failing_merge)
    with pytest.raises(OSError, match="disk full"):
        preprocess.write_splits_streaming(source, tmp_path / "out", 0.7, 0.15, 42, chunk_rows=7, workers=2)
    assert small_shares == [True]
    assert not [p for p in (tmp_path / "out").rglob("*") if p.is_file()]
