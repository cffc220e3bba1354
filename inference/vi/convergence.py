"""Convergence of a noisy loss trace, and the optimisation loop's progress bar."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np


def relative_change(losses: np.ndarray, window: int) -> float:
    """Relative change between the means of the last two windows of the loss.

    Window means smooth the Monte Carlo noise of the loss; the change is
    scaled by ``|mean| + 1`` so losses near zero do not divide by zero.

    Returns:
        inf when fewer than ``2 * window`` losses exist.
    """
    if len(losses) < 2 * window:
        return float("inf")
    previous, last = losses[-2 * window:-window].mean(), losses[-window:].mean()
    return float(abs(last - previous) / (abs(last) + 1.0))


def optimise(update: Callable[[int], np.ndarray], steps: int, chunk: int, tol: float,
             window: int, progress: bool) -> tuple[np.ndarray, int | None]:
    """Calls ``update(n) -> losses (n,)`` until ``steps`` or convergence.

    Returns:
        (losses, step at which the loss converged or None).
    """
    from tqdm.auto import tqdm

    # One preallocated trace filled chunk by chunk: re-concatenating every chunk would
    # make a long run quadratic in its number of chunks.
    trace = np.empty(steps)
    done, converged = 0, None
    with tqdm(total=steps, disable=not progress, desc="svi") as bar:
        while done < steps:
            n = min(chunk, steps - done)
            trace[done:done + n] = np.asarray(update(n), dtype=float).reshape(n)
            done += n
            bar.update(n)
            bar.set_postfix(loss=f"{trace[done - min(window, n):done].mean():.4g}")
            if tol > 0 and relative_change(trace[:done], window) < tol:
                converged = done
                break
    return trace[:done], converged


def schedule_factor(name: str, steps: int, cos: Callable[[Any], Any] = math.cos
                    ) -> Callable[[Any], Any]:
    """Multiplier of the initial learning rate at step t in [0, steps].

    Written once for both optimisers: optax calls it on JAX scalars (pass
    ``cos=jnp.cos``), torch's ``LambdaLR`` on Python ints.
    """
    if name == "exponential":  # to 10% of the initial rate
        return lambda t: 0.1 ** (t / steps)
    if name == "cosine":  # to 1% of the initial rate
        return lambda t: 0.01 + 0.495 * (1 + cos(math.pi * t / steps))
    return lambda t: 1.0
