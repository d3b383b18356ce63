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
MAX_BODY = 64 * 1024 * 1024


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
    import xgboost

    expected = booster.num_features()

    class Handler(BaseHTTPRequestHandler):
        server_version = "churn-xgboost"

        def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if self.path == "/ping":
                self._send(HTTPStatus.OK, b"")
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n")

        def do_POST(self):
            if self.path != "/invocations":
                return self._send(HTTPStatus.NOT_FOUND, b"not found\n")
            return self._raw_rows() if spec is not None else self._feature_rows()

        def _feature_rows(self):
            content_type = (self.headers.get("Content-Type") or "text/csv").split(";")[0].strip()
            if content_type != "text/csv":
                return self._send(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"unsupported content type {content_type}; send text/csv\n".encode())
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"request too large\n")
            try:
                features = parse_csv_rows(self.rfile.read(length))
                if features.shape[1] != expected:
                    raise ValueError(f"each row needs {expected} features, got {features.shape[1]}")
            except (ValueError, UnicodeDecodeError) as error:
                return self._send(HTTPStatus.BAD_REQUEST, f"{error}\n".encode())
            scores = booster.predict(xgboost.DMatrix(features))
            self._send(HTTPStatus.OK, format_scores(scores), "text/csv")

        def _raw_rows(self):
            from churn.serving import MAX_BODY

            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:  # refused unread
                return self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the request has {length} bytes; an endpoint takes at most {MAX_BODY}\n".encode())
            self._send(*answer_raw_rows(booster, spec, self.rfile.read(length), self.headers.get("Content-Type"), self.headers.get("Accept")))

        def log_message(self, fmt, *args):  # keep container logs to one line per request
            print(f"{self.address_string()} {fmt % args}", flush=True)

    return Handler


def answer_raw_rows(booster, spec, body: bytes, content_type: str | None, accept: str | None) -> tuple[int, bytes, str]:
    """(status, body, content type) of a request of raw customer rows: the probabilities, or a
    4xx with the message ``churn predict`` gives for the same rows."""
    from churn import serving
    from churn.model_io import ModelArtifactError
    from churn.predict import score_rows
    from churn.schema import SchemaError

    try:
        if len(body) > serving.MAX_BODY:
            raise serving.RequestError(f"the request has {len(body)} bytes; an endpoint takes at most {serving.MAX_BODY}", 413)
        scores = score_rows(booster, serving.request_rows(body, content_type, spec), spec)
    except serving.RequestError as error:
        return error.status, f"{error}\n".encode(), "text/plain"
    except (SchemaError, ModelArtifactError) as error:
        return HTTPStatus.BAD_REQUEST, f"{error}\n".encode(), "text/plain"
    body, kind = serving.response_body(scores.probabilities, accept)
    return HTTPStatus.OK, body, kind


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
    server = ThreadingHTTPServer(("0.0.0.0", PORT), make_handler(booster, spec))  # noqa: S104 - container port
    takes = f"raw rows of dataset spec {spec.name!r}" if spec is not None else "feature rows"
    print(f"serving {MODEL_DIR / MODEL_FILE} on port {PORT} ({takes})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
