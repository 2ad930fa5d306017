"""Reading photos the way a person sees them: upright (EXIF), 8-bit RGB, whatever the file holds.

Every failure becomes an `ImageError` naming the file and the reason, never a Pillow traceback.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import ImageError

# A face photo needs nothing near this; larger files are refused rather than decoded (bomb guard).
MAX_PIXELS = 40_000_000
MIN_SIDE = 16
# The photo files every command reads (training, evaluation, enrolment folders, `watch` on a
# folder): what Pillow opens here, one list so no command refuses a type another one takes.
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".pnm"}
)


def load_image(path: str | os.PathLike) -> np.ndarray:
    """Load `path` as an upright HxWx3 uint8 RGB array, or raise ImageError."""
    p = Path(path)
    if p.is_dir():
        raise ImageError(f"{p} is a folder, not a photo.")
    if not p.exists():
        raise ImageError(f"{p} does not exist.")
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise ImageError(f"{p} cannot be read: {exc.strerror or exc}.") from None
    if size == 0:
        raise ImageError(f"{p} is empty (0 bytes).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as img:
                w, h = img.size
                if w * h > MAX_PIXELS:
                    raise ImageError(
                        f"{p} declares an image too large to open safely ({w}x{h}, over "
                        f"{MAX_PIXELS:,} pixels); refused without decoding."
                    )
                img.load()
                return to_rgb_array(img, p)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{p} declares an image too large to open safely (over {MAX_PIXELS:,} "
                         "pixels); refused without decoding.") from None
    except UnidentifiedImageError:
        raise ImageError(f"{p} is not an image file Pillow can read.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{p} is damaged or truncated ({exc}).") from None


def to_rgb_array(img: Image.Image, name: object = "image") -> np.ndarray:
    """Convert any Pillow mode (grey, 16-bit, CMYK, palette, alpha) to upright 8-bit RGB."""
    img = ImageOps.exif_transpose(img) or img
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = arr.max()
        arr = arr / hi * 255.0 if hi > 0 else arr
        grey = np.clip(arr, 0, 255).astype(np.uint8)
        rgb = np.repeat(grey[:, :, None], 3, axis=2)
    else:
        if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = Image.alpha_composite(background, rgba)
        rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    if rgb.shape[0] < MIN_SIDE or rgb.shape[1] < MIN_SIDE:
        raise ImageError(
            f"{name} is only {rgb.shape[1]}x{rgb.shape[0]} pixels, too small to hold a face."
        )
    return np.ascontiguousarray(rgb)
