"""Scoring requests of raw customer rows, as SageMaker's hosting contract carries them.

An endpoint's ``POST /invocations`` body is ``text/csv`` rows of the model's dataset spec (with
or without a header row; the label column may be there or not) or ``application/json`` records
(``[{"State": "KS", ...}, ...]``, or ``{"instances": [...]}``); the answer is one churn
probability per row, as ``text/csv`` lines or, when ``Accept`` asks for it, ``application/json``
(``{"predictions": [{"score": p}, ...]}``, the SageMaker XGBoost container's JSON form).

A headerless CSV row holds the spec's feature columns in the spec's order, optionally followed
by the label. Rows then go through :func:`churn.predict.score_rows`, the code ``churn predict``
runs, so a bad row gets the same message. Pure: bytes in, a table or bytes out.
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd

from churn.dataset import DatasetSpec

CSV = "text/csv"
JSON = "application/json"
#: The largest request body accepted (SageMaker's real-time endpoints take at most 6 MB).
MAX_BODY = 6 * 1024 * 1024


class RequestError(ValueError):
    """A request that cannot be read as rows (its message is the 4xx response's body)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def media_type(header: str | None, default: str = CSV) -> str:
    return (header or default).split(";")[0].strip().lower() or default


def request_rows(body: bytes, content_type: str | None, spec: DatasetSpec) -> pd.DataFrame:
    """The raw rows of a request (every value a string, as a raw file reads), indexed 0.."""
    kind = media_type(content_type)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RequestError(f"the request is not UTF-8 text (byte offset {error.start})") from None
    if kind == CSV:
        frame = _csv_rows(text, spec)
    elif kind == JSON:
        frame = _json_rows(text)
    else:
        raise RequestError(f"unsupported content type {kind!r}: send {CSV} or {JSON}", 415)
    if frame.empty:
        raise RequestError("the request has no rows")
    return frame.reset_index(drop=True)


def _csv_rows(text: str, spec: DatasetSpec) -> pd.DataFrame:
    try:
        rows = [row for row in csv.reader(io.StringIO(text)) if row and not (len(row) == 1 and not row[0].strip())]
    except csv.Error as error:
        raise RequestError(f"the request is not CSV: {error}") from None
    if not rows:
        return pd.DataFrame()
    first = [field.strip() for field in rows[0]]
    if {c.name for c in spec.columns} & set(first):  # a header row: columns by name (others are left out, as in a file)
        names, rows = first, rows[1:]
    else:
        names = [c.name for c in spec.columns]
        widths = {len(row) for row in rows}
        allowed = (len(names), len(names) + 1)
        odd = next((i for i, row in enumerate(rows) if len(row) not in allowed), None)
        if odd is not None:
            raise RequestError(
                f"row {odd + 1} has {len(rows[odd])} fields; a row without a header holds the {len(names)} feature columns "
                f"of dataset spec {spec.name!r} ({', '.join(names)}), optionally followed by {spec.label!r}"
            )
        if max(widths) == len(names) + 1:
            names = [*names, spec.label]
            rows = [row if len(row) == len(names) else [*row, ""] for row in rows]
    if any(len(row) != len(names) for row in rows):
        bad = next(i for i, row in enumerate(rows) if len(row) != len(names))
        raise RequestError(f"row {bad + 1} has {len(rows[bad])} fields; the header has {len(names)}")
    return pd.DataFrame(rows, columns=names, dtype=str)


def _json_rows(text: str) -> pd.DataFrame:
    try:
        document = json.loads(text)
    except ValueError as error:
        raise RequestError(f"the request is not JSON: {error}") from None
    records = document.get("instances", [document]) if isinstance(document, dict) else document
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise RequestError('send JSON records: [{"column": value, ...}, ...] or {"instances": [...]}')
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(map(str, record)))
    return pd.DataFrame([[_text(r.get(name)) for name in names] for r in records], columns=list(names), dtype=str)


def _text(value: object) -> str:
    """A JSON value as a raw file spells it: null is missing (empty), true/false as words."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        raise RequestError(f"a value must be a number, a string or null, got {json.dumps(value)[:80]}")
    return str(value)


def response_body(probabilities: np.ndarray, accept: str | None) -> tuple[bytes, str]:
    """The answer in the form ``Accept`` asks for (``text/csv`` unless it names JSON)."""
    values = [float(p) for p in np.ravel(probabilities)]
    if accept and JSON in accept.lower() and CSV not in accept.lower():
        return json.dumps({"predictions": [{"score": v} for v in values]}).encode(), JSON
    return "".join(f"{v!r}\n" for v in values).encode(), CSV
