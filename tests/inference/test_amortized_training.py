"""Early stopping, checkpoint resume and the set embedding of amortized posteriors."""
from __future__ import annotations

import numpy as np
import pytest

import ppl
from ppl import dist
from inference.amortized import EmbeddingConfig, NPEConfig, TrainingSettings
from inference.amortized import embedding
from inference.amortized.npe import NPESpec, NPETask
from inference.amortized.train import VALIDATORS, fit_early_stopping, split

TINY = NPEConfig(num_layers=2, hidden_dim=64, num_bins=4)


def _overfitting_data(n=80, seed=0):
    """Few noisy (theta, x) pairs: a 64-wide flow overfits them within a few dozen epochs."""
    gen = np.random.default_rng(seed)
    theta = gen.standard_normal((n, 2))
    x = theta + gen.standard_normal((n, 2))
    return [theta.astype(np.float32), x.astype(np.float32)]


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_early_stopping_returns_the_best_weights(backend):
    task = NPETask(NPESpec.build(TINY, 2, (2,)))
    data = _overfitting_data()
    settings = TrainingSettings(batch_size=16, lr=1e-2, patience=5, max_epochs=300)
    result = fit_early_stopping(task, data, settings, seed=0, backend=backend)
    best = int(np.argmin(result.val_losses))
    assert result.best_epoch == best
    assert len(result.val_losses) == best + settings.patience + 1  # stopped by patience, not the cap
    assert result.val_losses[-1] > result.val_losses[best]  # the last weights were worse ...
    _, val = split(data, settings.validation_fraction, 0)
    validate = VALIDATORS[backend](task, val, [])
    assert validate(result.weights) == pytest.approx(result.val_losses[best], rel=1e-6)  # ... and not kept


def test_resumed_training_ends_with_the_weights_of_an_uninterrupted_run(tmp_path):
    task = NPETask(NPESpec.build(TINY, 2, (2,)))
    data = _overfitting_data(seed=1)
    settings = TrainingSettings(batch_size=16, lr=1e-2, patience=50, max_epochs=12, checkpoint_every=2)
    whole = fit_early_stopping(task, data, settings, seed=3, backend="jax")
    fit_early_stopping(task, data, TrainingSettings(**{**settings.__dict__, "max_epochs": 5}), seed=3,
                       backend="jax", checkpoint_dir=tmp_path)
    resumed = fit_early_stopping(task, data, settings, seed=3, backend="jax", checkpoint_dir=tmp_path)
    np.testing.assert_array_equal(resumed.val_losses, whole.val_losses)
    for name, value in whole.weights.items():
        np.testing.assert_array_equal(resumed.weights[name], value)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_set_embedding_is_permutation_invariant(backend):
    from models.backends import make_arrays

    config = EmbeddingConfig(kind="set", hidden_dim=16, output_dim=5)
    weights = embedding.init_weights(config, (7, 3), np.random.default_rng(0))
    arrays = make_arrays(backend)
    x = np.random.default_rng(1).standard_normal((4, 7, 3))
    permuted = x[:, np.random.default_rng(2).permutation(7)]
    out = [arrays.to_numpy(embedding.apply(arrays.to_params(weights), config, arrays.asarray(v.reshape(4, -1)),
                                           (7, 3), arrays.xp)) for v in (x, permuted)]
    np.testing.assert_allclose(out[0], out[1], rtol=1e-5, atol=1e-6)
    assert out[0].shape == (4, 5) and np.ptp(out[0], axis=0).min() > 0  # rows differ: not a constant map


@ppl.model
def iid_mean(num_rows):
    mu = ppl.sample("mu", dist.Normal(np.zeros(2), 1.0).to_event(1))
    with ppl.plate("rows", num_rows):
        ppl.sample("x", dist.Normal(mu, 1.0).to_event(1))


@pytest.mark.slow  # the function-level invariance test above is the quick check
@pytest.mark.numpyro
def test_amortized_posterior_with_a_set_embedding_ignores_row_order():
    config = NPEConfig(num_layers=2, hidden_dim=32, num_bins=4,
                       embedding=EmbeddingConfig(kind="set", hidden_dim=32, output_dim=8),
                       training=TrainingSettings(batch_size=100, max_epochs=3))
    q = ppl.amortize(iid_mean(6), observed="x", simulations=500, seed=0, config=config)
    x = np.random.default_rng(0).normal(0.5, 1.0, (6, 2))
    a = q.sample(x=x, draws=200, seed=4)["mu"]
    b = q.sample(x=x[::-1], draws=200, seed=4)["mu"]
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
