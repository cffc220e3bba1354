#!/usr/bin/env bash
# The test suite (slow and GPU tests excluded; run them with `pytest -m slow` / `-m gpu`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh  # idempotent: quick when everything is installed
. .venv/bin/activate
python -m pytest -m "not slow and not gpu" -n 2 -q "$@"
