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


def test_request_rows_are_parsed_or_the_problem_named():
    rows = serve.parse_csv_rows("1.5,2\n\n 3,4e-1\n".encode())
    assert rows.dtype == np.float64 and rows.tolist() == [[1.5, 2.0], [3.0, 0.4]]
    with pytest.raises(ValueError, match=r"^the request has no rows$"):
        serve.parse_csv_rows(b"\n  \n")
    with pytest.raises(ValueError, match=r"^rows must be numeric CSV features: .*'a'"):
        serve.parse_csv_rows(b"1,a\n")


def _response(url, body=None, content_type="text/csv"):
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type} if body is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_every_answer_carries_its_type_length_and_server_name(server, sample_splits):
    row = (sample_splits / "test" / "test.csv").read_text().splitlines()[0]
    features = ",".join(row.split(",")[1:]).encode()
    cases = {
        ("GET", "/ping"): (200, "text/plain", b""),
        ("GET", "/nowhere"): (404, "text/plain", b"not found\n"),
        ("POST", "/nowhere"): (404, "text/plain", b"not found\n"),
        ("POST", "/invocations"): (200, "text/csv", None),
    }
    for (method, path), (status, content_type, body) in cases.items():
        got_status, headers, got_body = _response(f"{server}{path}", features if method == "POST" else None)
        assert got_status == status, (method, path)
        assert headers["Content-Type"] == content_type and headers["Content-Length"] == str(len(got_body))
        assert headers["Server"].startswith("churn-xgboost ")
        if body is not None:
            assert got_body == body, (method, path)
    assert _response(f"{server}/invocations", b"{}", "application/json")[2] == b"unsupported content type application/json; send text/csv\n"
    assert _response(f"{server}/invocations", b"1,2\n")[2] == b"each row needs 73 features, got 2\n"


def test_a_body_over_the_limit_is_refused_unread(server, monkeypatch):
    monkeypatch.setattr(serve, "MAX_BODY", 10)
    status, _, body = _response(f"{server}/invocations", b"1," * 10)
    assert (status, body) == (413, b"the request has 20 bytes; an endpoint takes at most 10\n")


def test_main_serves_the_loaded_model_on_the_configured_port(monkeypatch, capsys, trained_booster):
    started = {}

    class FakeServer:
        def __init__(self, address, handler):
            started.update(address=address, handler=handler)

        def serve_forever(self):
            started["serving"] = True

    monkeypatch.setattr(serve, "load_model", lambda: trained_booster)
    monkeypatch.setattr(serve, "_Server", FakeServer)
    monkeypatch.setattr(serve, "PORT", 8123)
    handlers = {}
    monkeypatch.setattr(serve.signal, "signal", lambda number, handler: handlers.setdefault(number, handler))
    serve.main()
    with pytest.raises(SystemExit) as ended:  # docker stop: SIGTERM ends the server at once
        handlers[serve.signal.SIGTERM](serve.signal.SIGTERM, None)
    assert ended.value.code == 0
    assert started["address"] == ("0.0.0.0", 8123) and started["serving"]  # noqa: S104 - the address serve binds
    assert issubclass(started["handler"], serve.BaseHTTPRequestHandler)
    assert capsys.readouterr().out == f"serving {serve.MODEL_DIR / 'xgboost-model'} on port 8123 (feature rows)\n"


def test_main_exits_2_with_one_line_when_there_is_no_model(monkeypatch, capsys, tmp_path):
    def missing():
        raise FileNotFoundError(f"no xgboost-model in {tmp_path}")

    monkeypatch.setattr(serve, "load_model", missing)
    with pytest.raises(SystemExit) as exit_:
        serve.main()
    assert exit_.value.code == 2
    assert capsys.readouterr().err == f"error: no xgboost-model in {tmp_path}\n"


def _raw(server, request: bytes) -> tuple[int, bytes]:
    """Send a hand-written HTTP/1.0 request (no headers added by a client library)."""
    import socket
    from urllib.parse import urlparse

    address = urlparse(server)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(request)
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_a_request_without_type_or_length_is_csv_with_no_rows(server, sample_splits):
    assert _raw(server, b"POST /invocations HTTP/1.0\r\n\r\n") == (400, b"the request has no rows\n")
    row = (sample_splits / "test" / "test.csv").read_text().splitlines()[0]
    features = ",".join(row.split(",")[1:]).encode()
    request = b"POST /invocations HTTP/1.0\r\nContent-Length: %d\r\n\r\n%s" % (len(features), features)
    status, body = _raw(server, request)
    assert status == 200 and len(body.split()) == 1


def test_a_csv_type_with_parameters_is_accepted(server, sample_splits):
    row = (sample_splits / "test" / "test.csv").read_text().splitlines()[0]
    features = ",".join(row.split(",")[1:]).encode()
    assert _response(f"{server}/invocations", features, "text/csv;charset=utf-8")[0] == 200
    assert _response(f"{server}/invocations", features, "text/csv ; charset=utf-8")[0] == 200


def test_a_body_of_exactly_the_limit_is_read(server, monkeypatch):
    monkeypatch.setattr(serve, "MAX_BODY", 10)
    status, _, body = _response(f"{server}/invocations", b"1,2,3,4,5\n")
    assert (status, body) == (400, b"each row needs 73 features, got 5\n")


def test_each_request_is_logged_on_one_line(server, capsys):
    _response(f"{server}/ping")
    _response(f"{server}/nowhere")
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("127.0.0.1 ") and '"GET /ping HTTP/1.1" 200' in lines[0]
    assert '"GET /nowhere HTTP/1.1" 404' in lines[1]


def test_a_model_folder_with_one_other_file_serves_that_file(tmp_path, trained_booster):
    (tmp_path / "model.json").write_bytes(bytes(trained_booster.save_raw("json")))
    assert serve.load_model(tmp_path).num_boosted_rounds() == trained_booster.num_boosted_rounds()
    (tmp_path / "notes.txt").write_text("two files, neither named xgboost-model")
    with pytest.raises(FileNotFoundError, match=rf"^no xgboost-model in {tmp_path}$"):
        serve.load_model(tmp_path)
    (tmp_path / "xgboost-model").write_bytes(bytes(trained_booster.save_raw("ubj")))
    assert serve.load_model(tmp_path).num_boosted_rounds() == trained_booster.num_boosted_rounds()


def test_a_bad_model_file_is_named_by_its_path(tmp_path):
    from churn.model_io import ModelArtifactError

    (tmp_path / "xgboost-model").write_bytes(b"not a model")
    with pytest.raises(ModelArtifactError, match=rf"^{tmp_path / 'xgboost-model'}: not an XGBoost model file"):
        serve.load_model(tmp_path)


def test_a_model_folder_that_is_missing_or_a_file_is_named(tmp_path):
    """Both are the one-line 'no xgboost-model in ...' that main() prints before exiting 2."""
    with pytest.raises(FileNotFoundError, match=rf"^no xgboost-model in {tmp_path / 'missing'}$"):
        serve.load_model(tmp_path / "missing")
    (tmp_path / "model.tar.gz").write_bytes(b"not a folder")
    with pytest.raises(FileNotFoundError, match=rf"^no xgboost-model in {tmp_path / 'model.tar.gz'}$"):
        serve.load_model(tmp_path / "model.tar.gz")


def test_an_empty_field_of_a_request_is_a_missing_value():
    rows = serve.parse_csv_rows(b"1,,3\n4,5,\n")
    assert np.isnan(rows[0, 1]) and np.isnan(rows[1, 2]) and rows[1, :2].tolist() == [4, 5]
    with pytest.raises(ValueError, match=r"^rows must be numeric CSV features: "):
        serve.parse_csv_rows(b"1,,3\n4,x,\n")
