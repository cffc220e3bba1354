"""Structure detection: which observations are linear-Gaussian in which latent.

Diffusion posterior samplers (DDRM, MCGdiff, ...) need ``y = A x + sigma eps``
spelled out: the operator ``A`` (with its SVD), the noise scale and ``y``.
This pass reads them off the IR. Recognised forms of an observed site, with
or without ``.to_event(k)``::

    dist.Normal(op(x), sigma)     # op: a ppl.linops.LinearOperator
    dist.Normal(A @ x, sigma)     # A: a constant or data matrix   -> Dense(A)
    dist.Normal(x @ B, sigma)     #                                -> Dense(B.T)
    dist.Normal(x, sigma)         #                                -> Identity

where ``x`` is a latent site (possibly through ``ppl.deterministic``) whose
whole value is the operator's input, and ``sigma`` is a positive constant
(one value) or a latent scalar site (the blind, unknown-noise problem).
Anything else is not reported: it is just a differentiable likelihood.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import networkx as nx
import numpy as np

from .distributions.base import Distribution, Expanded, FamilyDistribution, Independent
from .expr import Apply, Const, Expr, SiteValue
from .graph import sites
from .linops import Dense, Identity, LinearOperator


@dataclass(frozen=True, eq=False)
class LinearGaussianObservation:
    """``observed ~ Normal(operator(latent), noise)``.

    Attributes:
        latent: name of the latent site x.
        observed: name of the observed site y.
        operator: maps x (the latent's shape) to y's shape.
        noise: constant sigma_y, or the name of a latent scalar site (blind problem).
        y: observed value, flattened, shape (out_dim,), float64.
        prior: the prior object behind x's distribution when it has a denoiser
            (``DiffusionPrior``, ``GaussianMixturePrior``, ...), else None.
    """

    latent: str
    observed: str
    operator: LinearOperator
    noise: float | str
    y: np.ndarray
    prior: Any


def _graph_of(graph: Any) -> nx.DiGraph:
    return graph.graph if not isinstance(graph, nx.DiGraph) else graph


def _base(spec: Distribution | None) -> Distribution | None:
    while isinstance(spec, (Independent, Expanded)):
        spec = spec.base
    return spec


def denoiser_prior(spec: Distribution | None) -> Any:
    """The prior behind a distribution spec if it exposes a denoiser, else None.

    Duck-typed so that ppl need not import ``models``: a learned distribution
    keeps its prior in ``.prior``; a diffusion prior has ``denoise``, an
    analytic mixture ``diffused_denoise``.
    """
    prior = getattr(_base(spec), "prior", None)
    if prior is not None and (hasattr(prior, "denoise") or hasattr(prior, "diffused_denoise")):
        return prior
    return None


def diffusion_prior_sites(graph: Any) -> list[str]:
    """Names of latent sites whose distribution is a prior with a denoiser, in trace order."""
    return [s.name for s in sites(_graph_of(graph), "latent") if denoiser_prior(s.dist) is not None]


def linear_gaussian_observations(graph: Any) -> list[LinearGaussianObservation]:
    """Every observed site that is Gaussian given a linear operator of one latent.

    Args:
        graph: a model's IR graph (or the :class:`~ppl.Model` itself).
    """
    g = _graph_of(graph)
    found = (_match(g, s) for s in sites(g, "observed"))
    return [obs for obs in found if obs is not None]


def _match(g: nx.DiGraph, site: Any) -> LinearGaussianObservation | None:
    spec = _base(site.dist)
    if not (isinstance(spec, FamilyDistribution) and spec.family.name == "Normal"):
        return None
    linear = _linear_map(g, _resolve(g, spec.params["loc"]))
    noise = _noise(g, _resolve(g, spec.params["scale"]))
    if linear is None or noise is None:
        return None
    latent, op = linear
    # A scale that broadcasts the mean to a larger shape is not y = A x + noise.
    if int(np.prod(site.shape)) != op.out_dim:
        return None
    y = np.asarray(site.value, dtype=np.float64).reshape(-1)
    return LinearGaussianObservation(latent, site.name, op, noise, y,
                                     denoiser_prior(g.nodes[latent]["dist"]))


def _resolve(g: nx.DiGraph, expr: Expr) -> Expr:
    """Follows deterministic sites to the expressions that define them."""
    while isinstance(expr, SiteValue) and g.nodes[expr.name]["role"] == "deterministic":
        expr = g.nodes[expr.name]["expr"]
    return expr


def _role(g: nx.DiGraph, expr: Expr) -> str | None:
    return g.nodes[expr.name]["role"] if isinstance(expr, SiteValue) and expr.name in g else None


def _constant(g: nx.DiGraph, expr: Expr) -> np.ndarray | None:
    if isinstance(expr, Const):
        return expr.value
    return g.nodes[expr.name]["value"] if _role(g, expr) == "data" else None


def _latent(g: nx.DiGraph, expr: Expr) -> str | None:
    expr = _resolve(g, expr)
    return expr.name if _role(g, expr) == "latent" else None


# -- the mean: which latent, through which operator --------------------------------------
def _by_operator(g: nx.DiGraph, e: Apply) -> tuple[str, LinearOperator] | None:
    op, latent = e.params["fn"], _latent(g, e.args[0])
    if not isinstance(op, LinearOperator) or latent is None:
        return None
    return latent, op


def _by_matmul(g: nx.DiGraph, e: Apply) -> tuple[str, LinearOperator] | None:
    left, right = e.args
    matrix, latent = _constant(g, left), _latent(g, right)
    if matrix is not None and latent is not None and matrix.ndim == 2:
        return latent, Dense(matrix)
    latent, matrix = _latent(g, left), _constant(g, right)
    if matrix is not None and latent is not None and matrix.ndim == 2:
        return latent, Dense(matrix.T)
    return None


_MEAN_FORMS: dict[str, Callable[[nx.DiGraph, Apply], tuple[str, LinearOperator] | None]] = {
    "numeric": _by_operator,
    "matmul": _by_matmul,
}


def _linear_map(g: nx.DiGraph, loc: Expr) -> tuple[str, LinearOperator] | None:
    latent = _latent(g, loc)
    if latent is not None:
        found = (latent, Identity(g.nodes[latent]["batch_shape"] + g.nodes[latent]["event_shape"]))
    elif isinstance(loc, Apply) and loc.op in _MEAN_FORMS:
        found = _MEAN_FORMS[loc.op](g, loc)
    else:
        return None
    # The operator must take the latent's whole value (no batch of latents).
    if found is None or _shape(g, found[0]) != found[1].in_shape:
        return None
    return found


def _shape(g: nx.DiGraph, name: str) -> tuple[int, ...]:
    return tuple(g.nodes[name]["batch_shape"]) + tuple(g.nodes[name]["event_shape"])


# -- the scale: one constant, or a latent scalar ----------------------------------------
def _noise(g: nx.DiGraph, scale: Expr) -> float | str | None:
    value = _constant(g, scale)
    if value is not None:
        flat = np.ravel(np.asarray(value, dtype=np.float64))
        one = flat.size > 0 and np.all(flat == flat[0]) and flat[0] > 0
        return float(flat[0]) if one else None
    latent = _latent(g, scale)
    return latent if latent is not None and _shape(g, latent) == () else None
