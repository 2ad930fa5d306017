"""A small public API for scripts: a photo in, faces and embeddings out, no gallery opened.

    from app import api
    image = api.load_image_file("obama.jpg")
    faces = api.face_locations(image)                 # [Face(box=(x, y, w, h), score, landmarks)]
    a = api.face_encodings(image, faces)              # (N, 128) unit vectors, the shipped model
    b = api.face_encodings(api.load_image_file("obama2.jpg"))
    api.compare(a[0], b[0]), api.is_same_person(a[0], b[0])

The detector (YuNet, else OpenCV's Haar cascade) and the encoder (the shipped model, or the
one `configure` names) are loaded once, on first use. Embeddings are the live ones (one view of
each face, as the app embeds a camera frame); distances are on the scale the model's τ is
measured on (cohort-normalised when its card has a cohort), and `is_same_person` uses the
model's one-to-one τ. Calls may come from any thread; the detector and encoder are shared.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import numpy as np

from app.imageio import load_image
from app.recognition import scoring
from app.recognition.alignment import FULL_BOX, align_many
from app.recognition.detection import Detector, Face, create_detector

if TYPE_CHECKING:
    from app.recognition.encoder import Encoder

__all__ = ["Face", "align_faces", "compare", "configure", "face_encodings", "face_locations",
           "is_same_person", "load_image_file", "threshold"]

ALIGNED = 112  # the canonical crop: ArcFace's 112×112 frame, as the gallery stores it

_lock = threading.RLock()
_options: dict = {"detector": None, "detector_model": None, "weights": None, "device": None}
_detector: Detector | None = None
_encoder: Encoder | None = None


def configure(detector: str | None = None, detector_model: str | os.PathLike | None = None,
              weights: str | os.PathLike | None = None, device: str | None = None) -> None:
    """Choose the detector ("yunet", "haar"; None: YuNet if installed), its model file, the
    encoder's weights (None: the shipped model) and the device ("cpu", "cuda"; None: automatic).
    What was loaded before is dropped and loaded again on next use."""
    global _detector, _encoder
    with _lock:
        _options.update(detector=detector, detector_model=detector_model, weights=weights, device=device)
        _detector, _encoder = None, None


def _get_detector() -> Detector:
    global _detector
    with _lock:
        if _detector is None:
            _detector = create_detector(_options["detector"], _options["detector_model"])
        return _detector


def _get_encoder() -> Encoder:
    global _encoder
    with _lock:
        if _encoder is None:
            from app.recognition.encoder import Encoder
            _encoder = Encoder.load(_options["weights"], _options["device"])
        return _encoder


def load_image_file(path: str | os.PathLike) -> np.ndarray:
    """An image file as an HxWx3 uint8 RGB array, upright (EXIF orientation applied);
    `ImageError` when it cannot be read."""
    return load_image(path)


def face_locations(image: np.ndarray) -> list[Face]:
    """The faces of an RGB image, numbered left to right as the app numbers them."""
    from app.errors import SourceError
    from app.live.sources import is_rgb_frame
    if not is_rgb_frame(image):
        raise SourceError("face_locations needs an HxWx3 uint8 RGB image (load_image_file reads one).")
    with _lock:
        return _get_detector().detect(image)


def align_faces(image: np.ndarray, faces: list[Face], size: int = ALIGNED) -> np.ndarray:
    """Each face cut out and aligned on its five landmarks into the canonical frame:
    (N, size, size, 3) uint8 RGB."""
    return align_many(image, list(faces), size, FULL_BOX)


def face_encodings(image: np.ndarray, faces: list[Face] | None = None) -> np.ndarray:
    """(N, D) unit embeddings of these faces (None: every face found), by the encoder."""
    if faces is None:
        faces = face_locations(image)
    with _lock:
        enc = _get_encoder()
        return enc.embed(align_many(image, list(faces), enc.input_size, enc.crop_box))


def threshold() -> float:
    """The model's one-to-one τ: two faces nearer than this are called the same person."""
    with _lock:
        return float(_get_encoder().tau)


def compare(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """Distances between embeddings: a (D,) or (N, D) against b (D,) or (M, D) gives a float,
    an (N,) or (M,) array, or an (N, M) array. On the scale of `threshold()` (cohort-normalised
    when the model has a cohort, else plain L2 distance between the unit vectors)."""
    A, B = np.asarray(a, np.float32), np.asarray(b, np.float32)
    with _lock:
        scorer = _get_encoder().scorer
    d = scoring.scores(scoring.unit_rows(np.atleast_2d(A)), scoring.unit_rows(np.atleast_2d(B)), scorer)
    if A.ndim == 1 and B.ndim == 1:
        return float(d[0, 0])
    if A.ndim == 1:
        return d[0]
    if B.ndim == 1:
        return d[:, 0]
    return d


def is_same_person(a: np.ndarray, b: np.ndarray, tau: float | None = None) -> bool | np.ndarray:
    """Whether the faces are of one person: their distance (`compare`) under `tau`, by default
    the model's one-to-one τ (`threshold()`). A bool for two single embeddings, else an array."""
    t = threshold() if tau is None else float(tau)
    d = compare(a, b)
    return bool(d < t) if isinstance(d, float) else np.asarray(d) < t
