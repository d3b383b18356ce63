#!/usr/bin/env bash
# Build the Debian 12 base image (debian:bookworm-slim equivalent) from Debian packages, for
# machines that reach no image registry. Usage: docker/build-base-image.sh [IMAGE_NAME]
# Does nothing when the image already exists (set CHURN_REBUILD_BASE=1 to force).
# Each stage (debootstrap, docker import) prints one line when it ends, with its time; their whole
# output goes to a log: ${TMPDIR:-/tmp}/churn-setup.log, named once, or, where CHURN_SETUP_LOG is
# set (ensure-docker.sh sets it), that file, appended to. A failed stage prints its name, its exit
# code, the log's path and the log's last lines.
set -euo pipefail
image="${1:-debian:bookworm-slim}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

say() { echo "build-base-image: $*"; }

if [ -z "${CHURN_REBUILD_BASE:-}" ] && docker image inspect "$image" >/dev/null 2>&1; then
    say "base image $image already present"
    exit 0
fi
command -v debootstrap >/dev/null || { say "debootstrap is missing: apt-get install -y debootstrap" >&2; exit 1; }

if [ -n "${CHURN_SETUP_LOG:-}" ]; then
    log="$CHURN_SETUP_LOG"
else
    log="${TMPDIR:-/tmp}/churn-setup.log"
    : >"$log"
    say "building $image from Debian packages (about a minute); the whole output goes to $log"
fi

# shellcheck source=docker/stage.sh
source "$(cd "$(dirname "$0")" && pwd)/stage.sh"

import_rootfs() { tar -C "$rootfs" -c . | docker import - "$image"; }

rootfs="$(mktemp -d /tmp/churn-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
stage "debootstrap of bookworm" "debootstrapped bookworm" debootstrap --variant=minbase bookworm "$rootfs" "$mirror"
# Keep images lean, like the official slim image.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
stage "importing $image" "imported $image" import_rootfs
