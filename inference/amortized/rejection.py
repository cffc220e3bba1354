"""Rejection of draws outside the prior support (``support="reject"``), as sbi does.

An estimator trained on the raw parameters puts a little mass outside a
bounded prior's support (its "leakage"). Draws are proposed in fixed-size
rounds (one compiled shape on JAX), the ones outside the support are
discarded, and proposing stops once enough are kept. A low acceptance rate
gets a ``RuntimeWarning``; past ``MAX_PROPOSALS_PER_DRAW`` proposals per
requested draw it is an error that names the way out (``support="transform"``).
"""
from __future__ import annotations

import math
import warnings
from typing import Callable

import numpy as np

from ppl.errors import MethodError

WARN_BELOW_ACCEPTANCE = 0.5  # more than half of q's mass outside the prior: q is poor at this x
MAX_PROPOSALS_PER_DRAW = 100
ROUND_SEED_STRIDE = 15_485_863


def rejection_draws(propose: Callable[[int, int], np.ndarray], inside: Callable[[np.ndarray], np.ndarray],
                    n: int, seed: int, round_size: int) -> tuple[np.ndarray, float]:
    """``n`` draws of ``propose`` that are ``inside`` the support.

    Args:
        propose: ``(size, seed) -> (size, d)`` draws in the estimator's space.
        inside: ``(m, d) -> (m,)`` bool, whether each row lies in the support.
        n: draws wanted.
        seed: seed of the first round (round ``i`` uses ``seed + i * ROUND_SEED_STRIDE``).
        round_size: proposals per round (the same every round).

    Returns:
        (draws (n, d), acceptance rate over all proposals).

    Raises:
        MethodError: fewer than ``n`` draws kept after ``MAX_PROPOSALS_PER_DRAW * n`` proposals.
    """
    kept, proposed, accepted, rounds = [], 0, 0, 0
    max_rounds = math.ceil(MAX_PROPOSALS_PER_DRAW * n / round_size)
    while accepted < n and rounds < max_rounds:
        batch = propose(round_size, seed + rounds * ROUND_SEED_STRIDE)
        good = batch[inside(batch)]
        kept.append(good)
        proposed, accepted, rounds = proposed + len(batch), accepted + len(good), rounds + 1
    acceptance = accepted / proposed
    if accepted < n:
        raise MethodError(f"only {acceptance:.2%} of {proposed} amortized draws fell inside the prior support; "
                          "the estimator is poor at this x - use support='transform' or more simulations")
    if acceptance < WARN_BELOW_ACCEPTANCE:
        warnings.warn(f"only {acceptance:.1%} of the amortized draws fell inside the prior support (the rest "
                      "were rejected); the posterior estimate is poor at this x", RuntimeWarning, stacklevel=4)
    return np.concatenate(kept)[:n], acceptance
