"""Backends, loaded lazily: importing ``ppl`` never imports torch or jax."""
from __future__ import annotations

import importlib
from typing import Any

from ..errors import LoweringError

# name -> module defining `make_backend(device, dtype)`; imported only when used.
BACKENDS = {
    "numpyro": "ppl.backends.numpyro_backend",
    "pyro": "ppl.backends.pyro_backend",
}
DEVICES = ("cpu", "cuda")


def get_backend(name: str, device: str = "cpu") -> Any:
    """The backend object for ``name`` on ``device``."""
    if name not in BACKENDS:
        raise LoweringError(f"unknown backend '{name}'; choose one of {', '.join(BACKENDS)}")
    if device not in DEVICES:
        raise LoweringError(f"unknown device '{device}'; choose one of {', '.join(DEVICES)}")
    return importlib.import_module(BACKENDS[name]).make_backend(device)
