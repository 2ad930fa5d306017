"""benchmarks/turning_head.py: umist people turning their heads, played as videos through the Engine."""

from __future__ import annotations

import pytest
from benchmark_scripts import load_benchmark


def _module():
    return load_benchmark("turning_head")


def test_shares_worked_out_by_hand():
    mod = _module()
    seen = [mod.Seen("a", True, "a"), mod.Seen("a", True, "Unknown"), mod.Seen("a", True, "b"),
            mod.Seen("a", True, None),
            mod.Seen("s", False, "Unknown"), mod.Seen("s", False, "a"), mod.Seen("t", False, "Unknown")]
    r = mod.summarise(seen, "Unknown")
    assert (r["enrolled_frames"], r["enrolled_named_right"], r["enrolled_named_other"], r["enrolled_no_face"]) == \
        (4, 0.25, 0.25, 0.25)
    assert (r["stranger_frames"], r["stranger_frames_named"]) == (3, pytest.approx(1 / 3))
    assert (r["stranger_sequences"], r["stranger_sequences_named"]) == (2, 0.5)
    assert r["per_person"]["a"] == {"frames": 4, "right": 1, "named_other": 1}


def test_the_sequence_turns_to_the_least_turned_view_and_back(shared):
    mod = _module()
    seq = mod.sequence(shared / "datasets" / "umist" / "p01")
    names = [p.name for p in seq]
    assert len(seq) == 37 and names[18] == mod.ENROL_VIEW
    assert names[:18] == [f"v{i:03d}.png" for i in range(18)] and names[19:] == names[:18][::-1]


def test_two_people_one_enrolled_one_stranger(shared):
    """p01 enrolled from its least-turned view, p02 a stranger: every frame of both videos is
    accounted for, p01 is named right on some of its turn, and p02 is never named."""
    r = _module().run(shared / "datasets" / "umist", people=2)
    assert (r["people"], r["enrolled"], r["enrolled_frames"], r["stranger_frames"]) == (2, 1, 37, 37)
    assert r["per_person"]["p01"]["right"] >= 1 and r["per_person"]["p01"]["named_other"] == 0
    assert r["stranger_frames_named"] == 0.0 and r["stranger_sequences_named"] == 0.0
    assert r["enrolled_named_right"] == r["per_person"]["p01"]["right"] / 37


def test_learning_on_plays_twice_and_learns_nothing_from_the_stranger(shared):
    """With --learn the first play learns and the second is measured: every video has its
    track's outcome, and no view is added to anyone while the stranger's video plays."""
    r = _module().run(shared / "datasets" / "umist", people=2, learn=True)
    assert r["learn"] and set(r["by_video"]) == {"p01", "p02"} and r["by_video"]["p02"]["added_into"] == {}
    assert all(v["outcomes"] for v in r["by_video"].values())
    assert r["learned_from_another_video"] == 0 and set(r["learned"]) == {"p01"}
    assert r["stranger_frames"] == r["first_play"]["stranger_frames"] == 37
    assert 0 <= r["enrolled_faces_passing_gate"] <= 37


def test_warm_plays_twice_with_learning_off(shared):
    """--warm, --learn's baseline: the same two plays, nothing learned."""
    r = _module().run(shared / "datasets" / "umist", people=2, warm=True)
    assert r["warm"] and not r["learn"] and r["learned"] == {"p01": 0}
    assert all(v["outcomes"] == [] for v in r["by_video"].values())


def test_a_photo_with_two_faces_enrols_the_one_nearest_its_centre(tmp_path):
    """A 100x80 photo with faces centred at (20, 40) and (55, 35): the second is nearer the
    centre (50, 40) and is the one given to enrol_candidate, and enrolled under the name."""
    import cv2
    import numpy as np

    from app.recognition.detection import Face

    mod = _module()
    photo = tmp_path / "two.png"
    cv2.imwrite(str(photo), np.zeros((80, 100, 3), np.uint8))
    side, middle = Face((10, 30, 20, 20), 0.9), Face((45, 25, 20, 20), 0.9)
    calls = {}

    class Engine:
        class detector:
            @staticmethod
            def detect(rgb):
                return [side, middle]

        def enrol_candidate(self, rgb, faces=None, name=""):
            calls["faces"] = faces
            return "candidate"

        def enrol(self, name, candidate, source=None):
            calls["enrol"] = (name, candidate, source)

    mod.enrol_centre(Engine(), "p", photo)
    assert calls == {"faces": [middle], "enrol": ("p", "candidate", "two.png")}
