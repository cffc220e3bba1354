"""Calibration and accuracy checks usable with any inference method.

* :func:`sbc`: simulation-based calibration (rank statistics, uniformity
  tests, rank-histogram plot) for a ``ppl.infer`` method name or any callable
  returning a ``Posterior`` (exact or amortized posteriors).
* :func:`tarp`: TARP expected coverage of the joint posterior.
* :func:`c2st`: the classifier two-sample test as sbibm defines it.
* :func:`load_reference`: sbibm's reference posterior samples.

Nothing here imports torch or jax; sklearn, scipy and matplotlib load when used.
"""
from .c2st import c2st, c2st_tolerance
from .plots import plot_ranks, plot_tarp
from .reference import TASK_DIMS, load_reference
from .runs import Runs, simulate_and_infer
from .sbc import SBCResult, sbc, sbc_from_runs
from .tarp import TARPResult, tarp

__all__ = ["Runs", "SBCResult", "TARPResult", "TASK_DIMS", "c2st", "c2st_tolerance",
           "load_reference", "plot_ranks", "plot_tarp", "sbc", "sbc_from_runs",
           "simulate_and_infer", "tarp"]
