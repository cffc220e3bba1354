"""Conversion of a :class:`Posterior` to ``arviz.InferenceData``."""
from __future__ import annotations

from typing import Any

import numpy as np

from ppl.graph import sites


def site_dims(site: Any, shape: tuple[int, ...]) -> list[str]:
    """Dim names of a site's value: plate names where a plate owns the axis."""
    nb = len(shape) - len(site.event_shape)
    by_dim = {p.dim: p for p in site.plates}
    dims = []
    for j, size in enumerate(shape):
        plate = by_dim.get(j - nb) if j < nb else None
        dims.append(plate.name if plate is not None and plate.size == size else f"{site.name}_dim_{j}")
    return dims


def data_dims(graph: Any, site: Any) -> list[str]:
    """Dims of a data array: borrowed from plates of the sites that read it.

    Data arrive as model arguments, outside any plate; an axis takes a plate's
    name when, aligned from the right with a reader's batch shape, it sits at
    that plate's dim and has its size.
    """
    shape = site.value.shape
    dims = [f"{site.name}_dim_{j}" for j in range(len(shape))]
    for reader in graph.successors(site.name):
        for p in graph.nodes[reader]["plates"]:
            j = len(shape) + p.dim
            if 0 <= j < len(shape) and shape[j] == p.size:
                dims[j] = p.name
    return dims


def _dims_and_coords(graph: Any) -> tuple[dict[str, list[str]], dict[str, np.ndarray]]:
    dims = {}
    for s in sites(graph):
        dims[s.name] = data_dims(graph, s) if s.role == "data" else site_dims(s, s.shape)
    coords = {name: np.arange(p.size) for name, p in graph.graph["plates"].items()}
    return dims, coords


def _chain_draw(draws: dict[str, np.ndarray], chains: int) -> dict[str, np.ndarray]:
    return {k: v.reshape((chains, -1) + v.shape[1:]) for k, v in draws.items()}


def _flat(samples: dict[str, np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
    return {k: samples[k].reshape((-1,) + samples[k].shape[2:]) for k in names if k in samples}


def to_inference_data(post: Any, prior: bool, posterior_predictive: bool, log_likelihood: bool,
                      num_prior_samples: int, seed: int) -> Any:
    import arviz as az

    program, graph = post.program, post.program.graph
    dims, coords = _dims_and_coords(graph)
    chains = post.num_chains
    latents = program.latent_names
    groups: dict[str, Any] = {
        "posterior": post.samples,
        "sample_stats": post.sample_stats,
        "observed_data": {s.name: s.value for s in sites(graph, "observed")},
        "constant_data": {s.name: s.value for s in sites(graph, "data")},
    }
    if posterior_predictive:
        pp = program.sample_predictive(_flat(post.samples, latents), seed=seed)
        groups["posterior_predictive"] = _chain_draw(
            {k: v for k, v in pp.items() if k in groups["observed_data"]}, chains)
    if log_likelihood:
        groups["log_likelihood"] = _chain_draw(
            program.log_likelihood(_flat(post.samples, latents)), chains)
    if prior:
        draws = program.sample_prior(num_prior_samples, seed=seed)
        groups["prior"] = {k: v[None] for k, v in draws.items()
                           if k not in groups["observed_data"]}
        groups["prior_predictive"] = {k: v[None] for k, v in draws.items()
                                      if k in groups["observed_data"]}
    groups = {k: v for k, v in groups.items() if v}
    return _from_dict(az, groups, coords, dims)


def _from_dict(az: Any, groups: dict[str, Any], coords: dict, dims: dict) -> Any:
    # arviz 0.x takes one keyword per group; 1.x takes a dict of groups.
    major = int(az.__version__.split(".")[0])
    if major >= 1:
        return az.from_dict(groups, coords=coords, dims=dims)
    return az.from_dict(**groups, coords=coords, dims=dims)
