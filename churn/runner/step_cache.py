"""A content-addressed cache of local job steps (SageMaker's CacheConfig, which local mode
ignores, done by content rather than by name).

A processing or training step whose resolved job request (image id, entrypoint, arguments,
hyperparameters, environment, resources) and input *contents* match an earlier successful step
reuses that step's outputs without starting a container. Entries live in ``runs/.cache/<key>/``,
are written to a temporary folder and renamed (atomic), and list the sha256 of every file: a
missing or corrupted file, or a declared output without a non-empty file, makes the entry a
miss, never a wrong result; so does a changed note (the producing job's log and metric series,
kept beside the outputs: a tuning trial's objective is read from the series; a missing note is
no note). Entries and run
folders never share a file: outputs are copied both ways (a reflink where the file system has
them), so changing one run's file changes neither the cache nor another run.

An entry also records its use: restoring it touches ``entry.json`` (its mtime is the last use,
else when it was stored) and leaves ``used-by/<execution-id>``, so ``churn cache prune``
(:mod:`churn.runner.cache_store`) knows the least recently used entries and which run folders
still need an entry. An entry removed while it is being restored is a miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path

from churn.files import clone_or_copy, content_sha256, file_sha256, has_content, new_folder, tree_files, uri_path

ENTRY_FILE = "entry.json"
#: The producing job's log (bounded), kept beside its outputs as a note (``entry.json`` lists each
#: note's sha256: a tuning trial's objective comes from its metrics note).
CACHED_LOG = "log.txt"
_NOTES = "notes"
#: In an entry: one empty file per execution that restored it.
USED_BY = "used-by"


def content_hash(uri: str) -> str:
    """sha256 over the relative paths and contents of a local file or folder."""
    return content_sha256(uri_path(uri))


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

    def _valid_entry(self, key: str, outputs) -> dict | None:
        folder = self.root / key
        try:
            entry = json.loads((folder / ENTRY_FILE).read_text())
            if not (isinstance(entry["files"], dict) and isinstance(entry["response"], dict) and isinstance(entry["execution_id"], str)
                    and isinstance(entry.get("notes", {}), dict)):
                raise ValueError("not an entry")  # valid JSON of another shape: as damaged as any
            for name in outputs:
                if not has_content(folder / "outputs" / name):
                    raise ValueError(f"output {name} is empty")
            for relative, digest in entry["files"].items():
                if file_sha256(folder / "outputs" / relative) != digest:
                    raise ValueError(relative)
            for name, digest in entry.get("notes", {}).items():  # (an earlier churn's entries list none)
                # A missing note is no note (the job's log "was not kept"); a changed one is a
                # damaged entry: a tuning trial's objective is read from its metrics note.
                note = folder / _NOTES / name
                if note.exists() and file_sha256(note) != digest:
                    raise ValueError(name)
        except (OSError, ValueError, KeyError, TypeError):
            if folder.exists():
                shutil.rmtree(folder, ignore_errors=True)  # corrupted: a miss, and gone
            return None
        return entry

    def restore(self, step_name: str, key: str, destinations: dict[str, Path], execution_id: str | None = None) -> dict | None:
        """Copy a valid entry's outputs to ``destinations`` (output name -> folder); return its
        stored job description, or None on a miss. The entry records its use by ``execution_id``."""
        entry = self._valid_entry(key, destinations)
        if entry is None:
            return None
        try:
            for name, target in destinations.items():
                source = self.root / key / "outputs" / name
                for file in tree_files(source):
                    clone_or_copy(file, target / file.relative_to(source))
        except OSError:
            return None  # the entry went meanwhile (removed by a prune): a miss
        for relative in entry["files"]:
            name, _, rest = relative.partition("/")
            if name in destinations and not (destinations[name] / rest).is_file():
                return None  # (the folder was gone before the copy began)
        _record_use(self.root / key, execution_id)
        self.hits[step_name] = entry["execution_id"]
        return entry["response"]

    def note(self, key: str, name: str) -> bytes | None:
        """A note stored with entry ``key`` (its job's log, its metric series), if there is one."""
        try:
            return (self.root / key / _NOTES / name).read_bytes()
        except OSError:
            return None

    def store(
        self, key: str, sources: dict[str, Path], response: dict, execution_id: str, notes: dict[str, bytes] | None = None
    ) -> None:
        """Record a successful step's outputs (output name -> folder) and ``notes`` (name ->
        bytes) under ``key``; a step with an empty declared output is never stored."""
        if (self.root / key).is_dir() or not all(map(has_content, sources.values())):
            return
        with new_folder(self.root / key) as partial:
            files = {}
            for name, source in sources.items():
                for file in tree_files(source):
                    relative = f"{name}/{file.relative_to(source).as_posix()}"
                    clone_or_copy(file, partial / "outputs" / relative)
                    files[relative] = file_sha256(partial / "outputs" / relative)
            noted = {}
            for name, data in (notes or {}).items():
                (partial / _NOTES).mkdir(exist_ok=True)
                (partial / _NOTES / name).write_bytes(data)
                noted[name] = hashlib.sha256(data).hexdigest()
            entry = {"execution_id": execution_id, "files": files, "response": response, "notes": noted}
            (partial / ENTRY_FILE).write_text(json.dumps(entry, default=str))


def _record_use(folder: Path, execution_id: str | None) -> None:
    """Touch ``entry.json`` and mark ``execution_id`` as a user of the entry (best effort: a
    cache that cannot be written is still read)."""
    with contextlib.suppress(OSError):
        os.utime(folder / ENTRY_FILE)
        if execution_id and "/" not in execution_id and not execution_id.startswith("."):
            (folder / USED_BY).mkdir(exist_ok=True)
            (folder / USED_BY / execution_id).touch()


def entry_executions(folder: Path) -> set[str]:
    """The executions an entry's outputs came from or were restored into (its producer, and
    every ``used-by`` mark); none when the entry is unreadable."""
    try:
        found = {json.loads((folder / ENTRY_FILE).read_text())["execution_id"]}
    except (OSError, ValueError, KeyError, TypeError):
        found = set()
    users = folder / USED_BY
    if users.is_dir():
        found.update(p.name for p in users.iterdir())
    return {e for e in found if isinstance(e, str)}
