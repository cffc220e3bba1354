"""The mixture benchmark's per-method SMC settings (``benchmarks.gmm_inverse``)."""
import pytest

from benchmarks.gmm_inverse import full_grid, parse_args, parse_particles, settings_from
from benchmarks.gmm_inverse_contenders import DEFAULT_CONTENDERS


def test_smc_particles_are_per_method_and_only_for_smc_samplers():
    s = settings_from(parse_args(["--quick", "--smc-particles", "tds=300,mcgdiff=1200",
                                  "--smc-populations", "8"]))
    assert s.smc_options("tds") == {"populations": 8, "particles": 300}
    assert s.smc_options("mcgdiff") == {"populations": 8, "particles": 1200}
    assert s.smc_options("dps") == {} and s.smc_options(None) == {}


def test_one_number_sets_both_and_zero_means_one_population():
    assert dict(parse_particles("700")) == {"tds": 700, "mcgdiff": 700}
    s = settings_from(parse_args(["--quick", "--smc-particles", "0"]))
    assert s.smc_options("tds") == {}


def test_default_gives_mcgdiff_four_times_the_particles_of_tds():
    s = settings_from(parse_args(["--quick"]))
    assert s.smc_options("mcgdiff")["particles"] == 4 * s.smc_options("tds")["particles"]


def test_unknown_method_in_smc_particles_is_refused_by_name():
    with pytest.raises(SystemExit, match="dps"):
        parse_particles("tds=500,dps=10")


def test_a_run_restricted_by_only_still_counts_every_default_contender_in_the_grid():
    restricted = full_grid(settings_from(parse_args(["--quick", "--only", "dps,tds-pyro"])))
    names = {name for _, _, name in restricted}
    assert names == {*DEFAULT_CONTENDERS, "tds-pyro"}
    assert len(restricted) == len(full_grid(settings_from(parse_args(["--quick"])))) * len(names) \
        // len(DEFAULT_CONTENDERS)
