"""Pieces every example shares: command-line flags, running NUTS, writing outputs.

Each example builds its parser with :func:`make_parser`, so they all accept
``--backend --chains --warmup --draws --seed --out --progress``. Files are
written atomically (a temporary file in the target folder, then a rename), so
an interrupted run never leaves a half-written result behind.
"""
from __future__ import annotations

import argparse
import json
from typing import Any, Sequence

import numpy as np

from ppl.io import atomic_write

BACKENDS = ("numpyro", "pyro")


def make_parser(description: str, chains: int = 4, warmup: int = 500, draws: int = 500,
                out: str | None = None) -> argparse.ArgumentParser:
    """A parser with the flags every example takes; examples add their own.

    Args:
        description: the example's one-line purpose (shown by ``--help``).
        chains, warmup, draws: MCMC defaults for this example.
        out: default output folder; None writes nothing unless ``--out`` is given.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--backend", choices=BACKENDS, default="numpyro",
                        help="backend that runs inference (default: %(default)s)")
    parser.add_argument("--chains", type=int, default=chains, help="MCMC chains (%(default)s)")
    parser.add_argument("--warmup", type=int, default=warmup,
                        help="warmup iterations per chain (%(default)s)")
    parser.add_argument("--draws", type=int, default=draws,
                        help="kept draws per chain (%(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (%(default)s)")
    parser.add_argument("--out", default=out, metavar="DIR",
                        help="folder for result files (default: %(default)s)")
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    return parser


def run_nuts(model: Any, args: argparse.Namespace, **options: Any) -> Any:
    """Runs NUTS with the sampler flags of ``args``; ``options`` override them."""
    import ppl

    settings = dict(chains=args.chains, warmup=args.warmup, draws=args.draws, seed=args.seed,
                    progress=args.progress)
    settings.update(options)
    return ppl.infer(model, method="nuts", backend=args.backend, **settings)


def num_divergences(posterior: Any) -> int:
    """Number of divergent transitions after warmup, over all chains."""
    return int(np.sum(posterior.sample_stats["diverging"]))


def summarize(idata: Any, var_names: Sequence[str] | None = None) -> Any:
    """``az.summary`` (a pandas DataFrame) with ArviZ's defaults."""
    import arviz as az

    return az.summary(idata, var_names=list(var_names) if var_names else None)


def print_header(text: str) -> None:
    print(f"\n== {text} " + "=" * max(0, 70 - len(text)))


# -- files -------------------------------------------------------------------------
def write_text(path: str, text: str) -> str:
    """Writes ``text`` (newline-terminated) to ``path`` atomically."""
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")

    return atomic_write(path, write)


def write_json(path: str, payload: Any) -> str:
    """Writes ``payload`` as indented JSON; numpy scalars and arrays become lists."""
    return write_text(path, json.dumps(payload, indent=2, default=_jsonable))


def write_csv(path: str, frame: Any) -> str:
    """Writes a pandas DataFrame (index included) atomically."""
    return atomic_write(path, frame.to_csv)


def save_figure(figure: Any, path: str) -> str:
    """Saves a matplotlib figure atomically and closes it."""
    import matplotlib.pyplot as plt

    try:
        return atomic_write(path, lambda tmp: figure.savefig(tmp, dpi=100, bbox_inches="tight"))
    finally:
        plt.close(figure)


def figure_of(axes: Any) -> Any:
    """The figure an ArviZ plot drew on (it returns one Axes or an array of them)."""
    return np.ravel(np.asarray(axes, dtype=object))[0].get_figure()


def use_agg() -> None:
    """Selects matplotlib's file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
