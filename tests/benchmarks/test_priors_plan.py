"""The priors benchmark plans a scheduled run's length from three timed probes."""
from __future__ import annotations

import pytest

from benchmarks import priors


class FakeClock:
    """perf_counter stand-in: ``train(steps, ...)`` advances it by setup + steps * per_step, plus
    ``compile`` the first time a schedule (``planned``) is trained, as JAX's cached steps do."""

    def __init__(self, setup: float, per_step: float, compile_s: float = 0.0):
        self.now, self.setup, self.per_step, self.compile_s, self.calls = 0.0, setup, per_step, compile_s, []

    def __call__(self) -> float:
        return self.now

    def train(self, steps, chunk, ckpt, planned, backend):
        compiled = any(c[1] == planned for c in self.calls)
        self.calls.append((steps, planned, backend))
        self.now += self.setup + steps * self.per_step + (0.0 if compiled else self.compile_s)


def _contender(clock: FakeClock) -> priors.Contender:
    return priors.Contender("diffusion", "fake", clock.train, lambda prior, s: {"score": 0.0}, "fd", "digits_bar", 500,
                            plan="budget")


@pytest.mark.parametrize("setup, per_step, compile_s", [(0.0, 0.02, 0.0), (15.0, 0.02, 0.0), (15.0, 0.1, 0.0),
                                                       (1.0, 0.06, 8.0), (0.5, 0.06, 30.0)])
def test_budget_plan_counts_setup_and_compilation_once(monkeypatch, setup, per_step, compile_s):
    clock = FakeClock(setup, per_step, compile_s)
    monkeypatch.setattr(priors.time, "perf_counter", clock)
    settings = priors.Settings.make(False)
    p = settings.probe_steps
    planned, plan_s = priors._planned_steps(_contender(clock), 500, settings, "jax")
    assert [c[0] for c in clock.calls] == [p, p, 3 * p]
    assert all(c[1] == 3 * p and c[2] == "jax" for c in clock.calls)  # one schedule: compiled once
    assert plan_s == pytest.approx(compile_s + 3 * setup + 5 * p * per_step)
    # The planned run (its own schedule: one compilation and one set-up) fits in plan_fraction of
    # what the probes left, and one more chunk would not.
    budget = settings.plan_fraction * (settings.max_train_s - plan_s)
    run_s = compile_s + setup + planned * per_step
    assert planned % 500 == 0 and planned >= 500
    assert run_s <= budget + 1e-9 or planned == 500
    assert run_s + 500 * per_step > budget or planned == settings.max_steps


def test_fixed_plans_do_not_probe(monkeypatch):
    clock = FakeClock(1.0, 0.01)
    monkeypatch.setattr(priors.time, "perf_counter", clock)
    contender = priors.CONTENDERS["diffusion_moons"]
    planned, plan_s = priors._planned_steps(contender, 500, priors.Settings.make(False), "torch")
    assert (planned, plan_s) == (2000, 0.0) and clock.calls == []
