"""A linear-Gaussian observation in the SVD basis of its operator, as backend arrays.

With A = U diag(s) V^T (thin, s > 0) and y_u = A u + sigma_u eps in
diffusion space, the observation says ybar = U^T y_u / s = V^T u + (sigma_u / s) eps:
the coordinates V^T u are observed with per-coordinate noise sigma_u / s, and
the rest of u (its projection on the null space of A) is not observed.
ΠGDM, DDRM and RePaint work in these coordinates.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ppl.errors import MethodError


class Spectral(NamedTuple):
    """Backend arrays of the observation in spectral form.

    Attributes:
        U: (m, r); s: (r,); V: (d, r) thin SVD of the operator.
        y: (m,) observation in diffusion space; ybar: (r,) = U^T y / s.
        sigma: observation noise in diffusion space (float, >= 0).
    """

    U: Any
    s: Any
    V: Any
    y: Any
    ybar: Any
    sigma: float

    def forward(self, u: Any) -> Any:
        """A u for rows u (n, d) -> (n, m)."""
        return ((u @ self.V) * self.s) @ self.U.T

    def coords(self, u: Any) -> Any:
        """V^T u for rows (n, d) -> (n, r)."""
        return u @ self.V

    def embed(self, c: Any) -> Any:
        """V c for rows (n, r) -> (n, d)."""
        return c @ self.V.T

    def null_part(self, u: Any) -> Any:
        """(I - V V^T) u for rows (n, d)."""
        return u - self.embed(self.coords(u))


def make_spectral(problem: Any, method: str) -> Spectral:
    """The spectral form of ``problem``'s linear-Gaussian observation (known noise)."""
    op, y_u, sigma_u = problem.pulled_back()
    if sigma_u is None:
        raise MethodError(f"{method} needs a known noise scale; '{problem.noise_site}' is a "
                          "latent (use method='tds' or 'mcgdiff', which infer it)")
    svd = op.svd()
    U, s, V = (np.asarray(a, dtype=np.float64) for a in (svd.U, svd.s, svd.V))
    asarray = problem.view.adapter.asarray
    return Spectral(asarray(U), asarray(s), asarray(V), asarray(y_u), asarray((U.T @ y_u) / s),
                    float(sigma_u))
