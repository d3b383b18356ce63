import pytest

from churn.registry import Registry, RegistryError


def _register(registry, group="churn", status="PendingManualApproval"):
    return registry.register(group, "file:///m.tar.gz", "img:1", {"accuracy": 0.9}, "exec1", status)


def test_versions_increment_per_group(tmp_path):
    registry = Registry(tmp_path)
    assert [_register(registry).version for _ in range(3)] == [1, 2, 3]
    assert _register(registry, group="other").version == 1
    assert [(p.group, p.version) for p in registry.list()] == [("churn", 1), ("churn", 2), ("churn", 3), ("other", 1)]
    assert registry.get("churn", 2).metrics == {"accuracy": 0.9}
    assert registry.get("churn", 2).arn == "local:model-package/churn/2"


def test_approve_and_reject(tmp_path):
    registry = Registry(tmp_path)
    _register(registry)
    assert registry.set_status("churn", 1, "Approved").approval_status == "Approved"
    assert registry.set_status("churn", 1, "Rejected").approval_status == "Rejected"


def test_errors_are_named(tmp_path):
    registry = Registry(tmp_path)
    with pytest.raises(RegistryError, match="approval status must be one of"):
        _register(registry, status="Maybe")
    with pytest.raises(RegistryError, match="no model package churn version 4"):
        registry.set_status("churn", 4, "Approved")
    assert registry.list() == []


def test_the_selection_is_recorded(tmp_path):
    registry = Registry(tmp_path)
    selection = {"metric": "auc", "winner": "logistic-regression", "candidates": {}, "summary": "x"}
    package = registry.register("churn", "file:///m.tar.gz", "img:1", {"auc": 0.9}, "exec1", "Approved", selection)
    assert registry.get("churn", package.version).selection == selection
    assert package.winner == "logistic-regression"
    assert _register(registry).winner is None


def test_a_registry_from_before_candidates_is_upgraded(tmp_path):
    import sqlite3

    with sqlite3.connect(tmp_path / "registry.sqlite") as db:
        db.execute(
            "CREATE TABLE model_packages (group_name TEXT NOT NULL, version INTEGER NOT NULL, approval_status TEXT NOT NULL,"
            " model_data TEXT NOT NULL, image TEXT NOT NULL, metrics TEXT NOT NULL, execution_id TEXT NOT NULL,"
            " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (group_name, version))"
        )
        db.execute("INSERT INTO model_packages VALUES ('churn', 1, 'Approved', 'file:///a', 'img', '{}', 'e0', 't', 't')")
    registry = Registry(tmp_path)
    assert registry.get("churn", 1).selection is None and registry.get("churn", 1).approval_status == "Approved"
    assert _register(registry).version == 2


def _begin(registry, execution_id="run-1"):
    return registry.begin_registration("churn", "file:///m.tar.gz", "img", {"accuracy": 0.9}, execution_id, "Approved")


def test_a_pending_registration_is_invisible_until_committed(tmp_path):
    registry = Registry(tmp_path)
    pending = _begin(registry)
    assert pending.package.version == 1
    assert Registry(tmp_path).list() == []  # another reader sees nothing yet
    assert pending.commit().version == 1
    assert [p.version for p in Registry(tmp_path).list()] == [1]
    with pytest.raises(RuntimeError, match="already ended"):
        pending.commit()


def test_a_rolled_back_registration_leaves_nothing_and_frees_its_version(tmp_path):
    registry = Registry(tmp_path)
    pending = _begin(registry)
    pending.rollback()
    pending.rollback()  # a second rollback is harmless (the run's clean-up may repeat it)
    assert registry.list() == []
    assert _begin(registry, "run-2").commit().version == 1


def test_reading_a_registry_that_does_not_exist_creates_nothing(tmp_path):
    from churn.registry import Registry, RegistryError

    with pytest.raises(RegistryError, match="no model registry at"):
        Registry(tmp_path / "typo").resolve("churn:3")
    assert Registry(tmp_path / "typo").list() == [] and not (tmp_path / "typo").exists()


# --- approval descriptions, archive hashes, and registries written before them ---


def test_an_approval_description_is_kept_and_replaced_with_the_status(tmp_path):
    registry = Registry(tmp_path)
    registered = _register(registry)
    assert registered.approval_description is None
    approved = registry.set_status("churn", 1, "Approved", "holdout auc checked")
    assert (approved.approval_status, approved.approval_description) == ("Approved", "holdout auc checked")
    assert registry.get("churn", 1).approval_description == "holdout auc checked"
    assert approved.updated_at >= registered.created_at
    assert registry.set_status("churn", 1, "Rejected", "drift").approval_description == "drift"
    assert registry.set_status("churn", 1, "Approved").approval_description == "drift"  # no comment: kept, as SageMaker does
    assert registry.set_status("churn", 1, "Approved", "").approval_description is None  # an empty one removes it
    with pytest.raises(RegistryError, match="one line"):
        registry.set_status("churn", 1, "Approved", "two\nlines")
    with pytest.raises(RegistryError, match="at most 1024 characters"):
        registry.set_status("churn", 1, "Approved", "x" * 1025)
    assert registry.set_status("churn", 1, "Approved", "x" * 1024).approval_description == "x" * 1024


def test_the_archive_sha256_is_recorded_and_equal_archives_are_named(tmp_path):
    from churn.files import file_sha256, file_uri

    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    first.write_bytes(b"model one")
    second.write_bytes(b"model two")
    registry = Registry(tmp_path)
    for path in (first, second, first, tmp_path / "gone.tar.gz", first, second):
        registry.register("churn", file_uri(path), "img", {}, "e", "PendingManualApproval")
    registry.register("other", file_uri(first), "img", {}, "e", "PendingManualApproval")
    assert registry.get("churn", 1).model_sha256 == file_sha256(first)
    assert registry.get("churn", 4).model_sha256 is None  # not on this machine
    first.write_bytes(b"changed since")  # the recorded hash is the registered bytes', not the file's now
    listed = registry.listing()
    assert [(v.package.reference, v.same_bytes_as) for v in listed] == [
        ("churn:1", None), ("churn:2", None), ("churn:3", 1), ("churn:4", None), ("churn:5", 1), ("churn:6", 2), ("other:1", None),
    ]
    assert listed[3].model_sha256 is None and listed[0].model_sha256 != file_sha256(first)
    assert [v.package.version for v in registry.listing("other")] == [1]


def _old_registry(path, with_selection: bool):
    """A registry.sqlite as an older churn wrote it (no description, no sha256; maybe no selection)."""
    import sqlite3
    from contextlib import closing

    selection = ", selection TEXT NOT NULL DEFAULT 'null'" if with_selection else ""
    with closing(sqlite3.connect(path / "registry.sqlite")) as db, db:
        db.execute(
            "CREATE TABLE model_packages (group_name TEXT NOT NULL, version INTEGER NOT NULL, approval_status TEXT NOT NULL,"
            " model_data TEXT NOT NULL, image TEXT NOT NULL, metrics TEXT NOT NULL, execution_id TEXT NOT NULL,"
            f" created_at TEXT NOT NULL, updated_at TEXT NOT NULL{selection}, PRIMARY KEY (group_name, version))"
        )
        for version, model in ((1, path / "m.tar.gz"), (2, path / "m.tar.gz"), (3, path / "gone.tar.gz")):
            db.execute(
                "INSERT INTO model_packages (group_name, version, approval_status, model_data, image, metrics, execution_id,"
                " created_at, updated_at) VALUES ('churn', ?, 'Approved', ?, 'img', '{}', ?, 't', 't')",
                (version, f"file://{model}", f"e{version}"),
            )


@pytest.mark.parametrize("with_selection", [True, False])
def test_a_registry_from_before_descriptions_and_hashes_is_upgraded(tmp_path, with_selection):
    import sqlite3
    from contextlib import closing

    from churn.files import file_sha256

    (tmp_path / "m.tar.gz").write_bytes(b"model")
    _old_registry(tmp_path, with_selection)
    registry = Registry(tmp_path)
    old = registry.get("churn", 1)
    assert (old.approval_description, old.model_sha256, old.selection) == (None, None, None)
    listed = registry.listing()  # older rows: the hash is computed from the file when it is here
    sha256 = file_sha256(tmp_path / "m.tar.gz")
    assert [(v.model_sha256, v.same_bytes_as) for v in listed] == [(sha256, None), (sha256, 1), (None, None)]
    assert registry.set_status("churn", 2, "Rejected", "duplicate").approval_description == "duplicate"
    assert _register(registry).version == 4
    with closing(sqlite3.connect(tmp_path / "registry.sqlite")) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(model_packages)")]
    assert {"selection", "approval_description", "model_sha256"} <= set(columns)


def test_current_is_the_version_of_that_run_or_nothing(tmp_path):
    registry = Registry(tmp_path)
    _register(registry)  # run exec1
    registry.set_status("churn", 1, "Approved", "ok")
    assert registry.current("churn", 1, "exec1").approval_description == "ok"
    assert registry.current("churn", "1", "exec1") is not None  # a summary may hold the version as text
    assert registry.current("churn", 1, "another-run") is None
    assert registry.current("churn", 2, "exec1") is None
    assert registry.current("churn", "x", "exec1") is None
    assert Registry(tmp_path / "none").current("churn", 1, "exec1") is None and not (tmp_path / "none").exists()


def test_an_older_registry_is_read_without_being_written(tmp_path):
    """Reading migrates nothing: a registry of an older churn on a read-only disk (or another
    user's) lists and resolves; the columns it lacks read as their defaults."""
    import sqlite3

    path = tmp_path / "registry.sqlite"
    with sqlite3.connect(path) as db:  # the first schema: no selection, description or sha256
        db.execute(
            "CREATE TABLE model_packages (group_name TEXT NOT NULL, version INTEGER NOT NULL, approval_status TEXT NOT NULL,"
            " model_data TEXT NOT NULL, image TEXT NOT NULL, metrics TEXT NOT NULL, execution_id TEXT NOT NULL,"
            " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, PRIMARY KEY (group_name, version))"
        )
        db.execute("INSERT INTO model_packages VALUES ('churn', 1, 'Approved', 'file:///m.tar.gz', 'img', '{}', 'e1', 't', 't')")
    before = path.read_bytes()
    registry = Registry(tmp_path)
    [package] = registry.list()
    assert (package.version, package.selection, package.approval_description, package.model_sha256) == (1, None, None, None)
    assert registry.resolve("churn:latest-approved").execution_id == "e1"
    assert path.read_bytes() == before
