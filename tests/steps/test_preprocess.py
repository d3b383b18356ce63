import hashlib
import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churn import tables
from churn.schema import SchemaError
from churn.dataset import DEFAULT_SPEC
from churn.steps import preprocess
from churn.tables import read_raw
from tests.conftest import SAMPLE_CSV
from tests.strategies import raw_tables
from tests.test_features import FEATURE_NAMES


def test_writes_splits_and_manifest(sample_splits):
    manifest = json.loads((sample_splits / "manifest" / "manifest.json").read_text())
    assert manifest["feature_names"] == FEATURE_NAMES  # written out in tests/test_features.py
    assert manifest["rows"] == {"train": 2310, "validation": 524, "test": 499}
    for name in ("train", "validation", "test"):
        lines = (sample_splits / name / f"{name}.csv").read_text().splitlines()
        assert len(lines) == manifest["rows"][name]
        assert all(len(line.split(",")) == 74 and line[0] in "01" for line in lines)
    assert sorted(p.name for p in sample_splits.iterdir()) == ["manifest", "test", "train", "validation"]


def test_row_order_shuffled_copy_gives_byte_identical_splits(tmp_path, sample_splits):
    header, *rows = SAMPLE_CSV.read_text().splitlines()
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text("\n".join([header, *reversed(rows[::2]), *rows[1::2]]) + "\n")
    preprocess.main(["--input", str(shuffled), "--output", str(tmp_path / "out")])
    for name in ("train", "validation", "test"):
        assert (tmp_path / "out" / name / f"{name}.csv").read_bytes() == (sample_splits / name / f"{name}.csv").read_bytes()


def test_ratios_and_seed_are_arguments(tmp_path):
    preprocess.main(
        ["--input", str(SAMPLE_CSV), "--output", str(tmp_path), "--train-ratio", "0.5", "--validation-ratio", "0.25", "--split-seed", "7",
         "--training-instance-type", "auto"]
    )
    manifest = json.loads((tmp_path / "manifest" / "manifest.json").read_text())
    assert manifest["split_seed"] == 7 and sum(manifest["rows"].values()) == 3333
    assert abs(manifest["rows"]["train"] / 3333 - 0.5) < 0.03


def test_bad_input_exits_with_one_clear_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(SAMPLE_CSV.read_text().replace("False.", "Maybe", 1))
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "churn.steps.preprocess", "--input", str(bad), "--output", str(out)],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "ERROR PreprocessData: label 'Churn?' must be 'True.' or 'False.'; unknown values at row 1: 'Maybe'"
    ]
    assert not out.exists()


@pytest.mark.parametrize("args, message", [(["--train-ratio", "1.2"], "TrainRatio must be in"), (["--split-seed", "-3"], "SplitSeed")])
def test_bad_arguments_are_named(tmp_path, args, message):
    with pytest.raises(ValueError, match=message):
        preprocess.main(["--input", str(SAMPLE_CSV), "--output", str(tmp_path), *args])
    assert not any(tmp_path.iterdir())


@settings(max_examples=40, deadline=None)
@given(raw_tables(max_rows=40), st.integers(min_value=1, max_value=9))
def test_streaming_in_any_chunk_size_writes_what_the_in_memory_split_gives(tmp_path_factory, raw, chunk_rows):
    folder = tmp_path_factory.mktemp("stream")
    raw.to_csv(folder / "raw.csv", index=False)
    expected = preprocess.split_lines(raw, 0.6, 0.2, 5)
    result = preprocess.write_splits_streaming(folder / "raw.csv", folder / "out", 0.6, 0.2, 5, chunk_rows=chunk_rows)
    for name, lines in expected.items():
        assert (folder / "out" / name / f"{name}.csv").read_text() == "".join(f"{line}\n" for line in lines)
        assert result["rows"][name] == len(lines)


def test_errors_name_the_row_across_chunks(tmp_path):
    header, *rows = SAMPLE_CSV.read_text().splitlines()
    rows[1234] = rows[1234].replace("False.", "Maybe")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([header, *rows]) + "\n")
    with pytest.raises(ValueError, match=r"unknown values at row 1235: 'Maybe'"):
        preprocess.write_splits_streaming(bad, tmp_path / "out", 0.7, 0.15, 42, chunk_rows=100)
    assert not (tmp_path / "out").exists()


def test_duplicate_rows_are_kept_together_and_counted(tmp_path, capsys):
    header, *rows = SAMPLE_CSV.read_text().splitlines()
    doubled = tmp_path / "doubled.csv"
    doubled.write_text("\n".join([header, *rows, *rows[:10]]) + "\n")
    preprocess.main(["--input", str(doubled), "--output", str(tmp_path / "out"), "--chunk-rows", "500"])
    manifest = json.loads((tmp_path / "out" / "manifest" / "manifest.json").read_text())
    assert manifest["duplicate_rows"] == 10 and sum(manifest["rows"].values()) == 3343
    assert "10 row(s) repeat an earlier row" in capsys.readouterr().out


def _sample_lines(count: int = 40) -> tuple[str, list[str]]:
    header, *rows = SAMPLE_CSV.read_text().splitlines()
    return header, rows[:count]


def _set_value(row: str, header: str, column: str, value: str) -> str:
    fields = row.split(",")
    fields[header.split(",").index(column)] = value
    return ",".join(fields)


def test_a_value_beyond_float32_is_refused_in_memory_and_when_streaming(tmp_path):
    header, rows = _sample_lines()
    rows[11] = _set_value(rows[11], header, "Day Mins", "1e308")
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([header, *rows]) + "\n")
    message = r"column 'Day Mins' has values outside float32's range \(XGBoost holds features as float32\) at row 12: '1e308'"
    with pytest.raises(SchemaError, match=message):
        preprocess.split_lines(read_raw(bad), 0.7, 0.15, 42)
    with pytest.raises(SchemaError, match=message):  # row 12 is in the third chunk of 5 rows
        preprocess.write_splits_streaming(bad, tmp_path / "out", 0.7, 0.15, 42, chunk_rows=5)
    assert not (tmp_path / "out").exists()
    with pytest.raises(SchemaError, match=message):
        preprocess.main(["--input", str(bad), "--output", str(tmp_path / "out"), "--chunk-rows", "5"])
    assert not (tmp_path / "out").exists()


def test_a_column_named_twice_is_refused_by_the_step(tmp_path):
    header, rows = _sample_lines()
    bad = tmp_path / "dup.csv"
    bad.write_text("\n".join([header.replace("Day Charge", "Day Mins"), *rows]) + "\n")
    with pytest.raises(SchemaError, match=r"dup\.csv: column 'Day Mins' appears more than once in the header \(columns 7 and 9\)"):
        preprocess.main(["--input", str(bad), "--output", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("spelling", ["415.0", " 415 ", '" 415 "'])
def test_area_code_spellings_of_415_write_the_line_of_415(tmp_path, spelling):
    header, rows = _sample_lines()
    assert _set_value(rows[0], header, "Area Code", "415") == rows[0]
    variant = [_set_value(row, header, "Area Code", spelling) if ",415," in row else row for row in rows]
    assert variant != rows
    for name, lines in (("plain", rows), ("variant", variant)):
        (tmp_path / f"{name}.csv").write_text("\n".join([header, *lines]) + "\n")
        preprocess.main(["--input", str(tmp_path / f"{name}.csv"), "--output", str(tmp_path / name)])
    for split in ("train", "validation", "test"):
        written = (tmp_path / "variant" / split / f"{split}.csv").read_bytes()
        assert written == (tmp_path / "plain" / split / f"{split}.csv").read_bytes()
    assert preprocess.split_lines(read_raw(tmp_path / "variant.csv"), 0.7, 0.15, 42) == preprocess.split_lines(
        read_raw(tmp_path / "plain.csv"), 0.7, 0.15, 42
    )


@settings(max_examples=10, deadline=None)
@given(raw_tables(max_rows=20, both_classes=False), st.sampled_from(["True.", "False."]), st.integers(min_value=1, max_value=7))
def test_streaming_refuses_a_single_class_input_and_writes_nothing(tmp_path_factory, raw, label, chunk_rows):
    raw["Churn?"] = label
    folder = tmp_path_factory.mktemp("one-class")
    raw.to_csv(folder / "raw.csv", index=False)
    with pytest.raises(SchemaError, match="has no (positive|negative) .* rows: both classes are needed"):
        preprocess.write_splits_streaming(folder / "raw.csv", folder / "out", 0.6, 0.2, 5, chunk_rows=chunk_rows)
    assert not (folder / "out").exists()


def test_the_manifest_is_pinned_whole(sample_splits):
    """Every field of manifest.json for the sample with default parameters, written out, as
    sorted, indented JSON (consumers read it; the step cache hashes it)."""
    golden = json.loads((SAMPLE_CSV.parents[2] / "tests" / "parity" / "golden_splits.json").read_text())
    text = (sample_splits / "manifest" / "manifest.json").read_text()
    manifest = json.loads(text)
    assert manifest == {
        "feature_names": FEATURE_NAMES,
        "label": {"column": "Churn?", "encoding": {"True.": "1", "False.": "0"}, "position": 0},
        "format": "text/csv, no header, label in the first column",
        "train_ratio": 0.7,
        "validation_ratio": 0.15,
        "split_seed": 42,
        "rows": {"train": 2310, "validation": 524, "test": 499},
        "sha256": golden["cases"]["default"]["sha256"],
        "ignored_columns": [],
        "duplicate_rows": 0,
        "dataset": DEFAULT_SPEC.to_json(),
        "label_counts": {"1": 483, "0": 2850},
        "missing_counts": {},
        # The training steps' instance type (local: this machine; what auto would choose).
        "sizing": {"training_rows": 2310, "requested": "local", "would_choose": "ml.m5.large", "chosen": "local"},
    }
    assert text == json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def test_the_container_contract_defaults_and_log_lines(tmp_path, monkeypatch, capsys):
    """Without --input/--output the step reads and writes SageMaker's processing paths; it logs
    the ignored columns and the row counts; its help names the step and its options."""
    root = tmp_path / "opt" / "ml" / "processing"
    (root / "input" / "raw").mkdir(parents=True)
    header, *rows = SAMPLE_CSV.read_text().splitlines()
    (root / "input" / "raw" / "part.csv").write_text("\n".join([header + ",Notes,Remark", *(r + ",x,y" for r in rows)]) + "\n")
    monkeypatch.setattr(preprocess, "INPUT_DIR", root / "input" / "raw")
    monkeypatch.setattr(preprocess, "OUTPUT_DIR", root / "output")
    preprocess.main(["--chunk-rows", "1000"])
    assert capsys.readouterr().out.splitlines() == [
        "note: ignored column(s) not used as features: Notes, Remark",
        'wrote splits: {"train": 2310, "validation": 524, "test": 499}',
    ]
    assert sorted(p.name for p in (root / "output").iterdir()) == ["manifest", "test", "train", "validation"]
    with pytest.raises(SystemExit):
        preprocess.main(["--help"])
    usage = " ".join(capsys.readouterr().out.split())
    assert usage.startswith("usage: churn.steps.preprocess ") and "PreprocessData: raw churn CSV" in usage
    assert usage.endswith("--input INPUT CSV file or directory of CSV files --output OUTPUT "
                          "--training-instance-type TRAINING_INSTANCE_TYPE the TrainingInstanceType parameter (auto: from the "
                          "training rows); recorded as the manifest's sizing --chunk-rows CHUNK_ROWS rows per chunk (bounds memory) "
                          "--workers WORKERS worker processes reading a large input in parallel (1: none) [default: "
                          "$CHURN_PREPROCESS_WORKERS, else one per CPU] --resource-config RESOURCE_CONFIG the processing job's instances (SageMaker's resourceconfig.json); "
                          "several: this one writes its share")


def test_in_memory_splitting_needs_the_label_column(sample_raw):
    with pytest.raises(SchemaError, match=r"missing required column\(s\): 'Churn\?'"):
        preprocess.split_lines(sample_raw.drop(columns=["Churn?"]), 0.7, 0.15, 42)


def test_the_manifest_records_the_arguments_given(tmp_path):
    """manifest.json written by the entrypoint itself (not the shared fixture) for non-default
    ratios and seed: every field, the split files' digests, and sorted, indented JSON text."""
    preprocess.main(
        ["--input", str(SAMPLE_CSV), "--output", str(tmp_path), "--train-ratio", "0.5", "--validation-ratio", "0.25", "--split-seed", "7",
         "--training-instance-type", "auto"]
    )
    text = (tmp_path / "manifest" / "manifest.json").read_text()
    manifest = json.loads(text)
    files = {name: (tmp_path / name / f"{name}.csv").read_bytes() for name in ("train", "validation", "test")}
    assert manifest == {
        "feature_names": FEATURE_NAMES,
        "label": {"column": "Churn?", "encoding": {"True.": "1", "False.": "0"}, "position": 0},
        "format": "text/csv, no header, label in the first column",
        "train_ratio": 0.5,
        "validation_ratio": 0.25,
        "split_seed": 7,
        "rows": {name: data.count(b"\n") for name, data in files.items()},
        "sha256": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        "ignored_columns": [],
        "duplicate_rows": 0,
        "dataset": DEFAULT_SPEC.to_json(),
        "label_counts": {"1": 483, "0": 2850},
        "missing_counts": {},
        "sizing": {"training_rows": manifest["rows"]["train"], "requested": "auto", "would_choose": "ml.m5.large", "chosen": "ml.m5.large"},
    }
    assert manifest["rows"]["train"] > 1000
    assert text == json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    assert text.startswith('{\n  "dataset": {\n    "columns": [\n      {\n        "name": "State",\n')


def _recording_chunk_sizes(monkeypatch) -> list[int]:
    sizes: list[int] = []
    read = tables.read_raw_chunks

    def recording(location, chunk_rows):
        for chunk in read(location, chunk_rows):
            sizes.append(len(chunk))
            yield chunk

    monkeypatch.setattr(tables, "read_raw_chunks", recording)
    return sizes


def test_chunk_rows_bounds_the_rows_read_at_once(tmp_path, monkeypatch):
    """--chunk-rows is what bounds memory: the step reads the input that many rows at a time."""
    sizes = _recording_chunk_sizes(monkeypatch)
    preprocess.main(["--input", str(SAMPLE_CSV), "--output", str(tmp_path / "small"), "--chunk-rows", "1000"])
    assert sizes == [1000, 1000, 1000, 333]
    sizes.clear()
    preprocess.main(["--input", str(SAMPLE_CSV), "--output", str(tmp_path / "default")])
    assert sizes == [3333]  # within the default chunk size


def test_a_single_chunk_input_reports_its_ignored_columns(tmp_path, capsys):
    header, *rows = SAMPLE_CSV.read_text().splitlines()
    extra = tmp_path / "extra.csv"
    extra.write_text("\n".join([header + ",Phone,Notes", *(r + ",382-4657,x" for r in rows)]) + "\n")
    preprocess.main(["--input", str(extra), "--output", str(tmp_path / "out")])  # the default chunk holds every row
    assert capsys.readouterr().out.splitlines()[0] == "note: ignored column(s) not used as features: Phone, Notes"
    manifest = json.loads((tmp_path / "out" / "manifest" / "manifest.json").read_text())
    assert manifest["ignored_columns"] == ["Phone", "Notes"]


def test_streaming_needs_the_label_column(tmp_path, sample_raw):
    sample_raw.drop(columns=["Churn?"]).to_csv(tmp_path / "unlabelled.csv", index=False)
    with pytest.raises(SchemaError, match=r"missing required column\(s\): 'Churn\?'"):
        preprocess.write_splits_streaming(tmp_path / "unlabelled.csv", tmp_path / "out", 0.7, 0.15, 42)
    assert not (tmp_path / "out").exists()


def test_streaming_a_split_of_more_than_8192_lines(tmp_path):
    """Split files are written in blocks of lines: a split larger than a block is whole, counted
    and digested (four copies of the sample: 13332 rows, over 9000 of them in train)."""
    header, *rows = SAMPLE_CSV.read_text().splitlines()
    big = tmp_path / "big.csv"
    big.write_text("\n".join([header, *rows * 4]) + "\n")
    expected = preprocess.split_lines(read_raw(big), 0.7, 0.15, 42)
    assert len(expected["train"]) > 9000
    result = preprocess.write_splits_streaming(big, tmp_path / "out", 0.7, 0.15, 42, chunk_rows=5000)
    for name, lines in expected.items():
        written = (tmp_path / "out" / name / f"{name}.csv").read_bytes()
        assert written == "".join(f"{line}\n" for line in lines).encode()
        assert result["rows"][name] == len(lines)
        assert result["sha256"][name] == hashlib.sha256(written).hexdigest()
    assert sum(result["rows"].values()) == 13332 and result["duplicate_rows"] == 3 * 3333
