#!/usr/bin/env bash
# Make sure a Docker engine, Compose and the base image are there for the local backend.
# Idempotent: does nothing on a machine where `docker info` answers and the base image exists
# (one line: "ready: ..."). On Debian/Ubuntu as root it installs what is missing (docker.io,
# docker-compose, debootstrap) and starts dockerd in the background; elsewhere it says what to
# install. Each stage prints one line when it ends, with its time; the stages' whole output goes
# to one log (CHURN_SETUP_LOG, default ${TMPDIR:-/tmp}/churn-setup.log), named once, and a failed
# stage prints its name, its exit code, the log's path and the log's last lines.
# dockerd logs to CHURN_DOCKERD_LOG (default /var/log/dockerd.log).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
base_image="${BASE_IMAGE:-debian:bookworm-slim}"
log="${CHURN_SETUP_LOG:-${TMPDIR:-/tmp}/churn-setup.log}"
dockerd_log="${CHURN_DOCKERD_LOG:-/var/log/dockerd.log}"
export CHURN_SETUP_LOG="$log"  # build-base-image.sh appends to the same log

say() { echo "ensure-docker: $*"; }
can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

# The log is started (emptied, and its path printed) by the first stage that writes to it.
start_log() {
    [ -z "${_log_started:-}" ] || return 0
    : >"$log"
    _log_started=1
    say "setting up; the whole output goes to $log"
}

# stage(): one line per stage, its output in the log (shared with the other set-up scripts).
# shellcheck source=docker/stage.sh
source "$here/stage.sh"

apt_install() {
    can_install || { say "missing: $*; install them (Debian: apt-get install -y $*)" >&2; exit 1; }
    if [ -z "${_apt_updated:-}" ]; then
        stage "updating the package lists" "updated the package lists" apt-get update -qq
        _apt_updated=1
    fi
    stage "installing $*" "installed $*" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}

# dockerd in the background, then up to 60 s for `docker info` to answer; when it exits or does
# not answer, the end of its own log goes to the set-up log.
start_dockerd() {
    local pid rc=0
    nohup dockerd >"$dockerd_log" 2>&1 &
    pid=$!
    for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || break
        docker info >/dev/null 2>&1 && return 0
        sleep 1
    done
    docker info >/dev/null 2>&1 && return 0
    if kill -0 "$pid" 2>/dev/null; then
        echo "dockerd did not answer within 60 s; stopped it (a next try starts afresh)"
        kill "$pid" 2>/dev/null || true
        rc=1
    else
        wait "$pid" || rc=$?
        echo "dockerd exited (exit $rc)"
        [ "$rc" -ne 0 ] || rc=1
    fi
    echo "the end of $dockerd_log:"
    tail -n 20 "$dockerd_log"
    return "$rc"
}

# 1. The engine.
if ! command -v dockerd >/dev/null && ! docker info >/dev/null 2>&1; then
    apt_install docker.io
fi
if ! docker info >/dev/null 2>&1; then
    if ! can_install || ! command -v dockerd >/dev/null; then
        say "the Docker daemon does not answer; start Docker and try again" >&2
        exit 1
    fi
    stage "starting dockerd" "started dockerd, logging to $dockerd_log" start_dockerd
fi

# 2. Compose: the SageMaker SDK needs `docker compose` v2 or a `docker-compose` executable.
if ! docker compose version 2>/dev/null | grep -q v2 && ! command -v docker-compose >/dev/null; then
    apt_install docker-compose
fi

# 3. The base image: pulled where a registry answers, else built from Debian packages.
if ! docker image inspect "$base_image" >/dev/null 2>&1; then
    start_log
    started=$SECONDS
    echo "### pulling $base_image" >>"$log"
    if timeout 60 docker pull "$base_image" </dev/null >>"$log" 2>&1; then
        say "pulled $base_image ($((SECONDS - started)) s)"
    else
        say "no registry answered ($((SECONDS - started)) s): building $base_image from Debian packages (about a minute)"
        command -v debootstrap >/dev/null || apt_install debootstrap
        "$here/build-base-image.sh" "$base_image"
    fi
fi
say "ready: $(docker info --format 'Docker {{.ServerVersion}}'), base image $base_image"
