"""sklearn's ``MLPClassifier(solver="adam")`` training, re-expressed as one compiled JAX loop.

sbibm's C2ST fits sklearn's MLP five times per score; sklearn runs each
mini-batch step in Python, and in float64 (about a minute per fold for 10-d
samples of 10^4 each, 500+ epochs). This module follows the same algorithm step
for step, so it measures the same thing:

- layers d -> w -> w -> 1, ReLU, logistic output; Glorot-uniform weights and
  biases, bound sqrt(6 / (fan_in + fan_out));
- loss: mean binary cross-entropy plus ``0.5 * alpha * sum |W|^2 / batch``
  (alpha 1e-4, biases not penalised);
- Adam as sklearn writes it (lr 1e-3, betas 0.9 / 0.999, eps 1e-8 added to
  sqrt(v) before bias correction of the step size);
- each epoch: reshuffle, batches of min(200, n) in order (the last one
  shorter), the epoch loss is the size-weighted mean of the batch losses
  computed before each update;
- stop when the epoch loss has failed to beat the best by ``tol`` (1e-4) more
  than ``n_iter_no_change`` (10) epochs in a row, or after ``max_iter``;
  the final (not the best) weights classify, label 1 when p > 0.5.

Only the random streams (initial weights, shuffles) differ from sklearn's;
computation is float32, as sbibm's (it hands sklearn float32 arrays).
"""
from __future__ import annotations

from functools import lru_cache, partial

import numpy as np

ALPHA, LR, BETA1, BETA2, EPS, TOL, NO_CHANGE = 1e-4, 1e-3, 0.9, 0.999, 1e-8, 1e-4, 10
BATCH = 200


def _init(key, sizes):
    import jax
    import jax.numpy as jnp

    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        key, kw, kb = jax.random.split(key, 3)
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        # float32 even when x64 is enabled: the loop's carry must keep one dtype.
        params.append((jax.random.uniform(kw, (fan_in, fan_out), jnp.float32, -bound, bound),
                       jax.random.uniform(kb, (fan_out,), jnp.float32, -bound, bound)))
    return params


def _logits(params, x):
    import jax.numpy as jnp

    for w, b in params[:-1]:
        x = jnp.maximum(x @ w + b, 0.0)
    w, b = params[-1]
    return (x @ w + b)[:, 0]


def _loss(params, x, y):
    import jax
    import jax.numpy as jnp

    z = _logits(params, x)
    cross_entropy = jnp.mean(y * jax.nn.softplus(-z) + (1.0 - y) * jax.nn.softplus(z))
    return cross_entropy + 0.5 * ALPHA * sum(jnp.sum(w * w) for w, _ in params) / x.shape[0]


def _adam_step(params, m, v, t, x, y):
    import jax
    import jax.numpy as jnp

    loss, grads = jax.value_and_grad(_loss)(params, x, y)
    t = t + 1
    m = jax.tree.map(lambda a, g: BETA1 * a + (1 - BETA1) * g, m, grads)
    v = jax.tree.map(lambda a, g: BETA2 * a + (1 - BETA2) * g * g, v, grads)
    rate = LR * jnp.sqrt(1 - BETA2 ** t) / (1 - BETA1 ** t)
    params = jax.tree.map(lambda p, a, b: p - rate * a / (jnp.sqrt(b) + EPS), params, m, v)
    return params, m, v, t, loss


def _epoch(carry, x, y, batch):
    """One pass over a fresh permutation; returns the new carry and the epoch's mean loss."""
    import jax
    import jax.numpy as jnp

    params, m, v, t, key = carry
    key, sub = jax.random.split(key)
    order = jax.random.permutation(sub, x.shape[0])
    n_full = x.shape[0] // batch
    full = order[: n_full * batch].reshape(n_full, batch)

    def body(state, idx):
        p, m_, v_, t_ = state
        p, m_, v_, t_, loss = _adam_step(p, m_, v_, t_, x[idx], y[idx])
        return (p, m_, v_, t_), loss

    (params, m, v, t), losses = jax.lax.scan(body, (params, m, v, t), full)
    total = jnp.sum(losses) * batch
    if x.shape[0] > n_full * batch:  # sklearn's shorter last batch
        rest = order[n_full * batch:]
        params, m, v, t, loss = _adam_step(params, m, v, t, x[rest], y[rest])
        total = total + loss * rest.shape[0]
    return (params, m, v, t, key), total / x.shape[0]


@lru_cache(maxsize=None)
def _compiled_fit(width: int, max_iter: int):
    import jax
    import jax.numpy as jnp

    def fit(key, x, y):
        batch = min(BATCH, x.shape[0])
        key, init_key = jax.random.split(key)
        params = _init(init_key, (x.shape[1], width, width, 1))
        zeros = jax.tree.map(jnp.zeros_like, params)
        carry = (params, zeros, zeros, jnp.zeros((), jnp.float32), key)

        def cond(state):
            _, epoch, _, stalled = state
            return (epoch < max_iter) & (stalled <= NO_CHANGE)

        def body(state):
            carry, epoch, best, stalled = state
            carry, loss = _epoch(carry, x, y, batch)
            loss = loss.astype(jnp.float32)
            stalled = jnp.where(loss > best - TOL, stalled + 1, 0)
            return carry, epoch + 1, jnp.minimum(best, loss), stalled

        state = (carry, jnp.zeros((), jnp.int32), jnp.asarray(jnp.inf, jnp.float32), jnp.zeros((), jnp.int32))
        carry, epochs, _, _ = jax.lax.while_loop(cond, body, state)
        return carry[0], epochs

    return jax.jit(fit)


def fold_accuracy(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
                  width: int, max_iter: int, seed: int) -> tuple[float, int]:
    """Train on one fold and score the held-out rows.

    Args:
        x_train: (n, d) features; y_train: (n,) labels in {0, 1}; likewise the test rows.
        width: units of each of the two hidden layers.
        max_iter: epoch limit.
        seed: seeds the initial weights and the shuffles.

    Returns:
        (held-out accuracy, epochs run).
    """
    import jax
    import jax.numpy as jnp

    as32 = partial(jnp.asarray, dtype=jnp.float32)
    params, epochs = _compiled_fit(width, max_iter)(jax.random.key(seed), as32(x_train), as32(y_train))
    predicted = np.asarray(_logits(params, as32(x_test))) > 0.0
    return float(np.mean(predicted == (np.asarray(y_test) > 0.5))), int(epochs)
