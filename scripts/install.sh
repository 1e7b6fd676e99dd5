#!/usr/bin/env bash
# Installs Hotline 12345 into ./.venv (Debian 12, as root or any user with python3-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian keeps ensurepip (which `python3 -m venv` needs) in python3-venv.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! python3 -c "import ensurepip" >/dev/null 2>&1; then
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv python3-pip
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install --quiet -e ".${HOTLINE_EXTRAS:-}"
