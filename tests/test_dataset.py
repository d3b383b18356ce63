"""Dataset specs: the JSON form, its errors, and preprocessing a table of another layout."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from churn import features, schema
from churn.dataset import DEFAULT_SPEC, DatasetSpecError, spec_from_json
from churn.schema import SchemaError
from churn.steps import preprocess
from tests.conftest import read_text_frame

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "churn" / "schemas" / "dataset.schema.json"

#: A churn table of another layout: an ID to drop, Yes/No labels, blanks in a numeric column,
#: multi-word categories collected from the data, 0/1 flags compared as numbers.
TELCO = {
    "name": "telco",
    "label": {"column": "Churn", "positive": ["Yes"], "negative": ["No"]},
    "columns": [
        {"name": "gender", "type": "categorical", "vocabulary": ["Female", "Male"]},
        {"name": "SeniorCitizen", "type": "categorical", "vocabulary": "collect", "numbers": True},
        {"name": "tenure", "type": "numeric"},
        {"name": "Contract", "type": "categorical", "vocabulary": "collect", "missing": True},
        {"name": "TotalCharges", "type": "numeric", "missing": True},
    ],
    "drop": ["customerID"],
    "missing_values": ["", "NA"],
}


def telco_text(rows: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    lines = ["customerID,gender,SeniorCitizen,tenure,Contract,TotalCharges,Churn"]
    for i in range(rows):
        contract = rng.choice(["Month-to-month", "One year", "Two year", "", "NA"])
        total = rng.choice(["", " ", "NA", f"{rng.uniform(10, 9000):.2f}", str(rng.randint(0, 80))])
        churn = "Yes" if rng.random() < 0.3 or i == 0 else "No"
        lines.append(
            f"{1000 + i}-ABCD,{rng.choice(['Female', 'Male'])},{rng.choice(['0', '1', '1.0'])},{rng.randint(0, 72)},{contract},{total},{churn if i != 1 else 'No'}"
        )
    return "\n".join(lines) + "\n"


def test_the_default_spec_is_the_churn_txt_layout_and_valid_json():
    jsonschema = pytest.importorskip("jsonschema")
    document = DEFAULT_SPEC.to_json()
    jsonschema.validate(document, json.loads(SCHEMA_FILE.read_text()))
    assert spec_from_json(json.loads(json.dumps(document))) == DEFAULT_SPEC
    assert DEFAULT_SPEC.required_columns == schema.REQUIRED_COLUMNS and len(features.feature_names()) == 73


def test_a_spec_round_trips_and_the_example_is_valid():
    import jsonschema

    jsonschema.validate(TELCO, json.loads(SCHEMA_FILE.read_text()))
    spec = spec_from_json(TELCO)
    assert spec_from_json(spec.to_json()) == spec
    assert [c.name for c in spec.categorical_columns if c.collected] == ["SeniorCitizen", "Contract"]
    assert spec.required_columns == ("gender", "SeniorCitizen", "tenure", "Contract", "TotalCharges", "Churn")


@pytest.mark.parametrize(
    "change, says",
    [
        ({"label": {"column": "Churn", "positive": ["Yes"], "negative": ["Yes"]}}, "label value(s) 'Yes' cannot mean both churned and stayed"),
        ({"label": {"column": "Churn", "positive": [], "negative": ["No"]}}, "label.positive must not be empty"),
        ({"columns": []}, "columns must be a non-empty list"),
        ({"columns": [{"name": "x", "type": "text"}]}, "columns[0] ('x').type must be 'numeric' or 'categorical', got 'text'"),
        ({"columns": [{"name": "x", "type": "categorical"}]}, "columns[0] ('x') is categorical: give its vocabulary"),
        ({"columns": [{"name": "x", "type": "numeric", "vocabulary": ["a"]}]}, "columns[0] ('x') is numeric: it has no vocabulary"),
        ({"columns": [{"name": "x", "type": "numeric"}, {"name": "x", "type": "numeric"}]}, "column(s) 'x' appear more than once"),
        ({"columns": [{"name": "Churn", "type": "numeric"}]}, "'Churn' is both a feature column and the label column"),
        ({"drop": ["tenure"]}, "'tenure' is both a feature column and drop"),
        ({"drop": ["Churn"]}, "the label column 'Churn' cannot be dropped"),
        ({"colums": []}, "the dataset spec has unknown field(s) 'colums'"),
        ({"columns": [{"name": " x", "type": "numeric"}]}, "columns[0].name must be a non-empty name without surrounding spaces"),
        ({"columns": [{"name": "c", "type": "categorical", "vocabulary": ["a", "NA"]}]}, "column 'c': 'NA' is in its vocabulary and in missing_values"),
        ({"columns": [{"name": "c", "type": "categorical", "vocabulary": ["a", "a"]}]}, "columns[0] ('c').vocabulary repeats 'a'"),
        ({"columns": [{"name": "c", "type": "numeric", "missing": "yes"}]}, "columns[0] ('c').missing must be true or false"),
    ],
)
def test_a_bad_spec_is_refused_naming_the_field(change, says):
    with pytest.raises(DatasetSpecError) as error:
        spec_from_json({**TELCO, **change})
    assert says in str(error.value)


def test_a_table_of_another_layout_is_preprocessed():
    spec = spec_from_json(TELCO)
    raw = read_text_frame(telco_text(200))
    splits = preprocess.split_lines(raw, 0.7, 0.15, 42, spec)
    lines = [line for name in ("train", "validation", "test") for line in splits[name]]
    assert len(lines) == 200
    resolved = spec.with_vocabularies(preprocess.collected_vocabularies([schema.canonical_table(raw, spec=spec)], spec))
    assert resolved.column("Contract").vocabulary == ("Month-to-month", "One year", "Two year")
    assert resolved.column("SeniorCitizen").vocabulary == ("0", "1")  # "1.0" is the number 1
    names = features.feature_names(resolved)
    assert names == ["tenure", "TotalCharges", "gender=Female", "gender=Male", "SeniorCitizen=0", "SeniorCitizen=1",
                     "Contract=Month-to-month", "Contract=One year", "Contract=Two year"]
    widths = {len(line.split(",")) for line in lines}
    assert widths == {1 + len(names)}
    # A missing total is an empty field (XGBoost's missing); a missing contract is all zeros.
    assert any(line.split(",")[2] == "" for line in lines)
    assert any(line.split(",")[7:10] == ["0", "0", "0"] for line in lines)


def test_streaming_equals_in_memory_for_another_layout(tmp_path):
    spec = spec_from_json(TELCO)
    text = telco_text(300, seed=3)
    (tmp_path / "raw.csv").write_text(text)
    expected = preprocess.split_lines(read_text_frame(text), 0.6, 0.2, 5, spec)
    result = preprocess.write_splits_streaming(tmp_path / "raw.csv", tmp_path / "out", 0.6, 0.2, 5, chunk_rows=37, spec=spec)
    for name in ("train", "validation", "test"):
        assert (tmp_path / "out" / name / f"{name}.csv").read_text().splitlines() == expected[name]
    assert result["ignored_columns"] == ["customerID"]
    assert spec_from_json(result["dataset"]).column("Contract").vocabulary == ("Month-to-month", "One year", "Two year")


@settings(max_examples=25)
@given(seed=st.integers(0, 10**6), rows=st.integers(20, 120), chunk_rows=st.integers(1, 50))
def test_splits_do_not_depend_on_row_order_or_chunking(tmp_path_factory, seed, rows, chunk_rows):
    spec = spec_from_json(TELCO)
    header, *body = telco_text(rows, seed).splitlines()
    shuffled = body[:]
    random.Random(seed + 1).shuffle(shuffled)
    folder = tmp_path_factory.mktemp("shuffled")
    (folder / "raw.csv").write_text("\n".join([header, *shuffled]) + "\n")
    expected = preprocess.split_lines(read_text_frame("\n".join([header, *body]) + "\n"), 0.7, 0.15, 42, spec)
    preprocess.write_splits_streaming(folder / "raw.csv", folder / "out", 0.7, 0.15, 42, chunk_rows=chunk_rows, spec=spec)
    for name in ("train", "validation", "test"):
        assert (folder / "out" / name / f"{name}.csv").read_text().splitlines() == expected[name]
    assert sum(len(v) for v in expected.values()) == rows


@pytest.mark.parametrize(
    "cell, column, says",
    [
        ("", "tenure", "column 'tenure' has missing values at row 3: ''"),
        ("NA", "gender", "column 'gender' has missing values at row 3: 'NA'"),
        ("Other", "gender", "column 'gender' has values outside its vocabulary at row 3: 'Other'"),
        ("abc", "TotalCharges", "column 'TotalCharges' must be numeric; bad values at row 3: 'abc'"),
        ("maybe", "Churn", "label 'Churn' must be 'Yes' or 'No'; unknown values at row 3: 'maybe'"),
    ],
)
def test_bad_values_are_named_by_column_row_and_value(cell, column, says):
    frame = read_text_frame(telco_text(10))
    frame.loc[2, column] = cell
    with pytest.raises(SchemaError) as error:
        schema.canonical_table(frame, spec=spec_from_json(TELCO))
    assert says in str(error.value)


def test_a_table_with_one_class_names_the_spec_values():
    text = telco_text(10).replace(",Yes\n", ",No\n")
    with pytest.raises(SchemaError, match=r"label 'Churn' has no positive \('Yes'\) rows"):
        preprocess.split_lines(read_text_frame(text), 0.7, 0.15, 42, spec_from_json(TELCO))


def test_the_preprocessing_step_reads_a_spec_file(tmp_path):
    (tmp_path / "raw.csv").write_text(telco_text(50))
    (tmp_path / "spec.json").write_text(json.dumps(TELCO))
    preprocess.main(["--input", str(tmp_path / "raw.csv"), "--output", str(tmp_path / "out"), "--dataset", str(tmp_path / "spec.json")])
    manifest = json.loads((tmp_path / "out" / "manifest" / "manifest.json").read_text())
    assert manifest["label"] == {"column": "Churn", "encoding": {"Yes": "1", "No": "0"}, "position": 0}
    assert manifest["dataset"]["columns"][3]["vocabulary"] == ["Month-to-month", "One year", "Two year"]
    assert manifest["feature_names"][:2] == ["tenure", "TotalCharges"]
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"dataset spec .*bad.json is not valid JSON"):
        preprocess.main(["--input", str(tmp_path / "raw.csv"), "--output", str(tmp_path / "out2"), "--dataset", str(tmp_path / "bad.json")])


def test_the_spec_inferred_from_the_sample_writes_the_golden_splits():
    from churn.dataset_infer import infer_spec
    from churn.tables import read_raw_chunks
    from tests.conftest import SAMPLE_CSV
    from tests.parity import goldens

    found = infer_spec(read_raw_chunks(SAMPLE_CSV, 1000), "Churn?")
    assert found.spec.columns == DEFAULT_SPEC.columns and found.spec.label_encoding == DEFAULT_SPEC.label_encoding
    assert "Area Code: categorical codes 408, 415, 510 (integers with at most 3 values)" in found.reasons
    import hashlib

    from churn.tables import read_raw

    lines = preprocess.split_lines(read_raw(SAMPLE_CSV), 0.7, 0.15, 42, found.spec)
    digests = {name: hashlib.sha256("".join(line + "\n" for line in lines[name]).encode()).hexdigest() for name in lines}
    assert digests == goldens.load()["default"]["sha256"]


def test_a_spec_is_inferred_for_another_layout(tmp_path):
    from churn.dataset_infer import infer_spec

    found = infer_spec([read_text_frame(telco_text(300))], "Churn")
    spec = found.spec
    assert (spec.label, spec.positive, spec.negative) == ("Churn", ("Yes",), ("No",))
    assert spec.drop == ("customerID",)
    assert {c.name: (c.kind, c.vocabulary, c.missing) for c in spec.columns} == {
        "gender": ("categorical", ("Female", "Male"), False),
        "SeniorCitizen": ("categorical", ("0", "1"), False),
        "tenure": ("numeric", None, False),
        "Contract": ("categorical", ("Month-to-month", "One year", "Two year"), True),
        "TotalCharges": ("numeric", None, True),
    }
    assert spec.missing_values == ("", "NA")
    assert "customerID: dropped (its name says it identifies a customer)" in found.reasons
    # What it inferred reads the table it was inferred from.
    assert sum(len(v) for v in preprocess.split_lines(read_text_frame(telco_text(300)), 0.7, 0.15, 42, spec).values()) == 300


@pytest.mark.parametrize(
    "label, positive, says",
    [
        ("Nope", None, "the label column 'Nope' is not in the table"),
        ("gender", None, "which label value means churned, 'Female' or 'Male'? give --positive VALUE"),
        ("Churn", "Maybe", "--positive 'Maybe' is not a value of 'Churn'"),
        ("tenure", None, "the label column 'tenure' must hold two values"),
    ],
)
def test_inference_says_what_it_needs(label, positive, says):
    from churn.dataset_infer import infer_spec

    with pytest.raises(DatasetSpecError) as error:
        infer_spec([read_text_frame(telco_text(50))], label, positive)
    assert says in str(error.value)


def test_the_dataset_commands(tmp_path):
    from click.testing import CliRunner

    from churn.cli import main

    (tmp_path / "customers.csv").write_text(telco_text(120))
    spec_file = tmp_path / "spec.json"
    inferred = CliRunner().invoke(main, ["dataset", "infer", "--input", str(tmp_path / "customers.csv"), "--label", "Churn", "--output", str(spec_file)])
    assert inferred.exit_code == 0, inferred.output
    assert "TotalCharges: numeric; missing as '', 'NA'" in inferred.output and spec_from_json(json.loads(spec_file.read_text())).name == "customers"
    checked = CliRunner().invoke(main, ["dataset", "check", "--input", str(tmp_path / "customers.csv"), "--dataset", str(spec_file)])
    assert checked.exit_code == 0 and checked.output.startswith("ok: 120 rows match 'customers'; churned ")
    assert "left out: customerID" in checked.output and "missing values: Contract " in checked.output
    bad = tmp_path / "bad.csv"
    bad.write_text(telco_text(20).replace(",Male,", ",Other,", 1))
    refused = CliRunner().invoke(main, ["dataset", "check", "--input", str(bad), "--dataset", str(spec_file)])
    assert refused.exit_code == 2 and refused.output.startswith("error: column 'gender' has values outside its vocabulary at row ")
    spec_file.write_text(json.dumps({**TELCO, "columns": []}))
    damaged = CliRunner().invoke(main, ["dataset", "check", "--input", str(bad), "--dataset", str(spec_file)])
    assert damaged.exit_code == 2 and damaged.output.strip() == f"error: dataset spec {spec_file}: columns must be a non-empty list of feature columns"


@pytest.mark.parametrize(
    "column, says",
    [
        ({"name": "c", "type": "categorical", "vocabulary": ["a ", "b"]}, "columns[0] ('c').vocabulary: 'a ' has surrounding spaces"),
        ({"name": "c", "type": "categorical", "vocabulary": ["1", "x"], "numbers": True}, "columns[0] ('c').vocabulary: 'x' is not a number"),
        ({"name": "c", "type": "categorical", "vocabulary": ["1", "1.0"], "numbers": True}, "columns[0] ('c').vocabulary repeats the number(s) 1"),
        ({"name": "c", "type": "categorical", "vocabulary": ["0", "1"], "numbers": True}, "column 'c': '0' is in its vocabulary and in missing_values"),
    ],
)
def test_a_vocabulary_that_could_never_match_is_refused(column, says):
    with pytest.raises(DatasetSpecError) as error:
        spec_from_json({**TELCO, "columns": [column], "missing_values": ["", "0.0"]})
    assert says in str(error.value)


def test_a_numbers_vocabulary_is_read_in_canonical_spelling():
    spec = spec_from_json({**TELCO, "columns": [{"name": "code", "type": "categorical", "vocabulary": ["01", "2.0"], "numbers": True}]})
    assert spec.column("code").vocabulary == ("1", "2")


def test_the_order_of_drop_and_missing_values_does_not_change_the_spec():
    from churn.backends.code_bundle import bundle_hash

    reordered = spec_from_json({**TELCO, "missing_values": ["NA", ""], "drop": ["zz", "customerID"]})
    assert reordered == spec_from_json({**TELCO, "drop": ["customerID", "zz"]})
    assert bundle_hash(reordered) == bundle_hash(spec_from_json({**TELCO, "drop": ["customerID", "zz"]}))


def test_a_collected_column_without_values_is_named_by_check_and_run(tmp_path):
    text = telco_text(40).replace(",Month-to-month,", ",NA,").replace(",One year,", ",,").replace(",Two year,", ",NA,")
    (tmp_path / "raw.csv").write_text(text)
    says = r"^column 'Contract' has no value, only missing ones: drop it in the dataset spec$"
    with pytest.raises(SchemaError, match=says):
        preprocess.check_table(tmp_path / "raw.csv", spec_from_json(TELCO))
    with pytest.raises(SchemaError, match=says):
        preprocess.write_splits_streaming(tmp_path / "raw.csv", tmp_path / "out", 0.7, 0.15, 42, spec=spec_from_json(TELCO))
    assert not (tmp_path / "out").exists()


def test_a_collected_vocabulary_is_bounded(monkeypatch):
    from churn import dataset

    monkeypatch.setattr(dataset, "MAX_COLLECTED_VALUES", 2)
    with pytest.raises(SchemaError, match=r"^column 'Contract' has more than 2 distinct values: too many for a collected vocabulary"):
        preprocess.split_lines(read_text_frame(telco_text(60)), 0.7, 0.15, 42, spec_from_json(TELCO))


@pytest.mark.parametrize(
    "text, says",
    [
        ("x,Churn\n1,Yes\n2,\n3,No\n4,NA\n", "the label column 'Churn' is missing on 2 row(s) (written as '', 'NA'): every row needs a label"),
    ],
)
def test_inference_refuses_a_table_it_could_not_run(text, says):
    from churn.dataset_infer import infer_spec

    with pytest.raises(DatasetSpecError) as error:
        infer_spec([read_text_frame(text)], "Churn")
    assert says in str(error.value)


def test_inference_drops_row_numbers_and_numbers_beyond_float32():
    from churn.dataset_infer import infer_spec

    rows = ["RowNumber,big,score,Churn"] + [f"{i + 1},{i}e38,{i % 7},{'Yes' if i % 3 else 'No'}" for i in range(1, 30)]
    found = infer_spec([read_text_frame("\n".join(rows) + "\n")], "Churn", name=" spaced name ")
    assert found.spec.drop == ("RowNumber", "big") and found.spec.name == "spaced name"
    assert "RowNumber: dropped (integers increasing down the file: a row number)" in found.reasons
    assert [c.name for c in found.spec.columns] == ["score"]


def test_predict_takes_the_spec_or_the_runs_manifest(tmp_path):
    from churn.predict import dataset_for_scoring

    (tmp_path / "spec.json").write_text(json.dumps(TELCO))
    with pytest.raises(ValueError, match=r"collects the vocabulary of 'SeniorCitizen', 'Contract' from the data: give the manifest"):
        dataset_for_scoring(tmp_path / "spec.json")
    resolved = spec_from_json(TELCO).with_vocabularies({"SeniorCitizen": ("0", "1"), "Contract": ("One year",)})
    (tmp_path / "manifest.json").write_text(json.dumps({"feature_names": [], "dataset": resolved.to_json()}))
    assert dataset_for_scoring(tmp_path / "manifest.json") == resolved


def test_the_dataset_commands_run_as_a_module(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "churn.cli", "dataset", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "infer" in done.stdout and "check" in done.stdout


def test_an_inferred_spec_is_written_as_readable_utf8_and_the_hint_quotes_paths(tmp_path):
    from click.testing import CliRunner

    from churn.cli import main

    folder = tmp_path / "my data"
    folder.mkdir()
    (folder / "customers.csv").write_text("city,Churn\n" + "".join(f"{n},{c}\n" for n, c in [("García", "Yes"), ("Müller", "No")] * 5))
    done = CliRunner().invoke(main, ["dataset", "infer", "--input", str(folder / "customers.csv"), "--label", "Churn", "--output", str(folder / "spec.json")])
    assert done.exit_code == 0, done.output
    assert '"García"' in (folder / "spec.json").read_text(encoding="utf-8")
    assert f"churn dataset check --input '{folder}/customers.csv' --dataset '{folder}/spec.json'" in done.output


def test_a_missing_value_written_as_a_number_matches_by_value(tmp_path):
    """missing_values ["-1"]: in a column of numbers -1.0 is -1, so missing too (it was once a
    value of a collected vocabulary that then clashed with missing_values after the splits were
    written, and a real value in a numeric column)."""
    document = {
        "name": "codes", "label": {"column": "Churn", "positive": ["Yes"], "negative": ["No"]},
        "columns": [
            {"name": "Plan", "type": "categorical", "vocabulary": "collect", "numbers": True, "missing": True},
            {"name": "Score", "type": "numeric", "missing": True},
            {"name": "Tag", "type": "categorical", "vocabulary": ["-1", "a"], "missing": True},
        ],
        "missing_values": ["-1"],
    }
    with pytest.raises(DatasetSpecError, match="'-1' is in its vocabulary and in missing_values"):
        spec_from_json(document)  # a vocabulary of words may not hold the missing token either
    document["columns"][2]["vocabulary"] = ["-1.0", "a"]  # a word, not a number: "-1.0" is not "-1"
    spec = spec_from_json(document)
    text = "Plan,Score,Tag,Churn\n-1,-1.0,-1.0,Yes\n-1.0,-1,a,No\n2,5,a,Yes\n3.0,-1.00,-1,No\n"
    (tmp_path / "raw.csv").write_text(text)
    assert preprocess.check_table(tmp_path / "raw.csv", spec).endswith("missing values: Plan 2, Score 3, Tag 1")
    result = preprocess.write_splits_streaming(tmp_path / "raw.csv", tmp_path / "out", 0.7, 0.15, 42, spec=spec)
    assert spec_from_json(result["dataset"]).column("Plan").vocabulary == ("2", "3")
    assert result["missing_counts"] == {"Plan": 2, "Score": 3, "Tag": 1}


def test_an_inferred_spec_printed_to_a_stdout_that_is_not_utf8_is_escaped(tmp_path):
    from click.testing import CliRunner

    from churn.cli import main

    (tmp_path / "c.csv").write_text("city,Churn\n" + "".join(f"{n},{c}\n" for n, c in [("García", "Yes"), ("Müller", "No")] * 5))
    done = CliRunner(charset="ascii").invoke(main, ["dataset", "infer", "--input", str(tmp_path / "c.csv"), "--label", "Churn"])
    assert done.exit_code == 0, done.output
    assert '"Garc\\u00eda"' in done.stdout and json.loads(done.stdout)["columns"][0]["vocabulary"] == ["García", "Müller"]
