"""examples/train_priors.py runs in --quick mode and its reload check passes."""
import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("jax")
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_quick_run_writes_figures_and_checkpoints(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    spec = importlib.util.spec_from_file_location("examples_train_priors", EXAMPLES / "train_priors.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    results = module.main(["--quick", "--only", "flow_moons,vae_digits,diffusion_moons", "--out", str(tmp_path)])
    assert set(results) == {"flow_moons", "vae_digits", "diffusion_moons"}
    for name in results:
        assert (tmp_path / f"{name}.png").read_bytes().startswith(b"\x89PNG")
        assert (tmp_path / "checkpoints" / name / "config.json").is_file()
    assert (tmp_path / "summary.json").is_file()
