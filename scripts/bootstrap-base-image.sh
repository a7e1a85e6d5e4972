#!/usr/bin/env bash
# Provide the base image debian:bookworm-slim when no registry can be reached:
# debootstrap a minimal Debian 12 and `docker import` it under that name.
# The imported image has no CMD; every Dockerfile of the lab sets its own.
set -euo pipefail
IMAGE=${1:-debian:bookworm-slim}
MIRROR=${FOOLAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
say() { printf 'foolab: %s\n' "$*" >&2; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then exit 0; fi
say "base image $IMAGE: trying a pull"
if timeout 60 docker pull -q "$IMAGE" >/dev/null 2>&1; then exit 0; fi
say "no registry reachable: building $IMAGE locally with debootstrap (about 40 s)"
if ! command -v debootstrap >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { echo "foolab: error: debootstrap is missing and only root can install it" >&2; exit 1; }
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
root=$(mktemp -d /var/tmp/foolab-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$root.log" 2>&1 || {
  echo "foolab: error: debootstrap failed; last lines of $root.log:" >&2; tail -5 "$root.log" >&2; exit 1; }
rm -f "$root.log"
# Same trimming as the official slim image: no apt lists, no caches.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
tar -C "$root" -c . | docker import --change 'CMD ["bash"]' - "$IMAGE" >/dev/null
say "base image $IMAGE imported"
