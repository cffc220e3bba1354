"""The priors benchmark plans a scheduled run's length from two timed probes."""
from __future__ import annotations

import pytest

from benchmarks import priors


class FakeClock:
    """perf_counter stand-in: ``train(steps, ...)`` advances it by setup + steps * per_step."""

    def __init__(self, setup: float, per_step: float):
        self.now, self.setup, self.per_step, self.calls = 0.0, setup, per_step, []

    def __call__(self) -> float:
        return self.now

    def train(self, steps, chunk, ckpt, planned, backend):
        self.calls.append((steps, planned, backend))
        self.now += self.setup + steps * self.per_step


def _contender(clock: FakeClock) -> priors.Contender:
    return priors.Contender("diffusion", "fake", clock.train, lambda prior, s: 0.0, "fd", "digits_bar", 500,
                            plan="budget")


@pytest.mark.parametrize("setup, per_step", [(0.0, 0.02), (15.0, 0.02), (15.0, 0.1)])
def test_budget_plan_counts_setup_once(monkeypatch, setup, per_step):
    clock = FakeClock(setup, per_step)
    monkeypatch.setattr(priors.time, "perf_counter", clock)
    settings = priors.Settings.make(False)
    planned, plan_s = priors._planned_steps(_contender(clock), 500, settings, "jax")
    probes = [c[0] for c in clock.calls]
    assert probes == [settings.probe_steps, 3 * settings.probe_steps]
    assert all(c[2] == "jax" for c in clock.calls)
    assert plan_s == pytest.approx(2 * setup + 4 * settings.probe_steps * per_step)
    # The planned run (one set-up) fits in plan_fraction of what the probes left, and one more chunk would not.
    budget = settings.plan_fraction * (settings.max_train_s - plan_s)
    assert planned % 500 == 0 and planned >= 500
    assert setup + planned * per_step <= budget or planned == 500
    assert setup + (planned + 500) * per_step > budget or planned == settings.max_steps


def test_fixed_plans_do_not_probe(monkeypatch):
    clock = FakeClock(1.0, 0.01)
    monkeypatch.setattr(priors.time, "perf_counter", clock)
    contender = priors.CONTENDERS["diffusion_moons"]
    planned, plan_s = priors._planned_steps(contender, 500, priors.Settings.make(False), "torch")
    assert (planned, plan_s) == (2000, 0.0) and clock.calls == []
