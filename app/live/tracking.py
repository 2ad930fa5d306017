"""Steady labels for the live view: faces are tracked between analysed frames; each track's
recent embeddings are pooled into one template that is matched against the gallery, and the track
shows the majority of its last few names, so a label neither flickers nor hangs on one bad frame.

Why pool: one video frame is a noisy view of a face (blur, expression, a half-turned head), and a
one-shot gallery has a single photo to compare it with. The mean of a track's unit embeddings
(re-normalised) averages that noise out, as video face recognition does with a track's frames
("template pooling", the baseline of the IJB benchmarks). The window is `pool` analysed frames
(30: about a second of a 30 fps camera), so a track also forgets an old view within a second.

Qt-free and engine-free: it takes boxes, names and embeddings, and a function that names pooled
embeddings, so it is unit-tested with hand-made boxes and vectors. Tracks are matched greedily by
intersection over union (highest IoU first); a track not seen for `max_missed` analysed frames in
a row expires. A scene cut (`SceneCutDetector`) should reset the tracker, so no template carries
one person's frames onto whoever stands at the same place in the next shot.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from app.recognition.matching import UNKNOWN

Box = tuple[float, float, float, float]  # x, y, w, h
# Names (name or "Unknown", distance[, nearest person]) for each row of an (M, D) array of unit
# embeddings; the third item, when given, is who was nearest even if the face stays unknown.
Identify = Callable[[np.ndarray], Sequence[tuple]]


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
    embeddings: deque = field(default_factory=lambda: deque(maxlen=30))
    pooled_name: str = UNKNOWN  # what the template was last matched to

    def template(self) -> np.ndarray:
        """The re-normalised mean of the track's recent embeddings."""
        mean = np.mean(np.stack(self.embeddings), axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-12)

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
    distance: float    # distance of the track's template (or, without embeddings, this frame) to its match
    known: bool
    raw_distance: float = float("nan")  # this frame alone's distance to its nearest match
    nearest: str | None = None          # who the track's template is nearest to (also when Unknown)


class Tracker:
    def __init__(self, history: int = 5, max_missed: int = 3, min_iou: float = 0.3, pool: int = 30,
                 min_frames: int = 2):
        """`min_frames`: a track is named only once its template pools this many analysed frames
        (one frame alone is too little evidence to name someone in an open set)."""
        self.history = history
        self.min_frames = min_frames
        self.pool = pool
        self.max_missed = max_missed
        self.min_iou = min_iou
        self.tracks: list[Track] = []
        self._next_id = 1

    def reset(self) -> None:
        self.tracks.clear()

    def update(self, detections: list[tuple], identify: Identify | None = None) -> list[Labelled]:
        """Feed one analysed frame; returns labels in input order.

        Each detection is (box, name, distance) as this frame alone matched it, optionally with
        the face's unit embedding (or None) as a fourth item and who it is nearest as a fifth.
        With embeddings and `identify`, a track's name comes from matching its pooled template;
        otherwise from this frame's name.
        """
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
        for ti, old in enumerate(self.tracks):
            if ti not in used_t:
                old.missed += 1
        survivors = [t for t in self.tracks if t.missed <= self.max_missed]
        current: list[Track] = []
        for di, (box, *_rest) in enumerate(detections):
            t = assigned.get(di)
            if t is None:
                t = Track(self._next_id, tuple(box), deque(maxlen=self.history),
                          embeddings=deque(maxlen=self.pool))
                self._next_id += 1
                survivors.append(t)
            t.box = tuple(box)
            t.missed = 0
            t.age += 1
            current.append(t)
        decided = self._decide(detections, current, identify)
        out: list[Labelled] = []
        for t, (box, raw_name, raw_distance, *_), (name, distance, nearest) in zip(current, detections, decided):
            t.distance = distance
            t.names.append(name)
            label = t.label
            out.append(Labelled(t.id, t.box, label, raw_name, distance, label != UNKNOWN, raw_distance,
                                nearest))
        self.tracks = survivors
        return out

    def _decide(self, detections: list[tuple], tracks: list[Track],
                identify: Identify | None) -> list[tuple[str, float, str | None]]:
        """(name, distance, nearest) per detection: its track's template matched, or the frame's
        own; a track with fewer than `min_frames` pooled frames stays Unknown for now."""
        own: list[tuple[str, float, str | None]] = [
            (d[1], float(d[2]), d[4] if len(d) > 4 and d[4] is not None else d[1] if d[1] != UNKNOWN else None)
            for d in detections]
        pooled = [i for i, d in enumerate(detections) if len(d) > 3 and d[3] is not None]
        if identify is None or not pooled:
            return own
        for i in pooled:
            t, raw = tracks[i], detections[i][1]
            if raw != UNKNOWN and t.pooled_name not in (UNKNOWN, raw):
                # This frame alone is sure it is someone else than the track's template says: the
                # track has jumped to another person (two faces crossed), so start again from here.
                t.embeddings.clear()
                t.names.clear()
            t.embeddings.append(np.asarray(detections[i][3], dtype=np.float32))
        answers = identify(np.stack([tracks[i].template() for i in pooled]))
        for i, (name, distance, *rest) in zip(pooled, answers):
            nearest = rest[0] if rest else (name if name != UNKNOWN else None)
            tracks[i].pooled_name = name
            if name != UNKNOWN and len(tracks[i].embeddings) < self.min_frames:
                name = UNKNOWN  # not enough evidence yet
            own[i] = (name, float(distance), nearest)
        return own


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


class LiveLabeller:
    """What the app's live view and `oneshot-face watch` show for each analysed frame, so both
    say the same: a scene cut resets the tracks, then each face is named by its track's pooled
    template (`identify`, usually `Engine.identify`) and steadied by the track's majority."""

    def __init__(self, identify: Identify, tracker: Tracker | None = None,
                 scene_cut: SceneCutDetector | None = None, recent=None):
        """`recent`: a `recent.RecentFaces` (or anything with its `observe_frame`) that is fed
        every analysed frame's tracks, for the recent-faces view and `watch --keep-unknown`."""
        self.identify = identify
        self.tracker = tracker or Tracker()
        self.scene_cut = scene_cut or SceneCutDetector()
        self.recent = recent
        self._model: str | None = None

    def reset(self) -> None:
        """Forget every track (e.g. τ changed, so old names no longer hold)."""
        self.tracker.reset()

    def new_shot(self, rgb: np.ndarray, model: str | None) -> bool:
        """Whether this frame starts a new shot or comes from another model; if so every track
        is forgotten, so nobody carries a name over from the last. Called once per frame (the
        scene-cut check compares with the frame before), by `__call__` unless told it was."""
        if self.scene_cut(rgb) or model != self._model:
            self.tracker.reset()
            self._model = model
            return True
        return False

    def __call__(self, rgb: np.ndarray, recognitions: Sequence, model: str | None = None,
                 when: float | None = None, frame_index: int | None = None,
                 cut_checked: bool = False) -> list[Labelled]:
        """`recognitions`: the frame's `pipeline.Recognition`s (face, match, embedding); `model`:
        the encoder's version, since embeddings of two models must not be pooled together;
        `when`, `frame_index`: passed on to `recent` (default: now, unknown)."""
        if not cut_checked:
            self.new_shot(rgb, model)
        labels = self.tracker.update([(r.face.box, r.match.name, float(r.match.distance), r.embedding,
                                       getattr(r.match, "nearest", None))
                                      for r in recognitions], self.identify)
        if self.recent is not None:
            self.recent.observe_frame(rgb, recognitions, labels, model, when=when, frame_index=frame_index,
                                      stream=id(self.tracker))
        return labels
