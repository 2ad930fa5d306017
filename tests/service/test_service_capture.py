"""Guided enrolment through the service (`Library.start_capture` … `enrol_capture`,
`Library.enrol_views`), with the real engine and shipped model on the sample photos.

The capture is fed as the live loop feeds it (`feed_capture` with the frame's recognitions and
labels): `obama.jpg` is frontal (YuNet yaw near 0.5), `obama2.jpg` turned to his own right (yaw
near 0.25) and the same photo mirrored turned to his left, all as one track."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
from service_helpers import library_on

from app.errors import NameTakenError, OneShotError
from app.imageio import load_image
from app.live.guided import DONE, FRONTAL, LEFT, PROMPTS, RIGHT
from app.service import Library

TRACK = 5


@pytest.fixture
def lib(yunet_path, tmp_path):
    yield from library_on(yunet_path, tmp_path)


@pytest.fixture
def frames(samples_dir) -> dict[str, np.ndarray]:
    turned = load_image(samples_dir / "obama2.jpg")
    return {FRONTAL: load_image(samples_dir / "obama.jpg"), RIGHT: turned,
            LEFT: np.ascontiguousarray(turned[:, ::-1])}


def feed(lib: Library, rgb: np.ndarray, track: int = TRACK):
    """One frame as the live loop hands it over: every face's recognition, each labelled `track`."""
    recs = lib.engine.analyse(rgb)
    return lib.feed_capture(rgb, recs, [SimpleNamespace(track_id=track) for _ in recs])


def capture_all(lib: Library, frames) -> None:
    lib.start_capture(TRACK)
    for b in (FRONTAL, LEFT, RIGHT):
        snap = feed(lib, frames[b])
        assert snap is not None and snap.filled[b], f"the {b} photo filled no {b} bin"


def test_the_capture_reports_progress_and_is_none_when_not_running(lib, frames):
    assert lib.capture_progress() is None and feed(lib, frames[FRONTAL]) is None  # no capture: nothing
    first = lib.start_capture(TRACK)
    assert first.prompt == PROMPTS[FRONTAL] and not any(first.filled.values()) and first.track_id == TRACK
    snap = feed(lib, frames[FRONTAL])
    assert snap.filled == {FRONTAL: True, LEFT: False, RIGHT: False} and snap.prompt == PROMPTS[LEFT]
    assert snap.crops[FRONTAL].shape == (112, 112, 3) and snap.frames == 1
    assert feed(lib, frames[LEFT], track=TRACK + 1).filled[LEFT] is False  # another track's face
    feed(lib, frames[LEFT])
    done = feed(lib, frames[RIGHT])
    assert done.done and done.prompt == DONE and lib.capture_progress().done
    lib.stop_capture()
    assert lib.capture_progress() is None


def test_enrol_views_enrols_every_view_as_one_persons_photos(lib, frames, samples_dir):
    capture_all(lib, frames)
    kept = lib.capture_progress().crops
    person = lib.enrol_capture("Barack Obama")
    assert person.name == "Barack Obama" and person.sample_count == 3
    samples = lib.engine.gallery.samples(person.id)
    assert [s.source for s in samples] == ["guided capture (frontal)", "guided capture (left)",
                                           "guided capture (right)"]
    for s, b in zip(samples, (FRONTAL, LEFT, RIGHT)):
        assert np.array_equal(s.crop, kept[b])  # the crops the user saw, as stored
        assert s.quality is not None and 0 < s.quality <= 1
    assert [p.is_main for p in lib.person_page(person.id).photos] == [True, False, False]  # frontal
    assert lib.capture_progress() is None  # enrolled: the capture ends
    assert lib.fake_recent.synced == 1 and [p.name for p in lib.people()] == ["Barack Obama"]
    # the views name him in a photo none of them came from
    (rec,) = lib.engine.identify_photo(samples_dir / "obama-480p.jpg")
    assert rec.match.name == "Barack Obama"


def test_a_failure_while_adding_the_later_views_leaves_no_new_person(lib, frames, monkeypatch):
    capture_all(lib, frames)
    gallery = lib.engine.gallery
    real, calls = gallery._insert_sample, []

    def fails_on_the_third(*a, **kw):  # inside add_samples' transaction, after one view is written
        calls.append(1)
        if len(calls) == 3:
            raise OSError("disk full")
        return real(*a, **kw)

    monkeypatch.setattr(gallery, "_insert_sample", fails_on_the_third)
    with pytest.raises(OSError, match="disk full"):
        lib.enrol_capture("Obama")
    assert len(calls) == 3  # one transaction: two views written, the third failed, none kept
    monkeypatch.setattr(gallery, "_insert_sample", real)
    assert lib.find("Obama") is None and gallery.people() == [] and gallery.samples() == []
    assert lib.deleted_people() == [] and len(lib.engine.matcher) == 0
    assert lib.capture_progress() is not None and len(lib.capture_progress().crops) == 3  # kept to retry
    assert lib.enrol_capture("Obama").sample_count == 3  # and the retry enrols all three


def test_a_failed_capture_under_a_deleted_persons_name_leaves_their_undo(lib, frames, samples_dir, monkeypatch):
    """Giving a name to someone new erases a namesake deleted moments ago (their undo ends); a
    capture that then fails to enrol must not have cost that undo."""
    old = lib.enrol("Obama", lib.candidate(load_image(samples_dir / "obama-480p.jpg")))
    lib.delete(old.id)
    capture_all(lib, frames)
    gallery = lib.engine.gallery
    real = gallery._insert_sample

    def fails_on_a_later_view(conn, person_id, png, emb, model_version, source, *rest):
        if source == "guided capture (right)":
            raise OSError("disk full")
        return real(conn, person_id, png, emb, model_version, source, *rest)

    monkeypatch.setattr(gallery, "_insert_sample", fails_on_a_later_view)
    with pytest.raises(OSError, match="disk full"):
        lib.enrol_capture("Obama")
    monkeypatch.setattr(gallery, "_insert_sample", real)
    assert [d.name for d in lib.deleted_people()] == ["Obama"] and lib.find("Obama") is None
    back = lib.undo_delete(old.id)
    assert back.name == "Obama" and back.sample_count == 1


def test_add_to_existing_adds_every_view_in_one_transaction(lib, frames, samples_dir, monkeypatch):
    cand = lib.candidate(load_image(samples_dir / "obama-480p.jpg"), 1)
    obama = lib.enrol("Obama", cand, source="obama-480p.jpg")
    assert lib.capture_nearest() is None  # no capture
    capture_all(lib, frames)
    nearest = lib.capture_nearest()  # his views are him: the front end can offer "add to Obama"
    assert nearest is not None and nearest.known and nearest.person_id == obama.id
    gallery = lib.engine.gallery
    real, calls = gallery._insert_sample, []

    def fails_on_the_second(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(*a, **kw)

    monkeypatch.setattr(gallery, "_insert_sample", fails_on_the_second)
    with pytest.raises(OSError):
        lib.enrol_capture("obama", add_to_existing=True)
    monkeypatch.setattr(gallery, "_insert_sample", real)
    assert [s.source for s in gallery.samples(obama.id)] == ["obama-480p.jpg"]  # none of the three
    person = lib.enrol_capture("obama", add_to_existing=True)  # any case finds him
    assert person.id == obama.id and person.sample_count == 4
    assert [s.source for s in gallery.samples(obama.id)][1:] == [
        "guided capture (frontal)", "guided capture (left)", "guided capture (right)"]


def test_a_taken_name_is_refused_and_the_capture_kept(lib, frames, samples_dir):
    cand = lib.candidate(load_image(samples_dir / "biden.jpg"), 1)
    biden = lib.enrol("Joe", cand, source="biden.jpg")
    capture_all(lib, frames)
    with pytest.raises(NameTakenError):
        lib.enrol_capture("Joe")
    assert lib.engine.gallery.person(biden.id).sample_count == 1
    nearest = lib.capture_nearest()
    assert nearest is not None and not nearest.known and nearest.nearest == "Joe"  # Obama is not Joe
    assert lib.capture_progress() is not None and lib.capture_progress().done
    assert lib.enrol_capture("Barack").sample_count == 3


def test_no_views_or_no_capture_is_a_clear_error(lib, frames):
    with pytest.raises(OneShotError, match="kept no view"):
        lib.enrol_views("Obama", [])
    with pytest.raises(OneShotError, match="No capture is running"):
        lib.enrol_capture("Obama")
    lib.start_capture(TRACK)
    feed(lib, np.zeros_like(frames[FRONTAL]))  # a frame without his face
    assert lib.capture_nearest() is None
    with pytest.raises(OneShotError, match="kept no view"):
        lib.enrol_capture("Obama")
    assert lib.capture_progress() is not None and lib.people() == []  # kept, nothing enrolled


def test_a_partial_capture_enrols_the_views_it_kept(lib, frames):
    lib.start_capture(None)  # locks on the first frame with one face
    feed(lib, frames[RIGHT], track=11)
    feed(lib, frames[FRONTAL], track=12)  # another track: ignored
    assert lib.capture_progress().track_id == 11
    person = lib.enrol_capture("Obama")
    assert [s.source for s in lib.engine.gallery.samples(person.id)] == ["guided capture (right)"]


def capture_lin_and_replay(lib, samples_dir) -> list[str]:
    """The clip played through the live analysis (as the app does) with a capture started at its
    first frame: it locks on the first frame with one face (the close-up, 82-210, see
    tests/gui/gui_helpers.py), keeps his frontal and his turned-to-his-right views (he never
    turns far to his left: no left view), and is lost once the close-up ends. Enrolled, the views
    name him in his photo and in the close-up. Returns the names the replay gave the audience after it."""
    from app.live.guided import LOST
    from app.service import live as service
    clip = str(samples_dir / "short_hamilton_clip.mp4")

    def play(each) -> None:
        analyser = service.analyser_for(lib.engine)
        with service.open_source(clip) as source:
            while (frame := source.read()) is not None:
                each(frame, analyser(frame.rgb, when=frame.timestamp, frame_index=frame.index))

    lib.start_capture(None)
    prompts, first_single, boxes = [], None, {}

    def capture(frame, analysis) -> None:
        nonlocal first_single
        if first_single is None and len(analysis.labels) == 1:
            first_single = (frame.index, analysis.labels[0].track_id)
        snap = lib.feed_capture(frame.rgb, analysis.recognitions, analysis.labels)
        for rec, lab in zip(analysis.recognitions, analysis.labels):
            boxes.setdefault(lab.track_id, []).append(rec.face.box)
        if not prompts or prompts[-1] != snap.prompt:
            prompts.append(snap.prompt)

    play(capture)
    snap = lib.capture_progress()
    assert first_single is not None and 82 <= first_single[0] <= 90  # the close-up's start
    assert snap.track_id == first_single[1]
    assert snap.filled == {FRONTAL: True, LEFT: False, RIGHT: True}
    assert prompts == [PROMPTS[FRONTAL], PROMPTS[LEFT], LOST] and snap.lost and not snap.done
    assert snap.frames == len(boxes[snap.track_id]) >= 100  # every frame of the close-up seen
    views = lib._capture.views()
    assert all(v.face.box in boxes[snap.track_id] for v in views)  # his track's faces, nobody else's
    assert all(min(v.face.box[2:]) >= 70 for v in views)  # the close-up, not a wide shot

    person = lib.enrol_capture("Lin-Manuel")
    assert person.sample_count == 2
    (lin,) = lib.engine.identify_photo(samples_dir / "lin-manuel-miranda.png")
    assert lin.match.name == "Lin-Manuel"
    (alex,) = lib.engine.identify_photo(samples_dir / "alex-lacamoire.png")
    assert alex.match.name != "Lin-Manuel"

    close_up, audience = [], []

    def names(frame, analysis) -> None:
        if 82 <= frame.index <= 210 and analysis.labels:
            close_up.append(max(analysis.labels, key=lambda lab: lab.box[2] * lab.box[3]).name)
        elif frame.index >= 211:
            audience.extend(lab.name for lab in analysis.labels)

    play(names)
    assert len(close_up) >= 120 and close_up.count("Lin-Manuel") >= 0.8 * len(close_up)
    assert audience
    return audience


def test_end_to_end_on_the_sample_clip_a_capture_enrols_lin_manuel(lib, samples_dir):
    capture_lin_and_replay(lib, samples_dir)


@pytest.mark.xfail(strict=True, reason=(
    "the EdgeNeXt model (encoder-1796697929) names Barack Obama in the audience (frames 211-274) "
    "Lin-Manuel when Lin-Manuel is the only person enrolled, from two views captured on the same "
    "clip: his track's pooled distance 1.136-1.172 falls under the τ for tracks 1.193 (the "
    "MobileFaceNet model before: 1.220 against 1.157, Unknown; benchmarks/capture_neighbours.py); "
    "docs/experiments.md, 'Shipping EdgeFace's network'"))
def test_after_a_capture_of_lin_manuel_nobody_in_the_audience_is_named_him(lib, samples_dir):
    audience = capture_lin_and_replay(lib, samples_dir)
    assert "Lin-Manuel" not in audience, Counter(audience)
