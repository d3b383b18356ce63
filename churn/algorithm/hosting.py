"""churn's model on a SageMaker endpoint of the official XGBoost image (the cloud backend).

SageMaker's XGBoost 1.7-1 image serves in one of two modes. In algorithm mode it takes headerless
CSV rows of the model's features only. In script mode, chosen by the model's ``SAGEMAKER_PROGRAM``
environment, its serving toolkit (sagemaker-containers) downloads ``SAGEMAKER_SUBMIT_DIRECTORY``
(churn's staged code archive) and calls the program's ``model_fn`` once and ``transform_fn`` for
each ``/invocations`` request. The cloud backend's model and model package set that environment,
so a churn endpoint on SageMaker answers raw customer rows with the code ``churn serve`` runs
locally (:func:`churn.algorithm.serve.answer`): the same formats, scores and messages.

Read from sagemaker-containers 2.8.6 (``_transformer.Transformer.transform``): a tuple return is
sent as (body, content type) with status 200; anything else must be the toolkit's own response,
which is what ``transform_fn`` returns (tests/parity/test_official_stacks.py runs it there).
The request body arrives as text for text/csv and application/json (decoded with errors
replaced), bytes otherwise: the handler reads the request's own bytes, so a body that is not
UTF-8 gets ``churn serve``'s 400 rather than scores of replacement characters.
"""

from __future__ import annotations

from pathlib import Path

from churn.algorithm import serve


def model_fn(model_dir: str):
    """The Booster in ``model_dir`` and the dataset spec beside it (None for a model without
    one, which then takes feature rows only). A pickled model is refused, as by ``serve``."""
    folder = Path(model_dir)
    return serve.load_model(folder), serve.load_spec(folder)


def transform_fn(model, body, content_type: str | None, accept: str | None):
    """One request: the toolkit's response carrying ``churn serve``'s status, content type
    (as is: a tuple's type would get ``; charset=utf-8``) and header naming unseen categories."""
    booster, spec = model
    status, answer, kind, headers = serve.answer(booster, spec, _request_bytes(body), _request_type(content_type), accept)
    if headers:
        unseen = headers[serve.UNSEEN_HEADER]
        print(f"note: categories the model never saw, encoded as all zeros (rows per column): {unseen}", flush=True)
        # InvokeEndpoint passes a container's headers on only as this one (its CustomAttributes).
        headers = {**headers, CUSTOM_ATTRIBUTES: f"{serve.UNSEEN_HEADER}: {unseen}"}
    return _response(answer, int(status), kind, headers)


#: The response header SageMaker returns to an InvokeEndpoint caller as ``CustomAttributes``.
CUSTOM_ATTRIBUTES = "X-Amzn-SageMaker-Custom-Attributes"


def _request_type(content_type: str | None) -> str | None:
    """The request's Content-Type as sent: the toolkit says application/json for a request that
    names none, where ``churn serve`` reads CSV (InvokeEndpoint's ContentType is optional)."""
    try:
        from flask import request

        if request.headers.get("ContentType") is None and request.headers.get("Content-Type") is None:
            return None
    except Exception:  # noqa: BLE001, S110 - outside a request: the type the toolkit gave
        pass
    return content_type


def _request_bytes(body) -> bytes:
    """The request body as sent. The toolkit hands text/csv and application/json bodies over as
    text, decoded with undecodable bytes replaced; its own request object, which Werkzeug records
    in the WSGI environment, still holds the bytes it read."""
    if not isinstance(body, str):
        return bytes(body or b"")
    try:
        from flask import request

        read = request.environ.get("werkzeug.request")  # the toolkit's Request: it read the body
        raw = read.get_data() if read is not None else None  # cached by that read: no second one
    except Exception:  # noqa: BLE001 - outside a request, or another Werkzeug: the text it gave
        raw = None
    if isinstance(raw, bytes) and raw.decode("utf-8", "replace") == body:
        return raw
    return body.encode("utf-8")


def _response(body: bytes, status: int, content_type: str, headers: dict):
    """The serving toolkit's response class (a Flask response), present in the official image."""
    from sagemaker_containers.beta.framework import worker

    # The type as a header, not a mimetype: Werkzeug adds a charset to a text/* mimetype.
    return worker.Response(response=body, status=status, headers={"Content-Type": content_type, **headers})
