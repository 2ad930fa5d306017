"""What the gallery stores and hands out: people, photos (samples) and backups' raw copies as
frozen dataclasses, and the checks and encodings a name, crop or embedding passes before it is
stored (names validated, crops as lossless PNG, embeddings as little-endian float32).

Its own module because the service, the live engine and backups pass these values around without
touching the database (app.store.database) or the gallery's operations (app.store.gallery).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

import cv2
import numpy as np

from app.errors import GalleryError
from app.recognition.matching import UNKNOWN

MAX_NAME_LENGTH = 100


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    sample_count: int
    created: float


@dataclass(frozen=True)
class DeletedPerson:
    """Someone deleted with undo: restorable with `undo_delete` until `purge_at`."""
    id: int
    name: str
    sample_count: int
    deleted: float
    purge_at: float


@dataclass(frozen=True, eq=False)  # eq=False: comparing ndarray fields has no single truth value
class Sample:
    id: int
    person_id: int
    crop: np.ndarray        # HxWx3 uint8 RGB
    embedding: np.ndarray   # (D,) float32
    model_version: str
    source: str | None      # where it came from: a file name, "recent faces", ...
    created: float = 0.0    # when it was added (seconds since the epoch)
    quality: float | None = None       # 0-1 (app.recognition.quality); None: added before it was measured
    quality_note: str | None = None    # "good" or why not
    is_main: bool = False   # the person's chosen main photo (their thumbnail)


@dataclass(frozen=True, eq=False)
class NewSample:
    """A photo to add (`Gallery.add_samples`): the aligned crop to store and its embedding."""
    crop: np.ndarray
    embedding: np.ndarray
    model_version: str
    source: str | None = None
    quality: float | None = None
    quality_note: str | None = None


@dataclass(frozen=True)
class RawSample:
    """A sample exactly as stored (PNG bytes, little-endian float32 bytes): backups copy these
    without decoding or re-encoding anything."""
    png: bytes
    embedding: bytes
    model_version: str
    source: str | None
    created: float
    quality: float | None = None
    quality_note: str | None = None
    is_main: bool = False


@dataclass(frozen=True)
class RawPerson:
    name: str
    created: float
    samples: tuple[RawSample, ...]


@dataclass(frozen=True)
class RestoreReport:
    people_added: tuple[str, ...]
    people_merged: tuple[str, ...]
    samples_added: int
    samples_skipped: int  # already there (same crop): restoring a backup twice adds nothing


def validate_name(name: str) -> str:
    """The name as it will be stored: surrounding whitespace stripped, otherwise verbatim.
    Refuses what would confuse people or break one-line output: empty, over 100 characters,
    control characters (tabs, newlines), and the label "Unknown" used for strangers."""
    if not isinstance(name, str):
        raise GalleryError("A name must be text.")
    clean = name.strip()
    if not clean:
        raise GalleryError("Please enter a name.")
    if len(clean) > MAX_NAME_LENGTH:
        raise GalleryError(f"A name can be at most {MAX_NAME_LENGTH} characters long "
                           f"(this one has {len(clean)}).")
    if any(unicodedata.category(ch) == "Cc" for ch in clean):
        raise GalleryError("A name cannot contain tabs, line breaks or other control characters.")
    if name_key(clean) == name_key(UNKNOWN):
        raise GalleryError(f'"{UNKNOWN}" is what the app shows for strangers; please choose another name.')
    return clean


def name_key(name: str) -> str:
    """Comparison key for "is this name taken": case- and normalisation-insensitive, so "Ann"
    and "ann" (or composed/decomposed accents) cannot become two different people."""
    return unicodedata.normalize("NFC", name).casefold()


def check_crop(crop: np.ndarray) -> np.ndarray:
    c = np.asarray(crop)
    if c.ndim != 3 or c.shape[2] != 3 or c.dtype != np.uint8 or c.shape[0] == 0 or c.shape[1] == 0:
        raise ValueError(f"crop must be an HxWx3 uint8 RGB image, got {c.shape} {c.dtype}")
    return np.ascontiguousarray(c)


def check_embedding(embedding: np.ndarray) -> np.ndarray:
    e = np.asarray(embedding, dtype=np.float32)
    if e.ndim == 2 and e.shape[0] == 1:
        e = e[0]
    if e.ndim != 1 or e.size == 0:
        raise ValueError(f"embedding must be a 1-D vector, got shape {e.shape}")
    if not np.all(np.isfinite(e)):
        raise ValueError("embedding contains NaN or infinity")
    return np.ascontiguousarray(e)


def check_model_version(model_version: str) -> str:
    if not isinstance(model_version, str) or not model_version:
        raise ValueError("model_version must be a non-empty string")
    return model_version


def encode_crop(crop: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ValueError("could not encode the face crop as PNG")
    return buf.tobytes()


def decode_crop(blob: bytes) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(blob, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise GalleryError("A face crop stored in the gallery cannot be read; the gallery may be damaged.")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def embedding_bytes(e: np.ndarray) -> bytes:
    return e.astype("<f4", copy=False).tobytes()


def embedding_array(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4").astype(np.float32)

