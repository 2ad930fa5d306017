"""The one-click review actions of Recent faces against a real gallery: "This is …" adds the
group's best face that passes the gate, a poor face is refused saying why, "New person…" enrols
and refuses a taken name, "Not …" stops that match, the unknown faces a new photo pulls in are
listed (`matches_now`), and a face forgotten while an action writes the gallery stays forgotten."""

from __future__ import annotations

import numpy as np
import pytest
from recent_helpers import BLURRED, Clock, FakeEngine, V, feed, near, sharp_crop, unit

from app.errors import GalleryError, NameTakenError, QualityError
from app.live.recent import ADDED, STORE_FILENAME, RecentFaces, RecentStore
from app.live.recent_actions import SOURCE, best_addable, matches_now, new_person, not_person, this_is
from app.recognition.matching import UNKNOWN
from app.store.gallery import Gallery


@pytest.fixture
def gallery(tmp_path):
    with Gallery(tmp_path / "g.sqlite3") as g:
        yield g


def test_this_is_adds_the_groups_best_face_that_passes_the_gate(gallery):
    eng = FakeEngine(gallery)
    ann = gallery.enrol("Ann", sharp_crop(99), unit(99), V)
    rf = RecentFaces(clock=Clock(0.0))
    rf.configure(V, 0.5)
    keys = [feed(rf, 1, unit(1), crop_seed=11, side=80), feed(rf, 2, near(unit(1), 2, 0.1), crop_seed=12, side=150)]
    (g,) = rf.groups()
    smp = this_is(rf, eng, g.keys, ann.id)
    assert smp.source == SOURCE and np.array_equal(smp.crop, sharp_crop(12))     # the larger face
    assert smp.quality is not None and smp.quality_note == "good"
    assert np.array_equal(smp.embedding, eng.embed_stored_crops(sharp_crop(12)[None])[0])
    assert gallery.person(ann.id).sample_count == 2
    assert all(rf.get(k).status == ADDED and rf.get(k).label == "Ann" for k in keys)
    assert rf.groups() == [] and [g.label for g in rf.view()] == ["Ann", "Ann"]


def test_a_poor_face_is_refused_and_says_why(gallery):
    eng = FakeEngine(gallery)
    ann = gallery.enrol("Ann", sharp_crop(99), unit(99), V)
    rf = RecentFaces(clock=Clock(0.0))
    key = feed(rf, 1, unit(1), crop=BLURRED)
    v = gallery.version
    with pytest.raises(QualityError, match="cannot be added: the face is blurred"):
        this_is(rf, eng, key, ann.id)
    with pytest.raises(QualityError, match="blurred"):
        new_person(rf, eng, key, "Someone")
    small = feed(rf, 2, unit(2), side=20)
    with pytest.raises(QualityError, match="too small"):
        new_person(rf, eng, small, "Someone")
    assert gallery.version == v and rf.get(key).unknown


def test_new_person_enrols_and_refuses_a_taken_name(gallery):
    eng = FakeEngine(gallery)
    gallery.enrol("Ann", sharp_crop(99), unit(99), V)
    rf = RecentFaces(clock=Clock(0.0))
    key = feed(rf, 1, unit(1))
    with pytest.raises(NameTakenError):
        new_person(rf, eng, key, "ann")
    p = new_person(rf, eng, key, "Carl")
    assert (p.name, p.sample_count) == ("Carl", 1) and rf.get(key).person_id == p.id
    with pytest.raises(GalleryError, match="no longer"):
        this_is(rf, eng, "no-such-key", p.id)


def test_not_person_stops_that_match(gallery):
    eng = FakeEngine(gallery)
    ann_photo = unit(1)
    ann = gallery.enrol("Ann", sharp_crop(99), ann_photo, V)
    look_alike = near(ann_photo, 5, 0.3)
    rf = RecentFaces(clock=Clock(0.0))
    key = feed(rf, 1, look_alike, name="Ann", nearest="Ann", distance=0.3)
    entry = rf.get(key)
    assert gallery.matcher(V).match(entry.embedding, 0.5)[0].name == "Ann"
    assert not_person(rf, eng, key, ann.id) == 1
    assert gallery.rejection_count(ann.id) == 1
    m = gallery.matcher(V)
    assert m.match(entry.embedding, 0.5)[0].name == UNKNOWN            # no longer named Ann
    assert m.match(near(look_alike, 6, 0.05), 0.5)[0].name == UNKNOWN  # nor when seen again
    assert m.match(ann_photo, 0.5)[0].name == "Ann"                    # Ann still is
    after = rf.get(key)
    assert after.unknown and after.rejected == (ann.id,)
    feed(rf, 1, look_alike, frames=1, name="Ann", t0=1.0)             # the live label lags: ignored
    assert rf.get(key).name == UNKNOWN


def test_matches_now_lists_the_unknown_faces_a_new_photo_pulls_in(gallery):
    eng = FakeEngine(gallery)
    ann = gallery.enrol("Ann", sharp_crop(99), unit(99), V)
    rf = RecentFaces(clock=Clock(0.0))
    rf.configure(V, 0.5)
    profile_photo = eng.embed_stored_crops(sharp_crop(11)[None])[0]  # what "This is Ann" will store
    profile = feed(rf, 1, profile_photo, crop_seed=11)
    # a blurred stranger near that view (listed alone: too blurred to group), and someone far off
    stranger = feed(rf, 2, near(profile_photo, 3, 0.35), crop=BLURRED)
    far = feed(rf, 3, unit(3), crop_seed=31)
    assert matches_now(rf, eng) == {}  # nobody near Ann's one photo yet
    this_is(rf, eng, profile, ann.id)
    now = matches_now(rf, eng)
    assert set(now) == {stranger} and now[stranger].person_id == ann.id and now[stranger].distance < 0.5
    assert far not in now and profile not in now  # far from her; and added, so no longer to review
    not_person(rf, eng, stranger, ann.id)
    assert matches_now(rf, eng) == {}  # "Not Ann" for it: it no longer matches her
    rf.ignore(far)
    assert matches_now(rf, eng) == {}


def test_best_addable_is_the_best_face_that_passes_the_gate_or_says_why_none_does():
    rf = RecentFaces(clock=Clock(0.0))
    small, large = feed(rf, 1, unit(1), side=80), feed(rf, 2, unit(2), side=150)
    blurred = feed(rf, 3, unit(3), crop=BLURRED, side=200)           # the largest, but blurred
    assert best_addable(rf.members([small, blurred, large])).key == large
    with pytest.raises(QualityError, match="cannot be added: the face is blurred"):
        best_addable(rf.members([blurred]))


def test_a_face_forgotten_while_the_gallery_is_written_stays_forgotten(tmp_path, gallery):
    clock = Clock(0.0)
    rf = RecentFaces(RecentStore(tmp_path / STORE_FILENAME, retention_s=3600, clock=clock), clock=clock)
    key = feed(rf, 1, unit(1))
    rf.end_all()
    assert rf.store.count() == 1
    eng = FakeEngine(gallery)
    embed = eng._embed

    def forget_then_embed(crop):
        rf.forget(key)  # "Forget" from the GUI thread while "New person…" embeds the face
        return embed(crop)

    eng._embed = forget_then_embed
    p = new_person(rf, eng, key, "Carl")
    assert gallery.person(p.id).sample_count == 1                     # the action itself is done
    assert rf.entries(include_ignored=True) == [] and rf.store.count() == 0  # and the face is not stored back
    rf.close()
