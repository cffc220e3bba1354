"""Simulate-then-infer runs shared by SBC and TARP.

Each run draws (theta, x) from the prior predictive, conditions on x, and
asks an inference routine for posterior draws of theta. Any method plugs in:
a name registered with ``ppl.infer`` (plus its options), or a callable
``observed_values -> Posterior`` (how exact or amortized posteriors enter).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence, Union

import numpy as np

from ..errors import MethodError, ObservationError, ShapeError
from ..graph import sites

InferFn = Callable[[dict], Any]
InferSpec = Union[str, InferFn]


@dataclass(frozen=True)
class Runs:
    """Truths and posterior draws of every scalar parameter component.

    Attributes:
        labels: one label per scalar component, e.g. ``"mu"`` or ``"w[1]"``.
        truths: the prior draws that generated each data set, (num_runs, num_params).
        draws: posterior draws per run with chains merged, (num_runs, num_draws, num_params).
        ess: smallest bulk ESS over components per run (num_runs,), NaN when too short.
        observed: observed site -> the simulated data, (num_runs, *site_shape).
    """

    labels: tuple[str, ...]
    truths: np.ndarray
    draws: np.ndarray
    ess: np.ndarray
    observed: dict = field(default_factory=dict)


def _names(observed: str | Sequence[str]) -> tuple[str, ...]:
    return (observed,) if isinstance(observed, str) else tuple(observed)


def _parameters(model, observed: tuple[str, ...], parameters: Sequence[str] | None,
                observable: tuple[str, ...]) -> list[str]:
    graph = model.unobserved().graph
    allowed = [s.name for s in sites(graph, *observable)]
    for name in observed:
        if name not in allowed:
            raise ObservationError(f"not a {' or '.join(observable)} site of model '{model.name}' "
                                   f"(those are: {', '.join(allowed)})", site=name)
    free = [s.name for s in sites(graph, "latent") if s.name not in observed]
    for name in parameters or ():
        if name not in free:
            raise ObservationError(f"not a latent site left after observing {', '.join(observed)} "
                                   f"(latents: {', '.join(free)})", site=name)
    return list(parameters) if parameters else free


def _labels(name: str, shape: tuple[int, ...]) -> list[str]:
    if not shape:
        return [name]
    return [f"{name}[{','.join(map(str, i))}]" for i in np.ndindex(*shape)]


def _flat_draws(posterior: Any, names: list[str]) -> tuple[np.ndarray, float]:
    """Posterior draws (num_draws, num_params) and their smallest bulk ESS."""
    samples = getattr(posterior, "samples", posterior)
    missing = [n for n in names if n not in samples]
    if missing:
        raise MethodError(f"the posterior has no draws of {', '.join(missing)}")
    arrays = [np.asarray(samples[n], dtype=float) for n in names]  # (chain, draw, *shape)
    if any(a.ndim < 2 for a in arrays):
        raise ShapeError("posterior draws must have shape (chain, draw, *site_shape)")
    per_chain = np.concatenate([a.reshape(a.shape[:2] + (-1,)) for a in arrays], axis=-1)
    return per_chain.reshape(-1, per_chain.shape[-1]), _min_ess(per_chain)


def _min_ess(per_chain: np.ndarray) -> float:
    import arviz as az

    if per_chain.shape[0] < 1 or per_chain.shape[1] < 4:
        return float("nan")
    ess = [az.ess(np.ascontiguousarray(per_chain[..., k])) for k in range(per_chain.shape[-1])]
    return float(np.min(ess))


def _infer_fn(model, infer: InferSpec, backend: str, options: Mapping[str, Any]) -> Callable:
    if callable(infer):
        return lambda obs, seed: infer(obs)
    if not isinstance(infer, str):
        raise MethodError(f"infer must be a method name or a callable, got {type(infer).__name__}")
    import dataclasses

    import ppl
    from inference.registry import METHODS

    fields = {f.name for f in dataclasses.fields(METHODS[infer].config_cls)} \
        if infer in METHODS else set()
    quiet = {"progress": False} if "progress" in fields else {}  # one bar per run is noise
    base = model.unobserved()
    return lambda obs, seed: ppl.infer(base.observe(**obs), method=infer, backend=backend,
                                       **{"seed": seed, **quiet, **options})


def simulate_and_infer(model, observed: str | Sequence[str], infer: InferSpec,
                       num_simulations: int, parameters: Sequence[str] | None = None,
                       infer_options: Mapping[str, Any] | None = None, backend: str = "numpyro",
                       seed: int = 0, progress: bool = False) -> Runs:
    """Draws ``num_simulations`` (theta, x) pairs and a posterior for each x.

    Args:
        model: a ``ppl.Model`` (its observations, if any, are dropped).
        observed: name(s) of the sites treated as data: sample sites, or also
            deterministic ones (simulator outputs) when ``infer`` is a callable.
        infer: a ``ppl.infer`` method name, or ``fn(observed_values) -> Posterior``.
        num_simulations: number of simulated data sets.
        parameters: latent sites to check (default: every latent not observed).
        infer_options: options for ``ppl.infer`` (ignored for a callable).
        backend: backend used to simulate and, for a method name, to infer.
        seed: seeds the simulations; run ``i`` infers with seed ``seed + 1 + i``.
        progress: show a progress bar over runs.
    """
    import ppl

    observed = _names(observed)
    # A callable (e.g. an amortized posterior) may condition on deterministic simulator outputs;
    # ppl.infer can only observe sample sites.
    observable = ("latent", "deterministic") if callable(infer) else ("latent",)
    names = _parameters(model, observed, parameters, observable)
    run = _infer_fn(model, infer, backend, dict(infer_options or {}))
    prior = ppl.compile(model.unobserved(), backend=backend).sample_prior(num_simulations, seed)
    shapes = {n: prior[n].shape[1:] for n in names}
    truths = np.concatenate([prior[n].reshape(num_simulations, -1) for n in names], axis=1)
    draws, ess = [], []
    for i in _maybe_progress(range(num_simulations), progress):
        flat, min_ess = _flat_draws(run({k: prior[k][i] for k in observed}, seed + 1 + i), names)
        draws.append(flat)
        ess.append(min_ess)
    if len({d.shape[0] for d in draws}) > 1:
        raise ShapeError("every posterior must have the same number of draws")
    labels = tuple(lab for n in names for lab in _labels(n, shapes[n]))
    return Runs(labels, truths, np.stack(draws), np.asarray(ess), {k: prior[k] for k in observed})


def _maybe_progress(iterable, progress: bool):
    if not progress:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc="simulations")
