"""A content-addressed cache of local job steps (SageMaker's CacheConfig, which local mode
ignores, done by content rather than by name).

A processing or training step whose resolved job request (image id, entrypoint, arguments,
hyperparameters, environment, resources) and input *contents* match an earlier successful step
reuses that step's outputs without starting a container. Entries live in ``runs/.cache/<key>/``,
are written to a temporary folder and renamed (atomic), and list the sha256 of every file: a
missing or corrupted file makes the entry a miss, never a wrong result.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

from churn.backends.runs import file_sha256 as _file_sha
from churn.backends.runs import local_path

ENTRY_FILE = "entry.json"


def content_hash(uri: str) -> str:
    """sha256 over the relative paths and contents of a local file or folder."""
    path = local_path(uri)
    if path.is_file():
        return _file_sha(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0" + bytes.fromhex(_file_sha(file)))
    return digest.hexdigest()


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


class StepCache:
    def __init__(self, root: Path, image_id):
        """``image_id(name) -> str`` resolves an image tag to its content id."""
        self.root = root
        self.image_id = image_id
        self.hits: dict[str, str] = {}  # step name -> execution that produced the outputs

    # --- keys ----------------------------------------------------------------------------

    def processing_key(self, args: dict) -> str:
        app = args["AppSpecification"]
        return self._key(
            {
                "type": "Processing",
                "image": self.image_id(app["ImageUri"]),
                "entrypoint": app.get("ContainerEntrypoint"),
                "arguments": app.get("ContainerArguments"),
                "environment": args.get("Environment"),
                "resources": args.get("ProcessingResources"),
                "inputs": [
                    (i["InputName"], i["S3Input"]["LocalPath"], content_hash(i["S3Input"]["S3Uri"]))
                    for i in args.get("ProcessingInputs", [])
                ],
                "outputs": [(o["OutputName"], o["S3Output"]["LocalPath"]) for o in args["ProcessingOutputConfig"]["Outputs"]],
            }
        )

    def training_key(self, args: dict) -> str:
        algorithm = args["AlgorithmSpecification"]
        return self._key(
            {
                "type": "Training",
                "image": self.image_id(algorithm["TrainingImage"]),
                "algorithm": algorithm,
                "hyperparameters": args.get("HyperParameters"),
                "environment": args.get("Environment"),
                "resources": args.get("ResourceConfig"),
                "channels": [
                    (c["ChannelName"], c.get("ContentType"), content_hash(c["DataSource"]["S3DataSource"]["S3Uri"]))
                    for c in args["InputDataConfig"]
                ],
            }
        )

    @staticmethod
    def _key(document: dict) -> str:
        return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()[:32]

    # --- entries -------------------------------------------------------------------------

    def _valid_entry(self, key: str) -> dict | None:
        folder = self.root / key
        try:
            entry = json.loads((folder / ENTRY_FILE).read_text())
            for relative, digest in entry["files"].items():
                if _file_sha(folder / "outputs" / relative) != digest:
                    raise ValueError(relative)
        except (OSError, ValueError, KeyError):
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)  # corrupted: a miss, and gone
            return None
        return entry

    def restore(self, step_name: str, key: str, destinations: dict[str, Path]) -> dict | None:
        """Copy a valid entry's outputs to ``destinations`` (output name -> folder); return its
        stored job description, or None on a miss."""
        entry = self._valid_entry(key)
        if entry is None:
            return None
        for name, target in destinations.items():
            source = self.root / key / "outputs" / name
            for file in _files(source):
                _link_or_copy(file, target / file.relative_to(source))
        self.hits[step_name] = entry["execution_id"]
        return entry["response"]

    def store(self, key: str, sources: dict[str, Path], response: dict, execution_id: str) -> None:
        """Record a successful step's outputs (output name -> folder) under ``key``."""
        if (self.root / key).is_dir():
            return
        partial = self.root / f".{key}.{uuid.uuid4().hex}.partial"
        files = {}
        for name, source in sources.items():
            for file in _files(source):
                relative = f"{name}/{file.relative_to(source).as_posix()}"
                _link_or_copy(file, partial / "outputs" / relative)
                files[relative] = _file_sha(partial / "outputs" / relative)
        partial.mkdir(parents=True, exist_ok=True)
        entry = {"execution_id": execution_id, "files": files, "response": response}
        (partial / ENTRY_FILE).write_text(json.dumps(entry, default=str))
        try:
            partial.rename(self.root / key)
        except OSError:  # another run stored the same step meanwhile
            shutil.rmtree(partial, ignore_errors=True)


# --- hooking the cache into the local executor's job steps ------------------------------


def _training_destinations(args: dict) -> dict[str, Path]:
    return {"model": local_path(args["OutputDataConfig"]["S3OutputPath"])}


def _processing_destinations(args: dict) -> dict[str, Path]:
    return {o["OutputName"]: local_path(o["S3Output"]["S3Uri"]) for o in args["ProcessingOutputConfig"]["Outputs"]}


def _cached(original, key_of, destinations_of, replay):
    """Wrap a job step executor's ``execute``: reuse a valid cache entry (``replay`` turns its
    stored response into this step's), else run the job and store its outputs."""

    def execute(self):
        cache: StepCache | None = getattr(self.pipline_executor.sagemaker_session, "churn_step_cache", None)
        if cache is None:
            return original(self)
        args = self.pipline_executor.evaluate_step_arguments(self.step)
        key = key_of(cache, args)
        destinations = destinations_of(args)
        stored = cache.restore(self.step.name, key, destinations)
        if stored is not None:
            return replay(self, stored, args, f"{self.step.name}-cached-{key[:8]}", destinations)
        response = original(self)
        execution = self.pipline_executor.execution.pipeline_execution_name
        cache.store(key, destinations, response, execution)
        return response

    return execute


def _replay_processing(self, stored: dict, args: dict, job_name: str, destinations) -> dict:
    response = {
        **stored,
        "ProcessingJobName": job_name,
        "ProcessingInputs": args.get("ProcessingInputs", []),
        "ProcessingOutputConfig": args["ProcessingOutputConfig"],
    }
    response["ProcessingOutputConfig"] = {
        **response["ProcessingOutputConfig"],
        "Outputs": self._convert_list_to_dict(response, "ProcessingOutputConfig.Outputs", "OutputName"),
    }
    response["ProcessingInputs"] = self._convert_list_to_dict(response, "ProcessingInputs", "InputName")
    return response


def _replay_training(self, stored: dict, args: dict, job_name: str, destinations) -> dict:
    return {
        **stored,
        "TrainingJobName": job_name,
        "OutputDataConfig": args["OutputDataConfig"],
        "ModelArtifacts": {"S3ModelArtifacts": (destinations["model"] / "model.tar.gz").as_uri()},
    }


def cached_processing(original):
    return _cached(original, StepCache.processing_key, _processing_destinations, _replay_processing)


def cached_training(original):
    return _cached(original, StepCache.training_key, _training_destinations, _replay_training)
