"""``FlowPrior``: a normalizing flow (affine or spline coupling) over vectors or images.

Exact ``log_prob`` and sampling, unconditional or conditioned on a context
vector. The flow runs in flow space u = (x - shift) / scale (``Normalization``);
``log_prob`` and ``sample`` work in data space. Training and the trained
weights run on torch (for Pyro) or JAX (for NumPyro) through one
implementation of the math (``models.flow_net``, ``models.couplings``).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ppl.errors import ObservationError
from models.diffusion_config import Normalization
from models.flow_config import FlowConfig, FlowPriorConfig
from models import flow_net
from models.prior_base import WeightDictPrior, check_training_array


class FlowPrior(WeightDictPrior):
    """A trained coupling flow plus its normalisation and backend.

    Args:
        config: architecture, normalisations and event shape.
        weights: name -> numpy array (``flow_net.param_shapes``).
        backend: ``"torch"`` or ``"jax"``.
        dtype: ``"float32"`` or ``"float64"``.
    """

    KIND = "flow_prior"
    CONFIG = FlowPriorConfig

    @staticmethod
    def param_shapes(config: FlowPriorConfig) -> dict[str, tuple[int, ...]]:
        return flow_net.param_shapes(config.flow)

    def _build(self) -> None:
        xp, cfg = self.backend.xp, self.config.flow
        self._log_prob_u = self._jit(lambda p, u, c: flow_net.log_prob(p, cfg, u, c, xp))
        self._inverse = self._jit(lambda p, z, c: flow_net.inverse(p, cfg, z, c, xp))

    @classmethod
    def train(cls, data, context=None, steps: int = 2000, batch_size: int = 256, lr: float = 1e-3,
              seed: int = 0, flow: FlowConfig | None = None, coupling: str = "spline",
              ema_decay: float = 0.999, checkpoint_dir: Any = None, checkpoint_every: int = 500,
              progress: bool = True, backend: str = "torch") -> "FlowPrior":
        """Fit by maximum likelihood to data (n, *event_shape), optionally given context (n, c).

        Training runs on ``backend`` (``"torch"`` or ``"jax"``, same optimiser, EMA and
        checkpoint format); the returned prior runs there too.

        Checkpoints go to ``checkpoint_dir`` every ``checkpoint_every`` steps;
        rerunning with the same arguments resumes from the newest one and ends
        with the same weights as an uninterrupted run. The returned prior uses
        the EMA weights.
        """
        from models.flow_task import FlowTask
        from models.training import TrainConfig, fit

        flat = check_training_array(data)
        flat, event_shape = flat.reshape(flat.shape[0], -1), flat.shape[1:]
        ctx = None if context is None else check_training_array(context, "context").reshape(flat.shape[0], -1)
        flow = flow or FlowConfig(dim=flat.shape[1], coupling=coupling,
                                  context_dim=0 if ctx is None else ctx.shape[1])
        _check_dims(flow, flat, ctx)
        config = FlowPriorConfig(flow, Normalization.fit(flat), None if ctx is None else Normalization.fit(ctx),
                                 tuple(event_shape))
        arrays = [config.normalization.forward(flat)]
        if ctx is not None:
            arrays.append(config.context_normalization.forward(ctx))
        train = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, ema_decay=ema_decay, seed=seed,
                            checkpoint_every=checkpoint_every)
        result = fit([a.astype(np.float32) for a in arrays], FlowTask(config), train, checkpoint_dir, progress, backend)
        prior = cls(config, result.ema, backend=backend)
        prior.training_losses = result.losses
        return prior

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self.config.event_shape

    @property
    def dim(self) -> int:
        return self.config.flow.dim

    def noise_shape(self, n: int) -> tuple[int, ...]:
        """Shape of the standard normal noise ``sample_from_noise`` consumes."""
        return (n, self.dim)

    def _context(self, context: Any, n: int) -> Any:
        """Normalised context (n, c) as a backend array, or None."""
        norm = self.config.context_normalization
        if (context is None) != (norm is None):
            raise ObservationError("this flow is " + ("conditional: pass context=" if norm else
                                                       "unconditional: do not pass context"))
        if context is None:
            return None
        xp = self.backend.xp
        ctx = xp.reshape(self.backend.asarray(context), (-1, self.config.flow.context_dim))
        ctx = norm.forward(ctx, xp)
        return ctx if ctx.shape[0] == n else xp.broadcast_to(ctx, (n, ctx.shape[1]))

    def sample_from_noise(self, noise: Any, context: Any = None) -> Any:
        """Push standard normal noise (n, d) through the inverse flow -> (n, *event_shape)."""
        n = noise.shape[0]
        u = self._inverse(self.params, noise, self._context(context, n))
        x = self.config.normalization.inverse(u, self.backend.xp)
        return self.backend.xp.reshape(x, (n, *self.event_shape))

    def sample(self, n: int, seed: int = 0, context: Any = None) -> Any:
        """n exact draws (n, *event_shape); context (c,) or (n, c) for a conditional flow."""
        return self.sample_from_noise(self.backend.normal(seed, self.noise_shape(n)), context)

    def log_prob(self, x: Any, context: Any = None) -> Any:
        """Exact data-space log density of x (n, *event_shape), shape (n,)."""
        xp = self.backend.xp
        flat = xp.reshape(self.backend.asarray(x), (-1, self.dim))
        u = self.config.normalization.forward(flat, xp)
        log_p = self._log_prob_u(self.params, u, self._context(context, flat.shape[0]))
        return log_p - self.dim * math.log(self.config.normalization.scale)

    def as_distribution(self, context: Any = None):
        """This prior as a ``ppl`` distribution: ``x = ppl.sample("x", prior.as_distribution())``."""
        from models.distribution import LearnedDistribution

        return LearnedDistribution(self, context=context)


def _check_dims(flow: FlowConfig, flat: np.ndarray, ctx: np.ndarray | None) -> None:
    if flow.dim != flat.shape[1]:
        raise ValueError(f"flow.dim={flow.dim} but data has {flat.shape[1]} dims")
    if flow.context_dim != (0 if ctx is None else ctx.shape[1]):
        raise ValueError(f"flow.context_dim={flow.context_dim} does not match the context given")
