"""``amortize``: simulate from a model, train q(theta | x), return an ``AmortizedPosterior``."""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from ppl.errors import MethodError, ParameterError, ShapeError

from .config import CONFIGS
from .embedding import set_shape
from .estimators import ESTIMATORS
from .layout import Standardizer
from .posterior import ARRAYS, AmortizedPosterior, standardize_x
from .simulate import Problem, layouts, resolve, simulate
from .train import fit_early_stopping

MIN_SIMULATIONS = 20


def _check_options(to: str, backend: str, config: Any, simulations: int) -> Any:
    if to not in CONFIGS:
        raise MethodError(f"unknown amortization target to={to!r}; choose 'flow' (NPE) or 'diffusion' (NPSE)")
    if backend not in ARRAYS:
        raise MethodError(f"unknown backend {backend!r}; choose from {sorted(ARRAYS)}")
    config = CONFIGS[to]() if config is None else config
    if not isinstance(config, CONFIGS[to]):
        raise ParameterError(f"to={to!r} takes a {CONFIGS[to].__name__}, got {type(config).__name__}")
    if int(simulations) < MIN_SIMULATIONS:
        raise ParameterError(f"simulations must be at least {MIN_SIMULATIONS}, got {simulations}")
    return config


def _x_shape(problem: Problem, config: Any, shapes: tuple) -> tuple[int, ...]:
    """Shape of one observation as the embedding sees it (the site's own shape for a set)."""
    if config.embedding.kind == "set":
        if len(shapes) != 1 or len(shapes[0]) == 0:
            raise ShapeError("a set embedding needs one observed site of shape (m,) or (m, k) (i.i.d. rows)",
                             site=problem.observed[0])
        return shapes[0]
    return (int(sum(np.prod(s, dtype=np.int64) for s in shapes)),)


def amortize(model: Any, observed: str | Sequence[str] | None = None, to: str = "flow",
             simulations: int = 10_000, backend: str = "numpyro", seed: int = 0, config: Any = None,
             params: str | Sequence[str] | None = None, progress: bool = False,
             checkpoint_dir: Any = None) -> AmortizedPosterior:
    """Train an amortized posterior q(params | observed) on simulations from the model.

    Args:
        model: a ``ppl.Model``; its observations (if any) are dropped for simulation
            and become the default ``x`` of ``posterior()``.
        observed: observed site name(s) x (default: the model's observed sites).
        to: ``"flow"`` (NPE, a conditional spline flow) or ``"diffusion"`` (NPSE).
        simulations: number of (theta, x) draws from the prior predictive.
        backend: ``"numpyro"`` (simulate and train with JAX) or ``"pyro"`` (torch).
        seed: seeds simulation, the validation split, initial weights and training.
        config: ``NPEConfig`` (flow) or ``NPSEConfig`` (diffusion); None: defaults.
        params: latent sites to infer (default: every latent that is not observed);
            other latents (simulator noise) are marginalised.
        progress: show a progress bar over epochs.
        checkpoint_dir: save training state here and resume from it.

    Returns:
        An ``AmortizedPosterior``; ``.posterior(x=..., draws=...)`` gives a ``Posterior``.

    Raises:
        MethodError: unknown ``to`` / backend, or discrete parameters.
        ObservationError: ``observed`` names no site of the model, or a latent of an observed model.
        ParameterError: a config of the wrong kind, too few simulations.
    """
    config = _check_options(to, backend, config, simulations)
    problem = resolve(model, observed, params)
    start = time.perf_counter()
    theta, x, dropped = simulate(problem, int(simulations), seed, backend)
    simulation_seconds = time.perf_counter() - start
    theta_layout, x_layout = layouts(problem, theta, x, config.support)
    x_shape = _x_shape(problem, config, x_layout.shapes)
    u = theta_layout.to_unconstrained(theta)
    theta_std = Standardizer.fit(u)
    features = set_shape(config.embedding, x_shape)[1]
    x_flat = x_layout.flatten(x)
    x_std = Standardizer.fit(x_flat.reshape(len(x_flat), -1, features))
    estimator = ESTIMATORS[config.method]
    spec = estimator.spec_cls.build(config, theta_layout.dim, x_shape)
    data = [_pad(theta_std.forward(u), getattr(spec, "pad", 0), seed), standardize_x(x_std, x_flat, features)]
    result = fit_early_stopping(estimator.task_cls(spec), [a.astype(np.float32) for a in data], config.training,
                                seed, ARRAYS[backend], progress, checkpoint_dir)
    info = {"training_seconds": result.seconds, "simulation_seconds": simulation_seconds,
            "num_simulations": int(simulations), "dropped_simulations": dropped, "epochs": len(result.val_losses),
            "best_epoch": result.best_epoch, "train_losses": result.train_losses.tolist(),
            "val_losses": result.val_losses.tolist(), "trained_on": backend}
    return AmortizedPosterior(config.method, config, spec, theta_layout, x_layout, theta_std, x_std,
                              result.weights, backend, model, info)


def _pad(z: np.ndarray, pad: int, seed: int) -> np.ndarray:
    """Appends ``pad`` independent standard normal columns (a flow needs two coordinates)."""
    if not pad:
        return z
    return np.concatenate([z, np.random.default_rng([seed, 5]).standard_normal((len(z), pad))], axis=1)
