#!/usr/bin/env bash
# Everything `make lab-up` needs, side by side (issue 34: a fresh machine to
# seven healthy hosts in 90 s). On a machine that has it all, this only looks.
#   1. Every Debian package missing, in one apt transaction (one `apt-get
#      update`): the engine (docker.io, iproute2), the ssh client, python3-venv,
#      wget. Meanwhile the base image: with no registry to pull it from, its
#      root file system made by debootstrap (40 s, no engine needed), then
#      imported once the engine answers.
#   2. Then at once: the engine started (and Compose), the Python environment,
#      the front-end packages.
# Each job logs to .lab/logs/install-JOB.log; its lines are shown as it ends.
#   install-deps.sh VENV
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv}
LOGS=${FOOLAB_STATE_DIR:-.lab}/logs
IMAGE=debian:bookworm-slim
say() { printf 'foolab: %s\n' "$*" >&2; }
has() { command -v "$1" >/dev/null 2>&1; }

missing=()
if ! docker info >/dev/null 2>&1 && ! has dockerd; then
  missing+=(docker.io iproute2)
fi
{ has ssh && has ssh-keygen; } || missing+=(openssh-client)
{ has python3 && python3 -c 'import ensurepip, venv' 2>/dev/null; } || missing+=(python3 python3-venv)
[ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
has wget || missing+=(wget)  # debootstrap's downloader
if [ "${#missing[@]}" -gt 0 ] && { [ "$(id -u)" != 0 ] || ! has apt-get; }; then
  echo "foolab: error: missing ${missing[*]}: install them (as root: apt-get install ${missing[*]}), then retry" >&2
  exit 1
fi

mkdir -p "$LOGS"
rm -f "$LOGS/install-engine.rc"
declare -A jobs=()
start() {  # start NAME COMMAND...: in the background, logged
  local name=$1; shift
  "$@" >"$LOGS/install-$name.log" 2>&1 &
  jobs[$name]=$!
}

registry_reachable() {  # a registry that answers at all (401 without a token)
  python3 -c '
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen("https://registry-1.docker.io/v2/", timeout=5)
except urllib.error.HTTPError:
    sys.exit(0)
except Exception:
    sys.exit(1)' 2>/dev/null
}

# Within a minute and a half (the engine's package may still install), unless
# the engine's job has already failed (a user who may not start dockerd).
engine_answers() {
  for _ in $(seq 1 450); do
    docker info >/dev/null 2>&1 && return 0
    [ "$(cat "$LOGS/install-engine.rc" 2>/dev/null)" = 0 ] || [ ! -s "$LOGS/install-engine.rc" ] \
      || return 1
    sleep 0.2
  done
  return 1
}

base_image() {
  local tar=
  if docker info >/dev/null 2>&1 && docker image inspect "$IMAGE" >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = 0 ] && has wget && ! registry_reachable; then
    tar=$(mktemp /var/tmp/foolab-rootfs.XXXXXX.tar)
    trap 'rm -f "$tar"' EXIT
    scripts/bootstrap-base-image.sh --rootfs "$tar"
  fi
  engine_answers || { say "error: no engine answered"; return 1; }
  if docker image inspect "$IMAGE" >/dev/null 2>&1; then return 0; fi
  if [ -n "$tar" ]; then scripts/bootstrap-base-image.sh --import "$tar"
  else scripts/bootstrap-base-image.sh; fi
}

python_env() {
  if [ -f "$VENV/.installed" ] && [ "$VENV/.installed" -nt pyproject.toml ] \
     && [ "$VENV/.installed" -nt scripts/install-python-env.sh ]; then
    return 0
  fi
  scripts/install-python-env.sh "$VENV" && touch "$VENV/.installed"
}

# 1. The packages, and the base image meanwhile.
if [ "${#missing[@]}" -gt 0 ]; then
  say "apt-get update"
  apt-get update -qq
fi
start base-image base_image
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing Debian's ${missing[*]} (one apt transaction; the base image meanwhile)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  say "[apt] done after $SECONDS s"
fi

# 2. The rest side by side.
engine() { local rc=0; scripts/install-engine.sh || rc=$?; echo "$rc" >"$LOGS/install-engine.rc"; return "$rc"; }
start engine engine
start python python_env
start web scripts/install-web.sh

failed=()
while [ "${#jobs[@]}" -gt 0 ]; do
  rc=0 ended=
  wait -n -p ended "${jobs[@]}" || rc=$?
  for name in "${!jobs[@]}"; do [ "${jobs[$name]}" = "$ended" ] && break; done
  unset "jobs[$name]"
  sed -n 's/^foolab: //p' "$LOGS/install-$name.log" | sed "s/^/foolab: [$name] /" >&2
  if [ "$rc" = 0 ]; then [ "$SECONDS" -lt 2 ] || say "[$name] done after $SECONDS s"
  else failed+=("$name"); fi
done
if [ "${#failed[@]}" -gt 0 ]; then
  for name in "${failed[@]}"; do  # its own lines are above; what else it said, here
    say "error: $name failed (log: $LOGS/install-$name.log)"
    grep -v '^foolab: ' "$LOGS/install-$name.log" | tail -5 >&2 || true
  done
  exit 1
fi
