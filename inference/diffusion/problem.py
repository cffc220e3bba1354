"""What every diffusion posterior sampler receives: :class:`DiffusionProblem`.

``make_problem(program)`` finds the latent whose prior has a denoiser and,
through ``ppl.structure``, the linear-Gaussian observation of it (if the
whole likelihood is one), checks that shapes and noise fit before anything
runs, and builds a differentiable batched ``log_likelihood`` in diffusion
space for any likelihood.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ppl.errors import MethodError, ParameterError, ShapeError
from ppl.graph import site_of, sites

from ..registry import whole_linear_observation
from .denoisers import DenoiserView, make_view
from .likelihood import likelihood_names, make_log_lik


@dataclass(frozen=True)
class DiffusionProblem:
    """A model seen by a diffusion posterior sampler.

    Attributes:
        program: the compiled program.
        latent: name of the diffusion-prior latent x.
        view: the prior's denoiser view (diffusion space u, backend arrays).
        linear: the linear-Gaussian observation of x when it is the model's
            whole likelihood (``ppl.structure.LinearGaussianObservation``), else None.
        log_likelihood: ``(u (n, d), values=None) -> (n,)``, log p(y | x(u)),
            differentiable in u; ``values`` holds constrained draws (n, ...)
            of the model's other latents (e.g. a blind problem's sigma).
        noise_site: the latent sigma site of a blind problem, else None.
    """

    program: Any
    latent: str
    view: DenoiserView
    linear: Any
    log_likelihood: Callable[..., Any]
    noise_site: str | None = None

    def pulled_back(self) -> tuple[Any, np.ndarray, float | None]:
        """The linear observation in diffusion space: (operator, y_u (m,), sigma_u | None)."""
        if self.linear is None:
            raise MethodError(f"the observation of '{self.latent}' is not linear-Gaussian")
        return self.view.pull_back(self.linear)


def _diffusion_latent(graph: Any) -> tuple[str, Any]:
    from ppl.structure import denoiser_prior, diffusion_prior_sites

    names = diffusion_prior_sites(graph)
    if not names:
        raise MethodError("the model has no latent site with a diffusion prior (a "
                          "models.DiffusionPrior or GaussianMixturePrior as its distribution)")
    if len(names) > 1:
        raise MethodError(f"diffusion samplers handle one diffusion-prior latent, the model "
                          f"has {len(names)}: {', '.join(names)}")
    return names[0], denoiser_prior(site_of(graph, names[0]).dist)


def _check_linear(obs: Any, view: DenoiserView) -> None:
    op, y = obs.operator, np.asarray(obs.y).reshape(-1)
    if op.in_dim != view.dim:
        raise ShapeError(f"operator maps {op.in_dim} inputs but the prior of '{obs.latent}' "
                         f"has dimension {view.dim}", site=obs.observed)
    if y.shape[0] != op.out_dim:
        raise ShapeError(f"observed value has {y.shape[0]} entries but the operator gives "
                         f"{op.out_dim}", site=obs.observed)
    if not isinstance(obs.noise, str) and not (np.isfinite(obs.noise) and obs.noise > 0):
        raise ParameterError(f"noise scale must be positive and finite, got {obs.noise}",
                             site=obs.observed)


def _other_latents(graph: Any, latent: str, noise_site: str | None) -> None:
    others = [s.name for s in sites(graph, "latent") if s.name not in (latent, noise_site)]
    if others:
        raise MethodError(f"diffusion samplers infer '{latent}' (and a blind observation's "
                          f"noise scale) only; the model has other latent sites: {', '.join(others)}")


def make_problem(program: Any, dtype: str | None = None, device: str = "cpu") -> DiffusionProblem:
    """The :class:`DiffusionProblem` of a compiled program (checks run before any sampling)."""
    graph = program.graph
    latent, prior = _diffusion_latent(graph)
    view = make_view(prior, program.backend_name, dtype, device)
    linear = whole_linear_observation(graph, latent)
    if linear is not None:
        _check_linear(linear, view)
    noise_site = linear.noise if linear is not None and isinstance(linear.noise, str) else None
    _other_latents(graph, latent, noise_site)
    if not likelihood_names(program):
        raise MethodError(f"the model observes nothing about '{latent}'; sample the prior instead")
    log_lik, shape = make_log_lik(program), (-1, *site_of(graph, latent).event_shape)

    def log_likelihood(u: Any, values: dict[str, Any] | None = None) -> Any:
        x = view.xp.reshape(view.to_data(u), shape)
        return log_lik({latent: x, **(values or {})})

    return DiffusionProblem(program, latent, view, linear, log_likelihood, noise_site)
