#!/usr/bin/env bash
# One command: install Hotline 12345 and start the center (SQLite in ./hotline-data, no config).
# Extra arguments go to `hotline serve`, e.g. `bash scripts/setup.sh --demo --host 0.0.0.0`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/hotline serve "$@"
