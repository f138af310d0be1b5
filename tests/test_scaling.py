"""Per-feature scaling and noise (pyunlocbox_gae.scaling): in place, one home."""

import numpy as np
import pytest

from pyunlocbox_gae.scaling import add_noise, scale_features


@pytest.mark.parametrize("view", ["strided", "fortran", "rows"])
def test_scaling_is_in_place_on_any_view(view):
    A = np.random.default_rng(0).random((300, 8)).astype(np.float32) * 5 + 2
    X = {"strided": A[:, ::2], "fortran": np.asfortranarray(A), "rows": A[::3]}[view]
    before = X.astype(np.float64)
    assert scale_features(X, scaling="minmax") is X
    low, high = before.min(axis=0), before.max(axis=0)
    np.testing.assert_allclose(X, (before - low) / (high - low), atol=1e-6)
    if view == "strided":  # the columns in between are left alone
        assert A[:, 1::2].min() >= 2


def test_standard_scaling_of_float32_rows_far_from_zero():
    rng = np.random.default_rng(1)
    X = (1e4 + rng.standard_normal((50000, 3))).astype(np.float32)  # large offset
    scale_features(X, scaling="standard")
    assert X.dtype == np.float32
    np.testing.assert_allclose(X.astype(np.float64).mean(axis=0), 0, atol=1e-3)
    np.testing.assert_allclose(X.astype(np.float64).std(axis=0), 1, rtol=1e-3)


def test_log_then_scaling_and_its_domain():
    X = np.array([[0.0, 1.0], [np.e - 1, 3.0]])
    scale_features(X, log=True, scaling="none")
    np.testing.assert_allclose(X, np.log1p([[0.0, 1.0], [np.e - 1, 3.0]]))
    with pytest.raises(ValueError, match=r"needs values > -1"):
        scale_features(np.array([[-1.0, 0.0]]), log=True)
    with pytest.raises(ValueError, match="scaling must be one of"):
        scale_features(np.ones((2, 2)), scaling="max")


def test_noise_in_blocks_is_one_draw_of_the_generator(monkeypatch):
    from pyunlocbox_gae import scaling

    monkeypatch.setattr(scaling, "NOISE_BLOCK_ROWS", 7)  # several blocks, a short last
    X = np.zeros((30, 4), np.float32)
    add_noise(X, 0.3, seed=5)
    draw = np.random.default_rng(5).standard_normal((30, 4), dtype=np.float32)
    np.testing.assert_array_equal(X, np.float32(0.3) * draw)
