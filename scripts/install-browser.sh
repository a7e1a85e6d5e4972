#!/usr/bin/env bash
# Debian's chromium and chromium-driver, for the dashboard's browser test
# (scenarios/test_dashboard_in_browser.py, Selenium). Nothing is downloaded at test time.
#   install-browser.sh     install them when missing (root, or sudo)
set -euo pipefail
say() { printf 'foolab: %s\n' "$*" >&2; }
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "chromium and chromium-driver are missing and this is not Debian: install them (the dashboard's browser test needs them)"
  exit 0
fi
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else printf 'foolab: error: need root to install chromium chromium-driver\n' >&2; exit 1; fi
}
say "installing Debian's chromium and chromium-driver (about 20 s)"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
