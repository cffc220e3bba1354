"""The mixture inverse-problem benchmark's report: per-cell means, targets, JSON and markdown."""
from __future__ import annotations

import dataclasses
import datetime
from collections import defaultdict
from typing import Any

import numpy as np

from . import common
from .gmm_inverse_contenders import CONTENDERS

MEASURED = """\
- **SW**: sliced Wasserstein distance SW_2 (`models.sliced`, 1000 random directions,
  the same for every contender on a problem) between the contender's samples and
  10 000 exact posterior draws; mean ± standard error over the problems of a cell.
  **floor**: the same distance for independent exact draws (what a perfect sampler gets).
- **NFE**: denoiser calls per run, each on a whole batch (RePaint's resampling
  jumps add some; DPS also back-propagates through each one). TDS and MCGdiff
  run 64 populations, split into memory batches of at most 2^23 numbers
  (`inference.diffusion.particles.population_batches`), one call per batch and
  step: at d_x = 80 and 800 their NFE is the steps times the batches, while
  each particle's path still sees one denoiser evaluation per step.
- **samples/s**: draws divided by the sampling time the method reports (ppl:
  `extras["seconds"]`; deepinv: its sampling loop). **cold**: each problem's run
  (ppl: JIT compilation included, since every problem is a new model); **warm**:
  the first problem of each step count run again in the same process (deepinv:
  no compilation, warm = cold). **wall**: ppl's whole `ppl.infer` call, model
  tracing included (JSON only).
- **log Z err**: SMC samplers' log-evidence estimate minus the exact log p(y).
"""


def aggregate(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per (d_x, d_y, num_steps, contender): means ± se over problems."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["d_x"], r["d_y"], r["num_steps"], r["contender"])].append(r)
    cells = []
    for (d_x, d_y, steps, name), group in groups.items():
        ok = [r for r in group if "sw" in r]
        cell = {"d_x": d_x, "d_y": d_y, "num_steps": steps, "contender": name, "problems": len(group),
                "failed": len(group) - len(ok)}
        if ok:
            cell["sw"], cell["sw_se"] = common.mean_se([r["sw"] for r in ok])
            cell["floor"], cell["floor_se"] = common.mean_se([r["floor"] for r in ok])
            cell["samples_per_s"] = common.mean_se([r["samples_per_s"] for r in ok])[0]
            cell["wall_s"] = common.mean_se([r["wall_s"] for r in ok])[0]
            cell["nfe"] = common.mean_se([r["nfe"] for r in ok])[0]
            warm = [r["warm_samples_per_s"] for r in ok if "warm_samples_per_s" in r]
            cell["warm_samples_per_s"] = common.mean_se(warm)[0] if warm else cell["samples_per_s"]
            errs = [r["log_evidence"] - r["log_evidence_true"] for r in ok if r.get("log_evidence") is not None]
            if errs:
                cell["log_evidence_error"] = common.mean_se(errs)[0]
        else:
            cell["error"] = group[0].get("error", "no result")
        cells.append(cell)
    return cells


def _lookup(cells: list[dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    return {(c["d_x"], c["d_y"], c["num_steps"], c["contender"]): c for c in cells if "sw" in c}


def evaluate_targets(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PASS / FAIL / n/a per target and cell (see the markdown's targets section)."""
    by, out = _lookup(cells), []
    keys = sorted({(c["d_x"], c["d_y"], c["num_steps"]) for c in cells})

    def add(target: str, key: tuple, value: float | None, ok: bool | None) -> None:
        out.append({"target": target, "d_x": key[0], "d_y": key[1], "num_steps": key[2],
                    "value": None if value is None else round(float(value), 4),
                    "status": "n/a" if ok is None else ("PASS" if ok else "FAIL")})

    for key in keys:
        for smc in ("tds", "mcgdiff"):
            c = by.get((*key, smc))
            if key[0] == 8 and key[2] == 100:
                add(f"{smc} SW ≤ 2 × floor (d_x=8, 100 steps)", key, c and c["sw"] / c["floor"],
                    None if c is None else c["sw"] <= 2 * c["floor"])
            for rival in ("dps", "ddrm"):
                r = by.get((*key, rival))
                both = c is not None and r is not None
                add(f"{smc} SW < {rival} SW", key, c["sw"] / r["sw"] if both else None,
                    c["sw"] < r["sw"] if both else None)
        ours, theirs = by.get((*key, "dps")), by.get((*key, "deepinv-dps"))
        for metric, label, better in (("sw", "SW ≤", np.less_equal),
                                      ("samples_per_s", "samples/s (cold) ≥", np.greater_equal),
                                      ("warm_samples_per_s", "samples/s (warm) ≥", np.greater_equal)):
            if ours is None or theirs is None:
                add(f"ppl DPS {label} deepinv DPS", key, None, None)
            else:
                add(f"ppl DPS {label} deepinv DPS", key, ours[metric] / theirs[metric],
                    bool(better(ours[metric], theirs[metric])))
    return out


def _fmt(mean: float, se: float) -> str:
    return f"{mean:.3f} ± {se:.3f}" if np.isfinite(se) else f"{mean:.3f}"


def _speed(cell: dict[str, Any]) -> str:
    return f"{cell['samples_per_s']:.0f} / {cell['warm_samples_per_s']:.0f} ({cell['nfe']:.0f})"


def markdown(settings: Any, cells: list[dict[str, Any]], targets: list[dict[str, Any]],
             meta: dict[str, Any]) -> str:
    by = _lookup(cells)
    present = {c["contender"] for c in cells}
    names = [n for n in CONTENDERS if n in present]
    keys = sorted({(c["d_x"], c["d_y"], c["num_steps"]) for c in cells})
    sw_rows, speed_rows = [], []
    for key in keys:
        floor = next((c for k, c in by.items() if k[:3] == key), None)
        sw_rows.append([*key, _fmt(floor["floor"], floor["floor_se"]) if floor else "—"]
                       + [_fmt(by[(*key, n)]["sw"], by[(*key, n)]["sw_se"]) if (*key, n) in by else "—"
                          for n in names])
        speed_rows.append([*key] + [_speed(by[(*key, n)]) if (*key, n) in by else "—" for n in names])
    failures = [f"- {c['contender']} at d_x={c['d_x']}, d_y={c['d_y']}, {c['num_steps']} steps: "
                + c.get("error", f"{c['failed']} of {c['problems']} problems failed")
                for c in cells if "error" in c or c["failed"]]
    head = ["d_x", "d_y", "steps"]
    return "\n\n".join([
        "# Diffusion posterior sampling on the exact Gaussian-mixture inverse problem",
        f"Hardware: {meta['hardware']['cpu']}, {meta['hardware']['cores_usable']} usable cores; "
        f"threads per contender: {settings.threads}; {settings.problems} problems per cell, "
        f"{settings.draws} draws vs {settings.reference} exact. Built {meta['date']} from "
        f"{meta['stored']} stored (d_x, d_y, contender) cells (git {', '.join(meta['revisions'])}): "
        f"{meta['wall_s']:.0f} s of runs in all; {meta['under_load']} of them ran with the 1-minute load "
        f"average above 1.5 x the cores (highest {meta['max_load']:.1f}), so their speeds read low.",
        "## Sliced Wasserstein distance to the exact posterior (lower is better)",
        common.markdown_table(head + ["floor"] + [CONTENDERS[n].label for n in names], sw_rows),
        "## Samples per second: cold / warm (NFE per run)",
        common.markdown_table(head + [CONTENDERS[n].label for n in names], speed_rows),
        "## Targets",
        common.markdown_table(["target", "d_x", "d_y", "steps", "value", "status"],
                              [[t["target"], t["d_x"], t["d_y"], t["num_steps"], t["value"], t["status"]]
                               for t in targets]),
        "value: SW ÷ floor, SW ÷ rival's SW, or ppl ÷ deepinv (SW or samples/s).",
        "## What is measured\n\n" + MEASURED,
        "## Failures\n\n" + ("\n".join(failures) if failures else "none"),
        "## Missing cells\n\n" + (", ".join(f"({d_x}, {d_y}, {n})" for d_x, d_y, n in meta["missing"])
                                   if meta["missing"] else "none")
        + "\n\nFill them with `PYTHONPATH=. python -m benchmarks.gmm_inverse` (stored cells are skipped).",
        f"Settings: `{dataclasses.asdict(settings)}`",
    ]) + "\n"


def build_report(settings: Any, stored: list[dict[str, Any]], missing: list[tuple]) -> dict[str, Any]:
    """The report of stored (d_x, d_y, contender) cells (``benchmarks.cells`` rows with per-problem ``rows``)."""
    rows = [r for cell in stored for r in cell["rows"]]
    cells = aggregate(rows)
    targets = evaluate_targets(cells)
    versions = common.library_versions(("numpy", "jax", "jaxlib", "numpyro", "torch", "pyro-ppl"))
    for r in rows:
        versions.update(r.pop("versions", {}) or {})
    meta = {"hardware": common.hardware(), "stored": len(stored),
            "revisions": sorted({str(c.get("git_revision")) for c in stored}),
            "wall_s": float(sum(c.get("wall_s", 0.0) for c in stored)),
            "under_load": sum(bool(c.get("under_load")) for c in stored),
            "max_load": max((c.get("load") or 0.0 for c in stored), default=0.0), "missing": missing,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    doc = {"benchmark": "gmm_inverse", "settings": dataclasses.asdict(settings), **meta, "versions": versions,
           "cells": cells, "targets": targets, "runs": rows}
    return {"json": doc, "markdown": markdown(settings, cells, targets, meta)}
