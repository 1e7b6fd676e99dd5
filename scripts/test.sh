#!/usr/bin/env bash
# One command: install everything the tests need, then lint, type-check and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  for p in python3-venv postgresql dovecot-imapd chromium fonts-noto-cjk; do
    dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
  done
  if [ "${#need[@]}" -gt 0 ]; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${need[@]}"
  fi
  # Debian starts a cluster on install; the tests run their own, so leave the port free.
  command -v pg_ctlcluster >/dev/null && pg_lsclusters -h 2>/dev/null | while read -r ver name _; do
    pg_ctlcluster "$ver" "$name" stop 2>/dev/null || true
  done
fi
HOTLINE_EXTRAS="[test]" bash scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH" NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"
ruff check .
ruff format --check .
mypy
python -m pytest -q "$@"
