"""One live frame's work: detect every face, but embed only the faces whose name is not settled.

Embedding is most of a frame's cost once a face is found (docs/speed.md), yet a face that a
track has named the same way for its last few frames needs no new evidence on every frame. So a
detected face that lands on such a *settled* track (same box by IoU, as the tracker will pair
it) carries the track's person over without being embedded (under the name the gallery gives
their id now, so a rename shows at once); it is embedded again every
`recheck_every` frames, so a wrong or changed name is caught within a fraction of a second, and
always when its track is new, unsettled or Unknown-turning-known. Detection still runs on every
frame, so boxes follow the faces exactly and nobody new goes unseen, but on the frame shrunk to
`LIVE_DETECT_SIDE` pixels: the detector's cost is most of what is left, a face in a live view is
big enough to be found at that size, and alignment still cuts the face from the full frame.

Qt-free: the GUI's live worker, `watch` and the benchmarks call it alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.live.pipeline import Engine, Recognition
from app.live.tracking import UNKNOWN, Labelled, LiveLabeller, Track, iou
from app.recognition.detection import Face
from app.recognition.matching import Match

RECHECK_EVERY = 10  # analysed frames a settled face goes without an embedding (a third of a second at 30 fps)
# The longer side of the frame the detector sees live; the clip's names are the same as at 640 and
# YuNet takes 40% less time (docs/speed.md). A 1280x720 webcam's 60-pixel face is 22 pixels there,
# still found; photos (enrolment, `identify`) are detected at up to 960.
LIVE_DETECT_SIDE = 480


@dataclass
class FrameAnalysis:
    recognitions: list[Recognition]
    labels: list[Labelled]
    embedded: int  # faces embedded this frame (the others carried their track's name)


class LiveAnalyser:
    """Detect → (embed the unsettled faces) → name → steady, for one stream of frames."""

    def __init__(self, engine: Engine, labeller: LiveLabeller | None = None,
                 recheck_every: int = RECHECK_EVERY, detect_side: int | None = LIVE_DETECT_SIDE):
        """`recheck_every` 1 embeds every face of every frame (the behaviour before this class);
        `detect_side` None detects on the frame as it is."""
        self.engine = engine
        self.detect_side = detect_side
        self.labeller = labeller or LiveLabeller(engine.identify)
        self.recheck_every = max(1, int(recheck_every))
        self._since: dict[int, int] = {}  # track id → analysed frames since its face was last embedded
        self._nearest: dict[int, str | None] = {}  # track id → who it was last nearest to
        self._domain_keys: dict[int, int] = {}  # track id → its key in the engine's camera sample

    def reset(self) -> None:
        self.labeller.reset()
        self._since.clear()
        self._nearest.clear()

    def _observe_domain(self, rgb: np.ndarray, recs: list[Recognition], labels: list[Labelled]) -> None:
        """Every face of the frame goes to the engine's camera sample with its track, named or
        not, with whether it passes the quality gate (`Engine.observe_domain`): the crowd the
        domain's τ is checked against."""
        keys = self._domain_keys
        alive = {t.id for t in self.labeller.tracker.tracks}
        for tid in [t for t in keys if t not in alive]:
            del keys[tid]
        faces = []
        for rec, lab in zip(recs, labels):
            if lab.track_id not in keys:
                keys[lab.track_id] = self.engine.domain.new_track()
            faces.append((keys[lab.track_id], rec.embedding))
        if faces:
            self.engine.observe_domain(faces, self.engine.domain_grade(rgb, [r.face for r in recs]))

    def _settled(self, track: Track) -> bool:
        history = self.labeller.tracker.history
        return (len(track.votes) == history and len(set(track.votes)) == 1 and track.pooled_id == track.person_id
                and self._since.get(track.id, self.recheck_every) < self.recheck_every - 1)

    def _carry(self, faces: list[Face]) -> dict[int, Track]:
        """Faces (by index) that the tracker will pair with a settled track, paired as it pairs
        them: greedily by IoU, highest first."""
        tracks = self.labeller.tracker.tracks
        min_iou = self.labeller.tracker.min_iou
        pairs = sorted(((iou(t.box, f.box), ti, fi) for ti, t in enumerate(tracks) for fi, f in enumerate(faces)),
                       reverse=True)
        used: set[int] = set()
        out: dict[int, Track] = {}
        for score, ti, fi in pairs:
            if score < min_iou:
                break
            if ti in used or fi in out:
                continue
            used.add(ti)
            out[fi] = tracks[ti]
        return {fi: t for fi, t in out.items() if self._settled(t)}

    def __call__(self, rgb: np.ndarray, when: float | None = None, frame_index: int | None = None) -> FrameAnalysis:
        """SourceError for a frame that is not an image, as `Engine.analyse`."""
        model = self.engine.encoder.version
        faces = self.engine.detect(rgb, self.detect_side)
        self.labeller.new_shot(rgb, model)  # a new shot or model leaves no track to carry a name from
        carried = self._carry(faces) if self.recheck_every > 1 else {}
        fresh = [i for i in range(len(faces)) if i not in carried]
        named = self.engine.recognise(rgb, [faces[i] for i in fresh])
        recs: list[Recognition | None] = [None] * len(faces)
        for i, r in zip(fresh, named):
            recs[i] = r
        matcher = self.engine.matcher if carried else None
        for i, t in carried.items():
            name = matcher.name_of(t.person_id) if matcher is not None else None  # their name now
            pid = t.person_id if name is not None else None  # None: deleted (or gone from this model) meanwhile
            nearest = name if pid is not None else self._nearest.get(t.id)  # who an Unknown one was last nearest
            recs[i] = Recognition(faces[i], Match(name or UNKNOWN, pid, t.distance, nearest=nearest), None)
        done = [r for r in recs if r is not None]
        sure = self.engine.sure_threshold() if fresh else None
        labels = self.labeller(rgb, done, model, when=when, frame_index=frame_index, cut_checked=True, sure=sure)
        since: dict[int, int] = {}
        for i, lab in enumerate(labels):
            since[lab.track_id] = self._since.get(lab.track_id, 0) + 1 if i in carried else 0
        self._since = since
        self._nearest = {lab.track_id: lab.nearest for lab in labels}
        self._observe_domain(rgb, done, labels)
        return FrameAnalysis(done, labels, len(fresh))
