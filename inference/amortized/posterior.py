"""``AmortizedPosterior``: a trained q(theta | x), its draws as a ``Posterior``, and checkpoints.

Draws are made in standardised coordinates of the estimator's space, then
un-standardised and either mapped into each parameter's support
(``support="transform"``) or, when the estimator works on the raw parameters
(``support="reject"``), kept only if inside it (``rejection.py``); parameters
whose support depends on other latents are flagged in the notes. A checkpoint is a portable
directory (``models.checkpoint``: JSON config + safetensors weights), loadable
on either backend with matching outputs.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

import ppl
from models.backends import make_arrays
from models.checkpoint import load_checkpoint, save_checkpoint
from models.nets.convert import check_shapes
from ppl.errors import CheckpointError, ObservationError

from .config import NPEConfig, NPSEConfig
from .embedding import set_shape
from .estimators import ESTIMATORS, Runtime
from .layout import Standardizer, ThetaLayout, XLayout
from .rejection import rejection_draws

KIND = "amortized_posterior"
ARRAYS = {"pyro": "torch", "numpyro": "jax"}
CONFIGS = {"npe": NPEConfig, "npse": NPSEConfig}
CHUNK = 10_000  # draws per network call: bounds the memory of DDPM noise
MIN_ROUND = 256  # proposals per rejection round when few draws are asked for
LEAKAGE_DRAWS = 10_000  # draws that estimate the mass inside the support, for log_prob (as sbi)


def standardize_x(std: Standardizer, x: np.ndarray, features: int) -> np.ndarray:
    """z-score flat x (n, dim_x) per feature (per coordinate, or per column of i.i.d. rows)."""
    return std.forward(x.reshape(len(x), -1, features)).reshape(len(x), -1)


class AmortizedPosterior:
    """q(theta | x) for any x, trained once by ``ppl.amortize``.

    Attributes:
        method: ``"npe"`` (flow) or ``"npse"`` (diffusion).
        config: the ``NPEConfig`` / ``NPSEConfig`` it was trained with.
        spec: the network architecture.
        theta, x: layouts of the parameters and the observations.
        theta_std, x_std: z-scores fitted on the training simulations.
        weights: name -> float32 array.
        backend: ``"numpyro"`` or ``"pyro"``.
        model: the model when known: gives ``Posterior.program`` and the default x (its observations).
        info: training record (``training_seconds``, ``num_simulations``, losses, ...).
        dtype: ``"float32"`` or ``"float64"``: precision of the networks when drawing / evaluating.
    """

    def __init__(self, method, config, spec, theta: ThetaLayout, x: XLayout, theta_std: Standardizer,
                 x_std: Standardizer, weights: Mapping[str, np.ndarray], backend: str = "numpyro",
                 model: Any = None, info: dict | None = None, dtype: str = "float32"):
        self.method, self.config, self.spec = method, config, spec
        self.theta, self.x, self.theta_std, self.x_std = theta, x, theta_std, x_std
        self.weights = {k: np.asarray(v, dtype=np.float32) for k, v in weights.items()}
        check_shapes(self.weights, spec.param_shapes(), where="AmortizedPosterior")
        self.backend, self.model, self.info = backend, model, dict(info or {})
        self.dtype = dtype
        self._runtime = Runtime(spec, self.weights, make_arrays(ARRAYS[backend], dtype), config)
        self._features = set_shape(spec.embedding, spec.x_shape)[1]

    @property
    def training_seconds(self) -> float:
        return float(self.info.get("training_seconds", float("nan")))

    @property
    def num_simulations(self) -> int:
        return int(self.info.get("num_simulations", 0))

    def to(self, backend: str, dtype: str = "float32") -> "AmortizedPosterior":
        """The same posterior running on another backend / dtype (float64 on JAX needs x64 enabled)."""
        return AmortizedPosterior(self.method, self.config, self.spec, self.theta, self.x, self.theta_std,
                                  self.x_std, self.weights, backend, self.model, self.info, dtype)

    # -- draws -----------------------------------------------------------------------
    def _given(self, x: Any) -> Any:
        """The observation to condition on: ``x``, or the model's observations when None."""
        if x is not None:
            return x
        observed = {k: v for k, v in getattr(self.model, "observations", {}).items() if k in self.x.names}
        if len(observed) != len(self.x.names):
            raise ObservationError(f"pass x=: the observation of sites {list(self.x.names)}")
        return observed

    def _x(self, x: Any) -> np.ndarray:
        return standardize_x(self.x_std, self.x.observation(self._given(x)), self._features)

    def _propose(self, x: np.ndarray, n: int, seed: int) -> np.ndarray:
        """n draws (n, d) of the estimator in its own (un-standardised) space."""
        chunks = [ESTIMATORS[self.method].sample(self._runtime, x, min(CHUNK, n - start), seed + 104_729 * i)
                  for i, start in enumerate(range(0, n, CHUNK))]
        return self.theta_std.inverse(np.concatenate(chunks).astype(np.float64))

    def _draw(self, x: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, float]:
        """n draws (n, d) inside the prior support and the acceptance rate of the support check."""
        if self.theta.support == "transform":
            return self._propose(x, n, seed), 1.0
        return rejection_draws(lambda size, s: self._propose(x, size, s), self.theta.inside, n, seed,
                               min(CHUNK, max(n, MIN_ROUND)))

    def sample(self, x: Any = None, draws: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
        """Draws of each parameter given one observation: name -> (draws, *site_shape).

        ``x`` is an array (one observed site) or a dict of site -> array with
        the simulated shapes; None uses the model's observations.
        """
        return self._sample(self._x(x), draws, seed)[0]

    def _sample(self, x: np.ndarray, draws: int, seed: int) -> tuple[dict[str, np.ndarray], float]:
        flat, acceptance = self._draw(x, draws, seed)
        return self.theta.to_constrained(flat), acceptance

    def posterior(self, x: Any = None, draws: int = 1000, seed: int = 0):
        """An ``inference.Posterior`` for one observation: samples (1, draws, *site_shape)."""
        from inference.posterior import Posterior

        start = time.perf_counter()
        values, acceptance = self._sample(self._x(x), draws, seed)
        elapsed = time.perf_counter() - start
        notes = [f"{self.method.upper()} trained on {self.num_simulations} simulations"]
        if self.theta.support == "reject":
            notes.append(f"draws outside the prior support were rejected: acceptance {acceptance:.3f}")
        notes += [f"site '{k}': its support depends on other parameters; draws were not confined to it"
                  for k in self.theta.unchecked]
        return Posterior(samples={k: v[None] for k, v in values.items()}, sample_stats={}, method=self.method,
                         backend=self.backend, config=self.config,
                         timings={"sampling": elapsed, "training": self.training_seconds, "total": elapsed},
                         program=self._program(x), notes=notes,
                         extras={**self.info, "support_acceptance": acceptance})

    def _program(self, x: Any) -> Any:
        if self.model is None:
            return None
        free = self.model.unobserved()
        graph = free.graph
        x = self._given(x)
        values = x if isinstance(x, Mapping) else {self.x.names[0]: x}
        sampled = {k: np.asarray(v) for k, v in values.items() if graph.nodes[k]["role"] == "latent"}
        return ppl.compile(free.observe(**sampled) if sampled else free, self.backend)

    # -- density -----------------------------------------------------------------------
    def log_prob(self, theta: Mapping[str, Any], x: Any = None) -> np.ndarray:
        """log q(theta | x) in the parameters' own (constrained) space; theta: name -> (n, *shape) -> (n,).

        Flows (NPE) only. With ``support="reject"`` the density is truncated to
        the support (-inf outside) and renormalised by its mass inside,
        estimated from ``LEAKAGE_DRAWS`` draws (sbi's leakage correction).
        """
        missing = [k for k in self.theta.names if k not in theta]
        if missing:
            raise ObservationError(f"theta lacks the parameters {missing}")
        u = self.theta.to_unconstrained({k: np.asarray(theta[k], dtype=np.float64) for k in self.theta.names})
        z = self.theta_std.forward(u)
        x_std = self._x(x)
        log_q = ESTIMATORS[self.method].log_prob(self._runtime, z, x_std).astype(np.float64)
        log_q = log_q - self.theta_std.log_scale() - self.theta.log_det(u)
        if self.theta.support == "transform":
            return log_q
        mass = self.theta.inside(self._propose(x_std, LEAKAGE_DRAWS, seed=0)).mean()
        return np.where(self.theta.inside(u), log_q - np.log(mass), -np.inf)

    # -- persistence -------------------------------------------------------------------
    def save(self, path: Any) -> Path:
        """Write a portable checkpoint directory (atomic)."""
        config = {"method": self.method, "config": self.config.to_json(), "spec": self.spec.to_json(),
                  "theta": self.theta.to_json(), "x": self.x.to_json(), "theta_std": self.theta_std.to_json(),
                  "x_std": self.x_std.to_json(), "info": _json_info(self.info)}
        return save_checkpoint(path, KIND, config, self.weights)

    @classmethod
    def load(cls, path: Any, backend: str = "numpyro", model: Any = None,
             dtype: str = "float32") -> "AmortizedPosterior":
        """Read a checkpoint written by ``save`` on either backend; ``model`` enables ``to_arviz``."""
        ckpt = load_checkpoint(Path(path), kind=KIND)
        try:
            c, method = ckpt.config, ckpt.config["method"]
            spec = ESTIMATORS[method].spec_cls.from_json(c["spec"])
            parts = (CONFIGS[method].from_json(c["config"]), spec, ThetaLayout.from_json(c["theta"]),
                     XLayout.from_json(c["x"]), Standardizer.from_json(c["theta_std"]),
                     Standardizer.from_json(c["x_std"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"checkpoint {path}: invalid amortized posterior config ({exc})") from exc
        return cls(method, *parts, ckpt.tensors, backend, model, c["info"], dtype)

    def __repr__(self) -> str:
        return (f"<AmortizedPosterior {self.method} on {self.backend}: {list(self.theta.names)} | "
                f"{list(self.x.names)}, {self.num_simulations} simulations>")


def _json_info(info: dict) -> dict:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in info.items()}
