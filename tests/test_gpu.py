"""GPU runs (skipped without CUDA): both backends compile and sample on the device."""
import numpy as np
import pytest

import ppl
from ppl import testing

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("backend", ["numpyro", "pyro"])
def test_nuts_on_cuda_matches_cpu_log_density(backend):
    m = testing.eight_schools_noncentered(np.array([15.0, 10, 16, 11, 9, 11, 10, 18])).observe(
        y=np.array([28.0, 8, -3, 7, -1, 1, 18, 12]))
    point = testing.random_unconstrained_point(m)
    cpu = ppl.compile(m, backend=backend, device="cpu").log_density(point)
    gpu = ppl.compile(m, backend=backend, device="cuda").log_density(point)
    assert gpu == pytest.approx(cpu, rel=1e-5)
    post = ppl.infer(m, backend=backend, device="cuda", chains=2, warmup=200, draws=200,
                     progress=False)
    assert np.isfinite(post["mu"]).all()
