"""benchmarks/track_naming.py, whose table docs/open_set.md quotes: the live `Tracker` over
pseudo-tracks, and how its answers are counted. Hand-made unit vectors and a two-person gallery,
with what each frame must show worked out by hand."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from benchmark_scripts import load_benchmark

from app.recognition.matching import Matcher


@pytest.fixture(scope="module")
def tn():
    yield load_benchmark("track_naming")
    sys.modules.pop("track_naming", None)


def unit(*v: float) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


# Person 0 is e_x, person 1 is e_y; τ 0.5 on plain L2 distance.
GALLERY = Matcher(np.stack([unit(1, 0, 0), unit(0, 1, 0)]), np.array([0, 1]), {0: "X", 1: "Y"})


def identify(e):
    return GALLERY.match(e, 0.5)


def test_a_track_is_shown_named_once_min_frames_are_pooled_and_the_vote_agrees(tn):
    near_x = [unit(1, 0.1, 0)] * 4  # 0.1 from X: every pooled template passes
    assert tn.run_track(np.stack(near_x), identify, 1) == [0, 0, 0, 0]
    # min_frames 2: frame 1 waits (an Unknown vote); frame 2 ties 1-1 and a tie goes to the name
    assert tn.run_track(np.stack(near_x), identify, 2) == [None, 0, 0, 0]
    # min_frames 3: two waiting votes; X leads only from frame 4 (2-2, the tie to the name)
    assert tn.run_track(np.stack(near_x), identify, 3) == [None, None, None, 0]


def test_one_look_alike_frame_names_a_stranger_only_while_the_pooled_template_passes(tn):
    # A stranger along e_z who once looks like X: that frame alone is 0.10 from X, but pooled with
    # two frames before it the template is 1.07 from X (over τ), so it names nobody.
    frames = np.stack([unit(0, 0, 1), unit(0, 0, 1), unit(1, 0, 0.1), unit(0, 0, 1)])
    assert tn.run_track(frames, identify, 1) == [None, None, None, None]
    first = np.stack([unit(1, 0, 0.1), unit(0, 0, 1), unit(0, 0, 1)])  # the look-alike frame first
    assert tn.run_track(first, identify, 1) == [0, 0, None]  # named at once, kept by the 1-1 tie
    assert tn.run_track(first, identify, 2) == [None, None, None]  # 2 pooled: 0.81 from X


def test_tally_counts_tracks_ever_named_and_frames_named_rightly(tn):
    t = tn.Tally(frames=3)
    t.add(None, [None, None, None])
    t.add(None, [None, 1, None])      # a stranger named on one frame
    t.add(0, [None, 0, 0])
    t.add(1, [1, 0, None])            # called X on its 2nd frame
    row = t.row()
    assert row["strangers_tracks"] == 2 and row["strangers_tracks_named"] == pytest.approx(0.5)
    assert row["strangers_frames_named"] == pytest.approx(1 / 6)
    assert row["enrolled_tracks"] == 2
    assert row["named_rightly_by_frame"] == pytest.approx([0.5, 0.5, 0.5])
    assert row["named_rightly"] == pytest.approx(0.5)
    assert row["named_wrongly"] == pytest.approx(1 / 6)


def own(e):
    return GALLERY.match(e, 0.5)


def test_a_sure_frame_restarts_an_unknown_template_but_names_no_stranger_alone(tn):
    # The stranger above, each frame now also matched alone; "sure" under 0.2. Its look-alike
    # frame (0.10 from X) restarts the template: with min_frames 1 that template says X, but the
    # vote is 2 Unknown to 1, and the next frame pools e_z again (0.81 from X); with the shipped 2
    # the one-frame template waits. Either way it is never shown named.
    frames = np.stack([unit(0, 0, 1), unit(0, 0, 1), unit(1, 0, 0.1), unit(0, 0, 1)])
    assert tn.run_track(frames, identify, 1, own, 0.2) == [None] * 4
    assert tn.run_track(frames, identify, 2, own, 0.2) == [None] * 4
    # X turning towards the camera: two profile frames (e_z) then frontal ones. Pooled with the
    # profiles the template stays over τ until the 6th frame (2 e_z + 4 e_x: 0.46 from X) and the
    # vote shows Unknown throughout; restarted at the first frontal frame, the template is X from
    # frame 4 and the vote turns to X on frame 6 (3 X of the last 5).
    turning = np.stack([unit(0, 0, 1)] * 2 + [unit(1, 0, 0)] * 4)
    assert tn.run_track(turning, identify, 2) == [None] * 6
    assert tn.run_track(turning, identify, 2, own, None) == [None] * 6  # no sure distance: as before
    assert tn.run_track(turning, identify, 2, own, 0.2) == [None] * 5 + [0]
