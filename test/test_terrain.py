"""Terrain generation: the named test terrains, and size-frequency laws of rocks and craters."""
import math

import numpy as np
import pytest

from chang_e_rover.sim import terrain as T


def test_named_feature_terrains_begin_3_m_ahead():
    for name, slope in (('ramp20', 20), ('ramp25', 25)):
        t = T.generate(name)
        z = t.ground_height(np.array([2.9, 3.0, 4.0, 6.0]), np.zeros(4))
        assert z[0] == pytest.approx(0.0) and z[1] == pytest.approx(0.0, abs=1e-9)
        assert (z[3] - z[2]) / 2.0 == pytest.approx(math.tan(math.radians(slope)), rel=1e-6)
    for name, height in (('step20', 0.20), ('step25', 0.25)):
        z = T.generate(name).ground_height(np.array([2.99, 3.01, 10.0]), np.array([0.0, 5.0, -5.0]))
        np.testing.assert_allclose(z, [0.0, height, height])
    assert T.generate('flat').ground_height(np.array([7.0]), np.array([-3.0]))[0] == 0.0


def test_rocks_terrain_is_a_function_of_its_seed():
    a = T.generate('rocks', seed=5, rock_abundance=0.08)
    b = T.generate('rocks', seed=5, rock_abundance=0.08)
    c = T.generate('rocks', seed=6, rock_abundance=0.08)
    np.testing.assert_array_equal(a.heights, b.heights)
    np.testing.assert_array_equal(a.rocks, b.rocks)
    assert not np.array_equal(a.rocks, c.rocks) and len(a.craters) > 0


def test_start_and_lander_are_kept_clear():
    t = T.generate('rocks', seed=2, rock_abundance=0.3, keep_clear_xy=((0, 0), (-4, 0)))
    for cx, cy in ((0, 0), (-4, 0)):
        d = np.hypot(t.rocks[:, 0] - cx, t.rocks[:, 1] - cy) - t.rocks[:, 2] / 2
        assert d.min() > 2.0
        crater_edge = np.hypot(t.craters[:, 0] - cx, t.craters[:, 1] - cy) - 0.75 * t.craters[:, 2]
        assert crater_edge.min() > 2.0


def test_rock_diameters_follow_golombek_rapp():
    """Rocks drawn for 20,000 m^2 at k = 0.1 match the model they were drawn from.

    Two checks: a Kolmogorov-Smirnov test of the diameters against the model's
    number CDF (critical value at alpha = 0.01), and the cumulative fraction of
    area covered by rocks of diameter D or more, within 15 % of
    k (exp(-q D) - exp(-q D_max)) at D = 0.1, 0.2, 0.3 and 0.5 m.
    """
    k, d_min, d_max, area = 0.1, 0.1, 1.5, 20000.0
    d = T.sample_rocks(np.random.default_rng(11), k, area, d_min, d_max)
    grid, cum = T.rock_diameter_cdf(k, d_min, d_max)
    assert len(d) == pytest.approx(cum[-1] * area, rel=0.05)
    model_cdf = np.interp(np.sort(d), grid, cum / cum[-1])
    n = len(d)
    ks = max(np.max(np.arange(1, n + 1) / n - model_cdf), np.max(model_cdf - np.arange(n) / n))
    assert ks < 1.63 / math.sqrt(n), f'KS statistic {ks:.4f} over n={n}'
    for threshold in (0.1, 0.2, 0.3, 0.5):
        measured = np.sum(math.pi * d[d >= threshold] ** 2 / 4) / area
        expected = T.rock_area_fraction_model(k, threshold, d_max)
        assert measured == pytest.approx(expected, rel=0.15), threshold


def test_golombek_rapp_q_of_k():
    assert T.golombek_rapp_q(0.1) == pytest.approx(1.79 + 1.52)
    # the model's total area fraction is k itself
    assert T.rock_area_fraction_model(0.07, 0.0) == pytest.approx(0.07)


def test_crater_sizes_follow_d_minus_2():
    """Maximum-likelihood exponent of the cumulative law N(>D) ~ D^-alpha is 2 within 0.05."""
    d = T.sample_craters(np.random.default_rng(3), 0.01, 1e6, 1.0, 1e4)
    alpha = len(d) / np.sum(np.log(d / 1.0))
    assert alpha == pytest.approx(2.0, abs=0.05)
    assert len(d) == pytest.approx(0.01 * 1e6, rel=0.05)


@pytest.mark.parametrize('kwargs, match', [
    ({'name': 'mars'}, 'unknown terrain'),
    ({'name': 'rocks', 'rock_abundance': 0.5}, 'outside 0 to 0.4'),
    ({'name': 'rocks', 'size_m': float('nan')}, 'positive and finite'),
    ({'name': 'flat', 'resolution_m': -1.0}, 'positive and finite'),
])
def test_bad_terrain_requests_are_refused(kwargs, match):
    with pytest.raises(T.TerrainError, match=match):
        T.generate(**kwargs)


def test_true_height_includes_rocks():
    t = T.generate('rocks', seed=4, rock_abundance=0.1)
    x, y, d, base = t.rocks[np.argmax(t.rocks[:, 2])]
    assert t.true_height(np.array([x]), np.array([y]))[0] == pytest.approx(base + 0.5 * d)
    assert t.ground_height(np.array([x]), np.array([y]))[0] == pytest.approx(base)
