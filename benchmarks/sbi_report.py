"""Markdown report of the sbibm benchmark: results per task, the targets table, what is missing.

Rows come from the cell store (``sbi_cells``), so they may have run in different
sessions; each carries ``load`` (the highest 1-minute load average seen while it
ran) and ``under_load`` (its times are not comparable with the others').
"""
from __future__ import annotations

from typing import Any, Iterable

from .common import markdown_table, mean_se

TARGET_BUDGET = 10_000
Cell = tuple[str, int, str]  # (task, simulations, contender)


def _fmt(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _load(row: dict[str, Any]) -> str:
    if row.get("load") is None:
        return "—"
    return f"{row['load']:.1f}" + (" (under load)" if row.get("under_load") else "")


def _time(row: dict[str, Any] | None) -> str:
    """Training seconds, starred when the row ran under load (not comparable)."""
    return _fmt(row and row["training_s"], 1) + ("*" if row and row.get("under_load") else "")


def results_table(rows: list[dict[str, Any]]) -> str:
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["task"], r["simulations"], r["label"], "error: " + r["error"][:80],
                         "", "", "", _load(r)])
            continue
        body.append([r["task"], r["simulations"], r["label"], _fmt(r["c2st"]),
                     _fmt(r["training_s"], 1), _fmt(r["sampling_s"], 1), _fmt(r["peak_rss_mb"], 0),
                     _load(r)])
    return markdown_table(["task", "simulations", "contender", "C2ST", "training s",
                           "sampling s", "peak MiB", "load (max 1-min)"], body)


def missing_line(missing: Iterable[Cell], total: int) -> str:
    """One line naming the cells of the table still to run, grouped by task and budget."""
    groups: dict[tuple[str, int], list[str]] = {}
    for task, budget, contender in missing:
        groups.setdefault((task, budget), []).append(contender)
    if not groups:
        return f"Missing cells: none (all {total} cells of the table are done)."
    named = "; ".join(f"{t} {b}: {', '.join(cs)}" for (t, b), cs in groups.items())
    return f"Missing cells ({sum(map(len, groups.values()))} of {total}; run them next): {named}."


def _find(rows, task, budget, contender):
    return next((r for r in rows if r["task"] == task and r["simulations"] == budget
                 and r["contender"] == contender and "error" not in r), None)


def paired_difference(ours: dict[str, Any] | None, theirs: dict[str, Any] | None) -> str:
    """Mean over the shared observations of ours' C2ST minus theirs', with its standard error.

    Both rows score the same observations against the same reference draws, so the
    per-observation differences are paired: their spread, not the spread of each
    row's scores, says whether a gap between two means is more than noise.
    """
    if not ours or not theirs:
        return "—"
    a, b = ours.get("c2st_per_observation") or {}, theirs.get("c2st_per_observation") or {}
    shared = sorted(set(a) & set(b), key=int)
    if len(shared) < 2:
        return "—"
    mean, se = mean_se([a[k] - b[k] for k in shared])
    return f"{mean:+.3f} ± {se:.3f}"


def targets_table(rows: list[dict[str, Any]], tasks: dict[str, Any]) -> str:
    """ppl NPE at 10^4 against sbibm's published NPE and sbi's NPE under the same settings."""
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
                     paired_difference(ours, theirs), "yes" if met else "no", _time(ours),
                     _time(theirs), "yes" if faster else "no"])
    if not body:
        return f"(no NPE runs at {TARGET_BUDGET} simulations)"
    return markdown_table(["task", "sbibm NPE (published)", "sbi NPE (measured)", "ppl NPE",
                           "ppl − sbi, paired (± se)", "C2ST target met", "ppl training s",
                           "sbi training s", "time target met"], body)


def npse_settings_line() -> str:
    """ppl's NPSE settings as ``NPSEConfig``'s defaults say them (so the text cannot go stale)."""
    from inference.amortized.config import NPSEConfig
    from inference.amortized.npse import DEFAULT_SAMPLER, DEFAULT_STEPS

    config = NPSEConfig()
    sampler = config.sampler or DEFAULT_SAMPLER[config.formulation]
    steps, training = config.num_steps or DEFAULT_STEPS[sampler], config.training
    return (f"ppl NPSE: `NPSEConfig`'s defaults ({config.formulation.upper()} noise levels, "
            f"residual MLP denoiser, {sampler} sampler in {steps} steps, batch {training.batch_size}, "
            f"lr {training.lr:g}, stop after {training.patience} epochs without improvement); "
            "sbi NPSE: its defaults (VE SDE) with the NPE training settings above.")


def build_report(settings, rows: list[dict[str, Any]], meta: dict[str, Any],
                 tasks: dict[str, Any], missing: list[Cell] = (), total: int = 0) -> str:
    """The report of every stored row matching ``settings``; ``missing`` of ``total`` cells.

    ``meta`` describes this session (machine, versions, load, ``revisions`` of the rows).
    """
    hw, versions = meta["hardware"], meta["versions"]
    budgets = sorted({r["simulations"] for r in rows}) or settings.budgets
    lines = [
        "# sbibm benchmark: amortized posteriors (NPE, NPSE) against the sbi package",
        "",
        f"Machine: {hw['cpu']}, {hw['cores_usable']} usable cores, {hw['memory_gib']} GiB; "
        f"this session: load average {meta['load_average']['start'][0]:.1f} at start, "
        f"{meta['load_average']['end'][0]:.1f} at end, {meta['wall_s'] / 60:.1f} min, "
        f"revision {meta['revision']}. Rows are collected over sessions from the cell store "
        f"`{meta.get('cells', 'sbi_cells')}` "
        f"(git revisions {', '.join(meta.get('revisions', [])) or '—'}); "
        "each row's load is the highest 1-minute load average while it ran, and a time marked "
        "* or \"under load\" ran on a busy machine and is not comparable.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "",
        f"Settings: simulations {', '.join(map(str, budgets))}; C2ST (sbibm's "
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
        "10% validation, stop after 20 epochs without improvement. " + npse_settings_line(),
        "",
        missing_line(missing, total or len(rows) + len(list(missing))),
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


# -- plan of the cells still to run ---------------------------------------------------------------
def _scaled_s(row: dict[str, Any], budget: int) -> float:
    """A done row's wall time moved to ``budget``: training and simulation scale linearly with
    the budget, the rest (start-up, sampling, C2ST scoring) does not."""
    scaled = row["training_s"] + (row.get("simulation_s") or 0.0)
    return row["wall_s"] - scaled + scaled * budget / row["simulations"]


def estimate_s(cell: Cell, done: dict[Cell, dict[str, Any]]) -> float | None:
    """Rough seconds of one missing cell, from the stored rows ``done``.

    From its own task and contender at the largest smaller budget done; else the mean over
    other tasks of the same contender (each from its largest budget up to this one); else None.
    """
    task, budget, contender = cell
    own = [b for (t, b, c) in done if t == task and c == contender and b < budget]
    if own:
        return _scaled_s(done[task, max(own), contender], budget)
    others = {}
    for (t, b, c) in sorted(done):
        if c == contender and t != task and b <= budget:
            others[t] = b  # sorted: the last one is the largest budget up to this one
    if not others:
        return None
    return sum(_scaled_s(done[t, b, contender], budget) for t, b in others.items()) / len(others)


def plan_text(missing: list[Cell], done: dict[Cell, dict[str, Any]]) -> str:
    """What ``--plan`` prints: each missing cell with its estimate, and the total."""
    lines, known, unknown = [], 0.0, 0
    for cell in missing:
        seconds = estimate_s(cell, done)
        known += seconds or 0.0
        unknown += seconds is None
        guess = "unknown (nothing comparable done)" if seconds is None else f"~{seconds / 60:.1f} min"
        lines.append(f"{cell[0]:16s} {cell[1]:>7d} {cell[2]:13s} {guess}")
    lines.append(f"{len(missing)} cells missing, {len(done)} done; estimated {known / 3600:.1f} h"
                 + (f" plus {unknown} cells without an estimate" if unknown else "")
                 + (" (rows run under load inflate it)." if any(
                     r.get("under_load") for r in done.values()) else "."))
    return "\n".join(lines)
