"""What a backend provides to the shared lowering and to inference."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import constraints as C
from ..errors import LoweringError


class Backend:
    """Primitives, arrays, ops and distribution classes of one PPL library.

    Subclasses set ``name``, ``device``, ``ops`` (an op table), ``dist_module``
    and ``constraints_module``, and implement the array and primitive hooks.
    """

    name: str
    device: str
    ops: Any
    dist_module: Any
    constraints_module: Any
    # Backend-specific spellings of constraint kinds, where they differ.
    constraint_aliases: dict[str, str] = {}

    def asarray(self, value: Any) -> Any:
        """A backend array for a value given at run time (points, draws)."""
        raise NotImplementedError

    def constant(self, value: np.ndarray) -> Any:
        """A compile-time constant of the model (data, folded expressions).

        Converted once per program and cached: the model function runs on every
        gradient (Pyro) or trace (NumPyro), and converting on each call showed
        up in profiles. The cache holds the array itself, so ids stay unique.
        """
        cache = self.__dict__.setdefault("_constants", {})
        hit = cache.get(id(value))
        if hit is None or hit[0] is not value:
            hit = cache[id(value)] = (value, self._convert_constant(np.asarray(value)))
        return hit[1]

    def _convert_constant(self, value: np.ndarray) -> Any:
        return self.asarray(value)

    def observed_array(self, value: np.ndarray, spec: Any) -> Any:
        """Observed data as a backend array (integers for categorical indices)."""
        while hasattr(spec, "base"):  # Independent / Expanded / Truncated wrappers
            spec = spec.base
        family = getattr(getattr(spec, "family", None), "name", "")
        arr = np.asarray(value)
        return self._convert_constant(
            arr.astype(np.int64) if family == "Categorical" else arr.astype(float))

    def to_numpy(self, value: Any) -> np.ndarray:
        raise NotImplementedError

    def family(self, name: str, params: dict[str, Any], statics: dict[str, int]) -> Any:
        """Builds the native distribution of a family (Pyro/NumPyro share names)."""
        ctor = getattr(self.dist_module, name, None)
        if ctor is None:
            raise LoweringError(f"backend '{self.name}' has no distribution {name}")
        return ctor(*statics.values(), **params)

    def constraint(self, c: C.Constraint) -> Any:
        """The backend's constraint object for a ppl constraint."""
        key = self.constraint_aliases.get(c.backend_key, c.backend_key)
        obj = getattr(self.constraints_module, key, None)
        if obj is None:
            raise LoweringError(f"backend '{self.name}' has no constraint '{c.name}'")
        return obj(*c.args) if c.args else obj

    # primitives ---------------------------------------------------------------------
    sample: Callable[..., Any]
    deterministic: Callable[..., Any]
    factor: Callable[..., Any]
    plate: Callable[..., Any]

    def param(self, name: str, init: Any, support: C.Constraint) -> Any:
        raise NotImplementedError

    def truncated(self, base: Any, low: Any, high: Any) -> Any:
        raise NotImplementedError
