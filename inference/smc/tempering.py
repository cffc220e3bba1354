"""Adaptive tempering: the next inverse temperature of each chain by bisection on the ESS.

Written once against an :class:`~inference.smc.adapter.ArrayAdapter` and
vectorised over chains: a fixed number of bisection halvings (enough for the
tolerance) keeps it one compiled loop on JAX.
"""
from __future__ import annotations

import math
from typing import Any

from .adapter import ArrayAdapter
from .batched import ess, reweight


def next_temperature(xp: ArrayAdapter, log_lik: Any, beta: Any, target_ess: float,
                     tol: float = 1e-10) -> Any:
    """The largest next temperature in (beta, 1] whose reweighting keeps the ESS.

    Args:
        log_lik: (C, N) log-likelihood of each chain's particles; -inf is allowed.
        beta: (C,) current inverse temperatures in [0, 1).
        target_ess: ESS to keep, as a fraction of N in (0, 1).
        tol: width the bisection narrows the step to.

    Returns:
        (C,) new inverse temperatures; 1.0 where the whole remaining step keeps
        the ESS. Chains whose particles all have log-likelihood -inf get NaN
        ESS and are the caller's to flag.
    """
    ns = xp.ns
    target = target_ess * log_lik.shape[-1]
    # Below a few ulps the sum beta + step would round back to beta.
    tol = max(tol, 4 * float(ns.finfo(log_lik.dtype).eps))
    remaining = 1.0 - beta

    def halve(bounds: tuple[Any, Any]) -> tuple[Any, Any]:
        low, high = bounds
        mid = 0.5 * (low + high)
        keeps = ess(ns, reweight(ns, log_lik, mid)) >= target
        return ns.where(keeps, mid, low), ns.where(keeps, high, mid)

    low, _ = xp.fori_loop(math.ceil(math.log2(1 / tol)), halve,
                          (ns.zeros_like(beta), remaining))
    whole = ess(ns, reweight(ns, log_lik, remaining)) >= target
    # Particles with -inf log-likelihood die at any positive step, so the ESS
    # may sit below target however small the step: take the smallest step then.
    stepped = ns.minimum(beta + ns.maximum(low, tol), ns.ones_like(beta))
    return ns.where(whole, ns.ones_like(beta), stepped)
