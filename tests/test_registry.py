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
