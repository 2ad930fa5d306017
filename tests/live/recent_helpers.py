"""What the tests of Recent faces share (tests/live/test_recent.py, test_recent_actions.py): hand-made
unit vectors and crops, a clock the test sets, an engine with a known embedding per crop, and
`feed` (one track of a few frames)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from app.live.recent import RecentFaces
from app.recognition.alignment import TEMPLATE_112
from app.recognition.detection import Face
from app.recognition.matching import UNKNOWN, Match
from app.store.gallery import Gallery

V = "enc-test"


class Clock:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def unit(seed: int, dim: int = 16) -> np.ndarray:
    e = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return e / np.linalg.norm(e)


def near(e: np.ndarray, seed: int, by: float) -> np.ndarray:
    """A unit vector `by` off `e` sideways: L2 distance 0.29 for 0.3, 0.81 for 1.1."""
    d = np.random.default_rng(900 + seed).standard_normal(len(e)).astype(np.float32)
    d -= d.dot(e) * e
    v = e + by * d / np.linalg.norm(d)
    return (v / np.linalg.norm(v)).astype(np.float32)


def sharp_crop(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (112, 112, 3), dtype=np.uint8)


BLURRED = np.full((112, 112, 3), 128, np.uint8)


def face(side: float = 100.0, landmarks: np.ndarray | None = None) -> Face:
    lm = TEMPLATE_112 * side / 112 if landmarks is None else landmarks
    return Face((0.0, 0.0, side, side), 0.9, lm)


class FakeEngine:
    """What the actions use of an Engine: its gallery, its model version, and enrolment
    embedding of stored crops (here: a fixed vector per crop, so a test knows it)."""

    def __init__(self, gallery: Gallery, embed=None):
        self.gallery = gallery
        self.encoder = SimpleNamespace(version=V, scorer=None)
        self._embed = embed or (lambda c: unit(int(c.sum()) % 10_000))

    def embed_stored_crops(self, crops: np.ndarray) -> np.ndarray:
        return np.stack([self._embed(c) for c in crops])

    def pair_threshold(self, n: int = 1) -> float:
        return 0.5

    def identify(self, embeddings: np.ndarray) -> list[Match]:
        return self.gallery.matcher(V).match(embeddings, 0.5)


def feed(rf: RecentFaces, track: int, e: np.ndarray, frames: int = 3, name: str = UNKNOWN, t0: float = 0.0,
         crop_seed: int | None = None, crop=None, side: float = 100.0, distance: float = 0.9,
         nearest: str | None = None, person_id: int | None = None) -> str:
    key = None
    for i in range(frames):
        c = crop if crop is not None else sharp_crop(track * 100 + i if crop_seed is None else crop_seed)
        key = rf.observe(track, face(side), c, near(e, track * 10 + i, 0.05), name, distance, nearest, V,
                         when=t0 + 0.1 * i, frame_index=i, person_id=person_id)
    return key
