"""``VAEPrior``: a variational autoencoder as a learned prior over vectors or images.

``sample`` pushes z ~ N(0, I) through the decoder; ``log_prob`` is the
importance-weighted bound (IWAE, K samples; a lower bound on log p(x) that
tightens as K grows). Inside a model, use ``latent_sample`` so the code z is
its own site and the decoder a deterministic site: samplers then work in
z-space, where the density is exact. Training and the trained weights run
on torch (Pyro) or JAX (NumPyro) through one implementation of the math.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ppl.errors import ObservationError
from models.diffusion_config import Normalization
from models import vae_net
from models.prior_base import WeightDictPrior, check_training_array
from models.vae_config import VAEConfig, VAEPriorConfig


class VAEPrior(WeightDictPrior):
    """A trained VAE plus its normalisation and backend.

    Args:
        config: architecture, normalisation and event shape.
        weights: name -> numpy array (``vae_net.param_shapes``).
        backend: ``"torch"`` or ``"jax"``.
        dtype: ``"float32"`` or ``"float64"``.
    """

    KIND = "vae_prior"
    CONFIG = VAEPriorConfig

    @staticmethod
    def param_shapes(config: VAEPriorConfig) -> dict[str, tuple[int, ...]]:
        return vae_net.param_shapes(config.vae)

    def _build(self) -> None:
        xp, cfg = self.backend.xp, self.config.vae
        self._iwae = self._jit(lambda p, u, eps: vae_net.iwae_bound(p, cfg, u, eps, xp))
        self._mean = self._jit(lambda p, z: vae_net.decoder_mean(p, cfg, z, xp))
        self._draw = self._jit(lambda p, z, noise: vae_net.decoder_draw(p, cfg, z, noise, xp))

    @classmethod
    def train(cls, data, steps: int = 2000, batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
              vae: VAEConfig | None = None, likelihood: str = "gaussian", ema_decay: float = 0.999,
              checkpoint_dir: Any = None, checkpoint_every: int = 500, progress: bool = True,
              backend: str = "torch") -> "VAEPrior":
        """Fit by maximising the ELBO on data (n, *event_shape) on ``backend``; resumable like ``FlowPrior.train``."""
        from models.training import TrainConfig, fit
        from models.vae_task import VAETask

        flat = check_training_array(data)
        flat, event_shape = flat.reshape(flat.shape[0], -1), flat.shape[1:]
        vae = vae or VAEConfig(dim=flat.shape[1], likelihood=likelihood)
        problem = vae_net.LIKELIHOODS[vae.likelihood].check_data(flat)
        if problem or vae.dim != flat.shape[1]:
            raise ObservationError(problem or f"vae.dim={vae.dim} but data has {flat.shape[1]} dims")
        # Bernoulli data must stay in {0, 1}; Gaussian data is standardised.
        norm = Normalization.fit(flat) if vae.likelihood == "gaussian" else Normalization.identity(vae.dim)
        config = VAEPriorConfig(vae, norm, tuple(event_shape))
        train = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, ema_decay=ema_decay, seed=seed,
                            checkpoint_every=checkpoint_every)
        result = fit([norm.forward(flat).astype(np.float32)], VAETask(config), train, checkpoint_dir, progress, backend)
        prior = cls(config, result.ema, backend=backend)
        prior.training_losses = result.losses
        return prior

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self.config.event_shape

    @property
    def dim(self) -> int:
        return self.config.vae.dim

    @property
    def latent_dim(self) -> int:
        return self.config.vae.latent_dim

    def decode(self, z: Any) -> Any:
        """Data-space decoder mean E[x | z]: z (..., k) -> (..., *event_shape)."""
        xp = self.backend.xp
        z = self.backend.asarray(z)
        flat = self._mean(self.params, xp.reshape(z, (-1, self.latent_dim)))
        x = self.config.normalization.inverse(flat, xp)
        return xp.reshape(x, (*z.shape[:-1], *self.event_shape))

    def sample(self, n: int, seed: int = 0, observation_noise: bool = False) -> Any:
        """n draws at z ~ N(0, I), shape (n, *event_shape).

        Args:
            n: number of draws.
            seed: seeds z and the observation noise.
            observation_noise: False returns the decoder mean E[x | z] (smooth
                images); True draws x ~ p(x | z) (0/1 pixels for a Bernoulli
                likelihood, added Gaussian noise for a Gaussian one).
        """
        z = self.backend.normal(seed, (n, self.latent_dim))
        if not observation_noise:
            return self.decode(z)
        likelihood = vae_net.LIKELIHOODS[self.config.vae.likelihood]
        # A seed of its own: torch.rand and torch.randn of one seed share a stream.
        noise_seed = int(np.random.SeedSequence([seed, 1]).generate_state(1)[0])
        noise = getattr(self.backend, likelihood.noise)(noise_seed, (n, self.dim))
        x = self.config.normalization.inverse(self._draw(self.params, z, noise), self.backend.xp)
        return self.backend.xp.reshape(x, (n, *self.event_shape))

    def log_prob(self, x: Any, num_samples: int = 64, seed: int = 0) -> Any:
        """IWAE bound on log p(x) with ``num_samples`` importance samples; x (n, *event_shape) -> (n,)."""
        xp = self.backend.xp
        flat = xp.reshape(self.backend.asarray(x), (-1, self.dim))
        eps = self.backend.normal(seed, (num_samples, flat.shape[0], self.latent_dim))
        return self.log_prob_given_noise(flat, eps)

    def log_prob_given_noise(self, x: Any, eps: Any) -> Any:
        """IWAE bound with given standard normal noise eps (K, n, k); x (n, *event_shape) -> (n,)."""
        xp = self.backend.xp
        u = self.config.normalization.forward(xp.reshape(self.backend.asarray(x), (-1, self.dim)), xp)
        bound = self._iwae(self.params, u, self.backend.asarray(eps))
        return bound - self.dim * math.log(self.config.normalization.scale)

    def latent_sample(self, name: str, latent_name: str | None = None) -> Any:
        """Inside ``@ppl.model``: z ~ N(0, I_k) as site ``latent_name`` (default
        ``name + "_z"``) and x = decode(z) as deterministic site ``name``; returns x.
        """
        from models.vae_latent import latent_sample

        return latent_sample(self, name, latent_name)
