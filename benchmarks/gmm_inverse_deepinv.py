"""deepinv's DPS on one mixture inverse problem; runs inside the deepinv venv.

Usage (from benchmarks/gmm_inverse.py, or by hand)::

    .bench-venvs/deepinv/bin/python benchmarks/gmm_inverse_deepinv.py PROBLEM.npz OUT.npz [PROBLEM2.npz OUT2.npz ...]

Several (problem, output) pairs share one process, so deepinv's import (a few
seconds) is paid once.

PROBLEM.npz holds the prior (``weights`` (K,), ``means`` (K, d), ``variances``
(K, d): diagonal covariances), the observation (``A`` (m, d), ``sigma_y``,
``y`` (m,)) and the settings (``num_steps``, ``num_samples``, ``seed``,
``batch``, ``weight``, ``guidance``, ``threads``). OUT.npz gets ``samples``
(num_samples, d), ``wall_s`` (sampling only, imports and set-up excluded),
``nfe`` (denoiser evaluations per sample, counted), and the library versions.

The sampler is ``deepinv.sampling.PosteriorDiffusion`` with
``DPSDataFidelity`` on deepinv's variance-preserving SDE, solved with its DDPM
(ancestral) solver on ``num_steps - 1`` steps plus the final denoising step,
so one sample costs ``num_steps`` denoiser evaluations (each also
back-propagated for the DPS gradient), like ppl's DPS at ``num_steps``.

This file must not import ppl, jax or the project's models: deepinv needs
PyPI's CUDA torch (via torchvision), which cannot share an environment with the
project's torch 2.13+cpu. That is why the exact mixture denoiser is written
again here, in torch, instead of being imported from ``models.gmm``.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np
import torch


def mixture_denoise(z, s2, log_w, means, variances):
    """E[x0 | x0 + sigma w = z] for x0 ~ sum_k w_k N(mu_k, diag(v_k)), all float64 tensors.

    Args:
        z: (B, d) noisy points; s2: sigma^2, shape (B|1, 1).
        log_w: (K,) log weights; means, variances: (K, d).

    Returns:
        (B, d). p(z | k) = N(mu_k, v_k + sigma^2) and E[x0 | z, k] = mu_k + v_k / (v_k + sigma^2) (z - mu_k).
        When every component has the same variances (the benchmark's identity covariances),
        |z - mu_k|^2 / t expands into two (B, d) x (d, K) products, so no (B, K, d) temporaries
        are made: the same shortcut ppl's own mixture denoiser takes (``models.gmm``), so the
        two samplers are timed with equally efficient denoisers.
    """
    if bool(torch.all(variances == variances[:1])):
        centre = means.mean(0)  # expanding around the means' centre cancels less
        mu, zc = means - centre, z - centre
        inv = 1.0 / (variances[0] + s2)                                      # (B|1, d)
        quad = (torch.sum(zc**2 * inv, -1, keepdim=True) - 2.0 * (zc * inv) @ mu.T
                + inv @ (mu**2).T)                                           # (B, K)
        resp = torch.softmax(log_w - 0.5 * quad, dim=-1)  # the shared log-determinant cancels
        mixed = resp @ mu                                                    # (B, d)
        gain = variances[0] * inv                                            # v / (v + sigma^2)
        return centre + mixed + gain * (zc - mixed)
    total = variances[None] + s2[..., None]                                  # (B|1, K, d)
    centred = z[:, None, :] - means[None]                                    # (B, K, d)
    log_joint = log_w - 0.5 * torch.sum(centred**2 / total + torch.log(total), dim=-1)
    resp = torch.softmax(log_joint, dim=-1)[..., None]                       # (B, K, 1)
    return torch.sum(resp * (means[None] + variances[None] / total * centred), dim=1)


def gmm_denoiser_class():
    """The exact mixture denoiser (:func:`mixture_denoise`) as a deepinv Denoiser.

    Built lazily so ``--help`` and the argument checks work without deepinv.
    """
    from deepinv.models import Denoiser

    class GaussianMixtureDenoiser(Denoiser):
        """:func:`mixture_denoise` in float64 whatever the input dtype (deepinv hands denoisers float32)."""

        def __init__(self, weights, means, variances):
            super().__init__()
            self.log_w = torch.as_tensor(np.log(weights), dtype=torch.float64)
            self.means = torch.as_tensor(means, dtype=torch.float64)
            self.var = torch.as_tensor(variances, dtype=torch.float64)
            self.calls = 0

        def forward(self, x, sigma, *args, **kwargs):
            self.calls += 1
            z = x.to(torch.float64).reshape(x.shape[0], -1)
            s2 = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1, 1) ** 2
            return mixture_denoise(z, s2, self.log_w, self.means, self.var).reshape(x.shape).to(x.dtype)

    return GaussianMixtureDenoiser


def load_problem(path: str) -> dict:
    with np.load(path) as f:
        p = {k: f[k] for k in f.files}
    for key in ("weights", "means", "variances", "A", "sigma_y", "y", "num_steps", "num_samples"):
        if key not in p:
            raise SystemExit(f"{path}: missing array {key!r}")
    if p["A"].shape != (p["y"].size, p["means"].shape[1]):
        raise SystemExit(f"{path}: A has shape {p['A'].shape}, expected ({p['y'].size}, {p['means'].shape[1]})")
    return p


def make_sampler(p: dict, denoiser, num_steps: int, seed: int):
    import deepinv as dinv

    A = torch.as_tensor(p["A"], dtype=torch.float64)
    physics = dinv.physics.LinearPhysics(A=lambda x, **_: x.to(A.dtype) @ A.T,
                                         A_adjoint=lambda y, **_: y.to(A.dtype) @ A,
                                         noise_model=dinv.physics.GaussianNoise(sigma=float(p["sigma_y"])))
    rng = torch.Generator().manual_seed(seed)
    solver = dinv.sampling.DDPMSolver(timesteps=torch.linspace(1.0, 1e-3, num_steps, dtype=torch.float64), rng=rng)
    sde = dinv.sampling.VariancePreservingDiffusion(solver=solver, dtype=torch.float64)
    fidelity = dinv.sampling.DPSDataFidelity(denoiser=denoiser, weight=float(p.get("weight", 1.0)),
                                             guidance=str(p.get("guidance", "annealed")))
    # minus_one_one=False: the mixture denoiser works in the data's own coordinates.
    sampler = dinv.sampling.PosteriorDiffusion(data_fidelity=fidelity, denoiser=denoiser, sde=sde,
                                               solver=solver, dtype=torch.float64, minus_one_one=False)
    return sampler, physics


def run(p: dict) -> dict:
    import deepinv as dinv

    torch.set_num_threads(int(p.get("threads", 1)))
    n, d = int(p["num_samples"]), p["means"].shape[1]
    batch, seed, steps = int(p.get("batch", 500)), int(p.get("seed", 0)), int(p["num_steps"])
    denoiser = gmm_denoiser_class()(p["weights"], p["means"], p["variances"])
    y = torch.as_tensor(p["y"], dtype=torch.float64)
    chunks, start = [], time.perf_counter()
    for i, size in enumerate(np.diff(np.r_[0:n:batch, n])):
        sampler, physics = make_sampler(p, denoiser, steps, seed + i)
        x = sampler(y.expand(int(size), -1), physics, x_init=(int(size), d), seed=seed + i)
        chunks.append(x.detach().to(torch.float64).numpy())
    wall = time.perf_counter() - start
    return {"samples": np.concatenate(chunks), "wall_s": wall, "nfe": denoiser.calls / len(chunks),
            "deepinv_version": dinv.__version__, "torch_version": torch.__version__}


def save_atomic(path: str, arrays: dict) -> None:
    """np.savez to a temporary file in the target folder, then rename: never half-written."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".npz")
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def main(argv: list[str]) -> None:
    if not argv or len(argv) % 2:
        raise SystemExit(__doc__)
    for problem, out in zip(argv[::2], argv[1::2]):
        save_atomic(out, run(load_problem(problem)))


if __name__ == "__main__":
    main(sys.argv[1:])
