"""The SMC / SVI benchmark's report: targets, JSON document and markdown tables."""
from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass
from typing import Any

from . import common
from .smc_vi_problems import PROBLEMS

MEASURED = """\
- **log Z ± se**: the log of the mean of the independent runs' evidence estimates, and
  its Monte Carlo standard error from their spread (delta method) — the same formula
  for every contender (`inference.smc.estimates.log_mean_exp`); PyMC's per-run value is
  the last finite `log_marginal_likelihood` of each chain. "err / se" is
  |log Z − truth| / se; the truth is the closed-form Gaussian marginal likelihood.
- **wall (cold)**: seconds in a fresh worker process, library imported beforehand,
  from data arrays to final particles: model building, ppl trace + compile, JIT / C
  compilation and every run. **wall (warm)**: the same call repeated in that process
  with the same seed (minimum over repeats). PyMC reuses its on-disk C cache.
- **min ESS**: `arviz.ess(method="bulk")` of the final particles of all runs (runs as
  chains, particles in their stored order), minimum over components; resampled
  duplicates sit next to each other in both libraries, so the autocorrelation
  estimate sees them. ESS/s divides it by the wall time.
- **mean err / sd**: largest |particle mean − exact posterior mean| / exact sd.
- **time / step**: SVI is run for `short` and `long` steps in the same process;
  time per step is (min net long − min net short) / (long − short), where net is
  wall time minus the seconds JAX reports compiling (0 for Pyro). Fixed costs —
  model building, ppl's trace + compile, guide draws and ppl's PSIS diagnostic —
  cancel in the difference.
- **final ELBO**: minus the mean loss over the last 10% of steps of the cold long
  run (± its sd over those steps); "gap" is truth log Z − ELBO, the KL divergence of
  the guide from the posterior plus noise.
- **peak RSS**: high-water resident memory (VmHWM) of the worker process after all
  its runs, including the imported libraries ("after import": before the first run).
"""


@dataclass(frozen=True)
class Target:
    """``value <= threshold`` on one metric, per problem.

    ``value`` is ``row[metric]`` of the contender, divided by the same metric of
    ``versus`` when given.
    """

    name: str
    contender: str
    metric: str
    threshold: float
    versus: str | None = None


TARGETS = (
    Target("ppl SMC → NumPyro: |log Z − truth| ≤ 3 se", "ppl-smc-numpyro", "error_in_se",
           3.0),
    Target("ppl SMC → Pyro: |log Z − truth| ≤ 3 se", "ppl-smc-pyro", "error_in_se", 3.0),
    Target("ppl SMC → NumPyro wall ≤ PyMC sample_smc (cold)", "ppl-smc-numpyro", "total_s",
           1.0, "pymc-smc"),
    Target("ppl SMC → NumPyro wall ≤ PyMC sample_smc (warm)", "ppl-smc-numpyro", "warm_s",
           1.0, "pymc-smc"),
    Target("ppl SMC → Pyro wall ≤ PyMC sample_smc (cold)", "ppl-smc-pyro", "total_s",
           1.0, "pymc-smc"),
    Target("ppl SMC → Pyro wall ≤ PyMC sample_smc (warm)", "ppl-smc-pyro", "warm_s",
           1.0, "pymc-smc"),
    Target("ppl SVI → NumPyro time/step ≤ 1.1 × hand-written NumPyro", "ppl-svi-numpyro",
           "time_per_step_s", 1.1, "numpyro-svi"),
)
# Reported next to the targets, without a threshold of their own.
INFO = (
    Target("ppl SVI → Pyro time/step ÷ hand-written Pyro", "ppl-svi-pyro", "time_per_step_s",
           float("nan"), "pyro-svi"),
)


def evaluate(targets: tuple[Target, ...], runs: list[dict[str, Any]],
             problems: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per (target, problem): the measured value and PASS / FAIL / n/a."""
    by_key = {(r["problem"], r["contender"]): r for r in runs if "error" not in r}
    out = []
    for target in targets:
        for problem in problems:
            value = _value(by_key, problem, target)
            verdict = ("n/a" if value is None else "info" if target.threshold != target.threshold
                       else "PASS" if value <= target.threshold else "FAIL")
            out.append({"target": target.name, "problem": problem, "value": value,
                        "threshold": target.threshold, "result": verdict})
    return out


def _value(by_key: dict, problem: str, target: Target) -> float | None:
    row = by_key.get((problem, target.contender))
    if not row or row.get(target.metric) is None:
        return None
    if target.versus is None:
        return float(row[target.metric])
    other = by_key.get((problem, target.versus))
    if not other or not other.get(target.metric):
        return None
    return row[target.metric] / other[target.metric]


def build_report(settings: Any, results: dict[str, Any], wall_s: float) -> dict[str, Any]:
    """The JSON document and the markdown text of one benchmark run."""
    from .smc_vi import LIBRARIES

    targets = evaluate(TARGETS, results["runs"], settings.problems)
    info = evaluate(INFO, results["runs"], settings.problems)
    doc = {"benchmark": "smc_vi",
           "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "ppl_revision": common.git_revision(), "wall_s": wall_s,
           "hardware": common.hardware(), "versions": common.library_versions(LIBRARIES),
           "settings": dataclasses.asdict(settings), **results, "targets": targets + info}
    return {"json": doc, "markdown": markdown(doc, settings)}


# -- markdown ------------------------------------------------------------------------------------
def markdown(doc: dict[str, Any], s: Any) -> str:
    hw, load = doc["hardware"], doc["load_average"]
    parts = [
        "# SMC and SVI benchmark\n",
        f"Generated {doc['created']} by `python -m benchmarks.smc_vi`"
        f"{' --quick' if s.quick else ''} at ppl revision `{doc['ppl_revision']}`; "
        f"whole run {doc['wall_s'] / 60:.1f} min.\n",
        f"**Machine**: {hw['cpu']}, {hw['cores_usable']} usable cores, {hw['memory_gib']} GiB "
        f"RAM, {hw['platform']}, Python {hw['python']}; load average (1 min) "
        f"{load['start'][0]:.1f} at start, {load['end'][0]:.1f} at end.\n",
        "**Versions**: " + ", ".join(f"{k} {v}" for k, v in doc["versions"].items()) + ".\n",
        f"**Settings**: SMC {s.particles} particles × {s.smc_chains} independent runs for every "
        f"contender (ppl: adaptive tempering, RWM moves, ESS target 0.5; PyMC: default IMH "
        f"kernel), {s.smc_repeats} measurement(s) per worker, one intra-op thread in "
        f"every ppl and hand-written worker (torch, XLA); SVI AutoNormal guide, "
        f"Trace_ELBO with 1 particle, Adam lr {s.learning_rate} constant, NumPyro contenders "
        f"{s.svi_steps} steps (short run {s.svi_short_steps}), Pyro contenders "
        f"{s.pyro_svi_steps} (short {s.pyro_svi_short_steps}), {s.svi_draws} guide draws; seed "
        f"{s.seed}; float32 on JAX and torch (their defaults), float64 in PyMC.\n",
        "## Targets\n", _targets_table(doc["targets"]), "",
    ]
    for problem in s.problems:
        rows = [r for r in doc["runs"] if r["problem"] == problem]
        parts += [f"## {PROBLEMS[problem].description}\n", "### SMC\n",
                  _smc_table([r for r in rows if r["kind"] == "smc"]), "", "### SVI\n",
                  _svi_table([r for r in rows if r["kind"] == "svi"]), ""]
    parts += ["## What is measured\n", MEASURED]
    return "\n".join(parts)


def _fmt(value: Any, spec: str = ".3g") -> str:
    return "—" if value is None else format(value, spec)


def _targets_table(rows: list[dict[str, Any]]) -> str:
    body = [[r["target"], r["problem"], _fmt(r["value"]),
             "—" if r["threshold"] != r["threshold"] else f"≤ {r['threshold']:g}", r["result"]]
            for r in rows]
    return common.markdown_table(["target", "problem", "value", "threshold", "result"], body)


def _error_row(r: dict[str, Any], width: int) -> list[str]:
    return [r["label"], f"error: {r['error']}"] + [""] * (width - 2)


def _smc_table(rows: list[dict[str, Any]]) -> str:
    headers = ["contender", "log Z ± se", "truth", "err / se", "wall cold (s)", "wall warm (s)",
               "min ESS", "ESS/s cold", "ESS/s warm", "mean err / sd", "peak RSS (MiB)"]
    body = [_error_row(r, len(headers)) if "error" in r else [
        r["label"], f"{r['log_evidence']:.3f} ± {r['log_evidence_se']:.3f}",
        f"{r['log_evidence_true']:.3f}", f"{r['error_in_se']:.2f}", f"{r['total_s']:.2f}",
        _fmt(r["warm_s"], ".2f"), f"{r['min_ess_bulk']:.0f}", f"{r['ess_per_s_cold']:.0f}",
        _fmt(r["ess_per_s_warm"], ".0f"), f"{r['max_mean_error_in_sd']:.3f}",
        f"{r['peak_rss_mb']:.0f}"] for r in rows]
    return common.markdown_table(headers, body)


def _svi_table(rows: list[dict[str, Any]]) -> str:
    headers = ["contender", "steps", "time / step (µs)", "final ELBO", "gap to log Z",
               "total cold (s)", "peak RSS (MiB)"]
    body = [_error_row(r, len(headers)) if "error" in r else [
        r["label"], str(r["job"]["steps"]), f"{r['time_per_step_s'] * 1e6:.1f}",
        f"{r['final_elbo']:.3f} ± {r['final_elbo_sd']:.2f}", f"{r['elbo_gap']:.3f}",
        f"{r['total_s']:.2f}", f"{r['peak_rss_mb']:.0f}"] for r in rows]
    return common.markdown_table(headers, body)
