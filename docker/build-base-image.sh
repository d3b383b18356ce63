#!/usr/bin/env bash
# Build the Debian 12 base image (debian:bookworm-slim equivalent) from Debian packages, for
# machines that reach no image registry. Usage: docker/build-base-image.sh [IMAGE_NAME]
# Does nothing when the image already exists (set CHURN_REBUILD_BASE=1 to force).
set -euo pipefail
image="${1:-debian:bookworm-slim}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [ -z "${CHURN_REBUILD_BASE:-}" ] && docker image inspect "$image" >/dev/null 2>&1; then
    echo "base image $image already present"
    exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install -y debootstrap" >&2; exit 1; }

rootfs="$(mktemp -d /tmp/churn-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap bookworm into $rootfs (about a minute)"
debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -20 "$rootfs.log" >&2; exit 1; }
# Keep images lean, like the official slim image.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
tar -C "$rootfs" -c . | docker import - "$image" >/dev/null
rm -f "$rootfs.log"
echo "imported $image"
