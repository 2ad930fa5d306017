"""Face detection behind one interface: YuNet (boxes + 5 landmarks) or OpenCV's Haar cascade.

YuNet is used whenever its ONNX file is found (see `paths.find_yunet`; the program ships one in
`models/`); Haar is the last resort, and says so (`Detector.note`). Images are RGB uint8 arrays throughout the core.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from app import paths
from app.errors import ModelError

# The detector named when one must be (training, calibration, evaluation); None elsewhere means
# this one if its model file is found, else Haar (`create_detector`).
DEFAULT_DETECTOR = "yunet"
DETECTORS = ("yunet", "haar")


@dataclass(frozen=True)
class Face:
    """One detected face: box (x, y, w, h) in image pixels, landmarks (5x2) if the detector has them.

    Landmark order follows YuNet and the ArcFace template: right eye, left eye (as seen in the
    image: left-most first), nose tip, right and left mouth corners.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: np.ndarray | None = field(default=None, compare=False)

    @property
    def area(self) -> float:
        return self.box[2] * self.box[3]

    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2, y + h / 2

    def scaled(self, factor: float) -> "Face":
        x, y, w, h = self.box
        lm = None if self.landmarks is None else self.landmarks * factor
        return Face((x * factor, y * factor, w * factor, h * factor), self.score, lm)


class Detector:
    """Common interface. `detect` returns faces ordered left to right, so "face N" is stable."""

    name: str = "detector"
    # Why this detector, in words, when it is the weaker one (Haar): the status bar, identify
    # --json, watch's first line and the self-test show it. Empty for YuNet.
    note: str = ""

    def detect(self, rgb: np.ndarray) -> list[Face]:
        raise NotImplementedError

    def detect_shrunk(self, rgb: np.ndarray, max_side: int | None) -> list[Face]:
        """Faces found on the image shrunk so its longer side is at most `max_side`, in the
        image's own pixels (so alignment still cuts from the full-resolution image). Why: the
        detector's cost grows with the pixels it sees, and a live view's faces are big enough
        to be found at a lower resolution (docs/speed.md)."""
        h, w = rgb.shape[:2]
        scale = 1.0 if not max_side else min(1.0, max_side / max(h, w))
        if scale >= 1.0:
            return self.detect(rgb)
        # bilinear: a quarter of INTER_AREA's cost on a live frame, and the detector does not
        # mind the little aliasing of a shrink by less than half
        small = cv2.resize(rgb, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)
        return [f.scaled(1.0 / scale) for f in self.detect(small)]

    def detect_largest(self, rgb: np.ndarray) -> Face | None:
        faces = self.detect(rgb)
        return max(faces, key=lambda f: f.area) if faces else None

    def detect_central(self, rgb: np.ndarray) -> Face | None:
        """The face nearest the image centre: the subject of an LFW or CelebA style crop."""
        faces = self.detect(rgb)
        if not faces:
            return None
        cy, cx = rgb.shape[0] / 2, rgb.shape[1] / 2
        return min(faces, key=lambda f: (f.center()[0] - cx) ** 2 + (f.center()[1] - cy) ** 2)


@dataclass
class RetryCount:
    """How often the dark-frame retry ran and how often it found a face: `bench` reports it, so a
    user can see whether their room is dark enough for the retry's extra cost to matter."""

    tried: int = 0
    found: int = 0


@dataclass(frozen=True)
class ContrastRetry:
    """When and how YuNet looks again at a frame in which it found nothing.

    YuNet misses faces in unlit rooms and on washed-out webcams although the face is there; a
    copy with local contrast restored (CLAHE on luminance only, so skin keeps its hue) gives
    them back. Only frames that are dark on average (`dark_mean`) or flat (`flat_std`) are
    retried: an ordinary frame without a face costs nothing more and cannot gain a false face.
    The defaults were chosen on LFW's validation people (docs/robustness.md).
    """

    dark_mean: float = 30.0
    flat_std: float = 20.0
    clahe_clip: float = 3.0
    clahe_tiles: int = 4

    def wanted(self, bgr: np.ndarray) -> bool:
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        mean, std = cv2.meanStdDev(grey)
        return float(mean[0, 0]) < self.dark_mean or float(std[0, 0]) < self.flat_std

    def normalised(self, bgr: np.ndarray) -> np.ndarray:
        lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB)
        clahe = cv2.createCLAHE(clipLimit=self.clahe_clip, tileGridSize=(self.clahe_tiles, self.clahe_tiles))
        lab[..., 0] = clahe.apply(np.ascontiguousarray(lab[..., 0]))
        return cv2.cvtColor(lab, cv2.COLOR_LAB2BGR)


class YuNetDetector(Detector):
    """OpenCV's `FaceDetectorYN`. Large photos are shrunk to `max_side` first (speed), results
    mapped back to the original pixels. A dark or flat frame in which nothing is found is tried
    once more on a contrast-normalised copy (`retry`, None for never; `retries` counts it); the
    boxes and landmarks then come from that copy, while alignment still cuts from the frame."""

    name = "yunet"

    def __init__(self, model_path: str | os.PathLike, score_threshold: float = 0.7,
                 nms_threshold: float = 0.3, max_side: int = 960,
                 retry: ContrastRetry | None = ContrastRetry()):
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"YuNet model not found at {path}. Run `oneshot-face fetch-models`.")
        paths.check_shipped_yunet(path)
        try:
            self._net = cv2.FaceDetectorYN.create(str(path), "", (320, 320), score_threshold,
                                                  nms_threshold, 5000)
        except cv2.error as exc:
            raise ModelError(f"YuNet model {path} could not be loaded (damaged file?): "
                             f"{str(exc).strip().splitlines()[-1]}") from None
        self.model_path = path
        self.max_side = max_side
        self.retry = retry
        self.retries = RetryCount()
        self._size: tuple[int, int] | None = None

    def detect(self, rgb: np.ndarray) -> list[Face]:
        h, w = rgb.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        if scale < 1.0:
            bgr = cv2.resize(bgr, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        size = (bgr.shape[1], bgr.shape[0])
        if size != self._size:
            self._net.setInputSize(size)
            self._size = size
        faces = self._faces(bgr)
        if not faces and self.retry is not None and self.retry.wanted(bgr):
            self.retries.tried += 1
            faces = self._faces(self.retry.normalised(bgr))
            self.retries.found += bool(faces)
        if scale < 1.0:
            faces = [f.scaled(1.0 / scale) for f in faces]
        return sorted(faces, key=lambda f: f.box[0])

    def _faces(self, bgr: np.ndarray) -> list[Face]:
        _, raw = self._net.detect(bgr)
        if raw is None:
            return []
        return [Face(tuple(float(v) for v in row[:4]), float(row[14]),  # type: ignore[arg-type]
                     row[4:14].reshape(5, 2).astype(np.float32)) for row in np.asarray(raw)]


class HaarDetector(Detector):
    """OpenCV's bundled frontal-face cascade: boxes only, no landmarks."""

    name = "haar"

    def __init__(self, cascade_path: str | os.PathLike | None = None, min_size: int = 20,
                 note: str = ""):
        path = Path(cascade_path) if cascade_path else haar_cascade_path()
        self.note = note
        self._cascade = cv2.CascadeClassifier(str(path))
        if self._cascade.empty():
            raise ModelError(f"Haar cascade could not be loaded from {path}.")
        self.min_size = min_size

    def detect(self, rgb: np.ndarray) -> list[Face]:
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        grey = cv2.equalizeHist(grey)
        boxes, _, weights = self._cascade.detectMultiScale3(
            grey, scaleFactor=1.1, minNeighbors=5, minSize=(self.min_size, self.min_size),
            outputRejectLevels=True)
        faces = [Face((float(b[0]), float(b[1]), float(b[2]), float(b[3])), float(s), None)
                 for b, s in zip(np.asarray(boxes).reshape(-1, 4), np.asarray(weights).reshape(-1))]
        return sorted(faces, key=lambda f: f.box[0])


HAAR_CASCADE_FILE = "haarcascade_frontalface_default.xml"  # build.spec ships it in cv2/data


def haar_cascade_path() -> Path:
    """OpenCV's cascade file, also inside a PyInstaller bundle (copied next to `cv2/data`)."""
    name = HAAR_CASCADE_FILE
    candidates = [paths.resource_root() / "cv2" / "data" / name]
    data = getattr(cv2, "data", None)
    if data is not None:
        candidates.insert(0, Path(data.haarcascades) / name)
    for cand in candidates:
        if cand.is_file():
            return cand
    raise ModelError("OpenCV's Haar cascade file is missing from this installation.")


HAAR_CHOSEN = "Haar chosen: more faces missed than with YuNet"


def haar_fallback_note(reason: str) -> str:
    return f"Haar fallback: more faces missed; {reason}"


def create_detector(kind: str | None = None, model_path: str | os.PathLike | None = None) -> Detector:
    """`kind` is "yunet", "haar" or None (YuNet, whose file ships with the program; Haar only as
    the last resort, with a `note` that says why)."""
    if kind not in (None, "auto", *DETECTORS):
        raise ValueError(f"unknown detector {kind!r}")
    if kind == "haar":
        return HaarDetector(note=HAAR_CHOSEN)
    found = paths.find_yunet(model_path)
    if found is not None and (found.is_file() or kind == "yunet"):
        if kind == "yunet":
            return YuNetDetector(found)
        try:
            return YuNetDetector(found)
        except ModelError as exc:  # damaged: Haar, saying so
            return HaarDetector(note=haar_fallback_note(str(exc)))
    if kind == "yunet":
        raise ModelError("YuNet model not found. Give --detector-model, set ONESHOT_YUNET, "
                         "or run `oneshot-face fetch-models`.")
    where = found if found is not None else paths.shipped_yunet()
    return HaarDetector(note=haar_fallback_note(f"YuNet file missing at {where}"))
