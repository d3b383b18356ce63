"""The set-up scripts (docker/ensure-docker.sh, docker/build-base-image.sh): one line per stage
with its time, the stages' whole output in one log named once, and on a failure the stage, its
exit code, the log's path and the log's end.

The scripts run with a PATH holding only links to a few basic tools and stub executables
(apt-get, docker, dockerd, debootstrap, id, ...): nothing real is installed or started. Each stub
prints many lines ("stub-chatter") and records its call; ``apt-get install`` "installs" a
package by adding its stubs to the PATH; ``STUB_FAIL="<name> <first argument>"`` makes that
call fail with ``STUB_FAIL_CODE``."""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ENSURE_DOCKER = REPO / "docker" / "ensure-docker.sh"
BUILD_BASE_IMAGE = REPO / "docker" / "build-base-image.sh"
BASE_IMAGE = "debian:bookworm-slim"

# What the scripts (and the stubs) use besides the stubbed commands.
TOOLS = ("bash", "cat", "dirname", "pwd", "env", "grep", "ln", "mkdir", "mktemp", "nohup", "rm", "seq", "sleep", "tail", "tar", "timeout", "touch")

STUB = r"""#!/bin/bash
name=${0##*/}
echo "$name $*" >>"$STUB_STATE/calls"
chatter() { for i in $(seq 1 40); do echo "stub-chatter: $name $1 line $i"; done; }
if [ "${STUB_FAIL:-}" = "$name ${1:-}" ]; then
    chatter "$1"
    echo "stub-error: $name ${1:-} broke" >&2
    exit "${STUB_FAIL_CODE:-1}"
fi
case "$name" in
    id) echo "${STUB_UID:-0}" ;;
    apt-get)
        chatter "$1"
        if [ "$1" = install ]; then
            for package in "$@"; do
                case "$package" in
                    docker.io) ln -sf stub "$STUB_BIN/docker"; ln -sf stub "$STUB_BIN/dockerd" ;;
                    docker-compose|debootstrap) ln -sf stub "$STUB_BIN/$package" ;;
                esac
            done
        fi ;;
    dockerd) chatter start; touch "$STUB_STATE/daemon" ;;
    debootstrap)
        chatter "$1"
        rootfs=$3
        mkdir -p "$rootfs/etc" "$rootfs/var/cache/apt/archives"
        echo 12 >"$rootfs/etc/debian_version"
        touch "$rootfs/var/cache/apt/archives/libc6.deb" ;;
    docker)
        case "$1" in
            info)
                [ -e "$STUB_STATE/daemon" ] || { echo "Cannot connect to the Docker daemon" >&2; exit 1; }
                if [ "${2:-}" = --format ]; then echo "Docker 24.0.7"; else chatter info; fi ;;
            compose)
                [ -e "$STUB_STATE/compose-v2" ] || { echo "docker: 'compose' is not a docker command." >&2; exit 1; }
                echo "Docker Compose version v2.24.0" ;;
            image) [ -e "$STUB_STATE/image" ] || { echo "Error: No such image: $3" >&2; exit 1; } ;;
            pull)
                chatter pull
                [ -e "$STUB_STATE/registry" ] || { echo "dial tcp: lookup registry-1.docker.io: no such host" >&2; exit 1; }
                touch "$STUB_STATE/image" ;;
            import)
                cat >"$STUB_STATE/imported.tar"
                chatter import
                touch "$STUB_STATE/image" ;;
        esac ;;
    *) chatter "$1" ;;
esac
"""

STAGE_LINE = re.compile(r"^(ensure-docker|build-base-image): .+ \(\d+ s\)")


@dataclass
class Machine:
    """A stub machine: its PATH folder, its state flags and its environment."""

    bin: Path
    state: Path
    tmp: Path

    def install(self, *names: str) -> None:
        for name in names:
            (self.bin / name).symlink_to("stub")

    def flag(self, *names: str) -> None:
        for name in names:
            (self.state / name).touch()

    @property
    def log(self) -> Path:
        return self.tmp / "churn-setup.log"

    @property
    def dockerd_log(self) -> Path:
        return self.tmp / "dockerd.log"

    def calls(self) -> list[str]:
        path = self.state / "calls"
        return path.read_text().splitlines() if path.exists() else []

    def run(self, script: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
        environment = {
            "PATH": str(self.bin), "HOME": str(self.tmp), "TMPDIR": str(self.tmp), "LC_ALL": "C",
            "STUB_BIN": str(self.bin), "STUB_STATE": str(self.state), "CHURN_DOCKERD_LOG": str(self.dockerd_log), **env,
        }
        return subprocess.run([str(self.bin / "bash"), str(script), *args], env=environment, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=120, check=False)


@pytest.fixture()
def machine(tmp_path) -> Machine:
    """A root Debian machine with apt-get and nothing else: no Docker, no registry."""
    bin_dir, state, tmp = tmp_path / "bin", tmp_path / "state", tmp_path / "tmp"
    for folder in (bin_dir, state, tmp):
        folder.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool, path="/usr/bin:/bin")
        assert found, f"{tool} is needed to run the set-up scripts' tests"
        (bin_dir / tool).symlink_to(found)
    (bin_dir / "stub").write_text(STUB)
    (bin_dir / "stub").chmod(0o755)
    fake = Machine(bin_dir, state, tmp)
    fake.install("id", "apt-get")
    return fake


def lines(result: subprocess.CompletedProcess) -> list[str]:
    return result.stdout.splitlines()


def test_a_fresh_machine_prints_one_line_per_stage_and_logs_the_rest(machine):
    result = machine.run(ENSURE_DOCKER)
    assert result.returncode == 0, result.stdout
    output = lines(result)
    assert output[0] == f"ensure-docker: setting up; the whole output goes to {machine.log}"
    assert output[-1] == f"ensure-docker: ready: Docker 24.0.7, base image {BASE_IMAGE}"
    stages = [re.sub(r" \(\d+ s\)", "", line) for line in output[1:-1]]
    assert stages == [
        "ensure-docker: updated the package lists",
        "ensure-docker: installed docker.io",
        f"ensure-docker: started dockerd, logging to {machine.dockerd_log}",
        "ensure-docker: installed docker-compose",
        f"ensure-docker: no registry answered: building {BASE_IMAGE} from Debian packages (about a minute)",
        "ensure-docker: installed debootstrap",
        "build-base-image: debootstrapped bookworm",
        f"build-base-image: imported {BASE_IMAGE}",
    ]
    assert all(STAGE_LINE.match(line) for line in output[1:-1])
    assert str(machine.log) in result.stdout and result.stdout.count(str(machine.log)) == 1
    assert "stub-chatter" not in result.stdout and "stub-error" not in result.stdout
    # The chatter is in the log, dockerd's in its own log.
    log = machine.log.read_text()
    for source in ("apt-get update", "apt-get install", "docker pull", "debootstrap --variant=minbase", "docker import"):
        assert f"stub-chatter: {source} line 40" in log, source
    assert "stub-chatter: dockerd start line 40" in machine.dockerd_log.read_text()


def test_a_fresh_machine_gets_what_it_got_before(machine):
    assert machine.run(ENSURE_DOCKER).returncode == 0
    calls = machine.calls()
    installs = [call for call in calls if call.startswith("apt-get install")]
    assert installs == [f"apt-get install -y -qq {package}" for package in ("docker.io", "docker-compose", "debootstrap")]
    assert sum(call == "apt-get update -qq" for call in calls) == 1
    assert f"docker pull {BASE_IMAGE}" in calls and f"docker import - {BASE_IMAGE}" in calls
    assert any(re.fullmatch(r"debootstrap --variant=minbase bookworm /tmp/churn-rootfs\.\w+ http://deb\.debian\.org/debian", c) for c in calls)
    with tarfile.open(machine.state / "imported.tar") as tar:
        names = tar.getnames()
    assert "./etc/debian_version" in names and not any(name.endswith(".deb") for name in names)


def test_a_registry_pulls_the_base_image_in_one_line(machine):
    machine.install("docker", "dockerd", "docker-compose")
    machine.flag("daemon", "registry")
    result = machine.run(ENSURE_DOCKER, BASE_IMAGE="debian:bookworm-slim@test")
    assert result.returncode == 0, result.stdout
    output = lines(result)
    assert len(output) == 3 and output[0].startswith("ensure-docker: setting up")
    assert STAGE_LINE.match(output[1]) and output[1].startswith("ensure-docker: pulled debian:bookworm-slim@test (")
    assert output[2] == "ensure-docker: ready: Docker 24.0.7, base image debian:bookworm-slim@test"
    assert "stub-chatter: docker pull" in machine.log.read_text()
    assert not any(call.startswith(("apt-get", "debootstrap")) for call in machine.calls())


def test_a_ready_machine_prints_one_line_and_starts_no_log(machine):
    machine.install("docker", "dockerd")
    machine.flag("daemon", "compose-v2", "image")
    result = machine.run(ENSURE_DOCKER)
    assert result.returncode == 0
    assert lines(result) == [f"ensure-docker: ready: Docker 24.0.7, base image {BASE_IMAGE}"]
    assert not machine.log.exists()


def test_without_root_it_says_what_to_install(machine):
    result = machine.run(ENSURE_DOCKER, STUB_UID="1000")
    assert result.returncode == 1
    assert lines(result) == ["ensure-docker: missing: docker.io; install them (Debian: apt-get install -y docker.io)"]
    assert not any(call.startswith("apt-get") for call in machine.calls())


@pytest.mark.parametrize(("failing", "code", "stage"), [
    ("apt-get update", 100, "ensure-docker: updating the package lists"),
    ("apt-get install", 100, "ensure-docker: installing docker.io"),
    ("dockerd ", 3, "ensure-docker: starting dockerd"),
    ("debootstrap --variant=minbase", 2, "build-base-image: debootstrap of bookworm"),
    ("docker import", 125, f"build-base-image: importing {BASE_IMAGE}"),
])
def test_a_failed_stage_names_itself_its_exit_code_and_the_log_and_shows_its_end(machine, failing, code, stage):
    result = machine.run(ENSURE_DOCKER, STUB_FAIL=failing, STUB_FAIL_CODE=str(code))
    assert result.returncode == code
    output = lines(result)
    failure = output.index(f"{stage} failed (exit {code}); the whole log: {machine.log}")
    before, tail = output[:failure], output[failure + 1:]
    assert all(line.startswith(("ensure-docker: ", "build-base-image: ")) for line in before)
    assert all(STAGE_LINE.match(line) for line in before[1:])
    # The log's last 20 lines follow, the stub's error among them; nothing comes after them.
    assert tail == machine.log.read_text().splitlines()[-20:]
    assert f"stub-error: {failing.split()[0]}" in "\n".join(tail)


def test_dockerd_not_answering_is_a_failed_stage_with_its_log(machine):
    machine.install("docker")
    machine.flag("compose-v2")
    (machine.bin / "dockerd").write_text("#!/bin/bash\necho 'stub-chatter: dockerd cannot listen'\nexit 0\n")
    (machine.bin / "dockerd").chmod(0o755)
    result = machine.run(ENSURE_DOCKER)
    assert result.returncode == 1
    output = lines(result)
    assert output[:2] == [
        f"ensure-docker: setting up; the whole output goes to {machine.log}",
        f"ensure-docker: starting dockerd failed (exit 1); the whole log: {machine.log}",
    ]
    assert output[-3:] == ["dockerd exited (exit 0)", f"the end of {machine.dockerd_log}:", "stub-chatter: dockerd cannot listen"]


def test_building_the_base_image_alone_names_its_log_and_stages(machine):
    machine.install("docker", "debootstrap")
    result = machine.run(BUILD_BASE_IMAGE, "churn-base:test")
    assert result.returncode == 0, result.stdout
    output = lines(result)
    assert output[0] == f"build-base-image: building churn-base:test from Debian packages (about a minute); the whole output goes to {machine.log}"
    assert [re.sub(r" \(\d+ s\)$", "", line) for line in output[1:]] == [
        "build-base-image: debootstrapped bookworm", "build-base-image: imported churn-base:test"]
    assert all(STAGE_LINE.match(line) for line in output[1:])
    assert "stub-chatter: debootstrap" in machine.log.read_text()
    assert "stub-chatter: docker import" in machine.log.read_text()
    assert lines(machine.run(BUILD_BASE_IMAGE, "churn-base:test")) == ["build-base-image: base image churn-base:test already present"]


def test_building_the_base_image_alone_shows_a_failure(machine):
    machine.install("docker", "debootstrap")
    result = machine.run(BUILD_BASE_IMAGE, STUB_FAIL="debootstrap --variant=minbase", STUB_FAIL_CODE="1")
    assert result.returncode == 1
    output = lines(result)
    assert output[1] == f"build-base-image: debootstrap of bookworm failed (exit 1); the whole log: {machine.log}"
    assert output[2:] == machine.log.read_text().splitlines()[-20:]
    assert output[-1] == "stub-error: debootstrap --variant=minbase broke"
    assert not (machine.state / "image").exists()


def test_the_stubs_are_all_the_scripts_can_reach(machine):
    """The real Docker and apt-get are out of reach: the PATH holds only the stub folder."""
    result = subprocess.run([str(machine.bin / "bash"), "-c", "command -v docker dockerd debootstrap docker-compose; command -v apt-get"],
                            env={"PATH": str(machine.bin)}, capture_output=True, text=True, check=False)
    assert result.stdout.splitlines() == [str(machine.bin / "apt-get")]


ENSURE_CHROMIUM = REPO / "scripts" / "ensure-chromium.sh"


def test_installing_chromium_prints_one_line_and_logs_apt(machine):
    result = machine.run(ENSURE_CHROMIUM)
    assert result.returncode == 0, result.stdout
    assert re.fullmatch(rf"ensure-chromium: installed chromium, its log in {re.escape(str(machine.log))} \(\d+ s\)\n", result.stdout)
    assert "stub-chatter: apt-get install line 40" in machine.log.read_text()
    assert machine.calls() == ["id -u", "apt-get update -qq", "apt-get install -y -qq chromium"]


def test_a_failed_chromium_install_shows_the_logs_end(machine):
    result = machine.run(ENSURE_CHROMIUM, STUB_FAIL="apt-get install", STUB_FAIL_CODE="100")
    assert result.returncode == 100
    first, *tail = lines(result)
    assert first == f"ensure-chromium: installing chromium failed (exit 100); the whole log: {machine.log}"
    assert len(tail) == 20 and tail[-1] == "stub-error: apt-get install broke"


def test_a_present_chromium_is_named_in_one_line(machine):
    machine.install("chromium")
    result = machine.run(ENSURE_CHROMIUM)
    assert result.returncode == 0 and result.stdout == f"ensure-chromium: {machine.bin / 'chromium'}\n"
    assert not machine.log.exists()
