"""Training views: shapes and ranges kept, each change where and when it is asked for."""

import pytest
import torch

from app.recognition.alignment import FULL_BOX
from app.training.augment import Augment, augment, blur, lighting, low_resolution, occlusion, student_view


def _faces(n=16, s=112, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, s, s, generator=g) * 1.6 - 0.8


@pytest.mark.parametrize("change", [lighting, occlusion, blur, low_resolution])
def test_each_change_keeps_shape_and_range_and_applies_with_its_probability(change):
    x = _faces()
    never = change(x, torch.Generator().manual_seed(1), 0.0)
    assert torch.equal(never, x)
    always = change(x, torch.Generator().manual_seed(1), 1.0)
    assert always.shape == x.shape and always.dtype == x.dtype
    assert always.min() >= -1.0 and always.max() <= 1.0
    changed = (always - x).abs().flatten(1).amax(1) > 1e-3
    assert changed.all()  # every crop
    assert torch.equal(x, _faces())  # the input is left alone


def test_occluders_cover_part_of_the_face_not_all_of_it():
    x = _faces(64)
    out = occlusion(x, torch.Generator().manual_seed(2), 1.0, FULL_BOX)
    covered = ((out - x).abs().amax(1) > 1e-6).float().mean((1, 2))
    assert (covered > 0.04).all() and (covered < 0.5).all()


def test_side_light_darkens_one_side_more_than_the_other():
    x = torch.zeros(32, 3, 112, 112)  # mid grey
    out = lighting(x, torch.Generator().manual_seed(3), 1.0)
    left, right = out[..., :40].mean((1, 2, 3)), out[..., -40:].mean((1, 2, 3))
    top, bottom = out[..., :40, :].mean((1, 2, 3)), out[..., -40:, :].mean((1, 2, 3))
    assert (torch.maximum((left - right).abs(), (top - bottom).abs()) > 0.05).all()


def test_blur_and_low_resolution_remove_fine_detail():
    g = torch.Generator().manual_seed(4)
    x = (torch.rand(8, 3, 112, 112, generator=g) > 0.5).float() * 2 - 1  # pixel noise: all detail
    def detail(t):
        return (t[..., 1:] - t[..., :-1]).abs().mean()
    assert detail(blur(x, g, 1.0)) < 0.6 * detail(x)
    assert detail(low_resolution(x, g, 1.0)) < 0.6 * detail(x)


def test_strong_views_keep_shape_range_and_are_reproducible():
    x = _faces()
    a = augment(x, torch.Generator().manual_seed(5), Augment.strong(rotate=5, zoom=0.05))
    b = augment(x, torch.Generator().manual_seed(5), Augment.strong(rotate=5, zoom=0.05))
    assert a.shape == x.shape and a.min() >= -1 and a.max() <= 1 and torch.equal(a, b)
    assert not torch.equal(a, augment(x, torch.Generator().manual_seed(6), Augment.strong()))


def test_student_view_is_the_frame_resized_or_its_box():
    x = _faces(2)
    full = student_view(x, 80)
    assert full.shape == (2, 3, 80, 80)
    assert torch.allclose(full.mean((2, 3)), x.mean((2, 3)), atol=0.02)
    assert torch.equal(student_view(x, 112), x)
    box = student_view(x, 56, (0.25, 0.25, 0.5))
    assert torch.equal(box, x[:, :, 28:84, 28:84])  # the centre half, already 56 px
