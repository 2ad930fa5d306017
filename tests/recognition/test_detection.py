import numpy as np
import pytest

from app.errors import ModelError
from app.imageio import load_image
from app.live.sources import open_source
from app.recognition.detection import ContrastRetry, Detector, Face, HaarDetector, RetryCount, YuNetDetector, create_detector


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


def _darkened(rgb: np.ndarray, k: float = 0.05, gamma: float = 2.6) -> np.ndarray:
    """An unlit room: brightness scaled by k after a gamma (benchmarks/dark_faces.py, "near black")."""
    return np.clip(255.0 * k * (rgb / 255.0) ** gamma + 0.5, 0, 255).astype(np.uint8)


def _overlap(a: Face, b: Face) -> float:
    ax, ay, aw, ah = a.box
    bx, by, bw, bh = b.box
    inter = max(0.0, min(ax + aw, bx + bw) - max(ax, bx)) * max(0.0, min(ay + ah, by + bh) - max(ay, by))
    return inter / (aw * ah + bw * bh - inter)


def test_a_darkened_photo_is_found_only_by_the_retry_and_where_the_face_is(samples_dir, yunet_path):
    photo = load_image(samples_dir / "obama.jpg")
    (truth,) = YuNetDetector(yunet_path, retry=None).detect(photo)
    dark = _darkened(photo)
    assert YuNetDetector(yunet_path, retry=None).detect(dark) == []
    det = YuNetDetector(yunet_path)
    (face,) = det.detect(dark)
    assert _overlap(face, truth) > 0.7 and face.landmarks.shape == (5, 2)
    assert det.retries == RetryCount(tried=1, found=1)


class _CountingYuNet(YuNetDetector):
    """Counts the network's passes, to see how often one frame is looked at."""

    passes = 0

    def _faces(self, bgr):
        self.passes += 1
        return super()._faces(bgr)


def test_a_normal_frame_is_never_retried(samples_dir, yunet_path):
    det = _CountingYuNet(yunet_path)
    assert len(det.detect(load_image(samples_dir / "obama.jpg"))) == 1   # a face: nothing to retry
    rng = np.random.default_rng(0)
    texture = rng.integers(40, 220, (240, 320, 3), dtype=np.uint8)      # no face, but neither dark nor flat
    assert det.detect(texture) == []
    assert det.passes == 2 and det.retries == RetryCount(0, 0)


def test_the_retry_runs_at_most_once_per_frame_and_the_count_is_kept(yunet_path):
    det = _CountingYuNet(yunet_path)
    black = np.full((240, 320, 3), 3, np.uint8)                           # dark, and no face even after CLAHE
    assert det.detect(black) == []
    assert det.passes == 2 and det.retries == RetryCount(tried=1, found=0)
    det.detect(black)
    det.detect(np.full((240, 320, 3), 128, np.uint8))                     # flat grey: retried too
    assert det.passes == 6 and det.retries == RetryCount(tried=3, found=0)


def test_the_gates_are_the_ones_given():
    dim = np.full((10, 10, 3), 50, np.uint8)
    dim[:, :5] = 0                                                        # mean 25, spread 25
    assert ContrastRetry(dark_mean=30, flat_std=20).wanted(dim)
    assert not ContrastRetry(dark_mean=20, flat_std=20).wanted(dim)
    assert ContrastRetry(dark_mean=20, flat_std=30).wanted(dim)


def test_no_new_faces_on_the_sample_clip(samples_dir, yunet_path):
    """Every third frame of the real clip at the live view's size: the same faces with the retry
    as without; and every fifteenth also unlit (near black), where the retry's faces must be
    faces of the lit frame, never one that is not there."""
    plain, retry = YuNetDetector(yunet_path, retry=None), YuNetDetector(yunet_path)
    frames = dark_found = 0
    with open_source(str(samples_dir / "short_hamilton_clip.mp4")) as src:
        while (frame := src.read()) is not None:
            frames += 1
            if frames % 3:
                continue
            a, b = plain.detect_shrunk(frame.rgb, 480), retry.detect_shrunk(frame.rgb, 480)
            assert [f.box for f in a] == [f.box for f in b], f"frame {frames}"
            if frames % 15 == 0:  # the same frame unlit: what the retry finds there is a face of the frame
                dark = _darkened(frame.rgb)
                assert plain.detect_shrunk(dark, 480) == []
                for f in retry.detect_shrunk(dark, 480):
                    dark_found += 1
                    assert max(_overlap(f, t) for t in a) > 0.3, f"frame {frames}: a face that is not there"
    assert frames > 200 and dark_found > 0 and retry.retries.found == dark_found
