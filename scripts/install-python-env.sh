#!/usr/bin/env bash
# Make the project's virtual environment (default .venv) with the lab's
# Python package and its test tools. On a fresh Debian, python3-venv may be
# missing: install it when root.
set -euo pipefail
VENV=${1:-.venv}
say() { printf 'foolab: %s\n' "$*" >&2; }
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing Debian's python3-venv"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
  else
    echo "foolab: error: python3 with venv is missing: install python3-venv (as root: apt-get install python3-venv)" >&2
    exit 1
  fi
fi
[ -x "$VENV/bin/python" ] || { say "making the Python environment $VENV"; python3 -m venv "$VENV"; }
say "installing the lab's Python package and test tools into $VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'
