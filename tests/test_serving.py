"""Raw customer rows in a scoring request (churn.serving), and the XGBoost image's server taking
them for a model that carries its dataset spec: the same probabilities as ``churn predict``."""

from __future__ import annotations

import json
import tarfile
import threading
import urllib.error
import urllib.request
from http.server import ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest

from churn.dataset import DEFAULT_SPEC
from churn.serving import RequestError, request_rows, response_body
from tests.conftest import SAMPLE_CSV

HEADER, *ROWS = SAMPLE_CSV.read_text().splitlines()
FEATURES = [c.name for c in DEFAULT_SPEC.columns]


def test_csv_rows_with_a_header_are_read_by_name_in_any_order():
    shuffled = ["Phone", *reversed(HEADER.split(","))]
    lines = [",".join(shuffled)] + [",".join(["555-1234", *reversed(row.split(","))]) for row in ROWS[:2]]
    frame = request_rows("\n".join(lines).encode(), "text/csv; charset=utf-8", DEFAULT_SPEC)
    assert frame["State"].tolist() == ["KS", "OH"] and frame["Phone"].tolist() == ["555-1234"] * 2
    assert list(frame.index) == [0, 1]


@pytest.mark.parametrize("with_label", [True, False])
def test_csv_rows_without_a_header_are_the_specs_features_then_maybe_the_label(with_label):
    rows = [row if with_label else row.rsplit(",", 1)[0] for row in ROWS[:3]]
    frame = request_rows(("\n".join(rows) + "\n\n").encode(), None, DEFAULT_SPEC)
    assert list(frame.columns) == FEATURES  # scoring leaves a label out
    assert frame.iloc[0].tolist()[:3] == ["KS", "128", "415"] and len(frame) == 3


def test_rows_with_and_without_a_label_score_alike_in_one_request():
    mixed = "\r".join([ROWS[0], ROWS[1].rsplit(",", 1)[0]])  # old Mac line ends, too
    assert list(request_rows(mixed.encode(), "text/csv", DEFAULT_SPEC).columns) == FEATURES
    records = [dict(zip(HEADER.split(","), row.split(","))) for row in ROWS[:2]]
    del records[1]["Churn?"]
    records[0] = {f" {key} ": value for key, value in records[0].items()}  # names stripped, as a header's
    frame = request_rows(json.dumps(records).encode(), "application/json", DEFAULT_SPEC)
    assert list(frame.columns) == FEATURES and frame["State"].tolist() == ["KS", "OH"]


def test_a_headerless_row_whose_value_equals_a_column_name_is_a_row():
    """A value that happens to be a column name ('State' as a state) does not make a header."""
    row = ROWS[0].split(",")
    row[0] = "State"
    frame = request_rows(",".join(row).encode(), "text/csv", DEFAULT_SPEC)
    assert len(frame) == 1 and frame["State"].tolist() == ["State"] and list(frame.columns) == FEATURES
    # A header as wide as a row, in another order, is still a header.
    shuffled = list(reversed(HEADER.split(",")))
    body = ",".join(shuffled) + "\n" + ",".join(reversed(ROWS[0].split(",")))
    assert request_rows(body.encode(), "text/csv", DEFAULT_SPEC)["State"].tolist() == ["KS"]


def test_a_header_naming_a_column_twice_is_refused():
    with pytest.raises(RequestError, match="column 'State' appears more than once in the header"):
        request_rows(f"{HEADER},State\n{ROWS[0]},KS\n".encode(), "text/csv", DEFAULT_SPEC)


def test_json_records_and_instances_become_raw_text_values():
    record = {"State": "KS", "Account Length": 128, "Day Mins": 265.1, "VMail Message": 25.0, "Int'l Plan": None, "x": True}
    for body in ([record], {"instances": [record]}, record):
        frame = request_rows(json.dumps(body).encode(), "application/json", DEFAULT_SPEC)
        assert frame.iloc[0].to_dict() == {
            "State": "KS", "Account Length": "128", "Day Mins": "265.1", "VMail Message": "25", "Int'l Plan": "", "x": "True",
        }


@pytest.mark.parametrize(
    ("body", "content_type", "says", "status"),
    [
        (b"", "text/csv", "the request has no rows", 400),
        (b"KS,128\n", "text/csv", "row 1 has 2 fields; a row without a header holds the 19 feature columns", 400),
        (b"\xff\xfe", "text/csv", r"not UTF-8 text \(byte offset 0\)", 400),
        (b"[1, 2]", "application/json", "send JSON records", 400),
        (b"{nope", "application/json", "the request is not JSON", 400),
        (b'[{"State": [1]}]', "application/json", "a value must be a number, a string or null", 400),
        (b"x", "application/x-npy", "unsupported content type 'application/x-npy'", 415),
    ],
)
def test_a_request_that_is_not_rows_is_refused_with_its_reason(body, content_type, says, status):
    with pytest.raises(RequestError, match=says) as refused:
        request_rows(body, content_type, DEFAULT_SPEC)
    assert refused.value.status == status


def test_answers_are_csv_lines_unless_json_is_asked_for():
    from churn.serving import NotAcceptable

    scores = np.array([0.25, 0.5], dtype=np.float32)
    assert response_body(scores, None) == (b"0.25\n0.5\n", "text/csv")
    assert response_body(scores, "text/csv, application/json") == (b"0.25\n0.5\n", "text/csv")
    assert response_body(scores, "*/*")[1] == "text/csv"
    assert response_body(scores, "application/json;q=0.9, text/csv;q=0.5")[1] == "application/json"
    assert response_body(scores, "application/json; q=0, text/csv")[1] == "text/csv"
    for refused in ("application/jsonlines", "application/x-protobuf", "application/json;q=0"):
        with pytest.raises(NotAcceptable) as error:
            response_body(scores, refused)
        assert error.value.status == 406
    body, kind = response_body(scores, "application/json")
    assert kind == "application/json" and json.loads(body) == {"predictions": [{"score": 0.25}, {"score": 0.5}]}


# --- the image's server, in-process, on a deployable archive ------------------------------------


@pytest.fixture(scope="module")
def endpoint(candidate_outputs, tmp_path_factory):
    """SelectModel's deployable archive, unpacked as SageMaker unpacks it into /opt/ml/model,
    served by the XGBoost image's handler."""
    from churn.algorithm import serve

    archive = candidate_outputs / "selected" / "model" / "model.tar.gz"
    model_dir = tmp_path_factory.mktemp("opt-ml-model")
    with tarfile.open(archive) as tar:
        tar.extractall(model_dir, filter="data")
    spec = serve.load_spec(model_dir)
    assert spec is not None and spec.name == DEFAULT_SPEC.name
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), serve.make_handler(serve.load_model(model_dir), spec))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/invocations", archive
    httpd.shutdown()


def _post(url: str, body: bytes, content_type: str, accept: str | None = None):
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
    return urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=30)


def test_served_scores_equal_churn_predicts_for_csv_and_json(endpoint, tmp_path):
    from churn.predict import churn_probabilities

    url, archive = endpoint
    rows = "\n".join([HEADER, *ROWS[:40]]) + "\n"
    (tmp_path / "rows.csv").write_text(rows)
    expected = churn_probabilities(archive, tmp_path / "rows.csv", spec=DEFAULT_SPEC)
    with _post(url, rows.encode(), "text/csv") as answer:
        assert answer.headers["Content-Type"] == "text/csv"
        assert np.array_equal(np.array(answer.read().split(), dtype=np.float32), expected)
    headerless = "\n".join(row.rsplit(",", 1)[0] for row in ROWS[:40]).encode()  # no header, no label
    assert np.array_equal(np.array(_post(url, headerless, "text/csv").read().split(), dtype=np.float32), expected)
    records = pd.read_csv(tmp_path / "rows.csv", dtype=str, keep_default_na=False).to_dict(orient="records")
    with _post(url, json.dumps(records).encode(), "application/json", accept="application/json") as answer:
        scores = [p["score"] for p in json.loads(answer.read())["predictions"]]
    assert np.array_equal(np.array(scores, dtype=np.float32), expected)


def test_a_bad_row_gets_a_400_with_churn_predicts_message(endpoint, tmp_path):
    from churn.predict import churn_probabilities
    from churn.schema import SchemaError

    url, archive = endpoint
    bad = "\n".join([HEADER, ROWS[0], ROWS[1].replace(",415,", ",abc,", 1)]) + "\n"
    (tmp_path / "bad.csv").write_text(bad)
    with pytest.raises(SchemaError) as predicted:
        churn_probabilities(archive, tmp_path / "bad.csv", spec=DEFAULT_SPEC)
    with pytest.raises(urllib.error.HTTPError) as refused:
        _post(url, bad.encode(), "text/csv")
    assert refused.value.code == 400 and refused.value.read().decode() == f"{predicted.value}\n"
    with pytest.raises(urllib.error.HTTPError) as refused:
        _post(url, b"x", "application/x-npy")
    assert refused.value.code == 415


def _refused(url: str, body: bytes, headers: dict) -> tuple[int, str]:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=30)
    return refused.value.code, refused.value.read().decode()


def test_every_request_gets_an_answer_with_a_status(endpoint, monkeypatch):
    import http.client
    from urllib.parse import urlsplit

    from churn.algorithm import serve

    url, _ = endpoint
    csv_type = {"Content-Type": "text/csv"}
    assert _refused(url, f"{HEADER},State\n{ROWS[0]},KS\n".encode(), csv_type) == (
        400, "column 'State' appears more than once in the header\n")
    assert _refused(url, ROWS[0].encode(), {**csv_type, "Accept": "application/x-protobuf"})[0] == 406
    big = ("\n".join([HEADER, *ROWS]) + "\n").encode() * 3  # over 6 MB: refused, yet the client hears why
    big = big * (1 + (6 * 1024 * 1024) // len(big))
    assert _refused(url, big, csv_type)[0] == 413
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.putrequest("POST", parts.path)
    connection.putheader("Content-Type", "text/csv")
    connection.putheader("Content-Length", "abc")
    connection.endheaders()
    answer = connection.getresponse()
    assert (answer.status, answer.read()) == (400, b"Content-Length must be a number of bytes\n")
    monkeypatch.setattr("churn.predict.score_rows", lambda *args: (_ for _ in ()).throw(RuntimeError("boom")))
    assert _refused(url, ROWS[0].encode(), csv_type) == (500, "internal error: RuntimeError: boom\n")
    assert serve.UNSEEN_HEADER == "X-Churn-Unseen-Categories"


def test_categories_the_model_never_saw_are_named_in_a_header(endpoint):
    url, _ = endpoint
    rows = "\n".join([HEADER, ROWS[0].replace("KS,", "XX,", 1), ROWS[1]]).encode()
    with _post(url, rows, "text/csv") as answer:
        assert answer.status == 200 and len(answer.read().split()) == 2
        assert answer.headers["X-Churn-Unseen-Categories"] == "State=1"
    with _post(url, ("\n".join([HEADER, ROWS[1]])).encode(), "text/csv") as answer:
        assert "X-Churn-Unseen-Categories" not in answer.headers


def test_feature_rows_are_still_taken_as_sagemakers_xgboost_container_takes_them(endpoint, sample_splits):
    url, archive = endpoint
    from churn import model_io

    rows = (sample_splits / "test" / "test.csv").read_text().splitlines()[:5]
    features = "\n".join(row.split(",", 1)[1] for row in rows).encode()  # 73 numbers, no label
    booster = model_io.load_booster(archive, allow_pickle=False)
    import xgboost

    expected = booster.predict(xgboost.DMatrix(np.array([[float(v) for v in row.split(",")[1:]] for row in rows])))
    with _post(url, features, "text/csv") as answer:
        assert np.array_equal(np.array(answer.read().split(), dtype=np.float32), expected)


def test_an_endpoint_refuses_a_port_in_use():
    import socket

    from churn.runner.endpoint import EndpointError, _require_free

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EndpointError, match=f"port {port} is in use .*: choose another with --port"):
            _require_free(port)
    _require_free(port)  # free again
