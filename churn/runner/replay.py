"""Replay records: a no-op re-run of a local run without the SageMaker SDK.

A local run that succeeded leaves ``runs/.replay/<digest>.json``: what its execution did, step
by step (each job step's resolved request, cache key and outputs; a tuning step's proposals; the
gate's comparison; the registration's arguments), with the compiled definition and the
parameters after defaults. The digest covers everything that decides that compiled definition
and those requests: churn's version and source, the SDK's version, the step code bundle, the
dataset spec, the backend's settings and images, the tuning flag, the parameters after
defaults, the input's path and sha256 (:func:`replay_digest`).

The next ``churn run`` with the same digest (:func:`churn.runner.local.replay_local`) checks,
before materialising anything, that every step's cache entry is still valid (the step cache's
own check: every file's sha256) and that each image still has the content id the keys were
computed with; then it runs the recorded job steps through the same ``run_job`` as a normal
run, with a cache that serves only the recorded keys (:class:`ReplayCache`), so every key is
computed again from the request and the input contents as the normal path computes it. Anything
else (no record, a damaged or missing entry, a changed image, a key that comes out different)
is not provably unchanged: the run takes the full path, which compiles with the SDK.

Nothing here imports the SDK.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping
from importlib import metadata
from pathlib import Path

from churn import __version__
from churn.files import file_sha256
from churn.layout import PACKAGE_DIR, REPLAY_DIR
from churn.parameters import specs
from churn.runner.step_cache import StepCache
from churn.atomic import write_lines_atomically

#: The replay record's layout: a record of another format is no record.
FORMAT = 1
#: The step kinds a record holds besides the job kinds ("processing", "training").
TUNING, CONDITION, REGISTER, OTHER = "tuning", "condition", "register", "other"


class NotReplayable(Exception):
    """Raised in the middle of a replay when a step does not end as recorded (its cache key is
    not the recorded one, say): the run folder is removed and the full path runs."""


def _source_hash() -> str:
    """sha256 over churn's own source (every module: the pipeline, its backends, the steps)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if "__pycache__" not in path.parts:
            digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode() + b"\0" + bytes.fromhex(file_sha256(path)))
    return digest.hexdigest()


def _sdk_version() -> str | None:
    try:
        return metadata.version("sagemaker")
    except metadata.PackageNotFoundError:
        return None


def replay_digest(backend, parameters: Mapping[str, object], requested_input: str, input_sha256: str) -> str:
    """The digest of what decides a local run's compiled definition and its steps' requests:
    ``backend`` (a :class:`~churn.backends.local.LocalBackend`), the parameter overrides (InputData
    aside: ``requested_input`` and its content, ``input_sha256``, stand for it)."""
    from churn.backends.code_bundle import bundle_hash

    given = {name: value for name, value in parameters.items() if name != "InputData"}
    document = {
        "format": FORMAT,
        "churn": __version__,
        "source": _source_hash(),
        "sdk": _sdk_version(),
        "code": backend.code_version or bundle_hash(backend.dataset),
        "dataset": backend.dataset.to_json(),
        "tuning": backend.tuning,
        "backend": {
            "images": dataclasses.asdict(backend.images), "role": backend.role_arn, "artifacts": backend.artifact_root,
            "code_root": backend.code_root, "processing": backend.processing_instance_type,
            "training": backend.training_instance_type, "group": backend.model_package_group, "runs": str(backend.runs_dir),
        },
        "parameters": {**{s.name: s.default for s in specs(backend.tuning) if s.name != "InputData"}, **given},
        "input": [requested_input, input_sha256],
    }
    return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()


def record_path(runs_dir: Path, digest: str) -> Path:
    return runs_dir / REPLAY_DIR / f"{digest[:32]}.json"


def write_record(runs_dir: Path, digest: str, record: dict) -> None:
    """Write the replay record of ``digest`` (atomically: a reader sees the old one or the new one)."""
    (runs_dir / REPLAY_DIR).mkdir(parents=True, exist_ok=True)
    write_lines_atomically(record_path(runs_dir, digest), [json.dumps({"format": FORMAT, "digest": digest, **record}, default=str)])


def read_record(runs_dir: Path, digest: str) -> dict | None:
    """The replay record of ``digest``; None when there is none or it is damaged (no replay)."""
    try:
        record = json.loads(record_path(runs_dir, digest).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT or record.get("digest") != digest:
        return None
    if not all(isinstance(record.get(key), kind) for key, kind in (
        ("execution_id", str), ("definition", str), ("parameters", dict), ("steps", list), ("images", dict), ("keys", dict),
    )):
        return None
    return record


def _image(entry: dict) -> str:
    args = entry["args"]
    return args["AppSpecification"]["ImageUri"] if entry["kind"] == "processing" else args["AlgorithmSpecification"]["TrainingImage"]


def build_record(
    *, execution_id: str, definition: str, parameters: dict, finished: list, journal: list[dict], register_args: dict | None,
    image_id,
) -> dict | None:
    """A succeeded execution's replay record, or None when it cannot be replayed (a job step
    that ran without the cache has no key). ``finished``: its StepFinished events in their
    order; ``journal``: what its job and tuning steps ran (:class:`~churn.runner.local_jobs.LocalRun`'s);
    ``register_args``: what its RegisterModel step registered; ``image_id``: the step cache's
    image content ids (each job's key holds its image's)."""
    from churn.definition import step_types

    kinds = step_types(json.loads(definition))
    jobs = {entry["step"]: entry for entry in journal}
    runs = [entry for entry in journal if entry["kind"] != TUNING]
    if any(not entry["key"] for entry in runs):
        return None
    steps = []
    for event in finished:
        entry = jobs.get(event.step)
        if entry is not None:
            steps.append({"name": event.step, **{k: v for k, v in entry.items() if k not in ("step", "key")}})
        elif kinds.get(event.step) == "Condition":
            steps.append({"name": event.step, "kind": CONDITION, "detail": event.detail})
        elif kinds.get(event.step) == "RegisterModel" and register_args is not None:
            steps.append({"name": event.step, "kind": REGISTER, "args": register_args})
        elif kinds.get(event.step) in ("Model", "Fail") and event.succeeded:
            steps.append({"name": event.step, "kind": OTHER})
        else:
            return None  # a step a replay cannot do again
    return {
        "execution_id": execution_id, "definition": definition, "parameters": parameters, "steps": steps,
        "images": {name: image_id(name) for name in sorted({_image(entry) for entry in runs})},
        "keys": {entry["step"]: {"key": entry["key"], "outputs": entry["outputs"]} for entry in runs},
    }


def with_execution(value, old: str, new: str):
    """``value`` (a recorded request) with execution ``old``'s id replaced by ``new``'s in every text."""
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, list):
        return [with_execution(item, old, new) for item in value]
    if isinstance(value, dict):
        return {key: with_execution(item, old, new) for key, item in value.items()}
    return value


class ReplayCache(StepCache):
    """The step cache of a replay: it serves each step only the entry the record names, checked
    once (:meth:`verify`) before anything is materialised. A step asking for another key (its
    request or its inputs' contents changed) is a miss that calls ``on_miss`` (the replay stops
    the run there: the job is not started) and never reaches the cache."""

    def __init__(self, root: Path, image_id, expected: Mapping[str, Mapping]):
        super().__init__(root, image_id)
        self.expected = dict(expected)  # step -> {"key": ..., "outputs": [...]}
        self._verified: dict[str, dict] = {}
        self.on_miss: Callable[[], None] = lambda: None

    def verify(self) -> bool:
        """Whether every recorded entry is there and intact (a damaged one is removed, as a
        normal run's restore removes it)."""
        for expected in self.expected.values():
            entry = super()._valid_entry(expected["key"], expected["outputs"])
            if entry is None:
                return False
            self._verified[expected["key"]] = entry
        return True

    def _valid_entry(self, key: str, outputs) -> dict | None:
        return self._verified.get(key) or super()._valid_entry(key, outputs)

    def restore(self, step_name: str, key: str, destinations: dict[str, Path], execution_id: str | None = None) -> dict | None:
        stored = None
        if (self.expected.get(step_name) or {}).get("key") == key:
            stored = super().restore(step_name, key, destinations, execution_id)
        if stored is None:
            self.on_miss()
        return stored

    def store(self, key, sources, response, execution_id, notes=None) -> None:
        raise NotReplayable("a replayed step ran")
