import math

import cv2
import numpy as np

from app.recognition.alignment import FULL_BOX, HAAR_LANDMARK_PRIOR, align, face_landmarks, recrop, similarity_transform, template
from app.recognition.detection import Face


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


def test_box_template_by_hand():
    # The box (x0=0.25, y0=0.5, side=0.5) of the 112 frame, drawn at 56 px, is the frame's
    # 56x56 lower-middle quarter at full scale: a landmark at (38.29, 51.70) in the frame sits at
    # (38.29 - 28, 51.70 - 56) = (10.29, -4.30) in the box.
    t = template(56, (0.25, 0.5, 0.5))
    assert np.allclose(t[0], [38.2946 - 28, 51.6963 - 56])
    assert np.allclose(template(80, FULL_BOX), template(80))


def test_recrop_of_a_stored_crop_matches_aligning_the_photo():
    """The gallery keeps full-frame 112 px crops; a model trained on a box must see, from them,
    what it would see from the photo."""
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 255, (400, 400, 3), dtype=np.uint8), (0, 0), 4)
    face = Face((0, 0, 1, 1), 1.0, (template(112) * 1.8 + [60, 40]).astype(np.float32))
    box = (0.0625, 0.125, 0.875)
    direct = align(img, face, 80, box).astype(float)
    via_store = recrop(align(img, face, 112)[None], 80, box)[0].astype(float)
    other = align(img, face, 80).astype(float)  # the full frame: a different picture
    assert np.abs(direct - via_store).mean() < 2.0
    assert np.abs(direct - other).mean() > 4 * np.abs(direct - via_store).mean()
    # the full frame is a plain resize, and an empty stack stays empty
    assert recrop(align(img, face, 112)[None], 112)[0].shape == (112, 112, 3)
    assert recrop(np.zeros((0, 112, 112, 3), np.uint8), 80, box).shape == (0, 80, 80, 3)
