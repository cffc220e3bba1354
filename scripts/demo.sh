#!/usr/bin/env bash
# The main job: the end-to-end pipeline example (declare, compile, sample, ArviZ out).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh
. .venv/bin/activate
python examples/pipeline.py "$@"
