import numpy as np
import pytest

from app.detection import YuNetDetector
from app.imageio import load_image

pytest.importorskip("dlib", reason="the teacher extra (dlib-bin) is installed by `make test`")


def test_dlib_teacher_separates_people(samples_dir, yunet_path):
    from app.teacher import DlibTeacher
    det, teacher = YuNetDetector(yunet_path), DlibTeacher()
    emb = {}
    for name in ["obama", "obama2", "biden"]:
        rgb = load_image(samples_dir / f"{name}.jpg")
        emb[name] = teacher.embed(rgb, det.detect_largest(rgb))
        assert emb[name].shape == (128,) and abs(np.linalg.norm(emb[name]) - 1) < 1e-5
    assert np.linalg.norm(emb["obama"] - emb["obama2"]) < np.linalg.norm(emb["obama"] - emb["biden"])
