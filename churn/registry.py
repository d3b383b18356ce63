"""A local model registry with SageMaker's semantics, kept in SQLite under the runs folder.

Model package groups hold versions numbered from 1; each version records the model data,
the inference image, the metrics of its evaluation.json, how it was selected (the winning
candidate, the selection metric and every candidate's metrics), the execution that produced it,
the sha256 of its model archive and an approval status (PendingManualApproval, Approved or
Rejected) with its description (SageMaker's ApprovalDescription), which can be changed later.
"""

from __future__ import annotations

import builtins
import json
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from churn.files import file_sha256, uri_path
from churn.parameters import APPROVAL_STATUSES

REGISTRY_FILE = "registry.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS model_packages (
    group_name      TEXT NOT NULL,
    version         INTEGER NOT NULL,
    approval_status TEXT NOT NULL,
    model_data      TEXT NOT NULL,
    image           TEXT NOT NULL,
    metrics         TEXT NOT NULL,
    execution_id    TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    selection       TEXT NOT NULL DEFAULT 'null',
    approval_description TEXT,
    model_sha256    TEXT,
    PRIMARY KEY (group_name, version)
);
"""
#: Columns added after the first schema, with their definitions: a registry written before them
#: gets them on its next connection (its rows read as no selection, no description, sha256 unknown).
_ADDED_COLUMNS = {
    "selection": "TEXT NOT NULL DEFAULT 'null'",
    "approval_description": "TEXT",
    "model_sha256": "TEXT",
}
#: What a column an older registry lacks reads as: its definition's DEFAULT, else NULL.
_READ_DEFAULTS = {name: definition.partition(" DEFAULT ")[2] or "NULL" for name, definition in _ADDED_COLUMNS.items()}
_COLUMNS = (
    "group_name, version, approval_status, model_data, image, metrics, execution_id, created_at, updated_at, selection, "
    "approval_description, model_sha256"
)
#: SageMaker's limit on a model package's ApprovalDescription.
MAX_DESCRIPTION_CHARS = 1024


#: A registered model by name: ``GROUP:VERSION``, ``GROUP:latest`` or ``GROUP:latest-approved``
#: (a group name as SageMaker allows it).
REFERENCE = re.compile(r"(?P<group>[A-Za-z0-9](?:-*[A-Za-z0-9]){0,62}):(?P<which>[0-9]+|latest|latest-approved)")


class RegistryError(ValueError):
    """An unknown model package or an invalid approval status."""


@dataclass(frozen=True)
class ModelPackage:
    group: str
    version: int
    approval_status: str
    model_data: str
    image: str
    metrics: dict
    execution_id: str
    created_at: str
    updated_at: str
    #: selection.json of the run: metric, winner and every candidate's metrics (None: unknown).
    selection: dict | None = None
    #: Why the status was last set (SageMaker's ApprovalDescription); None: no comment.
    approval_description: str | None = None
    #: sha256 of the model archive when it was registered (None: registered before churn kept it,
    #: or the archive was not on this machine).
    model_sha256: str | None = None

    @property
    def winner(self) -> str | None:
        return (self.selection or {}).get("winner")

    @property
    def reference(self) -> str:
        return f"{self.group}:{self.version}"

    @property
    def model_path(self) -> Path | None:
        """The model archive as a path on this machine (None: not a ``file://`` URI)."""
        try:
            return uri_path(self.model_data)
        except ValueError:
            return None

    @property
    def arn(self) -> str:
        return f"local:model-package/{self.group}/{self.version}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _check_status(status: str) -> None:
    if status not in APPROVAL_STATUSES:
        raise RegistryError(f"approval status must be one of {', '.join(APPROVAL_STATUSES)}, got {status!r}")


def _archive_sha256(model_data: str) -> str | None:
    """The sha256 of a ``file://`` model archive on this machine, else None."""
    try:
        path = uri_path(model_data)
        return file_sha256(path) if path.is_file() else None
    except (ValueError, OSError):
        return None


class PendingRegistration:
    """A registered version not yet committed: :meth:`commit` or :meth:`rollback` it, once."""

    def __init__(self, db: sqlite3.Connection, package: ModelPackage):
        self._db: sqlite3.Connection | None = db
        self.package = package

    def commit(self) -> ModelPackage:
        self._end("COMMIT")
        return self.package

    def rollback(self) -> None:
        if self._db is not None:
            self._end("ROLLBACK")

    def _end(self, statement: str) -> None:
        if self._db is None:
            raise RuntimeError(f"registration of {self.package.group} version {self.package.version} has already ended")
        db, self._db = self._db, None
        try:
            db.execute(statement)
        finally:
            db.close()


class Registry:
    def __init__(self, runs_dir: Path):
        self.path = Path(runs_dir) / REGISTRY_FILE

    def _connect(self) -> sqlite3.Connection:
        """A connection for writing: the table made, and the columns an older churn's registry
        lacks added (reads never do this: :meth:`_rows`)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.execute(_SCHEMA)
        columns = {row[1] for row in connection.execute("PRAGMA table_info(model_packages)")}
        for name, definition in _ADDED_COLUMNS.items():
            if name not in columns:  # a registry written by an older churn
                try:
                    connection.execute(f"ALTER TABLE model_packages ADD COLUMN {name} {definition}")
                except sqlite3.OperationalError as error:  # another process added it meanwhile
                    if "duplicate column" not in str(error):
                        connection.close()
                        raise RegistryError(f"cannot update the model registry {self.path}: {error}") from None
        return connection

    def _rows(self, where: str = "", args: tuple = ()) -> list:
        """Rows of the registry, read-only: nothing is created or migrated (a registry on a
        read-only disk, or another user's, reads as well); a column an older churn's registry
        lacks reads as its default."""
        if not self.path.exists():
            return []
        try:
            with closing(sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)) as db:
                present = {row[1] for row in db.execute("PRAGMA table_info(model_packages)")}
                if not present:
                    return []
                selected = ", ".join(
                    name if name in present else f"{_READ_DEFAULTS[name]} AS {name}" for name in _COLUMNS.split(", ")
                )
                return db.execute(f"SELECT {selected} FROM model_packages {where} ORDER BY group_name, version", args).fetchall()
        except sqlite3.Error as error:
            raise RegistryError(f"cannot read the model registry {self.path}: {error}") from None

    def begin_registration(
        self,
        group: str,
        model_data: str,
        image: str,
        metrics: dict,
        execution_id: str,
        approval_status: str,
        selection: dict | None = None,
    ) -> PendingRegistration:
        """Add the next version of ``group`` in a transaction left open (the registry is locked
        for writing until it ends): nothing is registered until :meth:`PendingRegistration.commit`.
        A run commits only once its summary is written, so a registered version always belongs
        to a run with a summary, even if the process dies in between. The sha256 of a model
        archive on this machine is recorded with it."""
        _check_status(approval_status)
        sha256 = _archive_sha256(model_data)
        now = _now()
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                (latest,) = db.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM model_packages WHERE group_name = ?", (group,)
                ).fetchone()
                package = ModelPackage(
                    group, latest + 1, approval_status, model_data, image, metrics, execution_id, now, now, selection, None, sha256
                )
                db.execute(
                    f"INSERT INTO model_packages ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        group, package.version, approval_status, model_data, image, json.dumps(metrics), execution_id, now, now,
                        json.dumps(selection), None, sha256,
                    ),
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except BaseException:
            db.close()
            raise
        return PendingRegistration(db, package)

    def register(self, *args, **kwargs) -> ModelPackage:
        """Add the next version of ``group`` and commit it (atomically, safe against concurrent
        runs); the arguments are :meth:`begin_registration`'s."""
        return self.begin_registration(*args, **kwargs).commit()

    def get(self, group: str, version: int) -> ModelPackage:
        if not self.path.exists():  # reading never creates a registry
            raise RegistryError(f"no model package {group} version {version}: no model registry at {self.path}")
        rows = self._rows("WHERE group_name = ? AND version = ?", (group, version))
        if not rows:
            raise RegistryError(f"no model package {group} version {version}")
        return _package(rows[0])

    def resolve(self, reference: str) -> ModelPackage:
        """The version a :data:`REFERENCE` names: ``churn:3``, ``churn:latest`` (the highest
        version) or ``churn:latest-approved`` (the highest Approved one)."""
        match = REFERENCE.fullmatch(reference)
        if match is None:
            raise RegistryError(f"{reference!r} is not a model reference: GROUP:VERSION, GROUP:latest or GROUP:latest-approved")
        group, which = match["group"], match["which"]
        if which.isdigit():
            return self.get(group, int(which))
        found = [p for p in self.list(group) if which == "latest" or p.approval_status == "Approved"]
        if not found:
            kind = "approved version" if which == "latest-approved" else "version"
            raise RegistryError(f"no {kind} of model group {group!r} in {self.path}")
        return found[-1]

    def list(self, group: str | None = None) -> list[ModelPackage]:
        rows = self._rows("WHERE group_name = ?", (group,)) if group else self._rows()
        return [_package(r) for r in rows]

    def set_status(self, group: str, version: int, status: str, description: str | None = None) -> ModelPackage:
        """Set a version's approval status and, when given, its description (SageMaker's
        ApprovalDescription): None keeps the one it has, "" removes it, as UpdateModelPackage does."""
        _check_status(status)
        if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
            raise RegistryError(f"an approval description holds at most {MAX_DESCRIPTION_CHARS} characters, got {len(description)}")
        if description is not None and ("\n" in description or "\r" in description):
            raise RegistryError("an approval description is one line (SageMaker's ApprovalDescription takes no line break)")
        self.get(group, version)
        with closing(self._connect()) as db:
            if description is None:
                db.execute(
                    "UPDATE model_packages SET approval_status = ?, updated_at = ? WHERE group_name = ? AND version = ?",
                    (status, _now(), group, version),
                )
            else:
                db.execute(
                    "UPDATE model_packages SET approval_status = ?, approval_description = ?, updated_at = ?"
                    " WHERE group_name = ? AND version = ?",
                    (status, description or None, _now(), group, version),
                )
        return self.get(group, version)

    def listing(self, group: str | None = None) -> builtins.list[ListedVersion]:
        """:meth:`list` with each archive's sha256 and the earliest version of the same group
        whose archive has the same bytes."""
        first: dict[tuple[str, str], int] = {}
        listed = []
        for package in self.list(group):
            sha256 = package.model_sha256 or _archive_sha256(package.model_data)  # older rows: computed now
            same = None if sha256 is None else first.setdefault((package.group, sha256), package.version)
            listed.append(ListedVersion(package, sha256, same if same != package.version else None))
        return listed

    def current(self, group: str, version: int | str, execution_id: str) -> ModelPackage | None:
        """The version as the registry holds it now, if it is the one ``execution_id``
        registered; None when the registry is missing, unreadable or holds another version
        (a run folder copied elsewhere). Creates nothing."""
        try:
            package = self.get(group, int(version))
        except (RegistryError, ValueError, sqlite3.Error):
            return None
        return package if package.execution_id == execution_id else None


@dataclass(frozen=True)
class ListedVersion:
    """A registered version as ``churn models list`` shows it."""

    package: ModelPackage
    #: The archive's sha256: recorded at registration, else computed from the file if it is here.
    model_sha256: str | None
    #: The earliest earlier version of the group whose archive has the same bytes.
    same_bytes_as: int | None

    def to_json(self) -> dict:
        p = self.package
        path = p.model_path
        return {
            "group": p.group, "version": p.version, "reference": p.reference, "arn": p.arn, "run": p.execution_id,
            "model_data": p.model_data, "model_path": None if path is None else str(path),
            "model_file_exists": path is not None and path.is_file(), "model_sha256": self.model_sha256,
            "same_model_bytes_as": self.same_bytes_as, "image": p.image, "created_at": p.created_at, "updated_at": p.updated_at,
            "approval_status": p.approval_status, "approval_description": p.approval_description, "winner": p.winner,
            "selection_metric": (p.selection or {}).get("metric"), "metrics": p.metrics,
        }


def _package(row) -> ModelPackage:
    group, version, status, model_data, image, metrics, execution_id, created, updated, selection, description, sha256 = row
    return ModelPackage(
        group, version, status, model_data, image, json.loads(metrics), execution_id, created, updated, json.loads(selection),
        description, sha256,
    )
