"""``DiffusionPrior``: a learned prior over vectors (or flattened images).

The diffusion runs in *diffusion space* u = (x - shift) / scale (see
``Normalization``); ``denoise``, ``score``, ``alpha``, ``sigma`` and
``sampling_times`` all work there, because that is where posterior samplers
need them (use ``normalization.pullback_linear`` to move a linear observation
model there). ``sample`` returns data-space draws of shape (n, *event_shape).

The same prior trains and runs on torch (for Pyro) or JAX (for NumPyro); a
checkpoint written by ``save`` loads on either with matching outputs.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ppl.errors import CheckpointError, ObservationError
from models.backends import make_backend
from models.checkpoint import load_checkpoint, save_checkpoint
from models.diffusion_config import DiffusionConfig, Formulation, Normalization
from models.formulations import formulation_from_json
from models.likelihood import TraceEstimator, make_denoise_trace, probability_flow_log_prob
from models.nets.registry import NetConfig, check_net_params, default_net
from models.samplers import NEEDS_NOISE, SAMPLERS, initial_std

KIND = "diffusion_prior"
DEFAULT_SAMPLER = {"vp": "ddpm", "edm": "heun"}
DEFAULT_STEPS = {"ddpm": 100, "ddim": 50, "heun": 32}


class DiffusionPrior:
    """A trained denoiser plus its formulation, normalisation and backend.

    Args:
        config: architecture, formulation, normalisation and event shape.
        weights: network weights, name -> numpy array (shared naming scheme).
        backend: ``"torch"`` or ``"jax"``.
        dtype: ``"float32"`` or ``"float64"``.
    """

    def __init__(self, config: DiffusionConfig, weights: Mapping[str, np.ndarray],
                 backend: str = "torch", dtype: str = "float32"):
        self.config = config
        self.weights = {k: np.asarray(v) for k, v in weights.items()}
        self.backend = make_backend(backend, config.net, self.weights, dtype)
        self.training_losses: np.ndarray | None = None

    # -- construction -----------------------------------------------------------------
    @classmethod
    def train(cls, data, steps: int = 2000, batch_size: int = 256, lr: float = 1e-3, seed: int = 0,
              formulation: Formulation | str = "vp", net: NetConfig | str = "mlp",
              ema_decay: float = 0.999, checkpoint_dir: Any = None, checkpoint_every: int = 500,
              progress: bool = True, backend: str = "torch", lr_schedule: Any = None) -> "DiffusionPrior":
        """Fit a prior to data of shape (n, *event_shape) on ``backend`` (``"torch"`` or ``"jax"``).

        Checkpoints go to ``checkpoint_dir`` every ``checkpoint_every`` steps;
        rerunning with the same arguments resumes from the newest one and ends
        with the same weights as an uninterrupted run (on the backend that
        wrote the checkpoint). The returned prior uses the EMA weights and runs
        on ``backend`` too. ``net`` is a denoiser config (``MLPConfig``,
        ``UNetConfig``) or the name of one in ``models.nets.registry.NETS``
        (``"mlp"``, ``"unet"``), sized from the data's event shape.
        ``lr_schedule`` (a ``models.training.LRSchedule``) scales ``lr`` by step.
        """
        from models.diffusion_task import DiffusionTask
        from models.training import TrainConfig, fit

        flat, event_shape = _flatten_data(data)
        formulation = formulation_from_json({"name": formulation}) if isinstance(formulation, str) else formulation
        net = default_net(net, event_shape) if isinstance(net, str) else net
        config = DiffusionConfig(formulation, net, Normalization.fit(flat), event_shape)
        if config.net.data_dim != flat.shape[1]:
            raise ValueError(f"net.data_dim={config.net.data_dim} but data has {flat.shape[1]} dims")
        train = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, ema_decay=ema_decay, seed=seed,
                            checkpoint_every=checkpoint_every, lr_schedule=lr_schedule)
        result = fit((config.normalization.forward(flat).astype(np.float32),), DiffusionTask(config), train,
                     checkpoint_dir, progress, backend)
        prior = cls(config, result.ema, backend=backend)
        prior.training_losses = result.losses
        return prior

    def to(self, backend: str, dtype: str = "float32") -> "DiffusionPrior":
        """The same prior on another backend / dtype."""
        return DiffusionPrior(self.config, self.weights, backend, dtype)

    # -- schedule accessors (diffusion space) ----------------------------------------
    @property
    def formulation(self) -> Formulation:
        return self.config.formulation

    @property
    def normalization(self) -> Normalization:
        return self.config.normalization

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self.config.event_shape

    @property
    def dim(self) -> int:
        return self.config.net.data_dim

    def alpha(self, t):
        """Signal scale alpha(t) in x_t = alpha x0 + sigma eps."""
        return self.formulation.alpha(self._time(t), self.backend.xp)

    def sigma(self, t):
        """Noise scale sigma(t) in x_t = alpha x0 + sigma eps."""
        return self.formulation.sigma(self._time(t), self.backend.xp)

    def sampling_times(self, num_steps: int) -> np.ndarray:
        """Decreasing time grid (num_steps + 1,) from t_max to 0."""
        return self.formulation.sampling_times(num_steps)

    def _time(self, t):
        return self.backend.asarray(t)

    # -- denoiser and score (diffusion space) ----------------------------------------
    def denoise(self, x_t, t):
        """E[x0 | x_t] from the network.

        Args:
            x_t: backend array, shape (n, d).
            t: time (sigma for EDM), a float or backend array of shape (n,).

        Returns:
            Backend array, shape (n, d).
        """
        xp, form = self.backend.xp, self.formulation
        t_col = xp.reshape(self._time(t), (-1, 1)) * xp.ones_like(x_t[:, :1])
        output = self.backend.apply(form.c_in(t_col, xp) * x_t, form.c_noise(t_col[:, 0], xp))
        return form.denoise_from_output(output, x_t, t_col, xp)

    def score(self, x_t, t):
        """grad log p_t(x_t) via Tweedie: (alpha E[x0 | x_t] - x_t) / sigma^2, shape (n, d)."""
        xp = self.backend.xp
        t_col = xp.reshape(self._time(t), (-1, 1))
        alpha, sigma = self.formulation.alpha(t_col, xp), self.formulation.sigma(t_col, xp)
        return (alpha * self.denoise(x_t, t) - x_t) / sigma**2

    # -- sampling -----------------------------------------------------------------------
    def _schedule(self, sampler: str | None, num_steps: int | None) -> tuple[str, np.ndarray]:
        sampler = sampler or DEFAULT_SAMPLER[self.formulation.name]
        if sampler not in SAMPLERS:
            raise ValueError(f"unknown sampler {sampler!r}; choose from {sorted(SAMPLERS)}")
        return sampler, self.sampling_times(num_steps or DEFAULT_STEPS[sampler])

    def noise_shape(self, n: int, sampler: str | None = None, num_steps: int | None = None) -> tuple[int, ...]:
        """Shape (num_steps + 1, n, d) of the standard normal noise ``sample_from_noise`` consumes."""
        return (len(self._schedule(sampler, num_steps)[1]), n, self.dim)

    def sample_from_noise(self, noise, sampler: str | None = None, num_steps: int | None = None,
                          return_diffusion_space: bool = False):
        """Turn standard normal draws of shape ``noise_shape(n, ...)`` into n samples.

        Lets callers own the randomness (a JAX key inside NumPyro, torch's
        global RNG inside Pyro); ``sample`` documents the arguments.
        """
        sampler, times = self._schedule(sampler, num_steps)
        x_init = initial_std(self.formulation, times[0]) * noise[0]
        extra = noise[1:] if sampler in NEEDS_NOISE else None
        return self._reverse(sampler, times, x_init, extra, return_diffusion_space)

    def _reverse(self, sampler: str, times, u_init, extra, return_diffusion_space: bool):
        """The sampler from ``u_init`` (n, d) at ``times[0]`` to 0; data space unless asked otherwise."""
        u = SAMPLERS[sampler](self.denoise, times, u_init, extra, self.formulation, self.backend.xp)
        if return_diffusion_space:
            return u
        x = self.normalization.inverse(u, self.backend.xp)
        return self.backend.xp.reshape(x, (u_init.shape[0], *self.event_shape))

    def sample_from(self, u_t, t: float, seed: int = 0, sampler: str | None = None, num_steps: int | None = None,
                    return_diffusion_space: bool = False):
        """Run the reverse process from diffusion-space states ``u_t`` at time ``t`` down to 0.

        The hook for restarting mid-way (SDEdit-style editing, posterior
        samplers that reset or resample particles at an intermediate time):
        the sampler's own grid of ``num_steps`` levels, cut to the levels below
        ``t``, with ``t`` itself first.

        Args:
            u_t: states in diffusion space, shape (n, d), distributed (ideally) as
                the forward marginal at ``t``.
            t: their time (VP: in (0, 1]; EDM: the noise level sigma), > 0.
            seed, sampler, num_steps, return_diffusion_space: as for ``sample``.

        Returns:
            Backend array, shape (n, *event_shape) (or (n, d) in diffusion space).
        """
        sampler, times = self._schedule(sampler, num_steps)
        if not 0.0 < float(t) <= float(times[0]):
            raise ValueError(f"t must lie in (0, {float(times[0])}] (the sampler's first level), got {t}")
        times = np.concatenate([[float(t)], times[times < float(t)]])
        u_t = self.backend.asarray(u_t)
        if u_t.ndim != 2 or u_t.shape[1] != self.dim:
            raise ValueError(f"u_t must have shape (n, {self.dim}), got {tuple(u_t.shape)}")
        noise_shape = (len(times) - 1, u_t.shape[0], self.dim)
        extra = self.backend.normal(seed, noise_shape) if sampler in NEEDS_NOISE else None
        return self._reverse(sampler, times, u_t, extra, return_diffusion_space)

    def sample(self, n: int, seed: int = 0, sampler: str | None = None, num_steps: int | None = None,
               return_diffusion_space: bool = False):
        """Draw n samples.

        Args:
            n: number of draws.
            seed: seeds the initial noise and any sampler noise.
            sampler: ``"ddpm"``, ``"ddim"`` or ``"heun"`` (default per formulation).
            num_steps: denoiser steps (default per sampler).
            return_diffusion_space: return u instead of data-space x.

        Returns:
            Backend array, shape (n, *event_shape) (or (n, d) in diffusion space).
        """
        draws = self.backend.normal(seed, self.noise_shape(n, sampler, num_steps))
        return self.sample_from_noise(draws, sampler, num_steps, return_diffusion_space)

    def log_prob(self, x, num_steps: int = 64, trace: TraceEstimator | None = None):
        """Data-space log density via the probability-flow ODE.

        Args:
            x: backend array, shape (n, *event_shape).
            num_steps: Heun steps of the ODE solve (accuracy vs. cost).
            trace: how the divergence is computed (default ``TraceEstimator()``:
                exact up to dimension 16, else Hutchinson with 4 Rademacher
                probes per evaluation, seed 0 - unbiased, deterministic).

        Returns:
            Backend array, shape (n,).
        """
        xp = self.backend.xp
        u = self.normalization.forward(xp.reshape(self.backend.asarray(x), (-1, self.dim)), xp)
        denoise_trace = make_denoise_trace(self.denoise, self.backend, trace or TraceEstimator(), self.dim)
        log_p = probability_flow_log_prob(u, denoise_trace, self.formulation, num_steps, xp)
        return log_p - self.dim * math.log(self.normalization.scale)

    # -- persistence --------------------------------------------------------------------
    def save(self, path) -> Path:
        """Write a portable checkpoint directory (config.json + weights.safetensors)."""
        return save_checkpoint(path, KIND, self.config.to_json(), self.weights)

    @classmethod
    def load(cls, path, backend: str = "torch", dtype: str = "float32") -> "DiffusionPrior":
        """Read a checkpoint written by ``save``; raises ``CheckpointError`` if invalid."""
        path = Path(path)
        ckpt = load_checkpoint(path, kind=KIND)  # validates files, checksum and manifest
        try:
            config = DiffusionConfig.from_json(ckpt.config)
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {path}: invalid diffusion config ({exc})") from exc
        check_net_params(ckpt.tensors, config.net, where=f"checkpoint {path}")
        return cls(config, ckpt.tensors, backend, dtype)

    def as_distribution(self, log_prob_steps: int = 64, sampler: str | None = None,
                        num_steps: int | None = None, trace: TraceEstimator | None = None):
        """This prior as a ``ppl`` distribution: ``x = ppl.sample("x", prior.as_distribution())``.

        Its density is ``log_prob``, the probability-flow ODE: exact up to the
        ODE solve but costly (64 Heun steps with a Jacobian trace each), and on
        torch not differentiable in x. Use it mainly as a sampling / score
        prior (posterior samplers call ``denoise`` / ``score`` directly).

        Args:
            log_prob_steps: Heun steps of the ODE behind the density.
            trace: divergence estimator of that ODE (see ``log_prob``).
            sampler, num_steps: how draws are made (see ``sample``).
        """
        from models.distribution import LearnedDistribution

        return LearnedDistribution(self, log_prob_options={"num_steps": log_prob_steps, "trace": trace},
                                   sample_options={"sampler": sampler, "num_steps": num_steps})


def _flatten_data(data) -> tuple[np.ndarray, tuple[int, ...]]:
    data = np.asarray(data, dtype=np.float64)
    if data.ndim < 2 or data.shape[0] < 2:
        raise ObservationError(f"training data must have shape (n >= 2, ...), got {data.shape}")
    if not np.all(np.isfinite(data)):
        raise ObservationError("training data contains NaN or inf")
    return data.reshape(data.shape[0], -1), tuple(data.shape[1:])
