"""Is a face good enough to add to someone's photos? Size, blur, light, framing and pose, with the
reason why not: the one quality gate of the app.

Qt-free and model-free: it looks at the detected face (box, five landmarks) and at the aligned
crop the gallery stores. Enrolment (its warnings, `enrol`'s and the dialog's), `people add`, the
recent-faces view and its export, and anything that learns from tracks all call `assess`, so a
face is "too blurred" everywhere or nowhere; one set of limits, one list of reasons (the limits
are stated in docs/robustness.md). Enrolment from a chosen photo shows the reasons as warnings
and lets the user go on; adding from Recent faces and `people add` refuse.

Why these measures, and where the limits come from (measured on ../shared/datasets/samples and
every tenth frame of its Hamilton clip, YuNet, the 112 px stored crop):
- size: the shorter side of the detected box. Under 40 px the crop is mostly upsampled pixels
  (the pianist in the clip's wide shots is 23-24 px); the sample photos are 101-290 px.
- blur: the variance of the Laplacian of the crop's inner face (eyes to mouth), in grey, on the
  112 px crop whatever the model's input size. Sharp photos measure 300-1,800, the clip's
  close-ups 119-528, its out-of-focus and motion-blurred faces 1-50.
- pose: from the landmarks, where the nose lies between the eyes (0.5 frontal, about 0.25 for
  a half-turned head, below 0 in profile, where the nose passes the far eye) and between the
  eyes and the mouth (about 0.55 level; outside 0.25-0.8 the head is tipped up or down).
  Detectors without landmarks (Haar) get no pose verdict rather than a made-up one.
- light: the mean grey level of the inner face; under 50 (of 255) the face is mostly shadow.
- framing: a detected box that runs past the image's edge (only when the image size is known).

Light and framing only warn: they are among the reasons shown, but never refuse a face by
themselves (`ok` stays true), as before the two gates were one; size, blur and pose refuse.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from app.recognition.detection import Face

MIN_SIDE_PX = 40
MIN_SHARPNESS = 50.0
MIN_BRIGHTNESS = 50.0  # mean grey level (0-255) of the inner face
# Under this a face has no detail left between eyes and mouth, and its embedding lies near
# everybody's: it is never named, whoever it is nearest. The clip's out-of-focus audience measures
# 1-5 (one such face was called Alex once his profile was a photo of his); the smallest face the
# app names rightly in it, the 24-pixel pianist of the wide shot, measures 10; 600 LFW faces
# measured 19 and up. Chosen on the clip, not on any test people.
MIN_NAMING_SHARPNESS = 8.0
YAW_RANGE = (0.1, 0.9)     # nose position between the eyes (0 = at the right eye, 1 = at the left)
PITCH_RANGE = (0.25, 0.8)  # nose position between the eye line (0) and the mouth line (1)
# What "good" is for the 0-1 score that ranks frames: at or above these, a measure counts as full.
GOOD_SIDE_PX = 160
GOOD_SHARPNESS = 400.0
_MEASURE_SIZE = 112
_INNER = (slice(28, 100), slice(20, 92))  # eyes to mouth on the 112 px ArcFace frame


@dataclass(frozen=True)
class Quality:
    """The verdict on one face: `ok` (not refused), and the `reasons` in words fit to show
    (warnings too: a dark or cut-off face is `ok` with a reason)."""

    ok: bool
    reasons: tuple[str, ...]
    side_px: float                 # shorter side of the detected box
    sharpness: float               # variance of the Laplacian of the inner face
    yaw: float | None = None       # nose between the eyes, 0.5 frontal; None without landmarks
    pitch: float | None = None     # nose between eyes and mouth; None without landmarks
    brightness: float | None = None  # mean grey level of the inner face; None: not measured (old records)

    @property
    def reason(self) -> str:
        """One line: what is wrong with the face, or "" when nothing is."""
        return "; ".join(self.reasons)

    @property
    def score(self) -> float:
        """0-1, size times sharpness (each capped at what counts as good), halved for a poor
        pose: ranks a track's frames, and is stored with each photo."""
        s = min(self.side_px / GOOD_SIDE_PX, 1.0) * min(self.sharpness / GOOD_SHARPNESS, 1.0)
        if self.yaw is not None and not (YAW_RANGE[0] <= self.yaw <= YAW_RANGE[1]):
            s *= 0.5
        if self.pitch is not None and not (PITCH_RANGE[0] <= self.pitch <= PITCH_RANGE[1]):
            s *= 0.5
        return float(max(0.0, min(1.0, s)))

    @property
    def note(self) -> str:
        """What is stored with a photo: the reason, or "good"."""
        return self.reason or "good"


def _inner_grey(crop: np.ndarray) -> np.ndarray:
    """The inner face (eyes to mouth) of an aligned crop in grey, on the 112 px frame."""
    c = np.asarray(crop)
    grey = cv2.cvtColor(c, cv2.COLOR_RGB2GRAY) if c.ndim == 3 else c
    if grey.shape[:2] != (_MEASURE_SIZE, _MEASURE_SIZE):
        grey = cv2.resize(grey, (_MEASURE_SIZE, _MEASURE_SIZE), interpolation=cv2.INTER_AREA)
    return grey[_INNER]


def sharpness(crop: np.ndarray) -> float:
    """Variance of the Laplacian of the inner face of an aligned crop (any size, resized to 112)."""
    return _laplacian_var(_inner_grey(crop))


def _laplacian_var(inner: np.ndarray) -> float:
    return float(cv2.Laplacian(inner, cv2.CV_64F).var())


def cut_off(box: tuple[float, float, float, float] | np.ndarray, image_shape: tuple[int, ...]) -> bool:
    """Whether a detected box (x, y, w, h) runs past the edge of an image of `image_shape`."""
    x, y, w, h = (float(v) for v in box)
    height, width = image_shape[:2]
    return x < 0 or y < 0 or x + w > width or y + h > height


def pose(landmarks: np.ndarray | None) -> tuple[float | None, float | None]:
    """(yaw, pitch) ratios from YuNet's five points (see the module docstring), or (None, None)."""
    if landmarks is None:
        return None, None
    lm = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
    if lm.shape != (5, 2) or not np.all(np.isfinite(lm)):
        return None, None
    right_eye, left_eye, nose, mouth_r, mouth_l = lm
    span = left_eye[0] - right_eye[0]
    eye_y = (right_eye[1] + left_eye[1]) / 2
    drop = (mouth_r[1] + mouth_l[1]) / 2 - eye_y
    yaw = float((nose[0] - right_eye[0]) / span) if abs(span) > 1e-6 else None
    pitch = float((nose[1] - eye_y) / drop) if abs(drop) > 1e-6 else None
    return yaw, pitch


def assess(face: Face, crop: np.ndarray, image_shape: tuple[int, ...] | None = None) -> Quality:
    """The gate: `face` as detected, `crop` its aligned crop (the gallery's stored crop), and
    `image_shape` the shape of the image it was found in, when known (for "cut off")."""
    side = float(min(face.box[2], face.box[3]))
    inner = _inner_grey(crop)
    sharp = _laplacian_var(inner)
    light = float(inner.mean())
    yaw, pitch = pose(face.landmarks)
    reasons = []
    refused = False  # light and framing alone only warn (see the module docstring)
    if side < MIN_SIDE_PX:
        reasons.append(f"the face is too small ({side:.0f} px; at least {MIN_SIDE_PX} px needed)")
        refused = True
    if image_shape is not None and cut_off(face.box, image_shape):
        reasons.append("the face is cut off at the edge of the photo")
    if sharp < MIN_SHARPNESS:
        reasons.append(f"the face is blurred (sharpness {sharp:.0f}; at least {MIN_SHARPNESS:.0f} needed)")
        refused = True
    if light < MIN_BRIGHTNESS:
        reasons.append("the face is dark")
    if yaw is not None and not (YAW_RANGE[0] <= yaw <= YAW_RANGE[1]):
        reasons.append("the face is turned to the side")
        refused = True
    if pitch is not None and not (PITCH_RANGE[0] <= pitch <= PITCH_RANGE[1]):
        reasons.append("the head is tipped up or down")
        refused = True
    return Quality(not refused, tuple(reasons), side, sharp, yaw, pitch, light)
