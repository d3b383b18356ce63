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


class RequestError(ValueError):
    """A request that cannot be read as rows (its message is the 4xx response's body)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def media_type(header: str | None, default: str = CSV) -> str:
    return (header or default).split(";")[0].strip().lower() or default


def request_rows(body: bytes, content_type: str | None, spec: DatasetSpec, model_features: int | None = None) -> pd.DataFrame:
    """The raw rows of a request (every value a string, as a raw file reads), indexed 0..;
    ``model_features``, when the server also takes rows of the model's features, is named in the
    message for a row of another width."""
    kind = media_type(content_type)
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RequestError(f"the request is not UTF-8 text (byte offset {error.start})") from None
    if kind == CSV:
        frame = _csv_rows(text, spec, model_features)
    elif kind == JSON:
        frame = _without_label(_json_rows(text), spec)
    else:
        raise RequestError(f"unsupported content type {kind!r}: send {CSV} or {JSON}", 415)
    if frame.empty:
        raise RequestError("the request has no rows")
    return frame.reset_index(drop=True)


def _csv_rows(text: str, spec: DatasetSpec, model_features: int | None = None) -> pd.DataFrame:
    try:
        rows = [row for row in csv.reader(io.StringIO(text, newline="")) if row and not (len(row) == 1 and not row[0].strip())]
    except csv.Error as error:
        raise RequestError(f"the request is not CSV: {error}") from None
    if not rows:
        return pd.DataFrame()
    first = [field.strip() for field in rows[0]]
    if _is_header(first, spec):  # columns by name (others are left out, as in a file)
        names, rows = first, rows[1:]
        repeated = next((name for name in names if names.count(name) > 1), None)
        if repeated is not None:
            raise RequestError(f"column {repeated!r} appears more than once in the header")
    else:
        names = [c.name for c in spec.columns]
        widths = {len(row) for row in rows}
        allowed = (len(names), len(names) + 1)
        odd = next((i for i, row in enumerate(rows) if len(row) not in allowed), None)
        if odd is not None:
            raise RequestError(
                f"row {odd + 1} has {len(rows[odd])} fields; a row without a header holds the {len(names)} feature columns "
                f"of dataset spec {spec.name!r} ({', '.join(names)}), optionally followed by {spec.label!r}"
                + (f"; or the model's {model_features} feature values" if model_features else "")
            )
        if max(widths) == len(names) + 1:  # a label after the features: scoring leaves it out
            rows = [row[: len(names)] for row in rows]
    if any(len(row) != len(names) for row in rows):
        bad = next(i for i, row in enumerate(rows) if len(row) != len(names))
        raise RequestError(f"row {bad + 1} has {len(rows[bad])} fields; the header has {len(names)}")
    return _without_label(pd.DataFrame(rows, columns=names, dtype=str), spec)


def _is_header(first: list[str], spec: DatasetSpec) -> bool:
    """Whether a request's first CSV row is a header: it names some of the spec's columns and,
    when it is as wide as a headerless row, names them in most of its fields (a customer row
    whose value happens to equal a column name is still a row)."""
    known = {c.name for c in spec.columns} | {spec.label}
    named = sum(field in known for field in first)
    if not named:
        return False
    return len(first) not in (len(spec.columns), len(spec.columns) + 1) or 2 * named > len(first)


def _without_label(frame: pd.DataFrame, spec: DatasetSpec) -> pd.DataFrame:
    """Scoring needs no label: rows with and without one score alike."""
    return frame.drop(columns=[spec.label], errors="ignore")


def _json_rows(text: str) -> pd.DataFrame:
    try:
        document = json.loads(text)
    except ValueError as error:
        raise RequestError(f"the request is not JSON: {error}") from None
    records = document.get("instances", [document]) if isinstance(document, dict) else document
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise RequestError('send JSON records: [{"column": value, ...}, ...] or {"instances": [...]}')
    records = [{str(key).strip(): value for key, value in record.items()} for record in records]  # names as a header's
    names: dict[str, None] = {}
    for record in records:
        names.update(dict.fromkeys(record))
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


class NotAcceptable(RequestError):
    def __init__(self, accept: str):
        super().__init__(f"cannot answer in {accept!r}: accept {CSV} or {JSON}", 406)


def answer_type(accept: str | None) -> str:
    """The media type to answer in: the first of ``text/csv`` and ``application/json`` that
    ``Accept`` allows (by its order and q values; none or ``*/*``: CSV)."""
    if not accept or not accept.strip():
        return CSV
    ranked = []
    for position, item in enumerate(accept.split(",")):
        kind, *options = (part.strip() for part in item.split(";"))
        quality = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, position, kind.lower()))
    for _, _, kind in sorted(ranked):
        if kind in (CSV, "text/*", "*/*"):
            return CSV
        if kind == JSON:
            return JSON
    raise NotAcceptable(accept)


def response_body(probabilities: np.ndarray, accept: str | None) -> tuple[bytes, str]:
    """The answer in the form ``Accept`` asks for (:func:`answer_type`)."""
    values = [float(p) for p in np.ravel(probabilities)]
    if answer_type(accept) == JSON:
        return json.dumps({"predictions": [{"score": v} for v in values]}).encode(), JSON
    return "".join(f"{v!r}\n" for v in values).encode(), CSV
