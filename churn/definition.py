"""Compiling the step graph to a pipeline definition.

Compiling is pure: no AWS account, no credentials, no network (the backends make sure of it).
(The comparison of two definitions against the reviewed allow-list is test code:
``tests/definition_diff.py``.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

#: The step a ``{"Get": "Steps.<step>.…"}`` reference reads.
_STEP_REFERENCE = re.compile(r"Steps\.(\w+)\.")


def compile_definition(backend_name: str, parameter_defaults: dict | None = None, *, tuning: bool = True, **settings) -> dict:
    """The pipeline definition (parsed JSON) for a backend, with parameter defaults replaced
    (``tuning=False``: without the tuning branch).

    The backend is built ``compile_only``: its credentials are inert, nothing is sent to AWS."""
    from churn.backends import get_backend
    from churn.pipeline import build_pipeline

    backend = get_backend(backend_name, compile_only=True, **settings)
    backend.tuning = tuning
    return json.loads(build_pipeline(backend, parameter_defaults).definition())


def has_tuning(definition: dict) -> bool:
    """Whether a compiled definition has the tuning branch (a Tuning step)."""
    return any(step.get("Type") == "Tuning" for step in definition.get("Steps", []))


def sizes_training(definition: dict) -> bool:
    """Whether a compiled definition's training steps take their instance type from
    PreprocessData's manifest (``TrainingInstanceType=auto`` means something to it)."""
    return any(f.get("PropertyFileName") == "Manifest" for step in definition.get("Steps", []) for f in step.get("PropertyFiles", []))


def step_names(definition: dict) -> list[str]:
    """Every step of a compiled definition, in its order, a condition's steps right after it
    (its if-steps, then its else-steps): the names a run's steps are recorded under."""
    return list(step_types(definition))


def step_types(definition: dict) -> dict[str, str]:
    """Step name -> its ``Type``, for every step of a compiled definition in :func:`step_names`' order."""
    types: dict[str, str] = {}

    def walk(steps: list[dict]) -> None:
        for step in steps:
            types[step["Name"]] = str(step.get("Type"))
            if step.get("Type") == "Condition":
                walk(step["Arguments"].get("IfSteps", []))
                walk(step["Arguments"].get("ElseSteps", []))

    walk(definition["Steps"])
    return types


def candidate_steps(run_dir: Path, kind: str) -> dict[str, str]:
    """Candidate -> the step whose output SelectModel's input ``<candidate>-<kind>`` reads
    (``kind``: "model" or "evaluation"), in the selection's order, as the run folder's
    ``definition.json`` says; empty when it cannot be read."""
    from churn.layout import SELECT_STEP

    try:
        definition = json.loads((run_dir / "definition.json").read_text())
        select = next(step for step in definition["Steps"] if step.get("Name") == SELECT_STEP)
        inputs = select["Arguments"]["ProcessingInputs"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError, StopIteration):
        return {}
    found = {}
    for item in inputs if isinstance(inputs, list) else []:
        source = (item.get("S3Input") or {}).get("S3Uri") if isinstance(item, dict) else None
        if isinstance(source, dict) and isinstance(source.get("Std:Join"), dict):  # a location joined around a step's property
            values = source["Std:Join"].get("Values") or []
            source = next((v for v in values if isinstance(v, dict) and str(v.get("Get", "")).startswith("Steps.")), None)
        matched = _STEP_REFERENCE.match(str(source.get("Get", ""))) if isinstance(source, dict) else None
        name = str(item.get("InputName", ""))
        if matched and name.endswith(f"-{kind}"):
            found[name.removesuffix(f"-{kind}")] = matched[1]
    return found
