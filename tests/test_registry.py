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
