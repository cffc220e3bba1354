"""The DSL builds the IR we expect: roles, edges, plates, shapes, rewrites."""
import numpy as np
import pytest

import ppl
from ppl import dist, ops


@ppl.model
def regression(x, noise):
    w = ppl.sample("w", dist.Normal(0.0, 1.0).expand((x.shape[1],)).to_event(1))
    b = ppl.param("b", 0.0)
    mean = ppl.deterministic("mean", x @ w + b)
    ppl.factor("shrink", -0.5 * ops.sum(w ** 2))
    with ppl.plate("obs", x.shape[0]):
        ppl.sample("y", dist.Normal(mean, noise))


def test_roles_edges_and_shapes():
    g = regression(np.ones((5, 3)), 0.5).observe(y=np.zeros(5)).graph
    roles = {n: d["role"] for n, d in g.nodes(data=True)}
    assert roles == {"x": "data", "w": "latent", "b": "parameter", "mean": "deterministic",
                     "shrink": "factor", "y": "observed"}
    assert set(g.edges) == {("x", "mean"), ("w", "mean"), ("b", "mean"), ("w", "shrink"),
                            ("mean", "y")}
    assert g.nodes["w"]["event_shape"] == (3,) and g.nodes["w"]["batch_shape"] == ()
    assert g.nodes["y"]["batch_shape"] == (5,)
    assert [p.name for p in g.nodes["y"]["plates"]] == ["obs"]
    assert g.nodes["w"]["support"].name == "real^1"


def test_nested_plates_get_distinct_dims():
    @ppl.model
    def grid():
        with ppl.plate("row", 3):
            with ppl.plate("col", 4):
                ppl.sample("z", dist.Normal(0.0, 1.0))

    g = grid().graph
    plates = {p.name: p.dim for p in g.nodes["z"]["plates"]}
    assert plates == {"row": -1, "col": -2}
    assert g.nodes["z"]["batch_shape"] == (4, 3)
    draws = ppl.compile(grid(), backend="numpyro").sample_prior(7)
    assert draws["z"].shape == (7, 4, 3)


def test_observe_returns_new_model_and_keeps_original():
    m = regression(np.ones((5, 3)), 0.5)
    observed = m.observe(y=np.zeros(5))
    assert m.graph.nodes["y"]["role"] == "latent"
    assert observed.graph.nodes["y"]["role"] == "observed"
    assert observed is not m


def test_obs_argument_absorbs_data_of_the_same_name():
    @ppl.model
    def m(y):
        mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
        with ppl.plate("obs", len(y)):
            ppl.sample("y", dist.Normal(mu, 1.0), obs=y)

    g = m(np.array([1.0, 2.0])).graph
    assert g.nodes["y"]["role"] == "observed"
    np.testing.assert_array_equal(g.nodes["y"]["value"], [1.0, 2.0])


def test_do_cuts_parents_and_removes_the_density_term(float64):
    @ppl.model
    def chain():
        a = ppl.sample("a", dist.Normal(0.0, 1.0))
        b = ppl.sample("b", dist.Normal(a, 1.0))
        ppl.sample("c", dist.Normal(b, 1.0), obs=0.3)

    m = chain().do(b=2.0)
    g = m.graph
    assert g.nodes["b"]["role"] == "data" and not list(g.predecessors("b"))
    import scipy.stats as st

    for backend in ("numpyro", "pyro"):
        value = ppl.compile(m, backend=backend).log_density({"a": np.array(0.7)})
        assert value == pytest.approx(st.norm.logpdf(0.7) + st.norm(2.0, 1.0).logpdf(0.3), rel=1e-9)


def test_describe_and_dot():
    m = regression(np.ones((5, 3)), 0.5).observe(y=np.zeros(5))
    text = m.describe(file=open("/dev/null", "w"))
    assert "Normal(loc=mean, scale=0.5)" in text and "observed" in text
    dot = m.to_dot()
    assert 'subgraph "cluster_obs"' in dot and '"mean" -> "y";' in dot


def test_render_writes_a_file(tmp_path, monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)  # no graphviz: DOT text fallback
    path = regression(np.ones((5, 3)), 0.5).render(str(tmp_path / "g.png"))
    assert path.endswith("g.png.dot")
    assert open(path).read().startswith('digraph "regression"')


def test_symbolic_operators_and_numpy_ufuncs_build_nodes():
    @ppl.model
    def m():
        x = ppl.sample("x", dist.Normal(0.0, 1.0).expand((2, 3)).to_event(2))
        ppl.deterministic("a", np.exp(x)[0] + 1.0)
        ppl.deterministic("b", ops.where(x > 0, x, -x).sum(axis=0))
        ppl.deterministic("c", ops.concatenate([x, x], axis=1)[:, ::2])
        ppl.deterministic("d", x.T @ x)

    g = m().graph
    assert g.nodes["a"]["batch_shape"] == (3,)
    assert g.nodes["b"]["batch_shape"] == (3,)
    assert g.nodes["c"]["batch_shape"] == (2, 3)
    assert g.nodes["d"]["batch_shape"] == (3, 3)


def test_constant_expressions_fold():
    from ppl.expr import Const

    expr = ops.exp(np.log(3.0)) + 1.0
    assert isinstance(expr, Const)
    assert float(expr.value) == pytest.approx(4.0)


def test_data_arguments_become_data_nodes():
    g = regression(np.ones((5, 3)), 0.5).graph
    assert g.nodes["x"]["role"] == "data"
    np.testing.assert_array_equal(g.nodes["x"]["value"], np.ones((5, 3)))
