import json
import os

import numpy as np
import pytest

from models.checkpoint import CONFIG_FILE, FORMAT_VERSION, WEIGHTS_FILE, load_checkpoint, save_checkpoint
from ppl.errors import CheckpointError

TENSORS = {"a.weight": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(4, dtype=np.float64)}


@pytest.fixture
def ckpt(tmp_path):
    return save_checkpoint(tmp_path / "ckpt", "thing", {"width": 3, "name": "x"}, TENSORS)


def _edit_header(path, **changes):
    header = json.loads((path / CONFIG_FILE).read_text())
    header.update(changes)
    (path / CONFIG_FILE).write_text(json.dumps(header))


def test_round_trip(ckpt):
    loaded = load_checkpoint(ckpt, kind="thing", expected_shapes={"a.weight": (2, 3)})
    assert loaded.kind == "thing" and loaded.config == {"width": 3, "name": "x"}
    for name, value in TENSORS.items():
        np.testing.assert_array_equal(loaded.tensors[name], value)
        assert loaded.tensors[name].dtype == value.dtype


def test_overwrite_replaces_and_leaves_no_temporaries(ckpt):
    save_checkpoint(ckpt, "thing", {"width": 4}, {"a.weight": np.zeros((1,), np.float32)})
    assert load_checkpoint(ckpt).config == {"width": 4}
    assert sorted(os.listdir(ckpt.parent)) == ["ckpt"]


def test_failed_save_leaves_nothing_behind(tmp_path):
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path / "bad", "thing", {"not json": object()}, TENSORS)
    assert os.listdir(tmp_path) == []


def test_refuses_to_overwrite_non_checkpoint(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "precious.txt").write_text("keep me")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        save_checkpoint(tmp_path / "data", "thing", {}, TENSORS)


def test_missing_directory(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint directory"):
        load_checkpoint(tmp_path / "nope")


@pytest.mark.parametrize("name", [CONFIG_FILE, WEIGHTS_FILE])
def test_missing_file(ckpt, name):
    (ckpt / name).unlink()
    with pytest.raises(CheckpointError, match=f"missing {name}") as info:
        load_checkpoint(ckpt)
    assert str(ckpt) in str(info.value)


def test_invalid_json(ckpt):
    (ckpt / CONFIG_FILE).write_text("{ not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(ckpt)


def test_foreign_json(ckpt):
    (ckpt / CONFIG_FILE).write_text("[1, 2]")
    with pytest.raises(CheckpointError, match="header"):
        load_checkpoint(ckpt)


def test_truncated_weights(ckpt):
    data = (ckpt / WEIGHTS_FILE).read_bytes()
    (ckpt / WEIGHTS_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt, truncated"):
        load_checkpoint(ckpt)


def test_flipped_byte(ckpt):
    data = bytearray((ckpt / WEIGHTS_FILE).read_bytes())
    data[-3] ^= 0xFF
    (ckpt / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        load_checkpoint(ckpt)


def test_unparseable_weights_with_matching_checksum(ckpt):
    import hashlib

    (ckpt / WEIGHTS_FILE).write_bytes(b"garbage bytes")
    _edit_header(ckpt, weights_sha256=hashlib.sha256(b"garbage bytes").hexdigest())
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(ckpt)


def test_version_mismatch(ckpt):
    _edit_header(ckpt, format_version=FORMAT_VERSION + 1)
    with pytest.raises(CheckpointError, match="format version"):
        load_checkpoint(ckpt)


def test_kind_mismatch(ckpt):
    with pytest.raises(CheckpointError, match="kind is 'thing', expected 'other'"):
        load_checkpoint(ckpt, kind="other")


def test_missing_key_in_header(ckpt):
    header = json.loads((ckpt / CONFIG_FILE).read_text())
    del header["tensors"]
    (ckpt / CONFIG_FILE).write_text(json.dumps(header))
    with pytest.raises(CheckpointError, match="lacks 'tensors'"):
        load_checkpoint(ckpt)


def test_missing_expected_tensor(ckpt):
    with pytest.raises(CheckpointError, match="missing tensors \\['c'\\]"):
        load_checkpoint(ckpt, expected_shapes={"c": (1,)})


def test_wrong_shape(ckpt):
    with pytest.raises(CheckpointError, match="'a.weight' has shape \\(2, 3\\), expected \\(3, 2\\)"):
        load_checkpoint(ckpt, expected_shapes={"a.weight": (3, 2)})


def test_manifest_disagrees_with_file(ckpt):
    header = json.loads((ckpt / CONFIG_FILE).read_text())
    header["tensors"]["b"]["shape"] = [5]
    (ckpt / CONFIG_FILE).write_text(json.dumps(header))
    with pytest.raises(CheckpointError, match="'b' has shape"):
        load_checkpoint(ckpt)


def test_non_finite_weights_rejected(tmp_path):
    path = save_checkpoint(tmp_path / "nan", "thing", {}, {"w": np.array([1.0, np.nan])})
    with pytest.raises(CheckpointError, match="NaN or inf"):
        load_checkpoint(path)
