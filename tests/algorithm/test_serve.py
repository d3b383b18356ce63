import threading
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

import numpy as np
import pytest
import xgboost

from churn.algorithm import serve


@pytest.fixture()
def server(trained_booster):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), serve.make_handler(trained_booster))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _post(url, body, content_type="text/csv"):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    return urllib.request.urlopen(request, timeout=10)


def test_ping(server):
    assert urllib.request.urlopen(f"{server}/ping", timeout=5).status == 200


def test_invocations_score_each_row(server, trained_booster, sample_splits):
    rows = (sample_splits / "test" / "test.csv").read_text().splitlines()[:3]
    features = "\n".join(",".join(r.split(",")[1:]) for r in rows)
    scores = [float(s) for s in _post(f"{server}/invocations", features.encode()).read().split()]
    expected = trained_booster.predict(xgboost.DMatrix(np.array([[float(v) for v in r.split(",")[1:]] for r in rows])))
    assert np.allclose(scores, expected)


@pytest.mark.parametrize(
    "body, content_type, status",
    [(b"1,2\n", "text/csv", 400), (b"", "text/csv", 400), (b"{}", "application/json", 415), (b"a,b\n", "text/csv", 400)],
)
def test_bad_requests(server, body, content_type, status):
    with pytest.raises(urllib.error.HTTPError) as error:
        _post(f"{server}/invocations", body, content_type)
    assert error.value.code == status


def test_load_model_reads_the_model_dir(tmp_path, trained_booster):
    (tmp_path / "xgboost-model").write_bytes(bytes(trained_booster.save_raw("json")))
    assert serve.load_model(tmp_path).num_boosted_rounds() == trained_booster.num_boosted_rounds()
    with pytest.raises(FileNotFoundError):
        serve.load_model(tmp_path / "empty")


def test_load_model_refuses_a_pickle_unless_the_environment_allows_it(tmp_path, trained_booster, monkeypatch):
    import pickle

    from churn.model_io import PickledModelError
    from tests.test_model_io import TouchOnLoad

    marker = tmp_path / "pwned"
    (tmp_path / "xgboost-model").write_bytes(pickle.dumps(TouchOnLoad(marker)))
    monkeypatch.delenv("CHURN_ALLOW_PICKLED_MODEL", raising=False)
    with pytest.raises(PickledModelError, match="set CHURN_ALLOW_PICKLED_MODEL=1 if you trust the file"):
        serve.load_model(tmp_path)
    assert not marker.exists()
    (tmp_path / "xgboost-model").write_bytes(pickle.dumps(trained_booster))
    with pytest.raises(PickledModelError):
        serve.load_model(tmp_path)
    monkeypatch.setenv("CHURN_ALLOW_PICKLED_MODEL", "1")
    assert serve.load_model(tmp_path).num_boosted_rounds() == trained_booster.num_boosted_rounds()


def test_the_server_exits_with_one_line_on_a_pickled_model(tmp_path):
    import os
    import pickle
    import subprocess
    import sys

    from tests.test_model_io import TouchOnLoad

    marker = tmp_path / "pwned"
    (tmp_path / "xgboost-model").write_bytes(pickle.dumps(TouchOnLoad(marker)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHURN_")}
    env.update(SM_MODEL_DIR=str(tmp_path), SAGEMAKER_BIND_TO_PORT="0")
    result = subprocess.run([sys.executable, "-m", "churn.algorithm.serve"], env=env, capture_output=True, text=True, timeout=60)
    assert not marker.exists()
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "the model file is a Python pickle" in lines[0], result.stderr
