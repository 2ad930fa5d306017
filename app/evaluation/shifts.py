"""Another camera, rendered: LFW's aligned face crops turned grey, low-resolution, blurred, lit
from one side or heavily JPEG-compressed, so that the open-set adaptation is tested on domains
it was not chosen on.

Why on the aligned crops and not the photos: the crops are cached after detection, so every
shift reuses one detection pass, and the question asked is the encoder's and τ's, not the
detector's. It is kinder than a real camera (detection and alignment still see the clean photo),
so the figures are an upper bound of what the same camera would give end to end.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

# Parameters fixed from the description of each camera, before any DevTest figure.
LOWRES_SIDE = 40          # faces scaled to ~40 px and back
BLUR_SIGMA = 2.5          # Gaussian blur, px of the crop
SIDELIGHT = (0.25, 1.35)  # brightness ramp from one side to the other ...
SIDELIGHT_GAMMA = 1.6     # ... then a gamma that deepens the dark side
JPEG_QUALITY = 8


def _grey(c: np.ndarray) -> np.ndarray:
    g = c.astype(np.float32).mean(axis=2, keepdims=True)
    return np.repeat(np.clip(g + 0.5, 0, 255).astype(np.uint8), 3, axis=2)


def _lowres(c: np.ndarray) -> np.ndarray:
    h, w = c.shape[:2]
    small = cv2.resize(c, (LOWRES_SIDE, max(1, round(LOWRES_SIDE * h / w))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _blur(c: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(c, (0, 0), BLUR_SIGMA)


def _sidelight(c: np.ndarray) -> np.ndarray:
    w = c.shape[1]
    ramp = np.linspace(SIDELIGHT[0], SIDELIGHT[1], w, dtype=np.float32)[None, :, None]
    x = np.clip(c.astype(np.float32) / 255.0 * ramp, 0, 1) ** SIDELIGHT_GAMMA
    return (x * 255 + 0.5).astype(np.uint8)


def _jpeg(c: np.ndarray) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(c), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("JPEG encoding failed")
    out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if out is None:
        raise ValueError("JPEG decoding failed")
    return np.asarray(out, dtype=np.uint8).reshape(c.shape)


SHIFTS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "grey": _grey, "lowres": _lowres, "blur": _blur, "sidelight": _sidelight, "jpeg": _jpeg}


def render(crops: np.ndarray, shift: str) -> np.ndarray:
    """(N, S, S, 3) uint8 crops as the named camera would give them."""
    if shift not in SHIFTS:
        raise ValueError(f"unknown shift {shift!r}; choose one of {', '.join(SHIFTS)}")
    fn = SHIFTS[shift]
    return np.stack([fn(c) for c in crops]) if len(crops) else crops
