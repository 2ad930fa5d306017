import numpy as np
import pytest

from app.errors import ModelError
from app.imageio import load_image
from app.recognition.detection import Detector, Face, HaarDetector, YuNetDetector, create_detector


def test_yunet_finds_one_face_with_landmarks(samples_dir, yunet_path):
    det = YuNetDetector(yunet_path)
    faces = det.detect(load_image(samples_dir / "obama.jpg"))
    assert len(faces) == 1
    lm = faces[0].landmarks
    assert lm.shape == (5, 2)
    x, y, w, h = faces[0].box
    assert x < lm[:, 0].min() and lm[:, 0].max() < x + w  # landmarks inside the box
    assert lm[0, 0] < lm[1, 0] and lm[2, 1] < lm[3, 1]   # eyes left to right, nose above mouth


def test_two_people_left_to_right(samples_dir, yunet_path):
    faces = YuNetDetector(yunet_path).detect(load_image(samples_dir / "two_people.jpg"))
    assert len(faces) == 2
    assert faces[0].box[0] < faces[1].box[0]


def test_large_photo_mapped_back_to_original_pixels(samples_dir, yunet_path):
    img = load_image(samples_dir / "obama.jpg")
    big = np.repeat(np.repeat(img, 3, axis=0), 3, axis=1)
    small_face = YuNetDetector(yunet_path).detect(img)[0]
    big_face = YuNetDetector(yunet_path, max_side=640).detect(big)[0]
    assert big_face.box[0] == pytest.approx(3 * small_face.box[0], rel=0.1)
    assert big_face.box[2] == pytest.approx(3 * small_face.box[2], rel=0.1)


def test_haar_finds_obama_without_landmarks(samples_dir):
    faces = HaarDetector().detect(load_image(samples_dir / "obama.jpg"))
    assert len(faces) >= 1 and faces[0].landmarks is None


def test_no_face_in_blank_image(yunet_path):
    assert YuNetDetector(yunet_path).detect(np.full((240, 320, 3), 128, np.uint8)) == []


def test_fallback_to_haar_when_yunet_missing(tmp_path, monkeypatch, yunet_path):
    monkeypatch.setenv("ONESHOT_YUNET", str(tmp_path / "missing.onnx"))
    det = create_detector(None)
    assert det.name == "haar"
    assert det.note == f"Haar fallback: more faces missed; YuNet file missing at {tmp_path / 'missing.onnx'}"
    assert create_detector("haar").note.startswith("Haar chosen") and create_detector(None, yunet_path).note == ""
    with pytest.raises(ModelError, match="not found"):
        create_detector("yunet")


def test_damaged_yunet_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model" * 10)
    with pytest.raises(ModelError, match="could not be loaded"):
        YuNetDetector(bad)


class _Recording(Detector):
    """Finds one face at (10, 20, 30, 40) with landmarks, in whatever image it is given."""

    def __init__(self):
        self.shapes = []

    def detect(self, rgb):
        self.shapes.append(rgb.shape)
        return [Face((10.0, 20.0, 30.0, 40.0), 0.9, np.array([[10.0, 20.0]] * 5, np.float32))]


def test_detect_shrunk_detects_on_the_smaller_image_and_answers_in_the_full_images_pixels():
    det = _Recording()
    (face,) = det.detect_shrunk(np.zeros((360, 640, 3), np.uint8), 480)
    assert det.shapes == [(270, 480, 3)]
    assert np.allclose(face.box, (10 * 4 / 3, 20 * 4 / 3, 30 * 4 / 3, 40 * 4 / 3))
    assert np.allclose(face.landmarks, [[10 * 4 / 3, 20 * 4 / 3]] * 5)
    (same,) = det.detect_shrunk(np.zeros((360, 640, 3), np.uint8), 640)  # small enough already
    assert det.shapes[-1] == (360, 640, 3) and same.box == (10.0, 20.0, 30.0, 40.0)
