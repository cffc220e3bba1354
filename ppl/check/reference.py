"""sbibm's reference posteriors, read from the sbibm wheel.

sbibm ships 10 observations per task and 10 000 reference posterior samples
for each inside its wheel. We fetch the wheel once with
``pip download --no-deps`` (its own dependencies never install: we only read
files from the zip) into a cache folder, ``$PPL_CACHE/sbibm`` or
``~/.cache/ppl/sbibm``, downloading into a temporary folder first and
renaming it so an interrupted download never leaves a partial cache.
"""
from __future__ import annotations

import bz2
import functools
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..errors import ParameterError, PPLError

SBIBM_VERSION = "1.1.0"
WHEEL = f"sbibm-{SBIBM_VERSION}-py2.py3-none-any.whl"
NUM_OBSERVATIONS = 10
# task -> (parameter dim, data dim), as sbibm defines them.
TASK_DIMS = {"two_moons": (2, 2), "gaussian_linear": (10, 10), "slcp": (5, 8),
             "bernoulli_glm": (10, 10), "gaussian_mixture": (2, 2)}


class ReferenceDownloadError(PPLError):
    """The sbibm wheel could not be downloaded or read."""


def cache_dir() -> Path:
    """Where the wheel is kept: ``$PPL_CACHE/sbibm`` or ``~/.cache/ppl/sbibm``."""
    root = os.environ.get("PPL_CACHE")
    return Path(root) / "sbibm" if root else Path.home() / ".cache" / "ppl" / "sbibm"


def wheel_path(download: bool = True) -> Path:
    """Path of the cached sbibm wheel, downloading it on first use."""
    final = cache_dir() / SBIBM_VERSION
    path = final / WHEEL
    if path.is_file() or not download:
        return path
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=".download-"))
    try:
        _pip_download(tmp)
        try:
            os.replace(tmp, final)  # atomic: a reader sees no folder or a complete one
        except OSError:
            if not path.is_file():  # else another process finished first: keep its copy
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if not path.is_file():
        raise ReferenceDownloadError(f"pip did not produce {WHEEL} in {final}")
    return path


def _pip_download(folder: Path) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
           "--disable-pip-version-check", "-q", "-d", str(folder), f"sbibm=={SBIBM_VERSION}"]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ReferenceDownloadError(f"could not run pip to download sbibm: {err}") from err
    if done.returncode != 0 or not (folder / WHEEL).is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ReferenceDownloadError(
            f"downloading sbibm=={SBIBM_VERSION} with pip failed (offline?): {' '.join(tail)}; "
            f"or place {WHEEL} in {folder.parent} by hand")


def _check(task: str, observation: int) -> None:
    if task not in TASK_DIMS:
        raise ParameterError(f"unknown sbibm task '{task}'; known: {', '.join(TASK_DIMS)}")
    if not isinstance(observation, (int, np.integer)) or not 1 <= observation <= NUM_OBSERVATIONS:
        raise ParameterError(f"sbibm observations are numbered 1 to {NUM_OBSERVATIONS}, "
                             f"got {observation!r}")


def read_task_file(task: str, name: str) -> bytes:
    """Raw bytes of ``sbibm/tasks/<task>/files/<name>`` in the wheel."""
    try:
        with zipfile.ZipFile(wheel_path()) as wheel:
            return wheel.read(f"sbibm/tasks/{task}/files/{name}")
    except (zipfile.BadZipFile, KeyError) as err:
        raise ReferenceDownloadError(f"cannot read {name} of task '{task}' from the cached "
                                     f"sbibm wheel ({err}); delete {cache_dir()} to refetch") from err


def _csv(payload: bytes) -> np.ndarray:
    return np.loadtxt(io.StringIO(payload.decode()), delimiter=",", skiprows=1, ndmin=2)


@functools.lru_cache(maxsize=64)
def _table(task: str, name: str) -> np.ndarray:
    """A parsed csv (or csv.bz2) of the wheel, parsed once per process; read-only."""
    payload = read_task_file(task, name)
    table = _csv(bz2.decompress(payload) if name.endswith(".bz2") else payload)
    table.setflags(write=False)
    return table


def load_reference(task: str, observation: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """An sbibm observation and its reference posterior samples.

    Args:
        task: one of ``TASK_DIMS`` ("two_moons", "gaussian_linear", "slcp",
            "bernoulli_glm", "gaussian_mixture").
        observation: 1 to 10.

    Returns:
        ``(x_obs, samples)``: the observation, shape (data_dim,), and the
        reference posterior samples, shape (10000, parameter_dim).
    """
    _check(task, observation)
    folder = f"num_observation_{observation}"
    x_obs = _table(task, f"{folder}/observation.csv")[0].copy()
    return x_obs, _table(task, f"{folder}/reference_posterior_samples.csv.bz2").copy()


def load_true_parameters(task: str, observation: int = 1) -> np.ndarray:
    """The parameters that generated an sbibm observation, shape (parameter_dim,)."""
    _check(task, observation)
    return _table(task, f"num_observation_{observation}/true_parameters.csv")[0].copy()
