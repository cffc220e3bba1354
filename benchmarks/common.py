"""Helpers shared by benchmarks: memory, compile clocks, machine facts, output files.

Nothing here imports jax, torch or pymc at module level: a benchmark worker
process must carry only the libraries of the contender it measures, or its
peak memory would include the others'.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence

from ppl.io import atomic_write_text

REPO_ROOT = Path(__file__).resolve().parent.parent


# -- memory --------------------------------------------------------------------------
def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    Reads VmHWM, the high-water mark of this process's own address space:
    Linux carries ``ru_maxrss`` across fork + exec, so a fresh worker would
    report its parent's size at spawn time. Falls back to ``ru_maxrss`` (KiB).
    """
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def peak_children_rss_mb() -> float:
    """Largest peak RSS among waited-for child processes (e.g. PyMC with cores > 1), MiB."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


# -- JAX compile time ------------------------------------------------------------------
class JaxCompileClock:
    """Sums the seconds JAX reports spending on tracing, lowering and XLA compilation.

    NumPyro jits fresh closures on every ``MCMC.run``, so a second run in the
    same process compiles again and cannot serve as a "warm" timing; instead
    we subtract what JAX itself reports. JAX logs a trace event only for
    top-level traces (``core.trace_state_clean()``), so nested jits are not
    counted twice.
    """

    EVENTS = ("/jax/core/compile/jaxpr_trace_duration",
              "/jax/core/compile/jaxpr_to_mlir_module_duration",
              "/jax/core/compile/backend_compile_duration")

    def __init__(self) -> None:
        import jax.monitoring

        self.seconds = 0.0
        self._on = False
        jax.monitoring.register_event_duration_secs_listener(self._listen)

    def _listen(self, event: str, duration: float, **_: Any) -> None:
        if self._on and event in self.EVENTS:
            self.seconds += duration

    @contextlib.contextmanager
    def measure(self) -> Iterator["JaxCompileClock"]:
        """Counts compile seconds inside the block (from zero)."""
        self.seconds, self._on = 0.0, True
        try:
            yield self
        finally:
            self._on = False


# -- machine and library facts ---------------------------------------------------------
def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (falls back to platform.processor())."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def hardware() -> dict[str, Any]:
    """CPU model, usable cores and RAM of this machine."""
    mem_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        mem_gib = round(kib / 2**20, 1)
    return {"cpu": cpu_model(), "cores_usable": len(os.sched_getaffinity(0)),
            "cores_total": os.cpu_count(), "memory_gib": mem_gib,
            "platform": platform.platform(), "python": platform.python_version()}


def library_versions(names: Sequence[str]) -> dict[str, str]:
    """Installed distribution versions, read from metadata (nothing is imported)."""
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_revision() -> str:
    """The repository's HEAD commit, with "+dirty" when the tree has local edits."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True,
                              text=True, check=False).stdout.strip()

    rev = git("rev-parse", "--short", "HEAD") or "unknown"
    return rev + ("+dirty" if git("status", "--porcelain", "--", "ppl", "inference") else "")


# -- worker processes ------------------------------------------------------------------
def run_worker(module: str, payload: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Runs ``python -m module --worker PAYLOAD`` in a fresh process; returns its JSON.

    A fresh process per measurement keeps contenders from sharing imports, JIT
    caches or peak memory. The worker writes its result to ``payload["result_file"]``.

    Returns:
        The worker's result, or ``{"error": ...}`` when it failed or timed out.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)}
    cmd = [sys.executable, "-m", module, "--worker", json.dumps(payload)]
    try:
        proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:.0f} s"}
    result_file = Path(payload["result_file"])
    if proc.returncode != 0 or not result_file.exists():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: {' | '.join(tail)}"}
    return json.loads(result_file.read_text())


# -- output files ----------------------------------------------------------------------
def write_atomic(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` atomically (``ppl.io``): never half-written."""
    atomic_write_text(str(path), text)


def write_results(out_dir: Path, stem: str, doc: Any, markdown: str, echo: bool = True,
                  json_default: Any = None) -> None:
    """Writes ``stem.json`` (``doc``) and ``stem.md`` under ``out_dir`` atomically; prints the markdown.

    ``json_default`` converts values json cannot (e.g. ``float`` for numpy scalars).
    """
    write_atomic(Path(out_dir) / f"{stem}.json", json.dumps(doc, indent=2, default=json_default) + "\n")
    write_atomic(Path(out_dir) / f"{stem}.md", markdown)
    if echo:
        print(markdown)


def add_selection_flags(parser: Any, problems: dict[str, Any], contenders: dict[str, Any]) -> None:
    """The flags every side-by-side benchmark shares: what to run, where to write."""
    parser.add_argument("--models", default=",".join(problems), help="comma-separated problems")
    parser.add_argument("--only", default=",".join(contenders), help="comma-separated contenders")
    parser.add_argument("--quick", action="store_true", help="small settings for a smoke run")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "benchmarks" / "results")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: JSON payload of one job


def resolved_defaults(args: Any, defaults: dict[bool, dict[str, Any]]) -> dict[str, Any]:
    """Each default of the full or quick setting (``defaults[args.quick]``), unless flagged."""
    return {k: (getattr(args, k) if getattr(args, k) is not None else v)
            for k, v in defaults[args.quick].items()}


def select_names(csv: str, registry: dict[str, Any]) -> tuple[str, ...]:
    """Names from a comma-separated flag; an unknown name stops the run with the choices."""
    names = tuple(n.strip() for n in csv.split(",") if n.strip())
    unknown = [n for n in names if n not in registry]
    if unknown:
        raise SystemExit(f"unknown name(s) {', '.join(unknown)}; choose from {', '.join(registry)}")
    return names


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table; cells are str()-ed, ``|`` escaped."""
    def line(cells: Sequence[Any]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(headers), line(["---"] * len(headers)), *map(line, rows)])


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean of ``values`` and its standard error (NaN for fewer than two values)."""
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    se = float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")
    return float(v.mean()), se
