"""The IR as a ``networkx.DiGraph``, and ways to read it (table, DOT, picture).

Each node is a site name with the attributes of :class:`ppl.primitives.Site`
(``role``, ``dist``, ``expr``, ``value``, ``plates``, ``batch_shape``,
``event_shape``, ``support``, ``order``). An edge ``a -> b`` means b's
distribution or value depends on a. ``graph.graph`` holds ``name`` and
``plates`` (name -> Plate). Node insertion order is trace order, which is a
topological order.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess

import networkx as nx

from .expr import Apply, Const, Expr, SiteValue, leaves
from .io import atomic_write_bytes
from .primitives import Site, Tracer

SITE_FIELDS = tuple(f.name for f in dataclasses.fields(Site))


def build_graph(tracer: Tracer, name: str) -> nx.DiGraph:
    """Turns the sites a tracer collected into the IR graph."""
    g = nx.DiGraph(name=name, plates={})
    for site in sorted(tracer.sites.values(), key=lambda s: s.order):
        add_site(g, site)
    return g


def add_site(g: nx.DiGraph, site: Site) -> None:
    """Adds (or replaces) a node and the edges from what it depends on."""
    if site.name in g:
        g.remove_edges_from(list(g.in_edges(site.name)))
    g.add_node(site.name, **{f: getattr(site, f) for f in SITE_FIELDS})
    for dep in sorted(dependencies(site)):
        if dep in g and dep != site.name:
            g.add_edge(dep, site.name)
    for p in site.plates:
        g.graph["plates"][p.name] = p


def dependencies(site: Site) -> set[str]:
    """Names of the sites that a site's distribution or expression reads."""
    exprs = list(site.dist.param_exprs()) if site.dist is not None else []
    if site.expr is not None:
        exprs.append(site.expr)
    return set().union(*(leaves(e) for e in exprs)) if exprs else set()


def site_of(g: nx.DiGraph, name: str) -> Site:
    """The :class:`Site` record of node ``name``."""
    return Site(**{f: g.nodes[name][f] for f in SITE_FIELDS})


def sites(g: nx.DiGraph, *roles: str) -> list[Site]:
    """Sites in trace order, optionally only those with the given roles."""
    out = [site_of(g, n) for n in g.nodes]
    out.sort(key=lambda s: s.order)
    return [s for s in out if not roles or s.role in roles]


def expr_label(e: Expr, depth: int = 2) -> str:
    """A short readable form of an expression."""
    if isinstance(e, SiteValue):
        return e.name
    if isinstance(e, Const):
        return f"{e.value.item():g}" if e.value.ndim == 0 else f"const{e.shape}"
    if isinstance(e, Apply):
        if depth == 0:
            return f"{e.op}(...)"
        name = e.params["fn"].name if e.op == "numeric" else e.op
        return f"{name}({', '.join(expr_label(a, depth - 1) for a in e.args)})"
    return "?"


def _site_text(s: Site) -> str:
    if s.dist is not None:
        return s.dist.label(expr_label)
    if s.expr is not None:
        return expr_label(s.expr, 3)
    if s.value is not None:
        return f"array{s.value.shape}" if s.value.ndim else f"{s.value.item():g}"
    return ""


def describe_graph(g: nx.DiGraph) -> str:
    """A fixed-width table: one row per site."""
    rows = [("site", "role", "distribution / value", "shape", "plates", "support")]
    for s in sites(g):
        shape = f"{s.batch_shape}|{s.event_shape}" if s.event_shape else str(s.batch_shape)
        plates = ",".join(p.name for p in s.plates) or "-"
        support = s.support.name if s.support is not None else "-"
        rows.append((s.name, s.role, _site_text(s), shape, plates, support))
    widths = [min(48, max(len(r[i]) for r in rows)) for i in range(len(rows[0]))]
    lines = [f"model '{g.graph.get('name', 'model')}'"]
    for k, r in enumerate(rows):
        lines.append("  ".join(c[:w].ljust(w) for c, w in zip(r, widths)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


_NODE_STYLE = {
    "latent": 'shape=ellipse',
    "observed": 'shape=ellipse, style=filled, fillcolor=gray80',
    "deterministic": 'shape=ellipse, style=dashed',
    "factor": 'shape=octagon',
    "data": 'shape=box',
    "parameter": 'shape=box, style=rounded',
    "markov": 'shape=box3d',
}


def graph_to_dot(g: nx.DiGraph) -> str:
    """DOT text with plates drawn as nested clusters."""
    lines = [f'digraph "{g.graph.get("name", "model")}" {{']
    _emit_cluster(g, (), lines, "  ")
    for a, b in g.edges:
        lines.append(f'  "{a}" -> "{b}";')
    lines.append("}")
    return "\n".join(lines)


def _emit_cluster(g: nx.DiGraph, prefix: tuple, lines: list[str], indent: str) -> None:
    all_sites = sites(g)
    for s in all_sites:
        if tuple(p.name for p in s.plates) == prefix:
            label = f"{s.name}\\n{_site_text(s)}".replace('"', "'")
            lines.append(f'{indent}"{s.name}" [label="{label}", {_NODE_STYLE[s.role]}];')
    children = {tuple(p.name for p in s.plates)[: len(prefix) + 1] for s in all_sites
                if len(s.plates) > len(prefix) and tuple(p.name for p in s.plates)[: len(prefix)] == prefix}
    for child in sorted(children):
        plate = g.graph["plates"][child[-1]]
        lines.append(f'{indent}subgraph "cluster_{plate.name}" {{')
        lines.append(f'{indent}  label="{plate.name} ({plate.size})";')
        _emit_cluster(g, child, lines, indent + "  ")
        lines.append(f"{indent}}}")


def render_graph(g: nx.DiGraph, path: str) -> str:
    """Writes a picture with graphviz's ``dot`` if installed, else the DOT text.

    Returns:
        The path written (``.dot`` appended when only text could be written).
    """
    dot = graph_to_dot(g)
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    exe = shutil.which("dot")
    if exe and fmt in ("png", "svg", "pdf"):
        image = subprocess.run([exe, f"-T{fmt}"], input=dot.encode(), capture_output=True,
                               check=True).stdout
        return atomic_write_bytes(path, image)
    target = path if fmt == "dot" else path + ".dot"
    return atomic_write_bytes(target, dot.encode())
