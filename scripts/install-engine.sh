#!/usr/bin/env bash
# Make sure a Docker engine and Compose are available, installing them from
# Debian packages when missing (README: Two commands).
#   install-engine.sh            install what is missing, start dockerd if none answers
#   install-engine.sh --stop     stop the dockerd this script started (and only that one)
# The pid of a daemon we start is kept in $FOOLAB_STATE/dockerd.pid.
set -euo pipefail

STATE=${FOOLAB_STATE:-/var/lib/foolab}
PIDFILE=$STATE/dockerd.pid
LOG=$STATE/dockerd.log

say() { printf 'foolab: %s\n' "$*" >&2; }
die() { printf 'foolab: error: %s\n' "$*" >&2; exit 1; }

if [ "${1:-}" = "--stop" ]; then
  if [ -f "$PIDFILE" ]; then
    pid=$(cat "$PIDFILE")
    if kill -0 "$pid" 2>/dev/null; then
      say "stopping the dockerd we started (pid $pid)"
      kill "$pid"
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    fi
    rm -f "$PIDFILE"
  fi
  exit 0
fi

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root to install $*: run as root or install Docker yourself"; fi
}

apt_updated=
apt_update() {
  if [ -z "$apt_updated" ]; then
    say "apt-get update"
    as_root apt-get update -qq
    apt_updated=1
  fi
}

# 1. The engine (Debian's docker.io) when there is no dockerd at all.
if ! command -v dockerd >/dev/null 2>&1 && ! docker info >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "Docker is missing and this is not a Debian-like system: install Docker Engine and Compose v2, then retry"
  apt_update
  say "installing Debian's docker.io (Docker Engine)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io iproute2 >/dev/null
fi

# The cluster's nodes are reached over SSH as real machines are
# (lab/engine/node_ssh.py): Debian's ssh client and ssh-keygen.
if ! command -v ssh >/dev/null 2>&1 || ! command -v ssh-keygen >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    apt_update
    say "installing Debian's openssh-client (a cluster's nodes are reached over SSH)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-client >/dev/null
  fi
fi

# 2. Compose: v2 plugin preferred, v1 docker-compose accepted.
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "Docker Compose is missing: install the compose plugin, then retry"
  say "installing Compose v2 (Debian 13's docker-compose, a single static plugin)"
  side=$(mktemp -d)
  trap 'rm -rf "$side"' EXIT
  mkdir -p "$side/lists/partial" "$side/archives/partial"
  echo "deb http://deb.debian.org/debian trixie main" >"$side/sources.list"
  opts=(-o Dir::Etc::SourceList="$side/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o Dir::State::Lists="$side/lists" -o Dir::Cache::Archives="$side/archives"
        -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
  if as_root apt-get "${opts[@]}" update -qq && \
     (cd "$side" && as_root apt-get "${opts[@]}" download docker-compose >/dev/null); then
    dpkg -x "$side"/docker-compose_*.deb "$side/x"
    plugin="$side/x/usr/libexec/docker/cli-plugins/docker-compose"
    as_root install -D -m 0755 "$plugin" /usr/local/lib/docker/cli-plugins/docker-compose
  else
    say "Compose v2 not available; falling back to Debian 12's docker-compose (v1)"
    apt_update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null
  fi
fi

# 3. A daemon that answers.
if ! docker info >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || die "the Docker daemon is not reachable and only root can start it: start Docker (or add yourself to the docker group), then retry"
  mkdir -p "$STATE"
  say "starting dockerd (log: $LOG)"
  # Fully detached: no inherited stdout/stderr, so callers that wait for our
  # output to close do not also wait for the daemon.
  setsid dockerd >"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  for _ in $(seq 1 150); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || die "dockerd exited at start; see $LOG"
    sleep 0.2
  done
  docker info >/dev/null 2>&1 || die "dockerd did not answer within 30 s; see $LOG"
fi
say "docker engine $(docker version --format '{{.Server.Version}}' 2>/dev/null), compose $( (docker compose version --short 2>/dev/null) || docker-compose version --short)"
