import pytest

from churn.backends.docker import FailedContainer


def test_failure_reason_prefers_the_containers_error_line():
    failed = FailedContainer("x", 2, ["reading", "ERROR PreprocessData: bad label", "Traceback?"])
    assert failed.reason() == "PreprocessData: bad label (container exit code 2)"


def test_failure_reason_falls_back_to_the_last_line():
    assert FailedContainer("x", 137, ["a", "Killed"]).reason() == "Killed (container exit code 137)"
    assert FailedContainer("x", 1, []).reason() == "no output (container exit code 1)"


def test_listing_job_containers_survives_one_removed_meanwhile(tmp_path, monkeypatch):
    """Steps run in parallel: while one step's job lists the containers, another's may remove
    its own. docker-py's real list code is used, with the Engine API answered by a fake in
    which that container is gone by the time it would be inspected."""
    import docker
    from docker.models.containers import ContainerCollection

    from churn.backends import docker as churn_docker

    def compose_labels(service, working_dir):
        return {"com.docker.compose.service": service, "com.docker.compose.project.working_dir": str(working_dir)}

    listed = [
        {"Id": "e" * 64, "Labels": {churn_docker.JOB_ROOT_LABEL: str(tmp_path / "run" / "job-0" / "tmpx")}},  # the engine runner's
        {"Id": "a" * 64, "Labels": compose_labels("algo-1-abcde", tmp_path / "run" / "job-1")},
        {"Id": "b" * 64, "Labels": compose_labels("algo-1-fghij", tmp_path / "run" / "job-2")},
        {"Id": "c" * 64, "Labels": compose_labels("web", tmp_path / "run" / "job-3")},
        {"Id": "d" * 64, "Labels": compose_labels("algo-1-klmno", tmp_path / "other-run")},
    ]

    class EngineApi:
        def containers(self, **_):
            return listed

        def inspect_container(self, container_id):  # what a non-sparse list would call
            raise docker.errors.NotFound(f"No such container: {container_id}")

    class Client:
        api = EngineApi()

        def __init__(self):
            self.containers = ContainerCollection(client=self)

    monkeypatch.setattr(docker, "from_env", Client)
    assert churn_docker.job_containers(tmp_path / "run") == {"e" * 64, "a" * 64, "b" * 64}
    assert churn_docker.job_containers() == {"e" * 64, "a" * 64, "b" * 64, "d" * 64}


def test_an_unreachable_docker_host_is_named_not_start_docker(tmp_path, monkeypatch):
    """A wrong DOCKER_HOST is not a stopped daemon: the check names the variable and its value."""
    from churn.backends import docker as churn_docker

    host = f"unix://{tmp_path}/no-docker.sock"
    monkeypatch.setenv("DOCKER_HOST", host)
    check = churn_docker.docker_running()
    assert not check.ok
    assert check.detail.startswith(f"cannot reach Docker at DOCKER_HOST={host}: ")
    assert "start" not in check.fix and "DOCKER_HOST" in check.fix
    with pytest.raises(churn_docker.DockerError) as raised:
        churn_docker.require_ready(tmp_path)
    assert f"DOCKER_HOST={host}" in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize("host", ["tcp://[::1", "tcp://localhost:notaport"])
def test_a_docker_host_that_is_no_address_is_named_in_one_line(tmp_path, monkeypatch, host):
    """A DOCKER_HOST docker-py cannot parse raised ValueError past the check: an internal error."""
    from churn.backends import docker as churn_docker

    monkeypatch.setenv("DOCKER_HOST", host)
    check = churn_docker.docker_running()
    assert not check.ok and check.detail.startswith(f"cannot reach Docker at DOCKER_HOST={host}: ") and "\n" not in check.detail


def test_docker_host_naming_the_local_socket_is_a_stopped_daemon(monkeypatch):
    """DOCKER_HOST set to the local daemon's own socket: the daemon is what to start, not the variable to correct."""
    import docker

    from churn.backends import docker as churn_docker

    def refused(**kwargs):
        raise docker.errors.DockerException("Error while fetching server API version: connection refused")

    monkeypatch.setenv("DOCKER_HOST", "unix:///var/run/docker.sock")
    monkeypatch.setattr(docker, "from_env", refused)
    check = churn_docker.docker_running()
    assert not check.ok and check.detail.startswith("the Docker daemon does not answer: ") and check.fix.startswith("start it")
