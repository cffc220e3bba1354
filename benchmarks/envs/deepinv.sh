#!/usr/bin/env bash
# Creates the deepinv contender's own environment for benchmarks/gmm_inverse.py.
#
# Why a separate venv: deepinv imports torchvision, and PyPI's torchvision only
# loads with PyPI's default (CUDA) torch build, several GB, while the project's
# environment pins torch 2.13.0+cpu. Installing deepinv there would replace it.
# The benchmark talks to this env through benchmarks/gmm_inverse_deepinv.py,
# which imports neither ppl nor jax.
#
# Usage: bash benchmarks/envs/deepinv.sh [VENV_DIR]   (default .bench-venvs/deepinv)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${1:-$root/.bench-venvs/deepinv}"
python="${PYTHON:-python3}"

if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import deepinv" 2>/dev/null; then
  echo "deepinv env ready: $venv ($("$venv/bin/python" -c 'import deepinv; print(deepinv.__version__)'))"
  exit 0
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet deepinv numpy
"$venv/bin/python" -c "import deepinv, torch; print('deepinv', deepinv.__version__, 'torch', torch.__version__)"
echo "deepinv env ready: $venv"
