"""Train the learned priors (diffusion, flow, VAE) on digits and on two moons.

Digits also get the image architectures: a UNet denoiser (``diffusion_unet_digits``)
and a convolutional VAE (``vae_conv_digits``).

Each prior is trained with torch, sampled, saved as a portable checkpoint,
reloaded on torch and on JAX, and checked: the reloaded priors must give the
same log density (or, for diffusion, the same denoiser output) and the same
draws from the same noise. Sample grids are written as PNGs.

Run::

    PYTHONPATH=. python examples/train_priors.py --out results/priors          # full
    PYTHONPATH=. python examples/train_priors.py --quick --out /tmp/priors     # CI
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from _common import print_header, save_figure, use_agg, write_json


@dataclass(frozen=True)
class Job:
    """One prior on one data set: how to train it and how to check a reload."""

    name: str
    data: Callable[[], np.ndarray]
    train: Callable[[np.ndarray, int, Any], Any]
    load: Callable[[str, str], Any]


def _digits() -> np.ndarray:
    from models import load_digits

    return load_digits("train").images


def _moons() -> np.ndarray:
    from models import two_moons

    return two_moons(4000, np.random.default_rng(0))


def _diffusion(data, steps, ckpt):
    from models import DiffusionPrior, MLPConfig
    from models.diffusion_recipes import RECIPES

    if data.shape[1] == 2:  # the benchmarked recipe (benchmarks/priors.py): cosine lr over the run
        return DiffusionPrior.train(data, steps=steps, checkpoint_dir=ckpt, **RECIPES["moons_mlp"].train_kwargs(steps))
    net = MLPConfig(data_dim=int(np.prod(data.shape[1:])), hidden_dim=256)
    return DiffusionPrior.train(data, steps=steps, formulation="edm", net=net, checkpoint_dir=ckpt, lr=2e-3)


def _flow(data, steps, ckpt):
    from models import FlowConfig, FlowPrior

    dim = int(np.prod(data.shape[1:]))
    flow = FlowConfig(dim=dim, coupling="spline", num_layers=4 if dim == 2 else 6, hidden_dim=64 if dim == 2 else 256)
    return FlowPrior.train(data, steps=steps, flow=flow, checkpoint_dir=ckpt, lr=2e-3)


def _vae(data, steps, ckpt):
    from models import VAEConfig, VAEPrior

    vae = VAEConfig(dim=int(np.prod(data.shape[1:])), latent_dim=2 if data.shape[1] == 2 else 8)
    return VAEPrior.train(data, steps=steps, vae=vae, checkpoint_dir=ckpt)


def _diffusion_unet(data, steps, ckpt):
    from models import DiffusionPrior
    from models.diffusion_recipes import RECIPES

    # The benchmarked recipe (benchmarks/priors.py): UNet (16, 32), batch 128, cosine lr over the run.
    return DiffusionPrior.train(data, steps=steps, checkpoint_dir=ckpt, **RECIPES["digits_unet"].train_kwargs(steps))


def _vae_conv(data, steps, ckpt):
    from models import VAEConfig, VAEPrior

    vae = VAEConfig(dim=int(np.prod(data.shape[1:])), latent_dim=8, architecture="conv",
                    image_shape=data.shape[1:], channels=(16, 32))
    return VAEPrior.train(data, steps=steps, vae=vae, checkpoint_dir=ckpt)


def _loader(cls_name: str) -> Callable[[str, str], Any]:
    def load(path: str, backend: str) -> Any:
        import models

        return getattr(models, cls_name).load(path, backend=backend)

    return load


JOBS = [Job(f"{kind}_{data}", loader, train, _loader(cls))
        for kind, train, cls in [("diffusion", _diffusion, "DiffusionPrior"), ("flow", _flow, "FlowPrior"),
                                 ("vae", _vae, "VAEPrior")]
        for data, loader in [("moons", _moons), ("digits", _digits)]]
JOBS += [Job("diffusion_unet_digits", _digits, _diffusion_unet, _loader("DiffusionPrior")),
         Job("vae_conv_digits", _digits, _vae_conv, _loader("VAEPrior"))]


def check_reload(prior: Any, path: str, job: Job) -> float:
    """Max |torch - JAX| over draws from shared noise; raises if the backends disagree."""
    import torch

    on_torch, on_jax = job.load(path, "torch"), job.load(path, "jax")
    if hasattr(prior, "sample_from_noise"):
        shape = on_torch.noise_shape(16) if not hasattr(prior, "denoise") else on_torch.noise_shape(16, "ddim", 8)
        noise = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
        extra = {} if not hasattr(prior, "denoise") else {"sampler": "ddim", "num_steps": 8}
        a = on_torch.sample_from_noise(torch.as_tensor(noise), **extra).numpy()
        b = np.asarray(on_jax.sample_from_noise(noise, **extra))
    else:
        z = np.random.default_rng(0).standard_normal((16, prior.latent_dim)).astype(np.float32)
        a, b = on_torch.decode(torch.as_tensor(z)).numpy(), np.asarray(on_jax.decode(z))
    gap = float(np.max(np.abs(a - b)))
    if gap > 1e-3 * max(1.0, float(np.max(np.abs(a)))):
        raise RuntimeError(f"{job.name}: torch and JAX reloads disagree by {gap}")
    return gap


def plot_samples(draws: np.ndarray, reference: np.ndarray, title: str) -> Any:
    import matplotlib.pyplot as plt

    if draws.shape[1] == 2:
        fig, ax = plt.subplots(figsize=(4, 4))
        ax.scatter(*reference[:1000].T, s=2, alpha=0.3, label="data")
        ax.scatter(*draws.T, s=2, label="samples")
        ax.legend(loc="upper right")
    else:
        fig, axes = plt.subplots(4, 8, figsize=(8, 4))
        for ax, image in zip(axes.ravel(), draws.reshape(-1, 8, 8)):
            ax.imshow(image, cmap="gray_r", vmin=-1, vmax=1)
            ax.axis("off")
    fig.suptitle(title)
    return fig


def run_job(job: Job, steps: int, out: str) -> dict[str, Any]:
    print_header(job.name)
    data = job.data()
    prior = job.train(data, steps, os.path.join(out, "runs", job.name))
    draws = np.asarray(prior.sample(1000 if data.shape[1] == 2 else 32)).reshape(-1, *data.shape[1:])
    path = str(prior.save(os.path.join(out, "checkpoints", job.name)))
    gap = check_reload(prior, path, job)
    save_figure(plot_samples(draws.reshape(len(draws), -1), data.reshape(len(data), -1), job.name),
                os.path.join(out, f"{job.name}.png"))
    summary = {"final_loss": float(np.mean(prior.training_losses[-50:])), "torch_jax_max_gap": gap}
    print(summary)
    return summary


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="results/priors", metavar="DIR", help="output folder (%(default)s)")
    parser.add_argument("--steps", type=int, default=3000, help="training steps per prior (%(default)s)")
    parser.add_argument("--quick", action="store_true", help="a few steps each, for CI")
    parser.add_argument("--only", default="", help="comma-separated job names (default: all)")
    args = parser.parse_args(argv)
    use_agg()
    steps = 20 if args.quick else args.steps
    wanted = set(filter(None, args.only.split(",")))
    results = {job.name: run_job(job, steps, args.out) for job in JOBS if not wanted or job.name in wanted}
    write_json(os.path.join(args.out, "summary.json"), results)
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
