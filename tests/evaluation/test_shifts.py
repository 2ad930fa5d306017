"""The other-camera renderings: each one does to a crop what its name says, worked out by hand."""

import numpy as np
import pytest

from app.evaluation import shifts
from app.evaluation.shifts import render


def _crops() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8)


def test_grey_makes_the_channels_equal_to_their_mean():
    c = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    c[..., 0], c[..., 1], c[..., 2] = 30, 60, 120      # mean 70
    g = render(c, "grey")
    assert g.shape == c.shape and g.dtype == np.uint8 and np.all(g == 70)


def test_sidelight_darkens_one_side_and_keeps_black_black():
    c = np.full((1, 4, 5, 3), 200, dtype=np.uint8)
    s = render(c, "sidelight")[0]
    lo, hi = shifts.SIDELIGHT
    assert s[0, 0, 0] == round(255 * (200 / 255 * lo) ** shifts.SIDELIGHT_GAMMA)
    assert s[0, -1, 0] == 255                           # 200 * 1.35 saturates
    assert np.all(np.diff(s[0, :, 0].astype(int)) >= 0)
    assert np.all(render(np.zeros_like(c), "sidelight") == 0)


def test_blur_lowres_and_jpeg_keep_a_flat_crop_flat_and_change_a_noisy_one():
    flat = np.full((1, 32, 32, 3), 128, dtype=np.uint8)
    noisy = _crops()
    for name in ("blur", "lowres", "jpeg"):
        assert np.abs(render(flat, name).astype(int) - 128).max() <= 1, name
        out = render(noisy, name)
        assert out.shape == noisy.shape and out.dtype == np.uint8
        # smoothing / compression lowers the pixel-to-pixel variation of noise
        assert np.abs(np.diff(out.astype(int), axis=2)).mean() < np.abs(np.diff(noisy.astype(int), axis=2)).mean()


def test_unknown_shift_is_refused():
    with pytest.raises(ValueError, match="unknown shift"):
        render(_crops(), "fisheye")
