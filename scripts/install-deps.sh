#!/usr/bin/env bash
# Everything `make lab-up` needs, side by side (issue 34: a fresh machine to
# seven healthy hosts in 90 s). On a machine that has it all, this takes
# well under a second.
#   1. Every Debian package missing, in one apt transaction (one `apt-get
#      update`): the engine (docker.io, iproute2), the ssh client, python3-venv,
#      debootstrap when there is no engine yet (so no base image either).
#   2. Then at once, each logging to .lab/logs/install-JOB.log: the engine
#      started (and Compose), the Python environment, the front-end packages,
#      and, as soon as the engine answers, the base image (a pull, or
#      debootstrap: its 40 s overlap the others).
#   install-deps.sh VENV
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv}
LOGS=${FOOLAB_STATE_DIR:-.lab}/logs
say() { printf 'foolab: %s\n' "$*" >&2; }
has() { command -v "$1" >/dev/null 2>&1; }

# 1. What is missing, in one transaction.
missing=()
engine_answers=0
docker info >/dev/null 2>&1 && engine_answers=1
if [ "$engine_answers" = 0 ] && ! has dockerd; then
  missing+=(docker.io iproute2)
  has debootstrap || missing+=(debootstrap)
fi
{ has ssh && has ssh-keygen; } || missing+=(openssh-client)
{ has python3 && python3 -c 'import ensurepip, venv' 2>/dev/null; } || missing+=(python3 python3-venv)
[ -f /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! has apt-get; then
    echo "foolab: error: missing ${missing[*]}: install them (as root: apt-get install ${missing[*]}), then retry" >&2
    exit 1
  fi
  say "installing Debian's ${missing[*]} (one apt transaction)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  say "[apt] done after $SECONDS s"
fi

# 2. Side by side.
mkdir -p "$LOGS"
python_env() {
  if [ -f "$VENV/.installed" ] && [ "$VENV/.installed" -nt pyproject.toml ] \
     && [ "$VENV/.installed" -nt scripts/install-python-env.sh ]; then
    return 0
  fi
  scripts/install-python-env.sh "$VENV" && touch "$VENV/.installed"
}
base_image() {
  for _ in $(seq 1 300); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  scripts/bootstrap-base-image.sh
}
declare -A jobs=()
start() {  # start NAME COMMAND...: in the background, logged
  local name=$1; shift
  "$@" >"$LOGS/install-$name.log" 2>&1 &
  jobs[$name]=$!
}
start engine scripts/install-engine.sh
start python python_env
start web scripts/install-web.sh
start base-image base_image

# Each job's own lines as it ends (a fresh machine waits here for a minute).
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
  for name in "${failed[@]}"; do
    say "error: $name failed; the end of $LOGS/install-$name.log:"
    tail -5 "$LOGS/install-$name.log" >&2
  done
  exit 1
fi
