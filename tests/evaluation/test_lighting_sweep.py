"""benchmarks/lighting_sweep.py: LFW photos lit from frontal to strong side light, played as videos."""

from __future__ import annotations

import numpy as np
import pytest
from benchmark_scripts import load_benchmark

from app.evaluation.protocols import read_people_counts
from app.live.tracking import SceneCutDetector
from app.training.calibration import validation_people


def _module():
    return load_benchmark("lighting_sweep")


def test_the_sweep_goes_up_to_the_strongest_light_and_back_on_each_leg():
    mod = _module()
    s = mod.steps((0.25, 0.5, 0.75, 1.0, 1.25))
    assert len(s) == 31 and s[0] == s[10] == s[20] == s[30] == ("frontal", 0.0)
    assert [x for _, x in s[1:10]] == [0.25, 0.5, 0.75, 1.0, 1.25, 1.0, 0.75, 0.5, 0.25]
    assert {leg for leg, _ in s[1:10]} == {"right"} and {leg for leg, _ in s[21:30]} == {"dark"}
    fine = mod.steps()  # 0.05 .. 1.25 up, 1.20 .. 0.05 down, then even light: 1 + 3 x 50
    assert len(fine) == 151 and fine[1] == ("right", 0.05) and fine[25] == ("right", 1.25) and fine[50] == ("frontal", 0.0)


def test_per_step_shares_worked_out_by_hand():
    mod = _module()
    S = mod.Seen
    seen = [S("a", True, "a", "frontal"), S("a", True, "b", "right 1.00"), S("a", True, None, "right 1.00"),
            S("a", True, "Unknown", "right 1.00"), S("s", False, "Unknown", "frontal"), S("s", False, "a", "right 1.00"),
            S("s", False, None, "right 1.00")]
    r = mod.per_step(seen, "Unknown")
    assert list(r) == ["frontal", "right 1.00"]
    assert r["frontal"] == {"enrolled_frames": 1, "right": 1, "named_other": 0, "no_face": 0,
                            "stranger_frames": 1, "stranger_named": 0}
    assert r["right 1.00"] == {"enrolled_frames": 3, "right": 0, "named_other": 1, "no_face": 1,
                               "stranger_frames": 2, "stranger_named": 1}


def test_people_are_drawn_from_the_set_asked_for_the_same_each_time(shared):
    mod = _module()
    lfw = shared / "datasets" / "lfw"
    val = mod.choose_people(lfw, "validation", 6)
    assert val == mod.choose_people(lfw, "validation", 6) == sorted(val) and len(set(val)) == 6
    assert set(val) <= validation_people(lfw)[0]
    test = mod.choose_people(lfw, "devtest", 6)
    counts = dict(read_people_counts(lfw / "protocol" / "peopleDevTest.txt"))
    assert all(counts[n] >= 2 for n in test) and not set(test) & set(val)


def test_the_light_strength_changes_the_frames(shared):
    """On a real photo: evenly lit frames are the photo on the frame; lit from the right, the
    face's left half darkens with every step of strength and its right half does not; from the
    left the other way round; the dark leg darkens both halves."""
    mod = _module()
    lfw = shared / "datasets" / "lfw"
    name = mod.choose_people(lfw, "validation", 2)[0]
    path = mod.lfw_image_path(lfw, name, mod.SWEEP_PHOTO)
    frames = list(mod.video(path)())
    assert len(frames) == 151 and [n for n, _ in frames[:3]] == ["frontal", "right 0.05", "right 0.10"]
    plain = mod.as_frame(mod.load_image(path), mod.SCALE)
    assert all(np.array_equal(f, plain) for n, f in frames if n == "frontal")
    # the face on the frame: 250 px * 1.4 = 350 px wide, centred in 640; its middle 40% is the ramp
    x0, x1 = 145 + round(0.3 * 350), 145 + round(0.7 * 350)
    left, right = slice(x0, (x0 + x1) // 2), slice((x0 + x1) // 2, x1)

    def halves(leg: str) -> list[tuple[float, float]]:
        """The two halves' mean brightness on the leg's way up at strength 0.25, 0.5, ... 1.25."""
        coarse = {f"{leg} {x:.2f}" for x in mod.EACH_STEP}
        return [(float(f[:, left].mean()), float(f[:, right].mean())) for n, f in frames if n in coarse][:5]

    base_l, base_r = float(plain[:, left].mean()), float(plain[:, right].mean())
    r = halves("right")
    assert base_l > r[0][0] > r[1][0] > r[2][0] > r[3][0] > r[4][0]
    assert all(rr > 0.5 * base_r for _, rr in r)        # the lit side stays lit
    lf = halves("left")
    assert base_r > lf[0][1] > lf[1][1] > lf[2][1] > lf[3][1] > lf[4][1]
    d = halves("dark")
    assert all(a[0] > b[0] and a[1] > b[1] for a, b in zip([(base_l, base_r)] + d, d))
    # the grey around the photo: as it is in side light, darker with each step of the dark leg
    corners = {n: int(f[0, 0, 0]) for n, f in frames}
    assert corners["right 1.25"] == corners["left 1.25"] == corners["frontal"] == 128
    assert 128 > corners["dark 0.25"] > corners["dark 0.50"] > corners["dark 0.75"] > corners["dark 1.00"]
    # and the light moves, the camera does not switch: the live view sees no scene cut in it
    cut = SceneCutDetector()
    assert not any(cut(f) for _, f in frames)
    by_name = dict(frames)
    jump = SceneCutDetector()
    assert [jump(by_name["frontal"]), jump(by_name["dark 0.25"])] == [False, True]  # a step of 0.25 in one frame is one


def test_two_people_one_enrolled_one_stranger(shared):
    """Every frame of both videos is accounted for, per step and in all; the shares are the
    per-step counts added up."""
    r = _module().run(shared / "datasets" / "lfw", people=2)
    assert (r["people"], r["enrolled"], r["enrolled_frames"], r["stranger_frames"]) == (2, 1, 151, 151)
    steps = r["per_step"]
    assert len(steps) == 76 and steps["frontal"]["enrolled_frames"] == 4 and steps["right 1.25"]["enrolled_frames"] == 1
    assert sum(v["enrolled_frames"] for v in steps.values()) == 151
    assert r["enrolled_named_right"] == pytest.approx(sum(v["right"] for v in steps.values()) / 151)
    assert r["enrolled_no_face"] == pytest.approx(sum(v["no_face"] for v in steps.values()) / 151)
    assert r["stranger_frames_named"] == pytest.approx(sum(v["stranger_named"] for v in steps.values()) / 151)
    enrolled = r["names"][0]
    assert steps["frontal"]["right"] >= 1 and r["per_person"][enrolled]["right"] >= 1


def test_learning_on_learns_nothing_from_the_stranger(shared):
    r = _module().run(shared / "datasets" / "lfw", people=2, learn=True)
    stranger = r["names"][1]
    assert r["learn"] and set(r["by_video"]) == set(r["names"]) and r["by_video"][stranger]["added_into"] == {}
    assert r["learned_from_another_video"] == 0 and set(r["learned"]) == {r["names"][0]}
    assert r["first_play"]["stranger_frames"] == r["stranger_frames"] == 151


def test_each_step_plays_every_light_as_its_own_short_video(shared):
    """--each-step: 16 light steps x 6 frames per person, each its own track; the videos are
    told apart but counted by their person, and the stranger's 16 videos add nothing to anyone."""
    mod = _module()
    r = mod.run(shared / "datasets" / "lfw", people=2, each_step=True, learn=True)
    enrolled, stranger = r["names"]
    assert (r["people"], r["enrolled"], r["enrolled_frames"], r["stranger_frames"]) == (2, 1, 96, 96)
    assert r["stranger_sequences"] == 1 and set(r["per_person"]) == {enrolled, stranger}
    assert all(v["enrolled_frames"] == v["stranger_frames"] == mod.HOLD for v in r["per_step"].values())
    assert len(r["by_video"]) == 32 and f"{stranger} @ dark 1.25" in r["by_video"]
    assert all(v["added_into"] == {} for k, v in r["by_video"].items() if k.startswith(stranger))
    assert r["learned_from_another_video"] == 0 and set(r["learned"]) == {enrolled}
