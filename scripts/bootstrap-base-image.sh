#!/usr/bin/env bash
# Provide the base image debian:bookworm-slim when no registry can be reached:
# debootstrap a minimal Debian 12 and `docker import` it under that name.
# The imported image has no CMD; every Dockerfile of the lab sets its own.
#   bootstrap-base-image.sh              a pull, else debootstrap + import
#   bootstrap-base-image.sh --rootfs TAR only the debootstrap, into TAR: needs
#                                        no engine, so it can run while the
#                                        engine is still being installed
#                                        (scripts/install-deps.sh)
#   bootstrap-base-image.sh --import TAR that TAR as the base image
set -euo pipefail
IMAGE=debian:bookworm-slim
MIRROR=${FOOLAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
say() { printf 'foolab: %s\n' "$*" >&2; }

# debootstrap itself: Debian's if installed, else its package unpacked in the
# folder $1 (apt-get download takes no lock: an apt install may be running).
debootstrap_cmd() {
  if command -v debootstrap >/dev/null 2>&1; then echo debootstrap; return; fi
  [ "$(id -u)" = 0 ] || { echo "foolab: error: debootstrap is missing and only root can run it" >&2; exit 1; }
  local aside=$1
  (cd "$aside" && apt-get download -qq debootstrap) >&2 2>/dev/null \
    || { apt-get update -qq && (cd "$aside" && apt-get download -qq debootstrap); } >&2
  dpkg -x "$aside"/debootstrap_*.deb "$aside/x"
  echo "env DEBOOTSTRAP_DIR=$aside/x/usr/share/debootstrap $aside/x/usr/sbin/debootstrap"
}

rootfs() {  # rootfs TAR
  say "building $IMAGE locally with debootstrap (about 40 s)"
  local cmd root
  root=$(mktemp -d /var/tmp/foolab-rootfs.XXXXXX)
  # shellcheck disable=SC2064
  trap "rm -rf '$root' '$root.log' '$root.debootstrap'" EXIT
  mkdir "$root.debootstrap"
  cmd=$(debootstrap_cmd "$root.debootstrap") || exit 1
  $cmd --variant=minbase bookworm "$root" "$MIRROR" >"$root.log" 2>&1 || {
    echo "foolab: error: debootstrap failed; last lines of $root.log:" >&2; tail -5 "$root.log" >&2; exit 1; }
  # Same trimming as the official slim image: no apt lists, no caches.
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
  tar -C "$root" -cf "$1" .
}

import() {  # import TAR
  docker import --change 'CMD ["bash"]' "$1" "$IMAGE" >/dev/null
  say "base image $IMAGE imported"
}

case "${1:-}" in
  --rootfs) rootfs "$2"; exit 0 ;;
  --import) import "$2"; exit 0 ;;
esac

if docker image inspect "$IMAGE" >/dev/null 2>&1; then exit 0; fi
say "base image $IMAGE: trying a pull"
if timeout 60 docker pull -q "$IMAGE" >/dev/null 2>&1; then exit 0; fi
say "no registry reachable"
tar=$(mktemp /var/tmp/foolab-rootfs.XXXXXX.tar)
trap 'rm -f "$tar"' EXIT
(rootfs "$tar")
import "$tar"
