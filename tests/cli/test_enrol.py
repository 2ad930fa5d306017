"""`oneshot-face enrol NAME --capture SOURCE`: a guided capture from a video (the sample clip)
through the service, what it prints, its limits and what it refuses.

Who is where in the clip: tests/gui/gui_helpers.py (82-210 Lin-Manuel's close-up, the first
frame with one face; before it two or three faces in every frame)."""

from __future__ import annotations

import json

import pytest

from app.cli import main
from app.live.guided import LOST, PROMPTS


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def clip(samples_dir) -> str:
    return str(samples_dir / "short_hamilton_clip.mp4")


@pytest.fixture
def det(yunet_path) -> list[str]:
    return ["--detector-model", str(yunet_path)]


def people(capsys) -> list:
    code, out, _ = run(capsys, "people", "list", "--json")
    assert code == 0
    return json.loads(out)


def test_a_capture_of_the_clip_enrols_lin_manuels_views(capsys, clip, det, samples_dir):
    code, out, err = run(capsys, "enrol", "Lin-Manuel", "--capture", clip, *det)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[-1] == "Enrolled Lin-Manuel (2 photos; from the capture: frontal, right)."
    prompts = [ln for ln in lines if not ln.startswith(("frame ", "Enrolled"))]
    assert prompts == ["Look at the camera", PROMPTS["left"]] and LOST not in out
    events = [ln.split(": ", 1)[1] for ln in lines if ln.startswith("frame ")]
    assert events == ["following the face in view", "kept the frontal view", "kept the right view",
                      "lost the face"]
    first = int(lines[1].split(":")[0].removeprefix("frame "))
    assert 82 <= first <= 90  # the close-up
    assert "the face left the view" in err
    assert people(capsys) == [{"name": "Lin-Manuel", "photos": 2}]
    code, out, _ = run(capsys, "identify", str(samples_dir / "lin-manuel-miranda.png"), "--json", *det)
    assert code == 0 and [f["name"] for f in json.loads(out)["faces"]] == ["Lin-Manuel"]


def test_seconds_bounds_the_capture_and_what_was_kept_is_enrolled(capsys, clip, det):
    """Three seconds reach a few frames into the close-up: its frontal view only."""
    code, out, err = run(capsys, "enrol", "Lin", "--capture", clip, "--seconds", "3", *det)
    assert code == 0, err
    assert out.splitlines()[-1] == "Enrolled Lin (1 photo; from the capture: frontal)."
    assert people(capsys) == [{"name": "Lin", "photos": 1}]


def test_several_faces_and_never_one_alone_enrols_nobody(capsys, clip, det):
    code, out, err = run(capsys, "enrol", "Lin", "--capture", clip, "--seconds", "2", *det)
    assert code == 2 and "Several faces were in view" in err and "after 2 s" in err
    assert err.strip().splitlines()[-1].startswith("oneshot-face: error:")
    assert people(capsys) == []


def test_ctrl_c_cancels_and_enrols_nobody(capsys, clip, det, monkeypatch):
    from app.service import live as service
    real = service.analyser_for

    def interrupted(engine, *a, **kw):
        analyser, calls = real(engine, *a, **kw), []

        def analyse(*args, **kwargs):
            calls.append(1)
            if len(calls) == 120:  # the frontal view is kept by then
                raise KeyboardInterrupt
            return analyser(*args, **kwargs)
        return analyse

    monkeypatch.setattr(service, "analyser_for", interrupted)
    code, out, err = run(capsys, "enrol", "Lin", "--capture", clip, *det)
    assert code == 130 and "kept the frontal view" in out
    assert "Capture cancelled: nobody was enrolled." in err and "Enrolled" not in out
    assert people(capsys) == []


def test_a_missing_source_or_photo_and_capture_together_are_refused_in_one_line(capsys, tmp_path, det, clip):
    code, _, err = run(capsys, "enrol", "Lin", "--capture", str(tmp_path / "nope.mp4"), *det)
    assert code == 2 and "does not exist" in err and err.count("\n") == 1
    code, _, err = run(capsys, "enrol", "Lin", "photo.jpg", "--capture", clip)
    assert code == 2 and "either a PHOTO or --capture" in err and err.count("\n") == 1
    code, _, err = run(capsys, "enrol", "Lin")
    assert code == 2 and "either a PHOTO or --capture" in err
    code, _, err = run(capsys, "enrol", "Lin", "--capture", clip, "--seconds", "0")
    assert code == 2 and "--seconds" in err
    assert people(capsys) == []


def test_a_capture_of_someone_enrolled_notes_whom_they_resemble(capsys, clip, det, samples_dir):
    code, _, _ = run(capsys, "enrol", "Lin", str(samples_dir / "lin-manuel-miranda.png"), *det)
    assert code == 0
    code, out, err = run(capsys, "enrol", "Miranda", "--capture", clip, *det)
    assert code == 0 and "note: this face is also close to Lin" in err
    code, out, err = run(capsys, "enrol", "miranda", "--capture", clip, "--seconds", "3", "--add", *det)
    assert code == 0 and out.splitlines()[-1].startswith("Enrolled Miranda (3 photos;")
    assert "close to" not in err  # nearest is Miranda's own capture now: nobody else to note


def test_a_camera_number_is_captured_from_live(capsys, clip, det, monkeypatch):
    """`--capture 0` with cv2.VideoCapture replaced (no real camera is involved): camera 0 plays
    the clip as live frames (wall-clock times, so --seconds is set long enough not to matter);
    a camera that cannot be opened is one line."""
    import cv2
    real = cv2.VideoCapture

    def video_capture(index, *api):
        return real(clip) if index == 0 else real(str(clip) + ".missing")

    monkeypatch.setattr(cv2, "VideoCapture", video_capture)
    code, out, err = run(capsys, "enrol", "Lin", "--capture", "0", "--seconds", "600", *det)
    assert code == 0, err
    assert "lost the face" in out and out.splitlines()[-1] == "Enrolled Lin (2 photos; from the capture: frontal, right)."
    code, _, err = run(capsys, "enrol", "Alex", "--capture", "3", *det)
    assert code == 2 and "camera 3 cannot be opened" in err and err.count("\n") == 1
    assert people(capsys) == [{"name": "Lin", "photos": 2}]
