"""Name labels stay inside the picture and clear of each other: the placement (Qt-free) and the
live view drawing a crowd and faces at the edges."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.gui.label_layout import place_labels

FRAME = (0.0, 0.0, 640.0, 360.0)


def _inside(r, bounds=FRAME) -> bool:
    x, y, w, h = r
    return bounds[0] - 1e-6 <= x and x + w <= bounds[0] + bounds[2] + 1e-6 and \
        bounds[1] - 1e-6 <= y and y + h <= bounds[1] + bounds[3] + 1e-6


def _overlap(a, b) -> bool:
    return (min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]) > 1e-6 and
            min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]) > 1e-6)


def test_one_face_gets_its_label_just_above():
    (r,) = place_labels([(100, 100, 80, 80)], [(60, 20)], FRAME)
    assert r == (100, 80, 60, 20)


@pytest.mark.parametrize("box, why", [
    ((600, 150, 40, 40), "right edge"),
    ((-20, 150, 60, 60), "left edge, box partly out of the frame"),
    ((300, 0, 60, 60), "top edge"),
    ((300, 300, 60, 60), "bottom edge"),
    ((590, 0, 50, 50), "top right corner"),
])
def test_labels_at_the_edges_stay_inside_the_frame(box, why):
    (r,) = place_labels([box], [(200, 24)], FRAME)
    assert _inside(r), (why, r)
    if box[1] == 0:  # no room above: below the face, not over it
        assert r[1] >= box[1] + box[3]


def test_a_label_wider_than_the_frame_is_cut_to_it():
    (r,) = place_labels([(10, 100, 50, 50)], [(1000, 24)], FRAME)
    assert r[0] == 0 and r[2] == 640 and _inside(r)


def test_a_crowd_gets_labels_that_do_not_overlap():
    # eight faces in a row, closer together than their labels are wide
    boxes = [(20 + 75 * i, 150, 60, 60) for i in range(8)]
    rects = place_labels(boxes, [(190, 22)] * 8, FRAME)
    assert all(_inside(r) for r in rects)
    for a, b in itertools.combinations(rects, 2):
        assert not _overlap(a, b), (a, b)
    # each label stays beside its own face: above or below, starting at its left edge or pushed in
    for box, r in zip(boxes, rects):
        assert r[0] == min(box[0], 640 - 190)


def test_overlapping_faces_in_a_random_crowd():
    rng = np.random.default_rng(0)
    boxes = [(float(x), float(y), 50.0, 50.0) for x, y in rng.uniform([0, 40], [560, 260], (12, 2))]
    rects = place_labels(boxes, [(120, 20)] * 12, FRAME)
    assert len(rects) == 12 and all(_inside(r) for r in rects)
    for a, b in itertools.combinations(rects, 2):
        assert not _overlap(a, b), (a, b)


def test_no_room_at_all_still_gives_every_label_a_place_inside():
    bounds = (0.0, 0.0, 100.0, 30.0)
    rects = place_labels([(0, 5, 20, 20), (30, 5, 20, 20), (60, 5, 20, 20)], [(90, 20)] * 3, bounds)
    assert len(rects) == 3 and all(_inside(r, bounds) for r in rects)


def test_the_live_view_draws_names_inside_the_picture_and_apart(qtbot):
    from app.gui.live_view import LiveView
    from app.gui.workers import FrameResult
    from app.live.tracking import Labelled

    view = LiveView()
    qtbot.addWidget(view)
    view.resize(800, 450)
    view.set_message("")
    rgb = np.full((360, 640, 3), 90, np.uint8)
    boxes = [(600, 100, 60, 60), (-10, 0, 70, 70)] + [(150 + 50 * i, 200, 45, 45) for i in range(6)]
    labels = [Labelled(i, b, f"Somebody with a long name {i}", f"x{i}", 0.3, True)
              for i, b in enumerate(boxes)]
    view.show_result(FrameResult(0, rgb, labels, 10.0, 5.0))
    view.show()
    img = view.grab()  # paints
    assert not img.isNull()
    s, ox, oy = view._geometry()
    picture = (ox, oy, 640 * s, 360 * s)
    rects = view.label_rects
    assert len(rects) == len(boxes)
    assert all(_inside(r, picture) for r in rects), rects
    for a, b in itertools.combinations(rects, 2):
        assert not _overlap(a, b), (a, b)


def test_a_face_at_the_top_beside_another_label_goes_below_both_not_over_its_face():
    # the first label sits just below face A; face B, at the top edge too, overlaps it sideways
    # (not lined up with B's levels: it blocks two of them)
    boxes = [(0, 0, 40, 45), (30, 3, 40, 40)]
    a, b = place_labels(boxes, [(120, 20)] * 2, FRAME)
    assert a == (0, 45, 120, 20)
    assert not _overlap(a, b) and b[1] >= 43  # below face B (and A's label), not on top of face B
