import numpy as np
import pytest

from models import data


def test_digits_shapes_range_and_split():
    train, test = data.load_digits("train"), data.load_digits("test")
    assert train.images.shape == (data.DIGITS_TRAIN_SIZE, 1, 8, 8)
    assert test.images.shape == (data.DIGITS_TEST_SIZE, 1, 8, 8)
    assert train.images.dtype == np.float32 and train.labels.dtype == np.int64
    assert train.images.min() == -1.0 and train.images.max() == 1.0
    flat = data.load_digits("train", flat=True).images
    np.testing.assert_array_equal(flat, train.images.reshape(-1, 64))


def test_digits_split_is_fixed_and_disjoint():
    first, second = data.digits_split_indices(), data.digits_split_indices()
    np.testing.assert_array_equal(first["train"], second["train"])
    assert not set(first["train"]) & set(first["test"])
    assert len(first["train"]) + len(first["test"]) == len(first["all"]) == 1797


def test_digits_rejects_unknown_split():
    with pytest.raises(ValueError, match="split"):
        data.load_digits("validation")


@pytest.mark.parametrize("name", sorted(data.TOY_DATASETS))
def test_toy_sets_shape_and_reproducibility(name):
    make = data.TOY_DATASETS[name]
    a = make(300, np.random.default_rng(1))
    b = make(300, np.random.default_rng(1))
    assert a.shape == (300, 2) and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, make(300, np.random.default_rng(2)))


def test_rings_radii():
    points = data.rings(2000, np.random.default_rng(0), radii=(1.0, 3.0), noise=0.0)
    radius = np.linalg.norm(points, axis=1)
    assert np.allclose(np.sort(np.unique(np.round(radius, 8))), [1.0, 3.0])


def test_gaussian_grid_matches_its_mixture():
    from models.gmm import GaussianMixturePrior

    n = 20_000
    points = data.gaussian_grid(n, np.random.default_rng(0))
    gmm = GaussianMixturePrior.grid()
    sd = np.sqrt(np.diag(gmm.covariance()))
    assert np.all(np.abs(points.mean(0) - gmm.mean()) < 4 * sd / np.sqrt(n))
