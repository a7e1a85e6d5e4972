#!/usr/bin/env bash
# The front-end packages the class's web server serves itself (web/package.json:
# xterm.js for the terminal in the student page, asciinema-player for the
# teacher's replay), from the npm registry at the
# versions web/package-lock.json pins. No page ever loads them from a CDN.
#   install-web.sh     install them when missing or when the lock file changed
set -euo pipefail
say() { printf 'foolab: %s\n' "$*" >&2; }
cd "$(dirname "$0")/../web"
stamp=node_modules/.foolab-lock
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's npm (for xterm.js)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
  else
    echo "foolab: error: npm is missing: install nodejs and npm (the class's terminal page needs xterm.js)" >&2
    exit 1
  fi
fi
say "installing xterm.js and asciinema-player from the npm registry (web/package-lock.json)"
npm ci --no-audit --no-fund --silent
cp package-lock.json "$stamp"
