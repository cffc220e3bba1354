#!/usr/bin/env bash
# Creates .venv and installs ppl with its test extras. torch is pinned first
# (constraints.txt) so that pip never swaps in a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
python -m pip install --quiet -c constraints.txt "torch==2.13.0"
python -m pip install --quiet -c constraints.txt -e ".[test]"
