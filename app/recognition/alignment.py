"""Alignment: map a detected face onto one canonical crop, so the encoder sees faces posed alike.

With landmarks (YuNet) the five points are fitted to ArcFace's 112x112 template by a least-squares
similarity transform (Umeyama). With a box only (Haar) the landmarks are estimated from the box by
a prior measured on LFW (median YuNet landmarks inside matched Haar boxes, 497 faces), so both
detectors produce crops of the same geometry. Training, enrolment and live frames all go through
`align`.
"""

from __future__ import annotations

import cv2
import numpy as np

from app.recognition.detection import Face

# ArcFace / InsightFace reference points for a 112x112 crop.
TEMPLATE_112 = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)

# Landmarks as fractions of a Haar box (x, y): see the module docstring for how they were measured.
HAAR_LANDMARK_PRIOR = np.array(
    [[0.314, 0.389], [0.694, 0.386], [0.510, 0.602], [0.352, 0.768], [0.674, 0.764]], dtype=np.float64
)


# Which square of the ArcFace frame a crop shows: (x0, y0, side) as fractions of the 112x112
# frame. The full frame is the default; a model may zoom in (its card's `arch["crop_box"]`) to
# spend its pixels on the face rather than on background, and any box inside the frame can be
# cut exactly from the 112 px crops the gallery stores.
FULL_BOX: tuple[float, float, float] = (0.0, 0.0, 1.0)


def checked_box(values) -> tuple[float, float, float]:
    """(x0, y0, side) as floats, or ValueError unless it is a square inside the frame (only
    such a box can be cut from the stored full-frame crops)."""
    try:
        x0, y0, side = (float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"a crop box is three numbers X0,Y0,SIDE, not {values!r}") from None
    if not (side > 0 and x0 >= 0 and y0 >= 0 and x0 + side <= 1 + 1e-9 and y0 + side <= 1 + 1e-9):
        raise ValueError(f"crop box {x0:g},{y0:g},{side:g} is not a square inside the frame "
                         "(X0, Y0 >= 0, SIDE > 0, X0+SIDE <= 1 and Y0+SIDE <= 1)")
    return x0, y0, side


def template(size: int, box: tuple[float, float, float] = FULL_BOX) -> np.ndarray:
    x0, y0, side = box
    return (TEMPLATE_112 / 112.0 - [x0, y0]) * (size / side)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 matrix of the similarity (rotation, uniform scale, translation) taking src to dst
    in the least-squares sense (Umeyama 1991, no reflection)."""
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s0, d0 = src - mu_s, dst - mu_d
    cov = d0.T @ s0 / len(src)
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rot = u @ np.diag(d) @ vt
    var_s = (s0 ** 2).sum() / len(src)
    scale = (sig * d).sum() / var_s if var_s > 0 else 1.0
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def face_landmarks(face: Face) -> np.ndarray:
    """The face's own landmarks, or the Haar prior placed in its box."""
    if face.landmarks is not None:
        return np.asarray(face.landmarks, dtype=np.float64)
    x, y, w, h = face.box
    return HAAR_LANDMARK_PRIOR * [w, h] + [x, y]


def align(rgb: np.ndarray, face: Face, size: int = 64, box: tuple[float, float, float] = FULL_BOX) -> np.ndarray:
    """The canonical size x size RGB crop of `face` (edge pixels replicated outside the image)."""
    m = similarity_transform(face_landmarks(face), template(size, box))
    return cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def align_many(rgb: np.ndarray, faces: list[Face], size: int = 64,
               box: tuple[float, float, float] = FULL_BOX) -> np.ndarray:
    """Stack of crops, N x size x size x 3 uint8."""
    if not faces:
        return np.zeros((0, size, size, 3), np.uint8)
    return np.stack([align(rgb, f, size, box) for f in faces])


def recrop(crops: np.ndarray, size: int, box: tuple[float, float, float] = FULL_BOX) -> np.ndarray:
    """Full-frame crops (any size, e.g. the gallery's stored 112 px ones) → `box` at `size`:
    what `align` would give, up to resampling, without the original photo."""
    if len(crops) == 0:
        return np.zeros((0, size, size, 3), np.uint8)
    src = crops.shape[1]
    if tuple(box) == FULL_BOX:
        if src == size:
            return crops
        return np.stack([cv2.resize(c, (size, size), interpolation=cv2.INTER_AREA) for c in crops])
    x0, y0, side = box
    k = size / (side * src)
    m = np.array([[k, 0.0, -x0 * src * k], [0.0, k, -y0 * src * k]])
    return np.stack([cv2.warpAffine(c, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                     for c in crops])
