import pickle

import numpy as np
import pytest

from churn.model_io import ModelArtifactError, load_booster
from tests.conftest import write_model_archive


@pytest.mark.parametrize("fmt", ["json", "ubj", "pickle"])
def test_loads_native_and_pickled_boosters(tmp_path, trained_booster, fmt):
    if fmt == "pickle":
        data = pickle.dumps(trained_booster)
    else:
        data = bytes(trained_booster.save_raw(raw_format=fmt))
    archive = write_model_archive(tmp_path / "model.tar.gz", data)
    import xgboost

    features = xgboost.DMatrix(np.zeros((3, 73)))
    assert np.allclose(load_booster(archive).predict(features), trained_booster.predict(features))


def test_single_differently_named_member_is_accepted(tmp_path, trained_booster):
    archive = write_model_archive(tmp_path / "model.tar.gz", bytes(trained_booster.save_raw("json")), "model.json")
    assert load_booster(archive).num_boosted_rounds() == 20


def test_garbage_model_file(tmp_path):
    archive = write_model_archive(tmp_path / "model.tar.gz", b"{not a model")
    with pytest.raises(ModelArtifactError, match="not an XGBoost model file"):
        load_booster(archive)


def test_pickle_of_something_else(tmp_path):
    archive = write_model_archive(tmp_path / "model.tar.gz", pickle.dumps({"a": 1}))
    with pytest.raises(ModelArtifactError, match="not an XGBoost Booster"):
        load_booster(archive)


def test_not_an_archive(tmp_path):
    path = tmp_path / "model.tar.gz"
    path.write_bytes(b"plain text")
    with pytest.raises(ModelArtifactError, match="cannot read model archive"):
        load_booster(path)
