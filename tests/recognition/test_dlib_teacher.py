import numpy as np
import pytest

from app.imageio import load_image
from app.recognition.detection import YuNetDetector

pytest.importorskip("dlib", reason="the teacher extra (dlib-bin) is installed by `make test`")


def test_dlib_teacher_separates_people(samples_dir, yunet_path):
    from app.recognition.dlib_teacher import DlibTeacher
    det, teacher = YuNetDetector(yunet_path), DlibTeacher()
    emb = {}
    for name in ["obama", "obama2", "biden"]:
        rgb = load_image(samples_dir / f"{name}.jpg")
        emb[name] = teacher.embed(rgb, det.detect_largest(rgb))
        assert emb[name].shape == (128,) and abs(np.linalg.norm(emb[name]) - 1) < 1e-5
    assert np.linalg.norm(emb["obama"] - emb["obama2"]) < np.linalg.norm(emb["obama"] - emb["biden"])


def test_chips_embed_like_photos_and_a_blend_is_a_face_between_two_people(samples_dir, yunet_path):
    from app.recognition.dlib_teacher import DlibTeacher
    det, teacher = YuNetDetector(yunet_path), DlibTeacher()
    emb, chips = [], []
    for name in ["obama", "biden"]:
        rgb = load_image(samples_dir / f"{name}.jpg")
        face = det.detect_largest(rgb)
        emb.append(teacher.embed(rgb, face))
        chips.append(teacher.chip(rgb, face))
    assert chips[0].shape == (150, 150, 3) and chips[0].dtype == np.uint8
    # the chip is the view `embed` describes, so both routes give one embedding
    assert np.allclose(teacher.embed_chips(chips), emb, atol=1e-4)
    blend = (0.5 * chips[0].astype(np.float32) + 0.5 * chips[1]).astype(np.uint8)
    mixed = teacher.embed_chips([blend])[0]
    apart = np.linalg.norm(emb[0] - emb[1])
    assert np.linalg.norm(mixed - emb[0]) < apart and np.linalg.norm(mixed - emb[1]) < apart
    assert teacher.embed_chips([]).shape == (0, 128)
