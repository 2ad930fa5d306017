"""benchmarks/guided_capture.py: umist people enrolled by guided capture against one photo."""

from __future__ import annotations

from benchmark_scripts import load_benchmark


def _module():
    return load_benchmark("guided_capture")


def test_the_capture_and_the_measured_video_share_no_frame(shared):
    mod = _module()
    person = shared / "datasets" / "umist" / "p03"
    capture = [p.name for p in mod.capture_sequence(person)]
    probe = [p.name for p in mod.probe_sequence(person)]
    even = [f"v{i:03d}.png" for i in range(0, 18, 2)]
    odd = [f"v{i:03d}.png" for i in range(1, 18, 2)]
    assert capture == ["00_v018.png"] + even[::-1] + even  # look at the camera, turn away and back
    assert probe == odd + odd[::-1]
    assert not set(capture) & set(probe) and len(set(capture) | set(probe)) == 19


def test_a_captured_person_beside_a_stranger(shared, tmp_path):
    """p03 (whose turn reaches into the capture's "left" bin) enrolled, p12 a stranger: the
    capture keeps p03's turned view (no frontal one: umist's least-turned views are turned), both
    runs play the same 18 measured frames per person, and the captured p03 is named on some."""
    umist = shared / "datasets" / "umist"
    for name in ("p03", "p12"):
        (tmp_path / name).symlink_to(umist / name)
    r = _module().run(tmp_path)
    photo, capture = r["photo"], r["capture"]
    assert capture["kept_views"] == {"p03": ["left"]} and capture["fell_back_to_the_photo"] == []
    for run in (photo, capture):
        assert (run["enrolled"], run["enrolled_frames"], run["stranger_frames"]) == (1, 18, 18)
    assert capture["per_person"]["p03"]["right"] >= 1


def test_a_capture_that_keeps_nothing_falls_back_to_the_snapshot(shared, tmp_path):
    """p01's every view is turned past the capture's bins: the app would refuse the capture,
    so the user's one snapshot (the least-turned view) is enrolled, as in the photo run."""
    (tmp_path / "p01").symlink_to(shared / "datasets" / "umist" / "p01")
    (tmp_path / "p02").symlink_to(shared / "datasets" / "umist" / "p02")
    r = _module().run(tmp_path)
    assert r["capture"]["kept_views"] == {"p01": []} and r["capture"]["fell_back_to_the_photo"] == ["p01"]
    assert r["capture"]["per_person"]["p01"] == r["photo"]["per_person"]["p01"]
