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


def test_sidelight_at_strength_one_is_the_open_set_shift_and_at_zero_leaves_the_crop():
    crops = _crops()
    assert np.array_equal(render(crops, "sidelight"), np.stack([shifts.sidelight(c, 1.0) for c in crops]))
    assert np.array_equal(shifts.sidelight(crops[0], 0.0), crops[0])


def test_sidelight_strength_span_and_side_worked_out_by_hand():
    """Strength 0.5 of the ramp (0.25, 1.35) and gamma 1.6: gains 0.625 .. 1.175, gamma 1.3; the
    ramp runs over columns 2-5 of 10 (span 0.2-0.6) and is flat beyond; from the left mirrors it;
    even lights every column as the dark end."""
    c = np.full((1, 10, 3), 100, dtype=np.uint8)
    s = shifts.sidelight(c, 0.5, span=(0.2, 0.6))[0, :, 0]
    dark, bright = round(255 * (100 / 255 * 0.625) ** 1.3), round(255 * (100 / 255 * 1.175) ** 1.3)
    assert (dark, bright) == (41, 93)
    assert list(s[:3]) == [dark] * 3 and list(s[5:]) == [bright] * 5
    assert dark < s[3] < s[4] < bright
    assert list(shifts.sidelight(c, 0.5, span=(0.2, 0.6), from_left=True)[0, :, 0]) == list(s[::-1])
    assert list(shifts.sidelight(c, 0.5, even=True)[0, :, 0]) == [dark] * 10
