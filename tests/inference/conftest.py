import pytest


@pytest.fixture(autouse=True)
def _use_float64(float64):
    """Cross-backend and statistical checks here run in float64 (DESIGN.md §8)."""
    yield
