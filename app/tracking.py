"""Steady labels for the live view: faces are tracked between analysed frames and each track
shows the majority of its last few names, so a label does not flicker.

Qt-free and engine-free: it takes boxes and names, so it is unit-tested with hand-made boxes.
Tracks are matched greedily by intersection over union (highest IoU first); a track that is not
seen for `max_missed` analysed frames in a row expires.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

UNKNOWN = "Unknown"

Box = tuple[float, float, float, float]  # x, y, w, h


def iou(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def majority(names: list[str] | tuple[str, ...] | deque) -> str:
    """The most frequent name; a tie goes to the most recent of the tied names.

    "Unknown" takes part like any name, so it wins only when it is (or ties as the most recent)
    majority; one stray Unknown never hides a steady name.
    """
    names = list(names)
    if not names:
        return UNKNOWN
    counts = Counter(names)
    best = max(counts.values())
    tied = {n for n, c in counts.items() if c == best}
    if len(tied) > 1 and UNKNOWN in tied:
        tied.discard(UNKNOWN)  # "Unknown" only wins as a strict majority
    for name in reversed(names):
        if name in tied:
            return name
    return names[-1]  # pragma: no cover - unreachable


@dataclass
class Track:
    id: int
    box: Box
    names: deque = field(default_factory=lambda: deque(maxlen=5))
    missed: int = 0
    distance: float = float("nan")
    age: int = 0

    @property
    def label(self) -> str:
        return majority(self.names)

    @property
    def known(self) -> bool:
        return self.label != UNKNOWN


@dataclass(frozen=True)
class Labelled:
    """One face of the current frame with its steadied label."""

    track_id: int
    box: Box
    name: str          # the steadied name shown
    raw_name: str      # what this frame alone said
    distance: float    # this frame's distance to its nearest gallery match
    known: bool


class Tracker:
    def __init__(self, history: int = 5, max_missed: int = 3, min_iou: float = 0.3):
        self.history = history
        self.max_missed = max_missed
        self.min_iou = min_iou
        self.tracks: list[Track] = []
        self._next_id = 1

    def reset(self) -> None:
        self.tracks.clear()

    def update(self, detections: list[tuple[Box, str, float]]) -> list[Labelled]:
        """Feed one analysed frame's (box, name, distance) list; returns labels in input order."""
        pairs = sorted(((iou(t.box, d[0]), ti, di) for ti, t in enumerate(self.tracks)
                        for di, d in enumerate(detections)), reverse=True)
        used_t: set[int] = set()
        assigned: dict[int, Track] = {}
        for score, ti, di in pairs:
            if score < self.min_iou:
                break
            if ti in used_t or di in assigned:
                continue
            used_t.add(ti)
            assigned[di] = self.tracks[ti]
        for ti, t in enumerate(self.tracks):
            if ti not in used_t:
                t.missed += 1
        survivors = [t for t in self.tracks if t.missed <= self.max_missed]
        out: list[Labelled] = []
        for di, (box, name, distance) in enumerate(detections):
            t = assigned.get(di)
            if t is None:
                t = Track(self._next_id, tuple(box), deque(maxlen=self.history))
                self._next_id += 1
                survivors.append(t)
            t.box = tuple(box)
            t.missed = 0
            t.age += 1
            t.distance = distance
            t.names.append(name)
            label = t.label
            out.append(Labelled(t.id, t.box, label, name, distance, label != UNKNOWN))
        self.tracks = survivors
        return out


class SceneCutDetector:
    """Says when consecutive analysed frames belong to different shots (a cut in a video, a
    camera switch), so tracks do not carry one person's name onto whoever stands at the same
    place in the next shot. Compares small grey thumbnails: mean absolute difference on a
    0-255 scale; within a shot it stays well under `threshold` (camera motion ≈ 3-12), at a cut
    it jumps (≈ 28-30 in the Hamilton sample clip)."""

    def __init__(self, threshold: float = 20.0, size: tuple[int, int] = (64, 36)):
        self.threshold = threshold
        self.size = size
        self._prev = None

    def reset(self) -> None:
        self._prev = None

    def __call__(self, rgb) -> bool:
        import cv2
        import numpy as np

        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
        small = cv2.resize(grey, self.size, interpolation=cv2.INTER_AREA).astype(np.float32)
        prev, self._prev = self._prev, small
        return prev is not None and float(np.abs(small - prev).mean()) > self.threshold
