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
