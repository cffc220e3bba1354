"""NPSE: a conditional denoiser for q(theta | x), trained by denoising score matching.

In standardised coordinates theta_t = alpha(t) theta + sigma(t) eps, and the
network D(theta_t, t, embed(x)) predicts the formulation's target
(``models.formulations``: VP with epsilon prediction, or EDM), so the loss is
``models.diffusion_task.denoising_loss`` with a context. Draws come from the
samplers of ``models.samplers`` (DDPM: the reverse SDE; DDIM / Heun: the
probability-flow ODE) run with the conditional denoiser. The math is written
once against ``xp`` for torch and JAX.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from models.diffusion_task import denoising_loss
from models.formulations import formulation_from_json
from models.nets import conditional_mlp
from models.nets.conditional_mlp import ConditionalMLPConfig

from . import embedding
from .config import EmbeddingConfig, NPSEConfig

DEFAULT_SAMPLER = {"vp": "ddpm", "edm": "heun"}
DEFAULT_STEPS = {"ddpm": 200, "ddim": 100, "heun": 40}


@dataclass(frozen=True)
class NPSESpec:
    """Static architecture (hashable).

    Attributes:
        net: the conditional denoiser.
        formulation: name of a ``models.formulations`` formulation (default settings).
        embedding: the network on x.
        x_shape: shape of one observation as the embedding sees it.
    """

    net: ConditionalMLPConfig
    formulation: str
    embedding: EmbeddingConfig
    x_shape: tuple[int, ...]

    @classmethod
    def build(cls, config: NPSEConfig, theta_dim: int, x_shape: tuple[int, ...]) -> "NPSESpec":
        net = ConditionalMLPConfig(theta_dim, embedding.output_dim(config.embedding, x_shape),
                                   config.hidden_dim, config.num_blocks, config.time_embed_dim)
        return cls(net, config.formulation, config.embedding, tuple(x_shape))

    @property
    def form(self) -> Any:
        return formulation_from_json({"name": self.formulation})

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        return {**conditional_mlp.param_shapes(self.net), **embedding.param_shapes(self.embedding, self.x_shape)}

    def init_weights(self, seed: int) -> dict[str, np.ndarray]:
        gen = np.random.default_rng([seed, 3])
        return {**conditional_mlp.init_weights(self.net, gen),
                **embedding.init_weights(self.embedding, self.x_shape, gen)}

    def to_json(self) -> dict[str, Any]:
        return {"net": self.net.to_json(), "formulation": self.formulation,
                "embedding": self.embedding.__dict__.copy(), "x_shape": list(self.x_shape)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "NPSESpec":
        return cls(ConditionalMLPConfig(**data["net"]), data["formulation"], EmbeddingConfig(**data["embedding"]),
                   tuple(data["x_shape"]))


def denoise(params: Mapping[str, Any], spec: NPSESpec, theta_t: Any, t: Any, context: Any, xp: Any) -> Any:
    """E[theta | theta_t, x] for theta_t (n, d), a scalar time t and the embedded x (n, c)."""
    form = spec.form
    t_col = xp.ones_like(theta_t[:, :1]) * t
    output = conditional_mlp.apply(params, form.c_in(t_col, xp) * theta_t, form.c_noise(t_col[:, 0], xp),
                                   context, spec.net, xp)
    return form.denoise_from_output(output, theta_t, t_col, xp)


@dataclass(frozen=True)
class NPSETask:
    """Denoising score matching of theta given x, for ``inference.amortized.train``."""

    spec: NPSESpec
    name: str = "npse"
    state_kind: str = "npse_training_state"

    def init_weights(self, seed: int) -> dict[str, np.ndarray]:
        return self.spec.init_weights(seed)

    def build(self, seed: int) -> Any:
        from models.nets.param_tree import ParamTree

        return ParamTree(self.init_weights(seed))

    def meta(self) -> dict[str, Any]:
        return {"npse": self.spec.to_json()}

    def objective(self, params: Mapping[str, Any], batch: list[Any], noise: list[Any], xp: Any) -> Any:
        """batch = [theta (b, d), x (b, dim_x)]; noise = [standard time draws (b,), eps (b, d)]."""
        form, (theta, x), (draw, eps) = self.spec.form, batch, noise
        context = embedding.apply(params, self.spec.embedding, x, self.spec.x_shape, xp)
        t = form.training_times(draw, xp)[:, None]
        net = lambda theta_t, c_noise: conditional_mlp.apply(params, theta_t, c_noise, context, self.spec.net, xp)
        return denoising_loss(form, net, theta, t, eps, xp)

    def validation_noise(self, n: int, seed: int) -> list[np.ndarray]:
        gen = np.random.default_rng([seed, 4])
        draw = gen.uniform(size=n) if self.spec.form.training_draw == "uniform" else gen.standard_normal(n)
        return [draw.astype(np.float32), gen.standard_normal((n, self.spec.net.data_dim)).astype(np.float32)]

    def loss(self, module: Any, batch: list[Any], generator: Any) -> Any:
        import torch
        from array_api_compat import torch as xp

        n, dtype = batch[0].shape[0], batch[0].dtype
        # The batch's dtype, not torch's default, which a user (or a float64 test) may have set to float64.
        draw = (torch.rand if self.spec.form.training_draw == "uniform" else torch.randn)(
            n, generator=generator, dtype=dtype)
        eps = torch.randn(batch[0].shape, generator=generator, dtype=dtype)
        return self.objective(module.params(), batch, [draw, eps], xp)

    def jax_loss(self, params: dict[str, Any], batch: list[Any], key: Any) -> Any:
        import jax
        import jax.numpy as jnp

        key_t, key_eps = jax.random.split(key)
        n = batch[0].shape[0]
        draws = {"uniform": jax.random.uniform, "normal": jax.random.normal}[self.spec.form.training_draw]
        noise = [draws(key_t, (n,), batch[0].dtype), jax.random.normal(key_eps, batch[0].shape, batch[0].dtype)]
        return self.objective(params, batch, noise, jnp)
