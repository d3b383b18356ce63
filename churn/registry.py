"""A local model registry with SageMaker's semantics, kept in SQLite under the runs folder.

Model package groups hold versions numbered from 1; each version records the model data,
the inference image, the metrics of its evaluation.json, how it was selected (the winning
candidate, the selection metric and every candidate's metrics), the execution that produced it
and an approval status (PendingManualApproval, Approved or Rejected) that can be changed later.
"""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

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
    PRIMARY KEY (group_name, version)
);
"""
_COLUMNS = (
    "group_name, version, approval_status, model_data, image, metrics, execution_id, created_at, updated_at, selection"
)


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

    @property
    def winner(self) -> str | None:
        return (self.selection or {}).get("winner")

    @property
    def arn(self) -> str:
        return f"local:model-package/{self.group}/{self.version}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _check_status(status: str) -> None:
    if status not in APPROVAL_STATUSES:
        raise RegistryError(f"approval status must be one of {', '.join(APPROVAL_STATUSES)}, got {status!r}")


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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.execute(_SCHEMA)
        columns = {row[1] for row in connection.execute("PRAGMA table_info(model_packages)")}
        if "selection" not in columns:  # a registry written before candidates existed
            connection.execute("ALTER TABLE model_packages ADD COLUMN selection TEXT NOT NULL DEFAULT 'null'")
        return connection

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
        to a run with a summary, even if the process dies in between."""
        _check_status(approval_status)
        now = _now()
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                (latest,) = db.execute(
                    "SELECT COALESCE(MAX(version), 0) FROM model_packages WHERE group_name = ?", (group,)
                ).fetchone()
                package = ModelPackage(group, latest + 1, approval_status, model_data, image, metrics, execution_id, now, now, selection)
                db.execute(
                    f"INSERT INTO model_packages ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        group, package.version, approval_status, model_data, image, json.dumps(metrics), execution_id, now, now,
                        json.dumps(selection),
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
        with closing(self._connect()) as db:
            row = db.execute(
                f"SELECT {_COLUMNS} FROM model_packages WHERE group_name = ? AND version = ?", (group, version)
            ).fetchone()
        if row is None:
            raise RegistryError(f"no model package {group} version {version}")
        return _package(row)

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
        query = f"SELECT {_COLUMNS} FROM model_packages"
        args: tuple = ()
        if group:
            query += " WHERE group_name = ?"
            args = (group,)
        if not self.path.exists():
            return []
        with closing(self._connect()) as db:
            rows = db.execute(query + " ORDER BY group_name, version", args).fetchall()
        return [_package(r) for r in rows]

    def set_status(self, group: str, version: int, status: str) -> ModelPackage:
        _check_status(status)
        self.get(group, version)
        with closing(self._connect()) as db:
            db.execute(
                "UPDATE model_packages SET approval_status = ?, updated_at = ? WHERE group_name = ? AND version = ?",
                (status, _now(), group, version),
            )
        return self.get(group, version)


def _package(row) -> ModelPackage:
    group, version, status, model_data, image, metrics, execution_id, created, updated, selection = row
    return ModelPackage(
        group, version, status, model_data, image, json.loads(metrics), execution_id, created, updated, json.loads(selection)
    )
