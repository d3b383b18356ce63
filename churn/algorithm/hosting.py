"""churn's model on a SageMaker endpoint of the official XGBoost image (the cloud backend).

SageMaker's XGBoost 1.7-1 image serves in one of two modes. In algorithm mode it takes headerless
CSV rows of the model's features only. In script mode, chosen by the model's ``SAGEMAKER_PROGRAM``
environment, its serving toolkit (sagemaker-containers) downloads ``SAGEMAKER_SUBMIT_DIRECTORY``
(churn's staged code archive) and calls the program's ``model_fn`` once and ``transform_fn`` for
each ``/invocations`` request. The cloud backend's model and model package set that environment,
so a churn endpoint on SageMaker answers raw customer rows with the code ``churn serve`` runs
locally (:func:`churn.algorithm.serve.answer`): the same formats, scores and messages.

Read from sagemaker-containers 2.8.6 (``_transformer.Transformer.transform``): a tuple return is
sent as (body, content type) with status 200; anything else must be the toolkit's own response.
The request body arrives as text for text/csv and application/json, bytes otherwise.
"""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

from churn.algorithm import serve


def model_fn(model_dir: str):
    """The Booster in ``model_dir`` and the dataset spec beside it (None for a model without
    one, which then takes feature rows only). A pickled model is refused, as by ``serve``."""
    folder = Path(model_dir)
    return serve.load_model(folder), serve.load_spec(folder)


def transform_fn(model, body, content_type: str | None, accept: str | None):
    """One request: ``(body, content type)`` for a 200, else the toolkit's response carrying
    the status (and the header naming unseen categories)."""
    booster, spec = model
    data = body.encode("utf-8") if isinstance(body, str) else bytes(body or b"")
    status, answer, kind, headers = serve.answer(booster, spec, data, content_type, accept)
    if status == HTTPStatus.OK and not headers:
        return answer, kind
    if headers:
        print(f"note: categories the model never saw, encoded as all zeros (rows per column): {headers[serve.UNSEEN_HEADER]}", flush=True)
    return _response(answer, int(status), kind, headers)


def _response(body: bytes, status: int, content_type: str, headers: dict):
    """The serving toolkit's response class (a Flask response), present in the official image."""
    from sagemaker_containers.beta.framework import worker

    return worker.Response(response=body, status=status, mimetype=content_type, headers=headers)
