"""ppl: a probabilistic programming language that lowers to Pyro and NumPyro.

Importing ``ppl`` loads neither torch nor jax; a backend is imported when a
model is compiled for it.
"""
from . import constraints, ops
from . import check  # noqa: F401 - ppl.check: SBC, TARP, C2ST, sbibm references
from . import linops  # noqa: F401 - ppl.linops: linear operators for inverse problems
from . import distributions as dist
from .compiler import compile  # noqa: A004 - the natural name for the user
from .errors import (CheckpointError, DuplicateSiteError, LoweringError, MethodError, ModelError,
                     ObservationError, ParameterError, PPLError, ShapeError)
from .markov import markov
from .model import Model, model
from .numeric import numeric
from .primitives import data, deterministic, factor, param, plate, sample
from .program import Program

__version__ = "0.1.0"


def infer(model, method="auto", backend="numpyro", **options):
    """Runs an inference method on a model; see :func:`inference.infer`."""
    from inference import infer as _infer  # inference builds on ppl, not the reverse

    return _infer(model, method=method, backend=backend, **options)


def evidence(model, method="smc", backend="numpyro", **options):
    """Log evidence and its Monte Carlo standard error; see :func:`inference.evidence.evidence`."""
    from inference.evidence import evidence as _evidence

    return _evidence(model, method=method, backend=backend, **options)


def filter(model, params=None, backend="numpyro", **options):  # noqa: A001 - ppl.filter
    """Particle filter at fixed static parameters; see :func:`inference.filtering.particle_filter`."""
    from inference.filtering import particle_filter

    return particle_filter(model, params=params, backend=backend, **options)


def amortize(model, observed=None, to="flow", simulations=10_000, backend="numpyro", **options):
    """Trains an amortized posterior q(theta | x) (NPE / NPSE); see :func:`inference.amortized.amortize`."""
    from inference.amortized import amortize as _amortize

    return _amortize(model, observed=observed, to=to, simulations=simulations, backend=backend, **options)


def predictive(model, posterior=None, num_samples=500, seed=0, backend="numpyro", device="cpu"):
    """Prior or posterior predictive draws; see :func:`inference.predictive`."""
    from inference import predictive as _predictive

    return _predictive(model, posterior=posterior, num_samples=num_samples, seed=seed,
                       backend=backend, device=device)


__all__ = [
    "CheckpointError", "DuplicateSiteError", "LoweringError", "MethodError", "Model",
    "ModelError", "ObservationError", "ParameterError", "PPLError", "Program", "ShapeError",
    "amortize", "compile", "constraints", "data", "deterministic", "dist", "evidence", "factor", "filter",
    "infer", "markov", "model",
    "numeric", "ops", "param", "plate", "predictive", "sample",
]
