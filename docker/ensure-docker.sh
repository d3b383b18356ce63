#!/usr/bin/env bash
# Make sure a Docker engine, Compose and the base image are there for the local backend.
# Idempotent: does nothing on a machine where `docker info` answers and the base image exists.
# On Debian/Ubuntu as root it installs what is missing (docker.io, docker-compose, debootstrap)
# and starts dockerd in the background; elsewhere it says what to install.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
base_image="${BASE_IMAGE:-debian:bookworm-slim}"

say() { echo "ensure-docker: $*"; }
can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

apt_install() {
    can_install || { say "missing: $*; install them (Debian: apt-get install -y $*)" >&2; exit 1; }
    say "installing $*"
    if [ -z "${_apt_updated:-}" ]; then apt-get update -qq; _apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
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
    say "starting dockerd (log: /var/log/dockerd.log)"
    nohup dockerd >/var/log/dockerd.log 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { tail -20 /var/log/dockerd.log >&2; say "dockerd did not start" >&2; exit 1; }
fi

# 2. Compose: the SageMaker SDK needs `docker compose` v2 or a `docker-compose` executable.
if ! docker compose version 2>/dev/null | grep -q v2 && ! command -v docker-compose >/dev/null; then
    apt_install docker-compose
fi

# 3. The base image: pulled where a registry answers, else built from Debian packages.
if ! docker image inspect "$base_image" >/dev/null 2>&1; then
    if timeout 60 docker pull "$base_image" >/dev/null 2>&1; then
        say "pulled $base_image"
    else
        say "no registry reachable: building $base_image from Debian packages"
        command -v debootstrap >/dev/null || apt_install debootstrap
        "$here/build-base-image.sh" "$base_image"
    fi
fi
say "ready: $(docker info --format 'Docker {{.ServerVersion}}'), base image $base_image"
