"""``serve``: the XGBoost algorithm's inference server (SageMaker hosting contract).

``GET /ping`` answers 200 once the model is loaded; ``POST /invocations`` answers one score per
row. A model whose archive carries its dataset spec (``churn/features.json``, in every model a
churn run selects) takes raw customer rows, ``text/csv`` or ``application/json``
(:mod:`churn.serving`), through the feature code ``churn predict`` runs; any other model takes
``text/csv`` rows of features (no label, no header), as SageMaker's XGBoost container does. The model is read from
``/opt/ml/model`` (``xgboost-model``, in one of XGBoost's own formats: JSON, UBJSON or legacy
binary, as this project's image and the official SageMaker XGBoost 1.3-1 and later write it).

A pickled model (SageMaker XGBoost before 1.3-1) is refused: loading a pickle can run arbitrary
code. Set ``CHURN_ALLOW_PICKLED_MODEL=1`` in the container's environment to load one anyway,
only for a model you trained yourself.
"""

from __future__ import annotations

import io
import os
import signal
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from churn.algorithm.train import missing_or_float
from churn.model_io import ENV_OPT_IN, MODEL_FILE, ModelArtifactError, booster_from_bytes, pickle_allowed_by_environment

MODEL_DIR = Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
PORT = int(os.environ.get("SAGEMAKER_BIND_TO_PORT", "8080"))
#: The largest request body (SageMaker's real-time endpoints take at most 6 MB).
MAX_BODY = 6 * 1024 * 1024


def parse_csv_rows(body: bytes) -> np.ndarray:
    """Feature rows from a text/csv request body; ``ValueError`` names a bad row."""
    text = body.decode()  # UTF-8
    rows = [line for line in text.splitlines() if line.strip()]
    if not rows:
        raise ValueError("the request has no rows")
    text = "\n".join(rows)
    try:
        try:
            return np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2)  # float64
        except ValueError:  # empty fields are missing values, as in training
            return np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2, converters=missing_or_float)
    except ValueError as error:
        raise ValueError(f"rows must be numeric CSV features: {error}") from None


def format_scores(scores: np.ndarray) -> bytes:
    return "".join(f"{float(s)!r}\n" for s in np.ravel(scores)).encode()


def make_handler(booster, spec=None):
    """The request handler of ``booster``; with ``spec`` (the dataset spec the model carries) it
    takes raw customer rows."""
    class Handler(BaseHTTPRequestHandler):
        server_version = "churn-xgboost"

        def send_answer(self, status: int, body: bytes, content_type: str = "text/plain", headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/ping":
                self.send_answer(HTTPStatus.OK, b"")
            else:
                self.send_answer(HTTPStatus.NOT_FOUND, b"not found\n")

        def do_POST(self):
            if self.path != "/invocations":
                return self.send_answer(HTTPStatus.NOT_FOUND, b"not found\n")
            return _answer_request(self, booster, spec)

        def log_message(self, fmt, *args):  # keep container logs to one line per request
            print(f"{self.address_string()} {fmt % args}", flush=True)

    return Handler


#: The response header naming categories the model never saw (encoded as all zeros), with the
#: number of rows per column: ``State=2, Area Code=1`` (``churn predict`` prints it as a note).
UNSEEN_HEADER = "X-Churn-Unseen-Categories"


def answer_raw_rows(booster, spec, body: bytes, content_type: str | None, accept: str | None) -> tuple[int, bytes, str, dict]:
    """(status, body, content type, headers) of a request of raw customer rows: the
    probabilities, or a 4xx with the message ``churn predict`` gives for the same rows, or a 500
    naming an error of the server's own."""
    from churn import serving
    from churn.model_io import ModelArtifactError
    from churn.predict import score_rows
    from churn.schema import SchemaError

    try:
        serving.answer_type(accept)  # a 406 before any work
        scores = score_rows(booster, serving.request_rows(body, content_type, spec, booster.num_features()), spec)
        answer, kind = serving.response_body(scores.probabilities, accept)
    except serving.RequestError as error:
        return error.status, f"{error}\n".encode(), "text/plain", {}
    except SchemaError as error:
        return HTTPStatus.BAD_REQUEST, f"{error}\n".encode(), "text/plain", {}
    except ModelArtifactError as error:  # the model does not fit the code: the server's fault
        return HTTPStatus.INTERNAL_SERVER_ERROR, f"{error}\n".encode(), "text/plain", {}
    except Exception as error:  # noqa: BLE001 - every request gets an answer
        return HTTPStatus.INTERNAL_SERVER_ERROR, f"internal error: {type(error).__name__}: {error}\n".encode(), "text/plain", {}
    unseen = ", ".join(f"{name}={count}" for name, count in scores.unseen.items())
    return HTTPStatus.OK, answer, kind, ({UNSEEN_HEADER: unseen} if unseen else {})


def read_body(handler) -> bytes | None:
    """The request body; None (and a 400 or 413 sent) for a bad or too large length. A body over
    :data:`MAX_BODY` is read and dropped first, so a client still sending it hears why."""
    try:
        length = int(handler.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError(length)
    except ValueError:
        handler.send_answer(HTTPStatus.BAD_REQUEST, b"Content-Length must be a number of bytes\n")
        return None
    if length > MAX_BODY:
        remaining = min(length, 8 * MAX_BODY)  # more is not read: the connection closes after the answer
        while remaining > 0:
            chunk = handler.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            remaining -= len(chunk)
        handler.send_answer(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the request has {length} bytes; an endpoint takes at most {MAX_BODY}\n".encode())
        return None
    return handler.rfile.read(length)


def answer(booster, spec, body: bytes, content_type: str | None, accept: str | None) -> tuple[int, bytes, str, dict]:
    """(status, body, content type, headers) of one ``/invocations`` request, whoever serves it:
    this server, or the official XGBoost container's toolkit (:mod:`churn.algorithm.hosting`).

    With ``spec`` (a model that carries its dataset spec): raw customer rows, or, as SageMaker's
    XGBoost container takes them, headerless CSV rows of exactly the model's features. Without
    it: ``text/csv`` feature rows only."""
    from churn.serving import CSV, media_type

    if spec is None:
        kind = media_type(content_type)
        if kind != CSV:
            return HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"unsupported content type {kind}; send text/csv\n".encode(), "text/plain", {}
        return (*answer_feature_rows(booster, body), {})
    if is_feature_rows(body, content_type, booster.num_features(), spec):
        return (*answer_feature_rows(booster, body), {})
    return answer_raw_rows(booster, spec, body, content_type, accept)


def _answer_request(handler, booster, spec) -> None:
    body = read_body(handler)
    if body is None:
        return
    status, answer_body, kind, headers = answer(booster, spec, body, handler.headers.get("Content-Type"), handler.headers.get("Accept"))
    if headers:
        print(f"note: categories the model never saw, encoded as all zeros (rows per column): {headers[UNSEEN_HEADER]}", flush=True)
    handler.send_answer(status, answer_body, kind, headers)


def is_feature_rows(body: bytes, content_type: str | None, features: int, spec) -> bool:
    """Whether a text/csv body's first row is a row of the model's features (no raw row of the
    spec has that many fields)."""
    from churn.serving import CSV, media_type

    if media_type(content_type) != CSV or features in (len(spec.columns), len(spec.columns) + 1):
        return False
    first = next((line for line in body[:1 << 16].splitlines() if line.strip()), b"")
    return first.count(b",") + 1 == features


def answer_feature_rows(booster, body: bytes) -> tuple[int, bytes, str]:
    """(status, body, content type) of headerless numeric feature rows."""
    import xgboost

    expected = booster.num_features()
    try:
        features = parse_csv_rows(body)
        if features.shape[1] != expected:
            raise ValueError(f"each row needs {expected} features, got {features.shape[1]}")
    except (ValueError, UnicodeDecodeError) as error:
        return HTTPStatus.BAD_REQUEST, f"{error}\n".encode(), "text/plain"
    return HTTPStatus.OK, format_scores(booster.predict(xgboost.DMatrix(features))), "text/csv"


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # many clients at once queue rather than being refused


def load_model(model_dir: Path = MODEL_DIR, allow_pickle: bool | None = None):
    """The Booster in ``model_dir``; a pickled one only with ``allow_pickle`` (default: whether
    ``CHURN_ALLOW_PICKLED_MODEL`` is set), else ``PickledModelError`` and nothing is unpickled."""
    if allow_pickle is None:
        allow_pickle = pickle_allowed_by_environment()
    path = model_dir / MODEL_FILE
    if not path.exists():
        candidates = [p for p in model_dir.iterdir() if p.is_file()] if model_dir.is_dir() else []
        if len(candidates) != 1:
            raise FileNotFoundError(f"no {MODEL_FILE} in {model_dir}")
        path = candidates[0]
    return booster_from_bytes(path.read_bytes(), allow_pickle, source=str(path), opt_in=ENV_OPT_IN)


def load_spec(model_dir: Path = MODEL_DIR):
    """The dataset spec the model carries (``churn/features.json`` beside it), or None."""
    import json

    from churn.model_io import FEATURES_MEMBER
    from churn.predict import carried_spec

    path = model_dir / FEATURES_MEMBER
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelArtifactError(f"{path}: {error}") from None
    if not isinstance(document, dict):
        raise ModelArtifactError(f"{path} is not a features document")
    return carried_spec(document, str(path))


def main() -> None:
    try:
        booster = load_model()
        spec = load_spec()
    except (ModelArtifactError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)
    # docker stop (an endpoint deleted) sends SIGTERM to this process, PID 1: end at once.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = _Server(("0.0.0.0", PORT), make_handler(booster, spec))  # noqa: S104 - container port
    takes = f"raw rows of dataset spec {spec.name!r}" if spec is not None else "feature rows"
    print(f"serving {MODEL_DIR / MODEL_FILE} on port {PORT} ({takes})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
