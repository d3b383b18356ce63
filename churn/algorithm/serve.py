"""``serve``: the XGBoost algorithm's inference server (SageMaker hosting contract).

``GET /ping`` answers 200 once the model is loaded; ``POST /invocations`` takes ``text/csv``
rows of features (no label, no header) and answers one score per line. The model is read from
``/opt/ml/model`` (``xgboost-model``, in one of XGBoost's own formats: JSON, UBJSON or legacy
binary, as this project's image and the official SageMaker XGBoost 1.3-1 and later write it).

A pickled model (SageMaker XGBoost before 1.3-1) is refused: loading a pickle can run arbitrary
code. Set ``CHURN_ALLOW_PICKLED_MODEL=1`` in the container's environment to load one anyway,
only for a model you trained yourself.
"""

from __future__ import annotations

import io
import os
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


def make_handler(booster):
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

        def log_message(self, fmt, *args):  # keep container logs to one line per request
            print(f"{self.address_string()} {fmt % args}", flush=True)

    return Handler


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


def main() -> None:
    try:
        booster = load_model()
    except (ModelArtifactError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)
    server = ThreadingHTTPServer(("0.0.0.0", PORT), make_handler(booster))  # noqa: S104 - container port
    print(f"serving {MODEL_DIR / MODEL_FILE} on port {PORT}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
