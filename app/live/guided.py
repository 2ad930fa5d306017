"""Guided enrolment: a few seconds of one live track, turned into a few views spread over pose.

One photo is usually frontal; a person named later from the side needs a side view too. The
capture follows the ONE track the user picked (faces of every other track are ignored), sorts
each of its frames into a pose bin by yaw, and keeps per bin the best frame by the quality
gate's score among those with enough detail. The UI shows which bins are filled and the prompt;
`views()` hands the kept crops (frontal first) to `Library.enrol_views`, which embeds them as
enrolment embeds stored crops and enrols them all or none.

Bins, on `quality.pose`'s yaw (where the nose lies between the eyes: 0.5 frontal, 0 with the nose
in front of the image's left-most eye, 1 in front of the other), chosen by reasoning from that
scale, nothing tuned on any people:
- frontal: 0.4-0.6, the nose within a tenth of the eye span of centre;
- turned: 0.1-0.35 and 0.65-0.9, clearly turned yet inside the gate's pose range
  (`quality.YAW_RANGE`); beyond it the nose nears and passes the far eye, and YuNet's landmarks,
  the alignment and the embedding all degrade. 0.35-0.4 and 0.6-0.65 belong to no bin, so a
  turned bin is never filled by a head that has barely moved.
"Left" and "right" are the person's own: turning to their own left moves the nose towards the
image's right in an unmirrored camera frame, so a larger yaw (tests/live/test_guided.py checks
it on a real turned head). A frame's pitch must lie in
`quality.PITCH_RANGE`, and its face must be at least `MIN_SIDE_PX` and `MIN_SHARPNESS` sharp;
a detector without landmarks gives no pose, so nothing can be binned with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from app.live.pipeline import STORED_CROP, Recognition
from app.live.tracking import Labelled
from app.recognition.alignment import align
from app.recognition.detection import Face
from app.recognition.quality import MIN_SHARPNESS, MIN_SIDE_PX, PITCH_RANGE, Quality, assess

FRONTAL, LEFT, RIGHT = "frontal", "left", "right"
BINS = (FRONTAL, LEFT, RIGHT)  # the order views are returned and prompted in
FRONTAL_YAW = (0.4, 0.6)
LEFT_YAW = (0.65, 0.9)   # the person's own left (see the module docstring)
RIGHT_YAW = (0.1, 0.35)
# Frames in a row without the picked track before the capture says it lost the face: half a
# second at 30 fps, longer than a blink or a missed detection, shorter than the user's patience.
# A capture that kept every view is never lost (the person may step away to the keyboard).
LOST_AFTER = 15
PROMPTS = {FRONTAL: "Look at the camera", LEFT: "Now slowly turn your head to your left",
           RIGHT: "Now slowly turn your head to your right"}
DONE = "Done: every view is captured"
LOST = "Lost your face: start the capture again"


@dataclass(frozen=True)
class GuidedProgress:
    """What the capture shows the user after a frame: a copy, safe to hand to the GUI thread."""

    prompt: str
    filled: dict[str, bool]          # bin -> kept, in prompt order
    crops: dict[str, np.ndarray]     # bin -> the kept view's stored crop (a copy)
    track_id: int | None
    frames: int                      # frames of the track seen
    lost: bool
    done: bool
    crowded: int = 0                 # frames passed over before locking: several faces in view

    @property
    def enrollable(self) -> bool:
        """Whether what was kept can be enrolled: any view, frontal or not, for every front end
        (a camera beside the screen may never see the face frontal; a turned view still names
        the person where a snapshot does not, docs/guided.md)."""
        return any(self.filled.values())


@dataclass(frozen=True)
class GuidedView:
    """One kept frame: its pose bin, the face as detected and its stored crop with the gate's verdict."""

    bin: str
    face: Face
    crop: np.ndarray  # STORED_CROP px, as the gallery stores it
    quality: Quality


def pose_bin(yaw: float | None, pitch: float | None) -> str | None:
    """The bin a face's pose falls in, or None (no landmarks, tipped head, between bins, profile)."""
    if yaw is None or pitch is None or not PITCH_RANGE[0] <= pitch <= PITCH_RANGE[1]:
        return None
    for name, (lo, hi) in ((FRONTAL, FRONTAL_YAW), (LEFT, LEFT_YAW), (RIGHT, RIGHT_YAW)):
        if lo <= yaw <= hi:
            return name
    return None


def detailed(q: Quality) -> bool:
    """Enough detail to enrol: size and sharpness (pose is what the bins are for)."""
    return q.side_px >= MIN_SIDE_PX and q.sharpness >= MIN_SHARPNESS


class GuidedCapture:
    """Fed the live frames' faces with their track ids; keeps the best view per pose bin of one track."""

    def __init__(self, track_id: int | None = None, lost_after: int = LOST_AFTER):
        """`track_id` None locks on the first frame that shows exactly one face."""
        self.track_id = track_id
        self.lost_after = max(1, int(lost_after))
        self.best: dict[str, GuidedView] = {}
        self.missed = 0
        self.frames = 0  # frames of the track seen
        self.crowded = 0  # frames passed over before locking, for showing several faces

    @property
    def lost(self) -> bool:
        return self.missed >= self.lost_after

    @property
    def done(self) -> bool:
        return all(b in self.best for b in BINS)

    def progress(self) -> dict[str, bool]:
        """Which bins are filled, in prompt order (for the UI's ring or arrows)."""
        return {b: b in self.best for b in BINS}

    @property
    def prompt(self) -> str:
        if self.lost:
            return LOST
        for b in BINS:
            if b not in self.best:
                return PROMPTS[b]
        return DONE

    def feed(self, rgb: np.ndarray, faces: Sequence[tuple[int, Face]]) -> str | None:
        """One frame: its (track id, face) pairs. Returns the bin this frame filled or improved,
        else None. Nothing is taken once the track is lost: the face that comes back may be
        someone else's."""
        if self.lost:
            return None
        if self.track_id is None:
            if len(faces) != 1:
                self.crowded += int(len(faces) > 1)
                return None
            self.track_id = faces[0][0]
        mine = [f for tid, f in faces if tid == self.track_id]
        if not mine:
            # once every view is kept the person may step away (to the keyboard) unwarned: a
            # finished capture is never "lost" and keeps asking for nothing
            if not self.done:
                self.missed += 1
            return None
        self.missed = 0
        self.frames += 1
        face = mine[0]
        crop = align(rgb, face, STORED_CROP)
        q = assess(face, crop, rgb.shape)
        b = pose_bin(q.yaw, q.pitch)
        if b is None or not detailed(q):
            return None
        kept = self.best.get(b)
        if kept is not None and kept.quality.score >= q.score:
            return None
        self.best[b] = GuidedView(b, face, crop, q)
        return b

    def feed_analysis(self, rgb: np.ndarray, recognitions: Sequence[Recognition],
                      labels: Sequence[Labelled]) -> str | None:
        """`feed` from a `LiveAnalyser` frame (its recognitions and labels, in the same order)."""
        return self.feed(rgb, [(lab.track_id, rec.face) for rec, lab in zip(recognitions, labels)])

    def snapshot(self) -> GuidedProgress:
        return GuidedProgress(self.prompt, self.progress(), {b: v.crop.copy() for b, v in self.best.items()},
                              self.track_id, self.frames, self.lost, self.done, self.crowded)

    def views(self) -> list[GuidedView]:
        """The kept views, frontal first, then left and right (the filled ones only)."""
        return [self.best[b] for b in BINS if b in self.best]
