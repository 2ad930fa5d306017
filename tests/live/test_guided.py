"""Guided enrolment's capture (app.live.guided): one track, its frames sorted into pose bins by
`quality.pose`'s yaw, the best detailed frame kept per bin, the prompts, a lost track.

Faces are made by hand over noise frames (sharp everywhere, so every crop has detail): five
YuNet-ordered landmarks with an eye span of 40 px and an eye-to-mouth drop of 40 px, so a yaw
of k/40 and a pitch of j/40 are exact; the box's shorter side sets the quality score (noise is
sharper than `GOOD_SHARPNESS`, so the score is side / `GOOD_SIDE_PX`)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from app.live import guided
from app.live.guided import BINS, DONE, FRONTAL, LEFT, LOST, LOST_AFTER, PROMPTS, RIGHT, GuidedCapture, pose_bin
from app.recognition.detection import Face
from app.recognition.quality import GOOD_SIDE_PX, pose

SPAN, DROP = 40.0, 40.0


def frame(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (360, 640, 3), dtype=np.uint8)


def face(yaw: float = 0.5, pitch: float = 0.5, side: float = 120.0, x: float = 200.0) -> Face:
    """A face whose landmarks give exactly (`yaw`, `pitch`) when yaw*40 and pitch*40 are whole."""
    ey = 150.0
    right_eye, left_eye = (x, ey), (x + SPAN, ey)  # image left-most first, as YuNet gives them
    nose = (x + yaw * SPAN, ey + pitch * DROP)
    mouth_r, mouth_l = (x + 4, ey + DROP), (x + SPAN - 4, ey + DROP)
    lm = np.array([right_eye, left_eye, nose, mouth_r, mouth_l], dtype=np.float32)
    cx = x + SPAN / 2
    return Face((cx - side / 2, ey - side / 3, side, side), 0.95, lm)


def test_hand_made_landmarks_give_the_chosen_pose():
    assert pose(face(14 / 40, 10 / 40).landmarks) == (0.35, 0.25)
    assert pose(face(36 / 40, 32 / 40).landmarks) == (0.9, 0.8)


@pytest.mark.parametrize(("yaw", "pitch", "expected"), [
    (0.5, 0.5, FRONTAL), (16 / 40, 0.5, FRONTAL), (24 / 40, 0.5, FRONTAL),   # 0.4 and 0.6: frontal
    (15 / 40, 0.5, None), (25 / 40, 0.5, None),                            # 0.375, 0.625: no bin
    (14 / 40, 0.5, RIGHT), (4 / 40, 0.5, RIGHT),                           # 0.35 and 0.1: right
    (3 / 40, 0.5, None), (-4 / 40, 0.5, None),                             # 0.075, past the far eye
    (26 / 40, 0.5, LEFT), (36 / 40, 0.5, LEFT),                            # 0.65 and 0.9: left
    (37 / 40, 0.5, None), (44 / 40, 0.5, None),                            # 0.925, 1.1: too turned
    (0.5, 10 / 40, FRONTAL), (0.5, 32 / 40, FRONTAL),                      # pitch 0.25 and 0.8 allowed
    (0.5, 9 / 40, None), (0.5, 33 / 40, None),                             # tipped up or down
    (30 / 40, 9 / 40, None),                                               # turned and tipped
])
def test_pose_bin_boundaries(yaw, pitch, expected):
    f = face(yaw, pitch)
    assert pose_bin(*pose(f.landmarks)) == expected
    cap = GuidedCapture(track_id=1)
    assert cap.feed(frame(), [(1, f)]) == expected  # the capture bins the same way
    assert cap.progress() == {b: b == expected for b in BINS}


def test_no_landmarks_no_pose_no_bin():
    assert pose_bin(None, None) is None and pose_bin(0.5, None) is None and pose_bin(None, 0.5) is None
    cap = GuidedCapture(track_id=1)
    boxed = Face((200.0, 100.0, 120.0, 120.0), 0.9, None)  # a Haar face: box only
    assert cap.feed(frame(), [(1, boxed)]) is None and cap.views() == [] and cap.frames == 1


def test_yaw_grows_as_the_person_turns_to_their_own_left():
    """The module's claim, geometrically: the person's own left is the image's right in an
    unmirrored frame; turning to it brings the nose towards the image-right eye (YuNet's second
    point), so yaw grows past 0.5 and the face lands in LEFT."""
    turned_own_left = face(30 / 40)  # nose towards the image's right-hand eye
    yaw, _ = pose(turned_own_left.landmarks)
    assert yaw is not None and yaw > 0.5 and pose_bin(yaw, 0.5) == LEFT
    assert guided.LEFT_YAW[0] > 0.5 > guided.RIGHT_YAW[1]


def test_real_turned_head_measures_on_the_left_side_of_the_scale(shared, yunet_path):
    """The same on a real face: a umist head turned towards the image's right (its nose points
    right, the person's own left) measures a yaw above 0.5 with YuNet."""
    import cv2

    from app.recognition.detection import create_detector
    path = shared / "datasets" / "umist" / "p01" / "v014.png"
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing on CI")
        pytest.skip(f"needs {path}")
    grey = cv2.imread(str(path))
    rgb = cv2.resize(grey[:, :, ::-1], None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    faces = create_detector("yunet", yunet_path).detect(np.ascontiguousarray(rgb))
    assert len(faces) == 1
    lm = faces[0].landmarks
    assert lm is not None and lm[0][0] < lm[1][0]  # right eye = the image's left-most
    nose_points_right = lm[2][0] > (lm[0][0] + lm[1][0]) / 2
    yaw, _ = pose(lm)
    assert nose_points_right and yaw is not None and yaw > 0.5
    # and mirrored, the same head turns to its own right: yaw below 0.5
    mirrored = create_detector("yunet", yunet_path).detect(np.ascontiguousarray(rgb[:, ::-1]))
    myaw, _ = pose(mirrored[0].landmarks)
    assert myaw is not None and myaw < 0.5


def test_the_best_detailed_frame_is_kept_per_bin():
    cap = GuidedCapture(track_id=7)
    assert cap.feed(frame(1), [(7, face(side=80))]) == FRONTAL      # score 0.5
    assert cap.feed(frame(2), [(7, face(side=120))]) == FRONTAL     # 0.75: better, replaces it
    assert cap.feed(frame(3), [(7, face(side=100))]) is None        # 0.625: worse, ignored
    assert cap.feed(frame(4), [(7, face(side=120))]) is None        # as good: the first is kept
    kept = cap.best[FRONTAL]
    assert kept.face.box[2] == 120 and kept.quality.score == pytest.approx(120 / GOOD_SIDE_PX)
    assert kept.crop.shape == (112, 112, 3)
    assert np.array_equal(kept.crop, guided.align(frame(2), face(side=120), 112))  # frame 2's crop
    assert cap.feed(frame(5), [(7, face(yaw=30 / 40, side=60))]) == LEFT  # another bin, its own best
    assert cap.best[FRONTAL].face.box[2] == 120 and cap.frames == 5


def test_frames_without_detail_are_not_taken():
    cap = GuidedCapture(track_id=1)
    assert cap.feed(frame(), [(1, face(side=30))]) is None                           # too small
    flat = np.full((360, 640, 3), 128, np.uint8)
    assert cap.feed(flat, [(1, face())]) is None                                     # no detail: blurred
    assert cap.views() == [] and cap.frames == 2 and not cap.lost


def test_faces_of_another_track_are_ignored():
    cap = GuidedCapture(track_id=2)
    assert cap.feed(frame(), [(1, face(side=150, x=100)), (2, face(side=60, x=400))]) == FRONTAL
    assert cap.best[FRONTAL].face.box[2] == 60  # track 2's face, though track 1's is better
    assert cap.feed(frame(), [(1, face(yaw=30 / 40, x=100))]) is None  # only the other one in view
    assert LEFT not in cap.best and cap.missed == 1 and cap.frames == 1


def test_without_a_track_it_locks_on_the_first_frame_with_one_face():
    cap = GuidedCapture()
    assert cap.feed(frame(), []) is None and cap.track_id is None
    two = [(4, face(x=100)), (5, face(x=400))]
    assert cap.feed(frame(), two) is None and cap.track_id is None  # two faces: whose? nobody's
    assert cap.views() == [] and cap.missed == 0                    # not "lost" before locking
    assert cap.crowded == 1 and cap.snapshot().crowded == 1         # the frame with two, not the empty one
    assert cap.feed(frame(), [(5, face(x=400))]) == FRONTAL and cap.track_id == 5
    assert cap.feed(frame(), [(4, face(yaw=30 / 40, x=100)), (5, face(side=60, x=400))]) is None
    assert cap.best[FRONTAL].face.box[2] == 120 and LEFT not in cap.best  # track 4 stays ignored


def test_lost_after_lost_after_frames_and_nothing_taken_after():
    cap = GuidedCapture(track_id=3)
    assert cap.feed(frame(), [(3, face())]) == FRONTAL
    for _ in range(LOST_AFTER - 1):
        cap.feed(frame(), [(9, face())])
    assert not cap.lost and cap.prompt == PROMPTS[LEFT]
    assert cap.feed(frame(), [(3, face(yaw=30 / 40))]) == LEFT  # back in time: the count restarts
    for _ in range(LOST_AFTER - 1):
        cap.feed(frame(), [])
    assert not cap.lost
    cap.feed(frame(), [])
    assert cap.lost and cap.prompt == LOST and not cap.done
    assert cap.feed(frame(), [(3, face(yaw=10 / 40))]) is None  # the face that returns is not taken
    assert RIGHT not in cap.best and [v.bin for v in cap.views()] == [FRONTAL, LEFT]
    snap = cap.snapshot()
    assert snap.lost and snap.prompt == LOST and snap.filled == {FRONTAL: True, LEFT: True, RIGHT: False}


def test_prompts_in_order_then_done_and_views_frontal_first():
    cap = GuidedCapture(track_id=1)
    assert cap.prompt == PROMPTS[FRONTAL] and not cap.done
    assert cap.feed(frame(), [(1, face(yaw=10 / 40))]) == RIGHT   # a turn first: still asks for frontal
    assert cap.prompt == PROMPTS[FRONTAL]
    assert cap.feed(frame(), [(1, face())]) == FRONTAL
    assert cap.prompt == PROMPTS[LEFT]
    assert cap.feed(frame(), [(1, face(yaw=30 / 40))]) == LEFT
    assert cap.prompt == DONE and cap.done
    assert [v.bin for v in cap.views()] == [FRONTAL, LEFT, RIGHT]
    assert cap.snapshot().done and cap.snapshot().prompt == DONE
    for _ in range(LOST_AFTER):  # done, they step away to the keyboard: still done, not lost
        cap.feed(frame(), [])
    assert not cap.lost and cap.prompt == DONE and cap.snapshot().done
    assert cap.feed(frame(), [(1, face(side=150))]) == FRONTAL  # and a better frame still counts


def test_any_kept_view_can_be_enrolled_a_turned_one_too():
    """The one rule every front end asks (`GuidedProgress.enrollable`): nothing kept, not
    enrollable; a turned view alone (a camera beside the screen never sees the face frontal), yes."""
    cap = GuidedCapture(track_id=1)
    assert not cap.snapshot().enrollable
    cap.feed(frame(), [(1, face(yaw=15 / 40))])  # 0.375, between bins: nothing kept
    assert not cap.snapshot().enrollable
    assert cap.feed(frame(), [(1, face(yaw=30 / 40))]) == LEFT
    snap = cap.snapshot()
    assert snap.enrollable and snap.filled == {FRONTAL: False, LEFT: True, RIGHT: False}
    assert snap.prompt == PROMPTS[FRONTAL]  # it still asks for the frontal view


def test_the_snapshot_is_a_copy():
    cap = GuidedCapture(track_id=1)
    cap.feed(frame(), [(1, face())])
    snap = cap.snapshot()
    assert snap.track_id == 1 and snap.frames == 1 and snap.filled[FRONTAL]
    before = cap.best[FRONTAL].crop.copy()
    snap.crops[FRONTAL][:] = 0
    snap.filled[LEFT] = True
    snap.crops[LEFT] = before
    assert np.array_equal(cap.best[FRONTAL].crop, before)
    assert cap.progress()[LEFT] is False and LEFT not in cap.best
    assert np.array_equal(cap.snapshot().crops[FRONTAL], before)


def test_feed_analysis_pairs_recognitions_with_their_labels():
    from types import SimpleNamespace
    cap = GuidedCapture(track_id=8)
    recs = [SimpleNamespace(face=face(side=150, x=100)), SimpleNamespace(face=face(side=70, x=400))]
    labels = [SimpleNamespace(track_id=6), SimpleNamespace(track_id=8)]
    assert cap.feed_analysis(frame(), recs, labels) == FRONTAL
    assert cap.best[FRONTAL].face.box[2] == 70


def test_lost_after_is_at_least_one():
    cap = GuidedCapture(track_id=1, lost_after=0)
    assert cap.lost_after == 1 and not cap.lost
    cap.feed(frame(), [])
    assert cap.lost
