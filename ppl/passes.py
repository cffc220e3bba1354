"""Compiler passes over the IR graph: rewrites (observe, do) and validation.

Rewrites copy the graph; nothing is changed in place. Validation raises a
``PPLError`` that names the site before any backend is loaded.
"""
from __future__ import annotations

import dataclasses
import difflib
from typing import Any, Mapping

import networkx as nx
import numpy as np

from .errors import ModelError, ObservationError, ParameterError, ShapeError
from .graph import add_site, site_of, sites

SAMPLE_ROLES = ("latent", "observed")


def _unknown(g: nx.DiGraph, name: str, what: str) -> ObservationError:
    names = [n for n in g.nodes if g.nodes[n]["role"] in SAMPLE_ROLES]
    close = difflib.get_close_matches(name, names, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return ObservationError(
        f"cannot {what}: model '{g.graph.get('name')}' has no sample site with this name "
        f"(sample sites: {', '.join(names) or 'none'}){hint}", site=name)


def apply_observations(g: nx.DiGraph, values: Mapping[str, Any]) -> nx.DiGraph:
    """Marks sites as observed with the given data (checked later by :func:`validate`)."""
    if not values:
        return g
    g = g.copy()
    for name, value in values.items():
        if name not in g or g.nodes[name]["role"] not in SAMPLE_ROLES:
            raise _unknown(g, name, "observe")
        arr = _as_array(name, value)
        site = dataclasses.replace(site_of(g, name), role="observed", value=arr)
        add_site(g, site)
    return g


def apply_interventions(g: nx.DiGraph, values: Mapping[str, Any]) -> nx.DiGraph:
    """``do``: a site becomes fixed data; its incoming edges are cut."""
    if not values:
        return g
    g = g.copy()
    for name, value in values.items():
        if name not in g or g.nodes[name]["role"] not in SAMPLE_ROLES:
            raise _unknown(g, name, "intervene on")
        old = site_of(g, name)
        arr = np.broadcast_to(_as_array(name, value), old.shape).copy() if np.ndim(value) == 0 \
            else _as_array(name, value)
        _check_shape(old, arr)
        add_site(g, dataclasses.replace(old, role="data", dist=None, value=arr))
    return g


def _as_array(name: str, value: Any) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except Exception as err:  # noqa: BLE001 - reported with the site name
        raise ObservationError(f"data cannot be read as an array: {err}", site=name) from err
    if arr.dtype.kind not in "biuf":
        raise ObservationError(f"data must be numeric, got dtype {arr.dtype}", site=name)
    return arr


def _check_shape(site: Any, arr: np.ndarray) -> None:
    if arr.shape == site.shape:
        return
    plates = ", ".join(f"'{p.name}' of size {p.size}" for p in site.plates)
    where = f" (plates: {plates})" if plates else ""
    raise ShapeError(f"data of shape {arr.shape} does not fit the site's shape {site.shape}"
                     f"{where}", site=site.name)


def _check_finite(name: str, arr: np.ndarray) -> None:
    bad = ~np.isfinite(arr.astype(float))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ObservationError(f"data contains NaN or inf ({int(bad.sum())} values, first at "
                               f"index {idx})", site=name)


def _check_support(site: Any, arr: np.ndarray) -> None:
    if site.support is None:
        return
    ok = site.support.check(arr)
    if not np.all(ok):
        bad = np.argwhere(~np.asarray(ok))
        idx = tuple(int(i) for i in bad[0]) if bad.size else ()
        example = arr[idx] if arr.ndim and not site.support.event_dim else arr
        raise ObservationError(f"observed data outside the support {site.support.name}: "
                               f"{int((~np.asarray(ok)).sum())} values, e.g. {example!r} at "
                               f"index {idx}", site=site.name)


def validate(g: nx.DiGraph) -> None:
    """Checks data, observations and constant parameters of every site."""
    for s in sites(g):
        if s.role in ("observed", "data"):
            _check_finite(s.name, s.value)
        if s.role == "observed":
            _check_shape(s, s.value)
            _check_support(s, s.value)
        if s.dist is not None:
            s.dist.check_params(s.name)
        if s.role == "parameter" and not np.all(s.support.check(s.value)):
            raise ParameterError(f"initial value outside {s.support.name}", site=s.name)
        if s.role == "factor" and s.expr is not None and s.expr.dtype.kind not in "fiu":
            raise ModelError("factor needs a numeric log-weight", site=s.name)


def latent_sites(g: nx.DiGraph) -> list:
    """Latent sample sites in trace order."""
    return sites(g, "latent")


def discrete_latents(g: nx.DiGraph) -> list[str]:
    """Names of latent sites with discrete support (NUTS/HMC cannot sample them)."""
    return [s.name for s in latent_sites(g) if s.dist is not None and s.dist.is_discrete]
