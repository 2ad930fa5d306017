"""Steady labels for the live view: faces are tracked between analysed frames; each track's
recent embeddings are pooled into one template that is matched against the gallery, and the track
shows the majority of its last few answers, so a label neither flickers nor hangs on one bad frame.

Who a track is, is the gallery's person id (`Match.person_id`; None: Unknown), never the display
name: the vote, "is this frame sure of someone else" and the live path's "settled" check compare
ids, and the name is looked up for display only (the latest answer's name for that id). So a
person renamed while their track is live keeps the track, shown under the new name from the next
answer on, and two people who share a name (one renamed to the other's old name) are never
counted as one.

Why pool: one video frame is a noisy view of a face (blur, expression, a half-turned head), and a
one-shot gallery has a single photo to compare it with. The mean of a track's unit embeddings
(re-normalised) averages that noise out, as video face recognition does with a track's frames
("template pooling", the baseline of the IJB benchmarks). The window is `pool` analysed frames
(30: about a second of a 30 fps camera), so a track also forgets an old view within a second.

Qt-free and engine-free: it takes boxes, matches and embeddings (`Detection`), and a function that
matches pooled embeddings, so it is unit-tested with hand-made boxes and vectors. Tracks are matched greedily by
intersection over union (highest IoU first); a track not seen for `max_missed` analysed frames in
a row expires. A scene cut (`SceneCutDetector`) should reset the tracker, so no template carries
one person's frames onto whoever stands at the same place in the next shot.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Callable, Sequence, TypeVar

import numpy as np

from app.recognition.matching import UNKNOWN, Match

Box = tuple[float, float, float, float]  # x, y, w, h
# Who each row of an (M, D) array of unit embeddings is, as `Matcher.match` answers: the person's
# id (None: Unknown) and name, the distance, and who was nearest even if the face stays unknown
# (`Engine.identify`).
Identify = Callable[[np.ndarray], Sequence[Match]]
K = TypeVar("K", bound=Hashable)
# A track may be named from its MIN_FRAMES-th analysed frame on; its template pools the last POOL.
MIN_FRAMES, POOL = 2, 30
# Analysed frames a face too blurred or dark to judge repeats its track's last judged answer
# (about a second live): long enough for a quick turn or a lamp dimmed, short enough that a name
# nobody can check does not stay on a face for good.
HOLD_UNJUDGED = 30


def iou(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


def vote(votes: Iterable[K], unknown: K) -> K:
    """The most frequent vote; a tie goes to the most recent of the tied votes.

    `unknown` (None for person ids) takes part like any vote, so it wins only when it is (or ties
    as the most recent) majority; one stray Unknown never hides a steady answer.
    """
    seq = list(votes)
    if not seq:
        return unknown
    counts = Counter(seq)
    best = max(counts.values())
    tied = {v for v, c in counts.items() if c == best}
    if len(tied) > 1 and unknown in tied:
        tied.discard(unknown)  # Unknown only wins as a strict majority
    for v in reversed(seq):
        if v in tied:
            return v
    return seq[-1]  # pragma: no cover - unreachable


def majority(names: Iterable[str]) -> str:
    """`vote` over names, "Unknown" as the unknown answer."""
    return vote(names, UNKNOWN)


@dataclass(frozen=True, eq=False)
class Detection:
    """One face of an analysed frame as the frame alone matched it."""

    box: Box
    match: Match                          # this frame alone's answer (person id, name, distance, nearest)
    embedding: np.ndarray | None = None   # its unit embedding; None: not embedded this frame
    sure: bool = False                    # this frame alone is far under τ from `match`'s person
    judged: bool = True                   # False: too blurred or dark to say anything; no vote


@dataclass
class Track:
    id: int
    box: Box
    votes: deque[int | None] = field(default_factory=lambda: deque(maxlen=5))  # person id per recent frame (None: Unknown)
    missed: int = 0
    distance: float = float("nan")
    age: int = 0
    embeddings: deque[np.ndarray] = field(default_factory=lambda: deque(maxlen=30))
    pooled_id: int | None = None  # who the template was last matched to (None: Unknown)
    names: dict[int, str] = field(default_factory=dict)  # each voted person's name, as last answered
    judged: int | None = None     # the last vote of a frame seen well enough to judge
    unjudged: int = 0             # frames since that one

    def template(self) -> np.ndarray:
        """The re-normalised mean of the track's recent embeddings."""
        mean = np.mean(np.stack(self.embeddings), axis=0)
        return mean / max(float(np.linalg.norm(mean)), 1e-12)

    @property
    def person_id(self) -> int | None:
        """Who the track is: the majority of its recent votes (None: Unknown)."""
        return vote(self.votes, None)

    @property
    def label(self) -> str:
        """The name to show for `person_id` (display only)."""
        pid = self.person_id
        return UNKNOWN if pid is None else self.names.get(pid, UNKNOWN)

    @property
    def known(self) -> bool:
        return self.person_id is not None


@dataclass(frozen=True)
class Labelled:
    """One face of the current frame with its steadied label."""

    track_id: int
    box: Box
    name: str          # the steadied person's name as shown (display only: `person_id` is who it is)
    raw_name: str      # what this frame alone said
    distance: float    # distance of the track's template (or, without embeddings, this frame) to its match
    known: bool
    raw_distance: float = float("nan")  # this frame alone's distance to its nearest match
    nearest: str | None = None          # who the track's template is nearest to (also when Unknown)
    person_id: int | None = None        # the steadied person's gallery id (None: Unknown)


class Tracker:
    def __init__(self, history: int = 5, max_missed: int = 3, min_iou: float = 0.3, pool: int = POOL,
                 min_frames: int = MIN_FRAMES):
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

    def update(self, detections: Sequence[Detection], identify: Identify | None = None) -> list[Labelled]:
        """Feed one analysed frame; returns labels in input order.

        With embeddings and `identify`, a track's answer comes from matching its pooled template;
        otherwise from this frame's own match.
        """
        pairs = sorted(((iou(t.box, d.box), ti, di) for ti, t in enumerate(self.tracks)
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
        for di, d in enumerate(detections):
            x, y, w, h = d.box
            box: Box = (x, y, w, h)  # a tuple, whatever sequence it came as
            t = assigned.get(di)
            if t is None:
                t = Track(self._next_id, box, deque(maxlen=self.history), embeddings=deque(maxlen=self.pool))
                self._next_id += 1
                survivors.append(t)
            t.box = box
            t.missed = 0
            t.age += 1
            current.append(t)
        decided = self._decide(detections, current, identify)
        out: list[Labelled] = []
        for t, d, (pid, name, distance, nearest) in zip(current, detections, decided):
            if d.judged:
                t.distance = distance
                t.votes.append(pid)
                if d.embedding is not None or identify is None:  # not a settled face carried over
                    t.judged, t.unjudged = pid, 0
                if pid is not None:
                    t.names[pid] = name  # a rename shows from this answer on
            else:
                # A face the app cannot see well enough to judge (blurred by a quick turn, dimmed
                # by a lamp going out) is neither the person nor a stranger: it repeats the last
                # frame that was seen (Unknown when none was), for a while; a face that stays
                # unseen longer says Unknown, as before.
                distance = t.distance
                t.unjudged += 1
                t.votes.append(t.judged if t.unjudged <= HOLD_UNJUDGED else None)
            who = t.person_id
            out.append(Labelled(t.id, t.box, t.label, d.match.name, distance, who is not None,
                                float(d.match.distance), nearest, who))
        self.tracks = survivors
        return out

    def _decide(self, detections: Sequence[Detection], tracks: list[Track],
                identify: Identify | None) -> list[tuple[int | None, str, float, str | None]]:
        """(person id, name, distance, nearest) per detection: its track's template matched, or
        the frame's own; a track with fewer than `min_frames` pooled frames stays Unknown for now."""
        own = [_answer(d.match) for d in detections]
        pooled = [i for i, d in enumerate(detections) if d.embedding is not None]
        if identify is None or not pooled:
            return own
        for i in pooled:
            t, raw = tracks[i], detections[i].match.person_id
            if raw is not None and t.pooled_id not in (None, raw):
                # This frame alone is sure it is someone else than the track's template says: the
                # track has jumped to another person (two faces crossed), so start again from here.
                t.embeddings.clear()
                t.votes.clear()
            t.embeddings.append(np.asarray(detections[i].embedding, dtype=np.float32))
        answers = list(identify(np.stack([tracks[i].template() for i in pooled])))
        # Far under τ on its own while the template, this frame pooled in, still says Unknown (as
        # it did before): the template pooled other views of the face (a head turning towards the
        # camera, light that changed), which say nothing about this one, so it starts again from
        # this view. It is named only once `min_frames` frames pool under τ for tracks, as any track.
        restart = [k for k, i in enumerate(pooled)
                   if detections[i].sure and detections[i].match.person_id is not None
                   and tracks[i].pooled_id is None and answers[k].person_id is None
                   and len(tracks[i].embeddings) > 1]
        if restart:
            for k in restart:
                emb = tracks[pooled[k]].embeddings
                last = emb[-1]
                emb.clear()
                emb.append(last)
            for k, m in zip(restart, identify(np.stack([tracks[pooled[k]].template() for k in restart]))):
                answers[k] = m
        for i, m in zip(pooled, answers):
            pid, name, distance, nearest = _answer(m)
            tracks[i].pooled_id = pid
            if pid is not None and len(tracks[i].embeddings) < self.min_frames:
                pid, name = None, UNKNOWN  # not enough evidence yet
            own[i] = (pid, name, distance, nearest)
        return own


def _answer(m: Match) -> tuple[int | None, str, float, str | None]:
    """(person id, name, distance, nearest) of a match; who is nearest is the person named when
    the match does not say."""
    pid = None if m.person_id is None else int(m.person_id)
    name = m.name if pid is not None else UNKNOWN
    nearest = m.nearest if m.nearest is not None else (name if pid is not None else None)
    return pid, name, float(m.distance), nearest


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
    template (`identify`, usually `Engine.identify`) and steadied by the track's majority vote
    of person ids."""

    def __init__(self, identify: Identify, tracker: Tracker | None = None,
                 scene_cut: SceneCutDetector | None = None, recent=None, learner=None):
        """`recent`: a `recent.RecentFaces` (or anything with its `observe_frame`) that is fed
        every analysed frame's tracks, for the recent-faces view and `watch --keep-unknown`;
        `learner`: a `learning.TrackLearner`, fed the same and told which tracks still live, so
        an ended track can add views to the person it surely was."""
        self.identify = identify
        self.tracker = tracker or Tracker()
        self.scene_cut = scene_cut or SceneCutDetector()
        self.recent = recent
        self.learner = learner
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
                 cut_checked: bool = False, sure: float | None = None) -> list[Labelled]:
        """`recognitions`: the frame's `pipeline.Recognition`s (face, match, embedding); `model`:
        the encoder's version, since embeddings of two models must not be pooled together;
        `when`, `frame_index`: passed on to `recent` (default: now, unknown); `sure`: the distance
        under which one frame alone is far under τ (`Engine.sure_threshold`; None: never)."""
        if not cut_checked:
            self.new_shot(rgb, model)
        labels = self.tracker.update([Detection(r.face.box, r.match, r.embedding,
                                                sure is not None and r.embedding is not None
                                                and r.match.person_id is not None
                                                and float(r.match.distance) < sure,
                                                getattr(r, "judged", True))
                                      for r in recognitions], self.identify)
        if self.recent is not None:
            self.recent.observe_frame(rgb, recognitions, labels, model, when=when, frame_index=frame_index,
                                      stream=id(self.tracker))
        if self.learner is not None:
            self.learner.observe_frame(rgb, recognitions, labels, model, stream=id(self.tracker),
                                       live={t.id for t in self.tracker.tracks})
        return labels
