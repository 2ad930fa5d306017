import math

import numpy as np

from app.alignment import HAAR_LANDMARK_PRIOR, align, face_landmarks, similarity_transform, template
from app.detection import Face


def _apply(m, pts):
    return pts @ m[:, :2].T + m[:, 2]


def test_similarity_recovers_known_transform():
    src = template(112)
    ang, s, t = math.radians(30), 2.0, np.array([15.0, -7.0])
    rot = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
    dst = s * src @ rot.T + t
    m = similarity_transform(src, dst)
    assert np.allclose(m[:, :2], s * rot, atol=1e-9)
    assert np.allclose(m[:, 2], t, atol=1e-9)
    # and the inverse maps the moved landmarks back onto the template
    back = similarity_transform(dst, src)
    assert np.allclose(_apply(back, dst), src, atol=1e-9)


def test_no_reflection():
    src = template(112)
    dst = src * [-1, 1]  # mirror image: best similarity must not flip
    m = similarity_transform(src, dst)
    assert np.linalg.det(m[:, :2]) > 0


def test_align_puts_landmarks_on_template():
    # Draw five bright dots at rotated, scaled landmark positions; after alignment the dots
    # must sit on the 64-px template.
    size = 64
    ang = math.radians(-20)
    rot = np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
    lms = 2.5 * template(112) @ rot.T + [60, 120]
    img = np.zeros((500, 500, 3), np.uint8)
    for x, y in lms:
        img[int(round(y)) - 2:int(round(y)) + 3, int(round(x)) - 2:int(round(x)) + 3] = 255
    crop = align(img, Face((0, 0, 10, 10), 1.0, lms.astype(np.float32)), size)
    assert crop.shape == (size, size, 3)
    for x, y in template(size):
        assert crop[int(round(y)), int(round(x))].max() > 100


def test_box_only_uses_prior():
    face = Face((10.0, 20.0, 100.0, 200.0), 1.0, None)
    lm = face_landmarks(face)
    assert np.allclose(lm[0], [10 + 100 * HAAR_LANDMARK_PRIOR[0, 0], 20 + 200 * HAAR_LANDMARK_PRIOR[0, 1]])
    assert lm[0, 0] < lm[1, 0]  # first eye is the left-most in the image
    assert align(np.zeros((300, 300, 3), np.uint8), face, 48).shape == (48, 48, 3)
