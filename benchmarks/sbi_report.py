"""Markdown report of the sbibm benchmark: results per task and the targets table."""
from __future__ import annotations

from typing import Any

from .common import markdown_table

TARGET_BUDGET = 10_000


def _fmt(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def results_table(rows: list[dict[str, Any]]) -> str:
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["task"], r["simulations"], r["label"], "error: " + r["error"][:80],
                         "", "", ""])
            continue
        body.append([r["task"], r["simulations"], r["label"], _fmt(r["c2st"]),
                     _fmt(r["training_s"], 1), _fmt(r["sampling_s"], 1), _fmt(r["peak_rss_mb"], 0)])
    return markdown_table(["task", "simulations", "contender", "C2ST", "training s",
                           "sampling s", "peak MiB"], body)


def _find(rows, task, budget, contender):
    return next((r for r in rows if r["task"] == task and r["simulations"] == budget
                 and r["contender"] == contender and "error" not in r), None)


def targets_table(rows: list[dict[str, Any]], tasks: dict[str, Any]) -> str:
    """ppl NPE at 10^4 against sbibm's published NPE and sbi's NPE in this run."""
    body = []
    for name, task in tasks.items():
        ours = _find(rows, name, TARGET_BUDGET, "ppl-npe")
        theirs = _find(rows, name, TARGET_BUDGET, "sbi-npe")
        if ours is None and theirs is None:
            continue
        c2st = ours and ours["c2st"]
        met = (c2st is not None and c2st <= task.sbibm_npe_c2st
               and (theirs is None or c2st <= theirs["c2st"]))
        faster = (ours and theirs) and ours["training_s"] <= theirs["training_s"]
        body.append([name, task.sbibm_npe_c2st, _fmt(theirs and theirs["c2st"]), _fmt(c2st),
                     "yes" if met else "no", _fmt(ours and ours["training_s"], 1),
                     _fmt(theirs and theirs["training_s"], 1), "yes" if faster else "no"])
    if not body:
        return f"(no NPE runs at {TARGET_BUDGET} simulations)"
    return markdown_table(["task", "sbibm NPE (published)", "sbi NPE (this run)", "ppl NPE",
                           "C2ST target met", "ppl training s", "sbi training s",
                           "time target met"], body)


def build_report(settings, rows: list[dict[str, Any]], meta: dict[str, Any],
                 tasks: dict[str, Any]) -> str:
    hw, versions = meta["hardware"], meta["versions"]
    lines = [
        "# sbibm benchmark: amortized posteriors (NPE, NPSE) against the sbi package",
        "",
        f"Machine: {hw['cpu']}, {hw['cores_usable']} usable cores, {hw['memory_gib']} GiB; "
        f"load average {meta['load_average']['start'][0]:.1f} at start, "
        f"{meta['load_average']['end'][0]:.1f} at end; revision {meta['revision']}; "
        f"total {meta['wall_s'] / 60:.1f} min.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "",
        f"Settings: simulations {', '.join(map(str, settings.budgets))}; C2ST (sbibm's "
        f"definition, `ppl.check.c2st`) against sbibm's reference posterior with "
        f"{settings.c2st_draws} draws per side (classifier trained by the "
        f"{getattr(settings, 'c2st_engine', 'sklearn')} engine), "
        + (f"averaged over observations 1–{settings.observations}" if settings.observations > 1
           else "observation 1 only")
        + f"{' (sbibm averages 10)' if settings.observations < 10 else ''}; "
        f"seed {settings.seed}{'; QUICK smoke run' if settings.quick else ''}. Each contender "
        "runs in its own worker process; training time excludes simulation and sampling; "
        "peak memory is the worker's VmHWM after training and sampling. ppl simulates "
        "from the task's ppl model in `ppl.amortize`; sbi trains on simulations of the same "
        "model. sbi NPE: MAF, 5 transforms, 50 hidden units; both use batch 200, lr 5e-4, "
        "10% validation, stop after 20 epochs without improvement.",
        "",
        "## Targets (NPE at 10^4 simulations)",
        "",
        targets_table(rows, tasks),
        "",
        "## All runs",
        "",
        results_table(rows),
        "",
    ]
    return "\n".join(lines)
