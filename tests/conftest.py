"""Shared fixtures: float64 on both backends, and GPU skipping."""
from __future__ import annotations

import os

import pytest

# Two xdist workers share two cores: one intra-op thread each. Tiny models are
# otherwise dominated by thread hand-offs (a 3x3 torch op took ~12 ms under load).
os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_configure(config):
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def float64():
    """Runs a test with float64 as the default float on JAX and torch, then restores."""
    import jax
    import torch

    old_jax, old_torch = jax.config.jax_enable_x64, torch.get_default_dtype()
    jax.config.update("jax_enable_x64", True)
    torch.set_default_dtype(torch.float64)
    yield
    jax.config.update("jax_enable_x64", old_jax)
    torch.set_default_dtype(old_torch)


def pytest_collection_modifyitems(config, items):
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover - torch is a dependency
        has_cuda = False
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip)
