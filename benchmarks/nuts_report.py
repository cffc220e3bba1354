"""The NUTS benchmark's report: targets, JSON document and markdown tables."""
from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass
from typing import Any

from . import common
from .nuts_problems import PROBLEMS, describe

TRACE_COMPILE_LIMIT_MS = 50.0

MEASURED = """\
- **min bulk ESS**: `arviz.ess(method="bulk")`, minimum over every scalar component of the
  latent sites (deterministic sites excluded); "slowest" names that component.
- **total (cold)**: wall time in a fresh process, library already imported and its runtime
  started, from data arrays to numpy draws: model building, ppl trace + `ppl.compile`,
  JIT/C compilation, warmup and draws. PyMC reuses its on-disk C cache (`~/.pytensor`),
  as it does for every user after the first run; JAX has no persistent cache by default.
- **compile**: NumPyro rows: the time JAX itself reports for tracing, lowering and XLA
  compilation inside that call (`jax.monitoring` events; only top-level traces are
  logged, so nothing is counted twice). PyMC: total minus PyMC's own `sampling_time`.
  Pyro: no compilation.
- **sampling**: total minus compile minus ppl's trace + compile (NumPyro jits fresh
  closures on every `MCMC.run`, so a second run in the same process recompiles and is
  not a warm timing; subtracting JAX's reported compile time is). PyMC: its
  `sampling_time`. Warmup is included in sampling for every contender. The figure is
  the minimum over the runs of one worker process (same seed, so same draws; other jobs
  on the machine only ever add time; the median is in the JSON); after the
  cold run NumPyro workers turn on JAX's persistent compilation cache so that repeats
  do not spend 10 s recompiling, and cache reads still count as compile.
- **CPU s (cold)**: process CPU time (all threads) of the cold run; unlike wall time
  it barely moves when other jobs share the machine, so compare it when the load
  average is high.
- **peak RSS**: high-water resident memory (VmHWM) of the worker process after the cold
  run (includes the imported libraries); "after import" is the same figure before the
  run started. (`ru_maxrss` is not used: Linux carries it across fork + exec.)
- Chains: NumPyro rows vectorize chains in one process (`chain_method="vectorized"`);
  Pyro rows run chains one after another (seed + chain); PyMC runs with `cores` as set.
"""


@dataclass(frozen=True)
class Target:
    """A ratio target: ``numerator / denominator >= threshold`` on one metric."""

    name: str
    numerator: str
    denominator: str
    metric: str
    threshold: float


TARGETS = (
    Target("ppl→NumPyro ESS/s ≥ 0.95 × NumPyro (sampling)", "ppl-numpyro", "numpyro",
           "ess_per_s_sampling", 0.95),
    Target("ppl→NumPyro ESS/s ≥ 0.95 × NumPyro (cold total)", "ppl-numpyro", "numpyro",
           "ess_per_s_total", 0.95),
    Target("ppl→NumPyro ESS/s ≥ PyMC (sampling)", "ppl-numpyro", "pymc",
           "ess_per_s_sampling", 1.0),
    Target("ppl→NumPyro ESS/s ≥ PyMC (cold total)", "ppl-numpyro", "pymc",
           "ess_per_s_total", 1.0),
)


def evaluate_targets(runs: list[dict[str, Any]], compile_rows: list[dict[str, Any]],
                     problems: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per (target, problem): measured ratio and PASS / FAIL / n/a."""
    by_key = {(r["problem"], r["contender"]): r for r in runs}
    out = []
    for target in TARGETS:
        for problem in problems:
            num, den = by_key.get((problem, target.numerator)), by_key.get((problem, target.denominator))
            value = _ratio(num, den, target.metric)
            out.append({"target": target.name, "problem": problem, "value": value,
                        "threshold": target.threshold, "result": _verdict(value, target.threshold)})
    for row in compile_rows:
        value = row.get("total_ms")
        out.append({"target": f"ppl trace+compile ({row['backend']}) < {TRACE_COMPILE_LIMIT_MS:.0f} ms",
                    "problem": row["problem"], "value": value, "threshold": TRACE_COMPILE_LIMIT_MS,
                    "result": "n/a" if value is None else
                    ("PASS" if value < TRACE_COMPILE_LIMIT_MS else "FAIL")})
    return out


def _ratio(num: dict | None, den: dict | None, metric: str) -> float | None:
    if not num or not den or metric not in num or metric not in den or not den[metric]:
        return None
    return num[metric] / den[metric]


def _verdict(value: float | None, threshold: float) -> str:
    return "n/a" if value is None else ("PASS" if value >= threshold else "FAIL")


def build_report(settings: Any, results: dict[str, Any], wall_s: float) -> dict[str, Any]:
    """The JSON document and the markdown text of one benchmark run."""
    targets = evaluate_targets(results["runs"], results["trace_compile"], settings.problems)
    doc = {"benchmark": "nuts",
           "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "ppl_revision": common.git_revision(), "wall_s": wall_s,
           "hardware": common.hardware(), "versions": common.library_versions(_libraries()),
           "settings": dataclasses.asdict(settings), **results, "targets": targets}
    return {"json": doc, "markdown": markdown(doc, settings)}


def _libraries() -> tuple[str, ...]:
    from .nuts import LIBRARIES

    return LIBRARIES


# -- markdown ------------------------------------------------------------------------------
def markdown(doc: dict[str, Any], settings: Any) -> str:
    hw, v = doc["hardware"], doc["versions"]
    parts = [
        "# NUTS benchmark\n",
        f"Generated {doc['created']} by `python -m benchmarks.nuts`"
        f"{' --quick' if settings.quick else ''} at ppl revision `{doc['ppl_revision']}`; "
        f"whole run {doc['wall_s'] / 60:.1f} min.\n",
        f"**Machine**: {hw['cpu']}, {hw['cores_usable']} usable cores, {hw['memory_gib']} GiB RAM, "
        f"{hw['platform']}, Python {hw['python']}; load average (1 min) "
        f"{doc['load_average']['start'][0]:.1f} at start, {doc['load_average']['end'][0]:.1f} "
        "at end (other jobs shared the machine: timings are noisy).\n",
        "**Versions**: " + ", ".join(f"{k} {x}" for k, x in v.items()) + ".\n",
        f"**Settings**: NumPyro / ppl→NumPyro / PyMC {settings.main.label()} "
        f"(chains x (warmup + draws)); Pyro / ppl→Pyro {settings.pyro.label()}; seed "
        f"{settings.main.seed}; PyMC cores={settings.pymc_cores}; logistic regression "
        f"N = {settings.size.num_obs}, D = {settings.size.num_features}, data seed fixed; "
        f"sampling time is the minimum of {settings.main.repeats} runs "
        f"({settings.pyro.repeats} for Pyro rows) in the contender's worker process.\n",
        _twins_line(doc["runs"]),
        "## Targets\n", _targets_table(doc["targets"]), "",
    ]
    for problem in settings.problems:
        rows = [r for r in doc["runs"] if r["problem"] == problem]
        parts += [f"## {describe(PROBLEMS[problem], settings.size)}\n", _runs_table(rows), ""]
    parts += ["## ppl's own trace + compile\n", _compile_table(doc["trace_compile"]), "",
              "Median of the repeats, each on a fresh model; \"first call\" is the first "
              "trace + compile in a fresh process (backend library imported and its runtime "
              "started). JAX's jit of the sampler is not included: it happens in sampling.\n",
              "## What is measured\n", MEASURED]
    return "\n".join(parts)


def _twins_line(runs: list[dict[str, Any]]) -> str:
    """Says whether each ppl contender's draws equal its hand-written twin's."""
    checks = [f"{r['label']} on {r['problem']}: {'yes' if r['same_draws_as_twin'] else 'NO'}"
              for r in runs if "same_draws_as_twin" in r]
    if not checks:
        return ""
    return ("**Draws bit-identical to the hand-written twin** (same seed; if yes, an ESS/s "
            "gap is pure overhead): " + "; ".join(checks) + ".\n")


def _fmt(x: Any, spec: str = ".1f") -> str:
    return "—" if x is None else format(x, spec)


def _runs_table(rows: list[dict[str, Any]]) -> str:
    headers = ["contender", "chains x (warmup+draws)", "chains run", "min bulk ESS (slowest)",
               "max R-hat", "div.", "sampling s (min)", "ESS/s sampling", "compile s", "total s (cold)",
               "CPU s (cold)", "ESS/s total", "peak RSS MiB", "after import MiB"]
    return common.markdown_table(headers, [_run_cells(r) for r in rows])


def _run_cells(r: dict[str, Any]) -> list[str]:
    s = r["settings"]
    head = [r["label"], f"{s['chains']} x ({s['warmup']}+{s['draws']})", r["chain_mode"]]
    if "error" in r:
        return head + [r["error"]] + ["—"] * 10
    return head + [f"{r['min_ess_bulk']:.0f} ({r['slowest']})", _fmt(r["max_rhat"], ".3f"),
                   _fmt(r["divergences"], "d"), _fmt(r["sampling_s"], ".2f"),
                   _fmt(r["ess_per_s_sampling"]), _fmt(r["compile_s"], ".2f"),
                   _fmt(r["total_s"], ".2f"), _fmt(r["cpu_total_s"], ".2f"),
                   _fmt(r["ess_per_s_total"]),
                   _fmt(r["peak_rss_mb"], ".0f"), _fmt(r["rss_imported_mb"], ".0f")]


def _targets_table(rows: list[dict[str, Any]]) -> str:
    def cells(t: dict[str, Any]) -> list[str]:
        ms = "ms" in t["target"]
        value = _fmt(t["value"], ".1f" if ms else ".3f") + (" ms" if ms and t["value"] else "")
        threshold = f"< {t['threshold']:.0f} ms" if ms else f"≥ {t['threshold']:.2f}x"
        return [t["target"], t["problem"], value, threshold, t["result"]]

    return common.markdown_table(["target", "model", "measured", "threshold", "result"],
                                 [cells(t) for t in rows])


def _compile_table(rows: list[dict[str, Any]]) -> str:
    headers = ["model", "backend", "trace ms", "ppl.compile ms", "trace+compile ms",
               "first call ms (trace + compile)"]

    def cells(r: dict[str, Any]) -> list[str]:
        if "error" in r:
            return [r["problem"], r["backend"], r["error"], "—", "—", "—"]
        first = f"{r['first_trace_ms'] + r['first_compile_ms']:.1f} " \
                f"({r['first_trace_ms']:.1f} + {r['first_compile_ms']:.1f})"
        return [r["problem"], r["backend"], _fmt(r["trace_ms"], ".2f"),
                _fmt(r["compile_ms"], ".2f"), _fmt(r["total_ms"], ".2f"), first]

    return common.markdown_table(headers, [cells(r) for r in rows])
