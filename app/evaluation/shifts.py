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


def sidelight(c: np.ndarray, strength: float = 1.0, span: tuple[float, float] = (0.0, 1.0),
              from_left: bool = False, even: bool = False) -> np.ndarray:
    """The side light at `strength` times the open-set camera's (0: untouched, 1: `--shift
    sidelight`): the gain ramp runs across `span` (shares of the width, constant beyond it, so a
    face in the middle of a larger photo gets the whole ramp), bright on the right unless
    `from_left`. `even` lights the whole image as the ramp's dark end: the same lamp turned down."""
    w = c.shape[1]
    lo, hi = (1 + strength * (SIDELIGHT[0] - 1), 1 + strength * (SIDELIGHT[1] - 1))
    x0, x1 = round(span[0] * w), round(span[1] * w)
    if even:
        ramp = np.full(w, lo, dtype=np.float32)
    else:
        ramp = np.concatenate([np.full(x0, lo, dtype=np.float32), np.linspace(lo, hi, x1 - x0, dtype=np.float32),
                               np.full(w - x1, hi, dtype=np.float32)])
    if from_left:
        ramp = ramp[::-1]
    x = np.clip(c.astype(np.float32) / 255.0 * ramp[None, :, None], 0, 1) ** (1 + strength * (SIDELIGHT_GAMMA - 1))
    return (x * 255 + 0.5).astype(np.uint8)


def _sidelight(c: np.ndarray) -> np.ndarray:
    return sidelight(c)


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
