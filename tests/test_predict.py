import json
import pickle

import pytest

from churn.model_io import ModelArtifactError, PickledModelError
from churn.predict import churn_probabilities
from churn.schema import SchemaError
from tests.conftest import SAMPLE_CSV, write_model_archive
from tests.test_model_io import malicious_archive


@pytest.fixture()
def archive(tmp_path, trained_booster):
    return write_model_archive(tmp_path / "model.tar.gz", bytes(trained_booster.save_raw("ubj")))


def test_scores_rows_with_or_without_label(tmp_path, archive):
    lines = SAMPLE_CSV.read_text().splitlines()[:11]
    unlabelled = tmp_path / "u.csv"
    unlabelled.write_text("\n".join(",".join(line.split(",")[:-1]) for line in lines) + "\n")
    labelled = tmp_path / "l.csv"
    labelled.write_text("\n".join(lines) + "\n")
    a, b = churn_probabilities(archive, unlabelled), churn_probabilities(archive, labelled)
    assert len(a) == 10 and (a == b).all() and ((a >= 0) & (a <= 1)).all()


def test_bad_rows_are_named(tmp_path, archive):
    bad = tmp_path / "bad.csv"
    bad.write_text(SAMPLE_CSV.read_text().splitlines()[0] + "\nKS,1,415,no,no,x,1,1,1,1,1,1,1,1,1,1,1,1,1,False.\n")
    with pytest.raises(SchemaError, match="'VMail Message' must be numeric"):
        churn_probabilities(archive, bad)


def test_model_of_another_shape_is_refused(tmp_path):
    import numpy as np
    import xgboost

    other = xgboost.train({}, xgboost.DMatrix(np.zeros((4, 3)), label=[0, 1, 0, 1]), num_boost_round=1)
    archive = write_model_archive(tmp_path / "m.tar.gz", bytes(other.save_raw("json")))
    with pytest.raises(ModelArtifactError, match="expects 3 features but churn makes 73"):
        churn_probabilities(archive, SAMPLE_CSV)


def test_a_pickled_model_is_refused_unless_allowed(tmp_path, trained_booster, archive):
    marker = tmp_path / "pwned"
    with pytest.raises(PickledModelError, match="--allow-pickle"):
        churn_probabilities(malicious_archive(tmp_path / "evil.tar.gz", marker), SAMPLE_CSV)
    assert not marker.exists()
    pickled = write_model_archive(tmp_path / "pickled.tar.gz", pickle.dumps(trained_booster))
    with pytest.raises(PickledModelError):
        churn_probabilities(pickled, SAMPLE_CSV)
    assert (churn_probabilities(pickled, SAMPLE_CSV, allow_pickle=True) == churn_probabilities(archive, SAMPLE_CSV)).all()


def test_a_model_in_its_run_folder_brings_the_spec_it_was_trained_with(tmp_path):
    from churn.dataset import spec_from_json
    from churn.layout import ARTIFACTS
    from churn.predict import run_dataset
    from tests.test_dataset import TELCO

    run_dir = tmp_path / "runs" / "abc"
    model = run_dir / ARTIFACTS["model"]
    model.parent.mkdir(parents=True)
    model.write_bytes(b"x")
    assert run_dataset(model) is None  # no manifest
    manifest = run_dir / ARTIFACTS["manifest"]
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"dataset": TELCO}))
    assert run_dataset(model) == spec_from_json(TELCO)
    elsewhere = tmp_path / "model.tar.gz"
    elsewhere.write_bytes(b"x")
    assert run_dataset(elsewhere) is None


def test_an_unseen_category_is_encoded_as_all_zeros_and_counted(tmp_path, archive):
    """A state the model never saw (a new market), an area code spelled 415.0, and a known row:
    the unseen category scores as its one-hot block of zeros, the rest as usual."""
    import numpy as np
    import xgboost

    from churn import features
    from churn.predict import score
    from churn.schema import canonical_table
    from churn.tables import read_raw

    header, first, second = SAMPLE_CSV.read_text().splitlines()[:3]
    cells = first.split(",")
    cells[0] = "XX"
    cells[2] = "415.0"
    (tmp_path / "new.csv").write_text("\n".join([header, ",".join(cells), second]) + "\n")
    scored = score(archive, tmp_path / "new.csv")
    assert scored.unseen == {"State": 1}
    known = canonical_table(read_raw(SAMPLE_CSV).head(1), require_label=False)
    matrix = features.feature_matrix(known)
    state_columns = [i for i, name in enumerate(features.feature_names()) if name.startswith("State=")]
    matrix[:, state_columns] = 0
    booster = xgboost.Booster()
    booster.load_model(archive_bytes(archive))
    assert np.isclose(scored.probabilities[0], booster.predict(xgboost.DMatrix(matrix))[0])
    assert score(archive, SAMPLE_CSV).unseen == {}
    bad = tmp_path / "bad.csv"
    cells[0], cells[2] = "KS", "41x"
    bad.write_text("\n".join([header, ",".join(cells)]) + "\n")
    with pytest.raises(SchemaError, match=r"column 'Area Code' has values outside its vocabulary at row 1: '41x'"):
        score(archive, bad)


def archive_bytes(path):
    import tarfile

    with tarfile.open(path) as tar:
        return bytearray(tar.extractfile("xgboost-model").read())


@pytest.fixture(scope="module")
def telco_models(tmp_path_factory):
    """A model of another layout (tests.test_dataset's telco spec, collected vocabularies):
    ``plain`` as a training job writes it, ``deployable`` as SelectModel ships it (with the
    spec and feature names), outside any run folder; and the table it was trained on."""
    import numpy as np
    import xgboost

    from churn import model_io
    from churn.steps import preprocess
    from churn.steps.select import features_document
    from tests.test_dataset import TELCO, telco_text

    root = tmp_path_factory.mktemp("telco")
    (root / "telco.csv").write_text(telco_text(300))
    (root / "spec.json").write_text(json.dumps(TELCO))
    preprocess.main(["--input", str(root / "telco.csv"), "--dataset", str(root / "spec.json"), "--output", str(root / "out")])
    data = np.genfromtxt(root / "out" / "train" / "train.csv", delimiter=",", missing_values="", filling_values=np.nan)
    booster = xgboost.train({"objective": "binary:logistic"}, xgboost.DMatrix(data[:, 1:], label=data[:, 0]), num_boost_round=5)
    plain = write_model_archive(root / "plain.tar.gz", bytes(booster.save_raw("json")))
    manifest = root / "out" / "manifest" / "manifest.json"
    model_io.write_with_features(plain, features_document(manifest), root / "deployable.tar.gz")
    return {"plain": plain, "deployable": root / "deployable.tar.gz", "table": root / "telco.csv", "manifest": manifest, "root": root}


def test_the_deployable_model_carries_its_layout(telco_models):
    """The model alone says which rows it scores: no --dataset, no run folder."""
    from click.testing import CliRunner

    from churn.cli import main
    from churn.dataset import spec_from_json
    from churn.predict import dataset_of, score

    resolved = spec_from_json(json.loads(telco_models["manifest"].read_text())["dataset"])
    assert dataset_of(telco_models["deployable"]) == resolved
    assert dataset_of(telco_models["plain"]) is None
    done = CliRunner().invoke(main, ["predict", "--model", str(telco_models["deployable"]), "--input", str(telco_models["table"])])
    assert done.exit_code == 0, done.output
    expected = score(telco_models["plain"], telco_models["table"], spec=resolved).probabilities
    assert [float(x) for x in done.output.split()] == [float(x) for x in expected]
    # the archive without the spec reads the rows as the churn.txt layout and says how to fix it
    done = CliRunner().invoke(main, ["predict", "--model", str(telco_models["plain"]), "--input", str(telco_models["table"])])
    assert done.exit_code == 2 and "give --dataset" in done.output


def test_a_dataset_that_is_not_the_models_layout_is_refused(telco_models, tmp_path):
    from click.testing import CliRunner

    from churn.cli import main
    from churn.dataset import DEFAULT_SPEC
    from churn.predict import LayoutMismatchError, dataset_of

    (tmp_path / "default.json").write_text(json.dumps(DEFAULT_SPEC.to_json()))
    with pytest.raises(LayoutMismatchError, match=r"--dataset .*default.json is not the layout the model was trained on .*'telco'\): leave --dataset out"):
        dataset_of(telco_models["deployable"], tmp_path / "default.json")
    done = CliRunner().invoke(main, ["predict", "--model", str(telco_models["deployable"]), "--input", str(SAMPLE_CSV),
                                     "--dataset", str(tmp_path / "default.json")])
    assert done.exit_code == 2 and "leave --dataset out" in done.output and "Traceback" not in done.output
    # the run's own manifest (the same layout under its own name) is accepted
    assert dataset_of(telco_models["deployable"], telco_models["manifest"]) is not None


def test_a_features_document_that_does_not_match_its_spec_is_refused(telco_models, tmp_path):
    from churn import model_io
    from churn.predict import dataset_of

    document = model_io.read_features(telco_models["deployable"])
    model_io.write_with_features(telco_models["plain"], {**document, "feature_names": document["feature_names"][:-1]}, tmp_path / "m.tar.gz")
    with pytest.raises(ModelArtifactError, match="names other features than churn makes from its dataset spec"):
        dataset_of(tmp_path / "m.tar.gz")
    model_io.write_with_features(telco_models["plain"], {**document, "dataset": {"name": "x"}}, tmp_path / "n.tar.gz")
    with pytest.raises(ModelArtifactError, match=r"n.tar.gz: churn/features.json: "):
        dataset_of(tmp_path / "n.tar.gz")


def test_rows_of_another_layout_name_the_models_layout(telco_models):
    from click.testing import CliRunner

    from churn.cli import main

    done = CliRunner().invoke(main, ["predict", "--model", str(telco_models["deployable"]), "--input", str(SAMPLE_CSV)])
    assert done.exit_code == 2
    assert done.output.startswith("error: missing required column(s): 'gender', ")
    assert done.output.rstrip().endswith("(the layout the model was trained on: dataset spec 'telco')")


def test_a_dataset_of_the_same_layout_is_accepted_however_it_is_written(telco_models, tmp_path):
    """The spec file the model was trained with (vocabularies still collected), label values in
    another order, other dropped columns, another name: the same rows, so accepted; another
    column type or vocabulary is refused."""
    from churn.predict import LayoutMismatchError, dataset_of
    from tests.test_dataset import TELCO

    variants = {
        "as-trained.json": TELCO,
        "reordered.json": {**TELCO, "name": "other", "label": {**TELCO["label"], "positive": ["Yes"], "negative": ["No"]}, "drop": []},
    }
    for name, document in variants.items():
        (tmp_path / name).write_text(json.dumps(document))
        assert dataset_of(telco_models["deployable"], tmp_path / name).name == "telco", name
    refused = {
        "numeric.json": {**TELCO, "columns": [*TELCO["columns"][:2], {"name": "tenure", "type": "categorical", "vocabulary": "collect"}, *TELCO["columns"][3:]]},
        "vocabulary.json": {**TELCO, "columns": [{"name": "gender", "type": "categorical", "vocabulary": ["F", "M"]}, *TELCO["columns"][1:]]},
        "missing.json": {**TELCO, "missing_values": [""]},
    }
    for name, document in refused.items():
        (tmp_path / name).write_text(json.dumps(document))
        with pytest.raises(LayoutMismatchError):
            dataset_of(telco_models["deployable"], tmp_path / name)
