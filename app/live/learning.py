"""Learned views: a person enrolled from one frontal photo is named again from the side because
the live view adds a few of their own turned or differently lit frames to them, taken from a
track that was surely them.

Why: one photo is one pose and one light; a live track follows the same face, frame by frame,
from frontal to half-turned and from bright to shadow. When the track was named P with a clear
margin on some frames and nothing else points elsewhere, its other good frames are P too (the
tracker's box continuity says so), and those unlike P's photos are the views P lacks.

The rule (`TrackLearner`, applied when a track ends; its parameters and how they were chosen are
in docs/learning.md):
- the track was named one person P, never anyone else;
- at least `MIN_CONFIRMING` of its embedded frames lie *well under* the τ for tracks from P on
  their own ("sure" frames): under the τ for tracks at a thirtieth of the rule's target share of
  strangers (`strict_threshold`), a τ read from the model's own calibration (the share chosen on
  validation people, docs/learning.md);
- from its first sure or named frame to its last, it was Unknown on at most `MAX_UNKNOWN_SHARE`
  of the frames (the pooled template holds a name for a while after the face under the box
  changed; a long Unknown stretch means it may have);
- on no frame was another enrolled person within the face τ, and on no frame did another face
  come near the track's box (two faces side by side or crossing are where a tracker swaps);
- no face the user said is "Not P" lies within the face τ of the track's template or of a frame
  to be added;
- then up to `PER_TRACK` frames between its first and last sure frame that pass the quality
  gate and lie above the strict τ from every view P has (and from each other) are added to P as
  photos with `source` = `LEARNED_SOURCE`, at most `PER_DAY` a day and `MAX_VIEWS` in all per
  person, the oldest learned views replaced first.

A "Not P" said afterwards on a recent face removes the views learned from tracks within the face
τ of it (`forget_near`), so the rule holds as if the user had said it before. Learned views are
listed and removed with `learned_views` / `forget_learned`; removing them leaves the gallery, and
so every match, exactly as before.

Qt-free; fed by `tracking.LiveLabeller` beside the recent faces, on the thread that owns the engine.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from app.errors import GalleryError
from app.recognition import scoring
from app.recognition.alignment import align
from app.recognition.quality import assess

if TYPE_CHECKING:
    from app.store.gallery import Gallery
    from app.store.records import Sample

LEARNED_SOURCE = "learned from the camera"  # the `source` of a view learned from a track
STORED_CROP = 112          # as pipeline.STORED_CROP: the gallery's full-frame crop
PER_TRACK = 3              # views one track may add
PER_DAY = 6                # views a person may gain in 24 hours
MAX_VIEWS = 12             # learned views a person keeps; beyond, the oldest are replaced
DAY_S = 86_400.0
MIN_CONFIRMING = 2         # embedded frames well under τ for tracks on their own
MAX_UNKNOWN_SHARE = 0.25   # Unknown frames allowed between the first and last frame named P
STRICT_FACTOR = 30.0       # "well under": τ for tracks at target / STRICT_FACTOR (docs/learning.md)
NEAR = 1.5                 # boxes whose centres are closer than NEAR x their mean half-width sum: "near"
MAX_KEPT = 240             # candidate frames kept per track (memory bound; thinned evenly beyond)
KEEP_OUTCOMES = 1000       # ended tracks remembered (their outcomes; learned ones for `forget_near`)


@dataclass(frozen=True)
class Thresholds:
    face: float    # a photo's τ: another person within it is "near"
    track: float   # the τ tracks are named under
    strict: float  # "well under" the τ for tracks; also the floor of "unlike P's views"


def strict_threshold(engine: Any) -> Thresholds | None:
    """The three τ the rule uses for `engine` now; None when its model has no open-set rule
    (then how far under τ is "well under" cannot be read from a calibration, and nothing is learned)."""
    rule = getattr(engine.encoder, "open_set_rule", None)
    if rule is None:
        return None
    n = len(engine.matcher)
    gap = rule.track_threshold(n) - rule.track_threshold(n, rule.target / STRICT_FACTOR)
    track = float(engine.track_threshold)
    return Thresholds(float(engine.threshold), track, track - max(0.0, float(gap)))


@dataclass
class _Frame:
    index: int                 # its position in the track's label sequence
    embedding: np.ndarray
    crop: np.ndarray           # the stored crop (only frames passing the gate are kept)
    score: float               # quality score (ranks candidates)


@dataclass
class _Log:
    """What a live track has shown so far."""

    model_version: str
    labels: list[int | None] = field(default_factory=list)  # steadied person per analysed frame
    frames: list[_Frame] = field(default_factory=list)      # embedded frames passing the gate
    pool: np.ndarray | None = None                           # sum of every embedded frame (template)
    # per embedded frame: its index and the two nearest people (id, distance)
    top: list[tuple[int, tuple[tuple[int, float], ...]]] = field(default_factory=list)
    raw: set[int] = field(default_factory=set)               # who single frames alone named
    spoiled: str = ""                                        # why nothing can be learned ("": nothing yet)


@dataclass(frozen=True)
class Outcome:
    """What the end of one track did: who it was, which views were added, or why none."""

    person_id: int | None
    added: tuple[int, ...]  # sample ids
    reason: str             # "" when views were added


@dataclass(frozen=True)
class _Learned:
    person_id: int
    template: np.ndarray
    sample_ids: tuple[int, ...]


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _near(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """Two face boxes side by side or overlapping (see NEAR)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    dx = (ax + aw / 2) - (bx + bw / 2)
    dy = (ay + ah / 2) - (by + bh / 2)
    return float(np.hypot(dx, dy)) < NEAR * (aw + bw) / 2


class TrackLearner:
    """Learns views from ended live tracks (see the module docstring); `enabled` is the switch."""

    def __init__(self, engine: Any, enabled: bool = True) -> None:
        """`engine`: the `Engine` whose gallery learns (its matcher, τ, encoder and
        `embed_stored_crops`); the caps count days by the gallery's clock."""
        self.engine = engine
        self.enabled = bool(enabled)
        self._logs: dict[tuple[object, int], _Log] = {}
        self.learned: list[_Learned] = []     # this session's learned tracks (for `forget_near`)
        self.outcomes: deque[Outcome] = deque(maxlen=KEEP_OUTCOMES)  # the last tracks' outcomes
        self.added_total = 0                  # views added since it started

    # ---- feeding -----------------------------------------------------------------------------
    def observe_frame(self, rgb: np.ndarray, recognitions: Sequence, labels: Sequence, model_version: str | None,
                      stream: object = None, live: set[int] | None = None) -> list[Outcome]:
        """One analysed frame (as `RecentFaces.observe_frame`); `live`: the ids of the tracks the
        tracker still follows, so the others have ended and are judged now."""
        if not self.enabled or model_version is None:
            self._logs.clear()
            return []
        boxes = [lab.box for lab in labels]
        for i, (rec, lab) in enumerate(zip(recognitions, labels)):
            key = (stream, int(lab.track_id))
            log = self._logs.get(key)
            if log is None:
                log = self._logs[key] = _Log(model_version)
            log.labels.append(None if lab.person_id is None else int(lab.person_id))
            if not log.spoiled and log.model_version != model_version:
                log.spoiled = "the model changed during the track"
            elif not log.spoiled and any(j != i and _near(lab.box, b) for j, b in enumerate(boxes)):
                log.spoiled = "another face came near the track"
            if log.spoiled:
                log.frames.clear()  # it cannot teach anything now: keep only who it was named
                continue
            self._log_frame(log, rgb, rec)
        ended = [k for k in self._logs if k[0] == stream and (live is None or k[1] not in live)]
        return [self._finish(self._logs.pop(k)) for k in ended]

    def _log_frame(self, log: _Log, rgb: np.ndarray, rec) -> None:
        if rec.embedding is None:
            return  # a settled face carried over: its label counts, it brings no new view
        e = _unit(rec.embedding)
        log.pool = e.copy() if log.pool is None else log.pool + e
        if rec.match.person_id is not None:
            log.raw.add(int(rec.match.person_id))
        log.top.append((len(log.labels) - 1, tuple(self.engine.matcher.ranked(e, 2))))
        crop = align(rgb, rec.face, STORED_CROP)
        q = assess(rec.face, crop, rgb.shape)
        if q.ok:
            log.frames.append(_Frame(len(log.labels) - 1, e, np.ascontiguousarray(crop), q.score))
            if len(log.frames) > MAX_KEPT:
                log.frames = log.frames[::2]

    def end_all(self) -> list[Outcome]:
        """Every track has ended (the source stopped)."""
        logs, self._logs = list(self._logs.values()), {}
        return [self._finish(log) for log in logs] if self.enabled else []

    # ---- the rule ----------------------------------------------------------------------------
    def _finish(self, log: _Log) -> Outcome:
        out = self._judge(log)
        self.outcomes.append(out)
        return out

    def _judge(self, log: _Log) -> Outcome:
        named = {p for p in log.labels if p is not None}
        if not named:
            return Outcome(None, (), "never named")
        if len(named) > 1:
            return Outcome(None, (), "named as more than one person")
        (pid,) = named
        if log.spoiled:
            return Outcome(pid, (), log.spoiled)
        if log.raw - {pid}:
            return Outcome(pid, (), "a frame alone named someone else")
        engine = self.engine
        if engine.encoder.version != log.model_version:
            return Outcome(pid, (), "the model changed")
        tau = strict_threshold(engine)
        if tau is None:
            return Outcome(pid, (), "the model has no open-set rule")
        sure = []  # the frames well under τ from P on their own
        for index, top in log.top:
            others = [d for p, d in top if p != pid]
            if others and min(others) < tau.face:
                return Outcome(pid, (), "another person was near on a frame")
            if top and top[0][0] == pid and top[0][1] < tau.strict:
                sure.append(index)
        if len(sure) < MIN_CONFIRMING:
            return Outcome(pid, (), "not named with a clear margin")
        # From the first sure frame or name to the last, the track must be named P nearly
        # throughout: the name held by the pooled template alone does not vouch for a long stretch.
        first = min(sure[0], log.labels.index(pid))
        last = max(sure[-1], len(log.labels) - 1 - log.labels[::-1].index(pid))
        span = log.labels[first:last + 1]
        if span.count(None) > MAX_UNKNOWN_SHARE * len(span):
            return Outcome(pid, (), "Unknown for too long in the middle")
        # The track as a whole, not only its luckiest frames: `strict` is a τ for a track's pooled
        # template (the calibration's track table pools every frame), and a stranger who stands
        # still near a look-alike's τ dips under it on a few frames by chance alone.
        template = _unit(log.pool) if log.pool is not None else None
        views = self._views(pid, log.model_version)
        if template is None or views is None or float(
                scoring.scores(template[None], views, engine.encoder.scorer).min()) >= tau.strict:
            return Outcome(pid, (), "the track as a whole was not named with a clear margin")
        first, last = sure[0], sure[-1]  # views are taken between two sure frames only
        chosen = self._choose(log, views, first, last, tau)
        if not chosen:
            return Outcome(pid, (), "no good frame unlike their views")
        rejected = self.engine.gallery.rejections(pid, log.model_version)
        if len(rejected):
            queries = np.stack([template] + [f.embedding for f in chosen])
            if float(scoring.scores(queries, rejected, engine.encoder.scorer).min()) < tau.face:
                return Outcome(pid, (), "the user said this face is not them")
        added = self._add(pid, chosen, log.model_version)
        if not added:
            return Outcome(pid, (), "today's cap of learned views is reached")
        self.learned = self.learned[-KEEP_OUTCOMES + 1:] + [_Learned(pid, template, added)]
        self.added_total += len(added)
        return Outcome(pid, added, "")

    def _choose(self, log: _Log, views: np.ndarray, first: int, last: int, tau: Thresholds) -> list[_Frame]:
        """The best frames of the span, each above the strict τ from every one of the person's
        `views` and from each other, best quality first (at most PER_TRACK)."""
        pool = [f for f in log.frames if first <= f.index <= last]
        if not pool:
            return []
        scorer = self.engine.encoder.scorer
        chosen: list[_Frame] = []
        for f in sorted(pool, key=lambda f: -f.score):
            against = np.concatenate([views, np.stack([c.embedding for c in chosen])]) if chosen else views
            if float(scoring.scores(f.embedding[None], against, scorer).min()) > tau.strict:
                chosen.append(f)
                if len(chosen) == PER_TRACK:
                    break
        return chosen

    def _views(self, pid: int, model_version: str) -> np.ndarray | None:
        """P's embeddings by this model (photos and learned views), or None."""
        embs = [s.embedding for s in self.engine.gallery.samples(pid) if s.model_version == model_version]
        return np.stack(embs) if embs else None

    def _add(self, pid: int, chosen: list[_Frame], model_version: str) -> tuple[int, ...]:
        """Add up to the caps; the oldest learned views make room. Returns the new sample ids."""
        from app.store.records import NewSample
        gallery = self.engine.gallery
        now = gallery.clock()
        mine = learned_views(gallery, pid)
        today = sum(s.created >= now - DAY_S for s in mine)
        room = min(len(chosen), PER_DAY - today)
        if room <= 0:
            return ()
        chosen = chosen[:room]
        embs = np.asarray(self.engine.embed_stored_crops(np.stack([f.crop for f in chosen])), dtype=np.float32)
        new = [NewSample(f.crop, e, model_version, LEARNED_SOURCE, f.score, "good") for f, e in zip(chosen, embs)]
        added = gallery.add_samples(pid, new)
        for old in mine[:max(0, len(mine) + len(added) - MAX_VIEWS)]:
            gallery.remove_sample(old.id)
        return tuple(s.id for s in added)

    # ---- afterwards --------------------------------------------------------------------------
    def forget_near(self, person_id: int, faces: np.ndarray) -> int:
        """"Not P" was said for these faces (unit embeddings): remove P's views learned this
        session from tracks whose template lies within the face τ of one, as the rule would not
        have learned them; returns how many were removed."""
        faces = np.asarray(faces, dtype=np.float32).reshape(-1, np.asarray(faces).shape[-1])
        tau = strict_threshold(self.engine)
        limit = tau.face if tau is not None else float(self.engine.threshold)
        keep: list[_Learned] = []
        gone: list[int] = []
        for rec in self.learned:
            if rec.person_id == int(person_id) and len(faces) and float(
                    scoring.scores(rec.template[None], faces, self.engine.encoder.scorer).min()) < limit:
                gone += rec.sample_ids
            else:
                keep.append(rec)
        self.learned = keep
        current = {s.id for s in learned_views(self.engine.gallery, person_id)}
        return forget_learned(self.engine.gallery, person_id, [i for i in gone if i in current])


# ---- listing and removing ------------------------------------------------------------------------
def is_learned(sample: Sample) -> bool:
    return sample.source == LEARNED_SOURCE


def learned_views(gallery: Gallery, person_id: int) -> list[Sample]:
    """A person's learned views, oldest first."""
    return [s for s in gallery.samples(person_id) if is_learned(s)]


def forget_learned(gallery: Gallery, person_id: int, sample_ids: Sequence[int] | None = None) -> int:
    """Remove these learned views of the person (None: all of them); returns how many. As for
    any photo, a person's last one is refused (GalleryError), after the others went."""
    views = learned_views(gallery, person_id)
    if sample_ids is not None:
        wanted = {int(i) for i in sample_ids}
        unknown = wanted - {s.id for s in views}
        if unknown:
            raise GalleryError("That is not one of their learned views.")
        views = [s for s in views if s.id in wanted]
    n = 0
    for s in views:
        gallery.remove_sample(s.id)
        n += 1
    return n
