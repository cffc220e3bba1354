"""Particle filters for models with a ``ppl.markov`` block, and PMMH ("pmmh").

``particle_filter`` runs a bootstrap or guided filter at given static
parameters (filtering moments, log-likelihood, optional backward-simulation
smoothing); ``ppl.infer(model, method="pmmh")`` samples the static
parameters with particle-marginal Metropolis-Hastings. Both run in JAX (the
NumPyro backend); ``backend="pyro"`` runs the same filters (bootstrap,
guided, locally optimal) and PMMH in torch (no smoothing there).
"""
from __future__ import annotations

from typing import Any, Callable

from ..registry import Capabilities, MethodSpec, register
from .config import FilterConfig, PMMHConfig
from .kalman import kalman_filter


def particle_filter(model: Any, params: dict[str, Any] | None = None, backend: str = "numpyro",
                    **options: Any) -> Any:
    """Filters a ``ppl.markov`` model at fixed static parameters; see :mod:`.api`."""
    from .api import particle_filter as run  # JAX/torch load only when a filter runs

    return run(model, params=params, backend=backend, **options)


def _pmmh_numpyro(program: Any, config: PMMHConfig) -> Any:
    from .pmmh import run_pmmh  # JAX loads only when PMMH runs on NumPyro

    return run_pmmh(program, config)


def _pmmh_pyro(program: Any, config: PMMHConfig) -> Any:
    from .pmmh_torch import run_pmmh  # torch loads only when PMMH runs on Pyro

    return run_pmmh(program, config)


# backend -> PMMH driver(program, config) -> Posterior
PMMH_BACKENDS: dict[str, Callable[[Any, PMMHConfig], Any]] = {
    "numpyro": _pmmh_numpyro, "pyro": _pmmh_pyro,
}


def _run_pmmh(program: Any, config: PMMHConfig) -> Any:
    return PMMH_BACKENDS[program.backend_name](program, config)


def __getattr__(name: str) -> Any:
    if name == "FilterResult":
        from .api import FilterResult

        return FilterResult
    raise AttributeError(name)


register(MethodSpec("pmmh", _run_pmmh, PMMHConfig,
                    Capabilities(backends=tuple(PMMH_BACKENDS), needs_gradients=False),
                    "particle-marginal Metropolis-Hastings over the static parameters of a "
                    "ppl.markov model"))

__all__ = ["FilterConfig", "FilterResult", "PMMHConfig", "kalman_filter", "particle_filter"]
