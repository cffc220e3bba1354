#!/usr/bin/env bash
# The main job: the end-to-end pipeline example (declare, compile, sample, ArviZ out).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh  # idempotent: quick when everything is installed
. .venv/bin/activate
python examples/pipeline.py "$@"
