#!/usr/bin/env bash
# The front-end packages the class's web server serves itself (web/package.json:
# xterm.js for the terminal in the student page, asciinema-player for the
# teacher's replay), from the npm registry at the versions and SHA-512s
# web/package-lock.json pins. No page ever loads them from a CDN. Fetched by
# scripts/fetch-web.py (Python's standard library), not npm: Debian's npm
# package is the longest install of a fresh machine, for seven tarballs.
#   install-web.sh     install them when missing or when the lock file changed
set -euo pipefail
say() { printf 'foolab: %s\n' "$*" >&2; }
web="$(dirname "$0")/../web"
stamp=$web/node_modules/.foolab-lock
if [ -f "$stamp" ] && cmp -s "$web/package-lock.json" "$stamp"; then
  exit 0
fi
command -v python3 >/dev/null 2>&1 || { echo "foolab: error: python3 is missing (scripts/fetch-web.py needs it)" >&2; exit 1; }
say "fetching xterm.js and asciinema-player from the npm registry (web/package-lock.json)"
python3 "$(dirname "$0")/fetch-web.py" "$web"
