"""Portable checkpoints: a directory with ``config.json`` + ``weights.safetensors``.

``config.json`` holds the format name and version, the checkpoint ``kind``
(e.g. ``"diffusion_prior"``), a free-form JSON ``config`` (architecture,
schedule, normalisation, ...), a manifest of tensor names/shapes/dtypes and the
SHA-256 of the weights file. Weights are plain numpy arrays, so both the torch
and the JAX backend can read them.

Writes are atomic: the whole directory is written under a temporary name in
the same parent and renamed into place, so a crash never leaves a half-written
checkpoint at ``path``. Loading validates everything it reads and raises
``CheckpointError`` naming the path and the problem; it never returns garbage.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ppl.errors import CheckpointError

FORMAT_NAME = "ppl-checkpoint"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.safetensors"


@dataclass(frozen=True)
class Checkpoint:
    """A loaded, validated checkpoint.

    Attributes:
        path: directory it was read from.
        kind: what it stores, e.g. ``"diffusion_prior"``.
        config: the JSON ``config`` object written with it.
        tensors: name -> numpy array.
    """

    path: Path
    kind: str
    config: dict[str, Any]
    tensors: dict[str, np.ndarray] = field(repr=False)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _manifest(tensors: Mapping[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    return {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in tensors.items()}


def _prepare_target(path: Path) -> None:
    """Refuse to overwrite anything that is not a checkpoint (or empty dir)."""
    if not path.exists():
        return
    if not path.is_dir():
        raise CheckpointError(f"cannot save checkpoint to {path}: it exists and is not a directory")
    if any(path.iterdir()) and not (path / CONFIG_FILE).exists():
        raise CheckpointError(
            f"cannot save checkpoint to {path}: non-empty directory that is not a checkpoint"
        )


def save_checkpoint(
    path: str | os.PathLike,
    kind: str,
    config: Mapping[str, Any],
    tensors: Mapping[str, np.ndarray],
) -> Path:
    """Atomically write a checkpoint directory.

    Args:
        path: target directory; replaced if it already holds a checkpoint.
        kind: checkpoint kind, checked again on load.
        config: JSON-serialisable configuration.
        tensors: name -> numpy array (any shape, numeric dtype).

    Returns:
        The checkpoint directory path.
    """
    from safetensors.numpy import save as st_save

    path = Path(path)
    _prepare_target(path)
    arrays = {k: np.ascontiguousarray(np.asarray(v)) for k, v in tensors.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        _write_bytes(tmp / WEIGHTS_FILE, st_save(arrays))
        header = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "kind": kind,
            "config": dict(config),
            "tensors": _manifest(arrays),
            "weights_sha256": _sha256(tmp / WEIGHTS_FILE),
        }
        _write_bytes(tmp / CONFIG_FILE, json.dumps(header, indent=2, sort_keys=True).encode())
        _swap_into_place(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _swap_into_place(tmp: Path, path: Path) -> None:
    # os.replace cannot replace a non-empty directory, so move the old one
    # aside first; a crash in between leaves the old copy next to `path`.
    old = None
    if path.exists():
        old = path.parent / f".{path.name}.old-{uuid.uuid4().hex}"
        os.replace(path, old)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _read_header(path: Path) -> dict[str, Any]:
    config_path = path / CONFIG_FILE
    if not config_path.is_file():
        raise CheckpointError(f"checkpoint {path}: missing {CONFIG_FILE}")
    try:
        header = json.loads(config_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"checkpoint {path}: {CONFIG_FILE} is not valid JSON ({exc})") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise CheckpointError(f"checkpoint {path}: {CONFIG_FILE} is not a {FORMAT_NAME} header")
    for key in ("format_version", "kind", "config", "tensors", "weights_sha256"):
        if key not in header:
            raise CheckpointError(f"checkpoint {path}: {CONFIG_FILE} lacks '{key}'")
    return header


def _check_header(path: Path, header: dict[str, Any], kind: str | None) -> None:
    version = header["format_version"]
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint {path}: format version {version} is not supported "
            f"(this library reads version {FORMAT_VERSION})"
        )
    if kind is not None and header["kind"] != kind:
        raise CheckpointError(f"checkpoint {path}: kind is '{header['kind']}', expected '{kind}'")


def _read_weights(path: Path, header: dict[str, Any]) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    weights_path = path / WEIGHTS_FILE
    if not weights_path.is_file():
        raise CheckpointError(f"checkpoint {path}: missing {WEIGHTS_FILE}")
    if _sha256(weights_path) != header["weights_sha256"]:
        raise CheckpointError(
            f"checkpoint {path}: {WEIGHTS_FILE} does not match the checksum in "
            f"{CONFIG_FILE} (corrupt, truncated or replaced)"
        )
    try:
        return load_file(str(weights_path))
    except Exception as exc:  # safetensors raises several unrelated types
        raise CheckpointError(f"checkpoint {path}: cannot read {WEIGHTS_FILE} ({exc})") from exc


def _check_tensors(
    path: Path,
    tensors: Mapping[str, np.ndarray],
    manifest: Mapping[str, Any],
    expected_shapes: Mapping[str, tuple[int, ...]] | None,
) -> None:
    wanted = {k: tuple(v["shape"]) for k, v in manifest.items()}
    if expected_shapes is not None:
        wanted.update({k: tuple(v) for k, v in expected_shapes.items()})
    missing = sorted(set(wanted) - set(tensors))
    if missing:
        raise CheckpointError(f"checkpoint {path}: missing tensors {missing}")
    for name, shape in wanted.items():
        if tuple(tensors[name].shape) != shape:
            raise CheckpointError(
                f"checkpoint {path}: tensor '{name}' has shape "
                f"{tuple(tensors[name].shape)}, expected {shape}"
            )
        array = tensors[name]
        if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
            raise CheckpointError(f"checkpoint {path}: tensor '{name}' holds NaN or inf")


def load_checkpoint(
    path: str | os.PathLike,
    kind: str | None = None,
    expected_shapes: Mapping[str, tuple[int, ...]] | None = None,
) -> Checkpoint:
    """Read and validate a checkpoint directory.

    Args:
        path: directory written by ``save_checkpoint``.
        kind: if given, the stored kind must equal it.
        expected_shapes: tensors that must be present with exactly these shapes
            (typically derived from the architecture in the config).

    Returns:
        The validated ``Checkpoint``.

    Raises:
        CheckpointError: on any missing file, unreadable or corrupt content,
            version or kind mismatch, or missing / misshapen tensor.
    """
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"no checkpoint directory at {path}")
    header = _read_header(path)
    _check_header(path, header, kind)
    tensors = _read_weights(path, header)
    _check_tensors(path, tensors, header["tensors"], expected_shapes)
    return Checkpoint(path=path, kind=header["kind"], config=header["config"], tensors=tensors)
