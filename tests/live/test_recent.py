"""Recent faces and the quality gate: one entry per track with its best frame, unknown tracks of
one person grouped (hand-made vectors, then the real engine on the sample photos and the
Hamilton clip), what the review actions read and mark, renames and hiding, the opt-in store with
its retention, and the privacy promises (forget all, a deleted person leaves no entry). The
actions themselves: test_recent_actions.py."""

from __future__ import annotations

import stat
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from recent_helpers import BLURRED, Clock, FakeEngine, V, face, feed, near, sharp_crop, unit

from app.errors import GalleryError
from app.live.recent import (
    ADDED,
    STORE_FILENAME,
    RecentFaces,
    RecentStore,
    average_linkage,
    check_review_folder,
    open_recent_faces,
    remove_store,
    write_review_folder,
)
from app.live.recent_actions import SOURCE, new_person, not_person, this_is
from app.live.tracking import LiveLabeller
from app.recognition.alignment import TEMPLATE_112, align
from app.recognition.detection import Face
from app.recognition.matching import UNKNOWN, Match
from app.recognition.quality import MIN_SHARPNESS, MIN_SIDE_PX, assess, pose
from app.store.gallery import Gallery

# ---- the quality gate ----------------------------------------------------------------------

def test_quality_gate_says_why_a_face_is_refused():
    ok = assess(face(), sharp_crop(1))
    assert ok.ok and ok.reason == "" and ok.note == "good" and 0 < ok.score <= 1
    small = assess(face(MIN_SIDE_PX - 10), sharp_crop(1))
    assert not small.ok and "too small (30 px" in small.reason
    blurred = assess(face(), BLURRED)
    assert not blurred.ok and "blurred" in blurred.reason and blurred.sharpness < MIN_SHARPNESS
    assert blurred.score < ok.score
    lm = TEMPLATE_112.copy()
    lm[2, 0] = lm[1, 0] + 5                       # the nose beyond the far eye: a profile
    turned = assess(face(112, lm), sharp_crop(1))
    assert not turned.ok and turned.reason == "the face is turned to the side"
    lm = TEMPLATE_112.copy()
    lm[2, 1] = lm[0, 1] + 2                        # the nose at eye level: head tipped back
    assert "tipped" in assess(face(112, lm), sharp_crop(1)).reason
    haar = assess(Face((0, 0, 100, 100), 1.0, None), sharp_crop(1))   # no landmarks: no pose verdict
    assert haar.ok and haar.yaw is None and pose(None) == (None, None)


def test_quality_gate_on_real_photos(samples_dir, yunet_path):
    from app.imageio import load_image
    from app.recognition.detection import create_detector
    det = create_detector("yunet", yunet_path)
    rgb = load_image(samples_dir / "obama.jpg")
    (f,) = det.detect(rgb)
    assert assess(f, align(rgb, f, 112)).ok
    blurred = cv2.GaussianBlur(rgb, (0, 0), 6)
    (fb,) = det.detect(blurred)
    q = assess(fb, align(blurred, fb, 112))
    assert not q.ok and "blurred" in q.reason
    tiny = cv2.resize(rgb, None, fx=0.12, fy=0.12, interpolation=cv2.INTER_AREA)
    faces = det.detect(tiny)
    if faces:  # YuNet may miss a face this small; when it finds it, the gate refuses it
        assert "too small" in assess(faces[0], align(tiny, faces[0], 112)).reason


# ---- clustering ---------------------------------------------------------------------------------

def test_average_linkage_does_not_chain_like_single_linkage():
    # a - b - c - d in a line, 0.4 apart: single linkage at 0.5 would make one cluster.
    x = np.array([0.0, 0.4, 0.8, 1.2])
    d = np.abs(x[:, None] - x[None, :])
    assert average_linkage(d, 0.5) == [[0, 1], [2, 3]]
    assert average_linkage(d, 0.1) == [[0], [1], [2], [3]]
    assert average_linkage(d, 10) == [[0, 1, 2, 3]]
    assert average_linkage(np.zeros((0, 0)), 1.0) == []


def test_one_entry_per_track_with_its_best_frame_and_pooled_template():
    clock = Clock(0.0)
    rf = RecentFaces(clock=clock)
    rf.configure(V, 0.5)
    ann = unit(1)
    rf.observe(1, face(60), sharp_crop(1), ann, UNKNOWN, 0.9, None, V, when=0.0)
    rf.observe(1, face(100), sharp_crop(2), near(ann, 1, 0.1), UNKNOWN, 0.9, None, V, when=0.1)
    rf.observe(1, face(120), BLURRED, near(ann, 2, 0.1), UNKNOWN, 0.9, None, V, when=0.2)   # larger, but blurred
    (entry,) = rf.entries()
    assert entry.frames == 3 and (entry.first_seen, entry.last_seen) == (0.0, 0.2)
    assert np.array_equal(entry.crop, sharp_crop(2)) and entry.quality.ok and entry.quality.side_px == 100
    assert float(np.linalg.norm(entry.embedding)) == pytest.approx(1.0)
    assert float(entry.embedding @ ann) > 0.99                          # pooled: nearer the face than any frame


def test_unknown_tracks_of_one_person_are_grouped_named_ones_are_not():
    clock = Clock(10.0)
    rf = RecentFaces(clock=clock)
    rf.configure(V, 0.5)
    ann, bob = unit(1), unit(2)
    a = [feed(rf, t, near(ann, t, 0.15), t0=t) for t in (1, 2, 3)]
    b = [feed(rf, t, near(bob, t, 0.15), t0=t) for t in (4, 5)]
    named = feed(rf, 6, ann, name="Ann", nearest="Ann", distance=0.3, t0=6)
    poor = feed(rf, 7, near(ann, 7, 0.1), crop=BLURRED, t0=7)        # blurred: not grouped
    view = rf.view()
    groups = {frozenset(g.keys): g for g in view}
    assert set(groups) == {frozenset(a), frozenset(b), frozenset([named]), frozenset([poor])}
    g = groups[frozenset(a)]
    assert g.unknown and g.count == 3 and g.frames == 9 and g.label == UNKNOWN
    assert g.key == a[0]                                              # the oldest member names the group
    assert not groups[frozenset([named])].unknown and groups[frozenset([named])].label == "Ann"
    assert len(rf.groups()) == 3
    assert view[0].keys == (poor,)                                    # most recently seen first
    rf.configure("another-model", 0.5)                                 # other model: not compared
    assert len(rf.groups()) == 6


def test_memory_only_by_default_and_old_entries_expire(tmp_path):
    clock = Clock(0.0)
    rf = RecentFaces(window_s=60, clock=clock)
    feed(rf, 1, unit(1), t0=0.0)
    clock.t = 30.0
    feed(rf, 2, unit(2), t0=30.0)
    assert len(rf.entries()) == 2
    clock.t = 61.0
    assert [e.track_id for e in rf.entries()] == [2]
    clock.t = 200.0
    assert rf.purge() == 1 and rf.entries() == []                    # the first went at 61 s already
    assert rf.store is None and not list(tmp_path.iterdir())
    feed(rf, 3, unit(3), t0=200.0)
    assert len(rf.view()) == 1
    clock.t = 300.0                                                  # nothing seen since: the view still expires
    assert rf.view() == []


def test_a_track_that_jumps_to_someone_else_starts_a_new_entry():
    rf = RecentFaces(clock=Clock(0.0))
    k1 = feed(rf, 1, unit(1), name="Ann", t0=0.0)
    k2 = feed(rf, 1, unit(2), name="Bob", t0=0.5)
    assert k1 != k2 and {e.name for e in rf.entries()} == {"Ann", "Bob"}


def test_entries_are_capped():
    rf = RecentFaces(max_entries=5, clock=Clock(0.0))
    for t in range(8):
        feed(rf, t, unit(t), frames=1, t0=float(t))
    assert sorted(e.track_id for e in rf.entries()) == [3, 4, 5, 6, 7]


# ---- what the actions read and mark; renames and hiding ------------------------------

@pytest.fixture
def gallery(tmp_path):
    with Gallery(tmp_path / "g.sqlite3") as g:
        yield g


def test_the_actions_read_copies_and_a_forgotten_entry_is_not_marked_back(tmp_path):
    clock = Clock(0.0)
    rf = RecentFaces(RecentStore(tmp_path / STORE_FILENAME, retention_s=3600, clock=clock), clock=clock)
    kept = feed(rf, 1, unit(1))
    gone = feed(rf, 2, unit(2), name="Bob", nearest="Bob", distance=0.3, person_id=5)
    members = rf.members([kept, "no-such-key", gone])
    assert [f.key for f in members] == [kept, gone]                  # the ones still here, in order
    members[0].status = ADDED                                        # a copy: the entry is not changed
    assert rf.get(kept).status != ADDED
    with pytest.raises(GalleryError, match="no longer"):
        rf.members(["no-such-key"])
    rf.forget(gone)                                                  # while the gallery was written
    rf.mark_added([kept, gone], 5, "Bob")
    assert rf.get(kept).status == ADDED and (rf.get(kept).label, rf.get(kept).person_id) == ("Bob", 5)
    assert [f.key for f in rf.entries(include_ignored=True)] == [kept] and rf.store.count() == 1
    rf.mark_rejected([kept, gone], 5, "Bob")                         # "Not Bob": added as him, so no longer
    after = rf.get(kept)
    assert after.unknown and after.person_id is None and (after.rejected, after.rejected_names) == ((5,), ("Bob",))
    assert rf.store.count() == 1
    rf.close()


def test_a_renamed_person_keeps_their_recent_faces_under_the_new_name(tmp_path, gallery):
    eng = FakeEngine(gallery)
    ann = gallery.enrol("Ann", sharp_crop(99), unit(99), V)
    bob = gallery.enrol("Bob", sharp_crop(98), unit(98), V)
    clock = Clock(0.0)
    rf = RecentFaces(RecentStore(tmp_path / STORE_FILENAME, retention_s=3600, clock=clock), clock=clock)
    rf.configure(V, 0.5)
    named = feed(rf, 1, unit(99), name="Ann", nearest="Ann", distance=0.1, person_id=ann.id)
    added = feed(rf, 2, unit(2))
    this_is(rf, eng, added, ann.id)
    wrong = feed(rf, 3, unit(3), name="Bob", nearest="Bob", distance=0.4, person_id=bob.id)
    gallery.rename(ann.id, "Anna")
    gallery.rename(bob.id, "Ann")  # the old name, now someone else's
    assert rf.sync_people(gallery) == 0  # nobody was deleted: nothing is dropped
    assert {k: (rf.get(k).label, rf.get(k).label_id) for k in (named, added, wrong)} == {
        named: ("Anna", ann.id), added: ("Anna", ann.id), wrong: ("Ann", bob.id)}
    # the live label goes on under the new name: the same entry, not a new one
    assert feed(rf, 1, unit(99), frames=1, name="Anna", nearest="Anna", distance=0.1, t0=1.0,
                person_id=ann.id) == named
    # "Not …" goes by id: the face called "Ann" (Bob, renamed) is not him
    not_person(rf, eng, wrong, bob.id)
    assert rf.get(wrong).unknown and rf.get(wrong).rejected == (bob.id,)
    assert feed(rf, 3, unit(3), frames=1, name="Ann", t0=1.0, person_id=bob.id) == wrong
    assert rf.get(wrong).name == UNKNOWN  # the live label lagging the "Not …" is ignored
    rf.close()
    # and all of it survives a restart
    again = RecentFaces(RecentStore(tmp_path / STORE_FILENAME, retention_s=3600, clock=clock), clock=clock)
    assert {k: again.get(k).label_id for k in (named, added, wrong)} == {named: ann.id, added: ann.id, wrong: None}
    gallery.delete(ann.id)
    assert again.sync_people(gallery) == 2 and {e.key for e in again.entries()} == {wrong}
    again.close()


def test_ignore_hides_and_forget_person_leaves_no_trace(gallery):
    eng = FakeEngine(gallery)
    ann = gallery.enrol("Ann", sharp_crop(99), unit(99), V)
    rf = RecentFaces(clock=Clock(0.0))
    rf.configure(V, 0.5)
    hidden = feed(rf, 1, unit(1))
    rf.ignore(hidden)
    assert rf.entries() == [] and len(rf.entries(include_ignored=True)) == 1
    added = feed(rf, 2, unit(2))
    this_is(rf, eng, added, ann.id)
    named = feed(rf, 3, unit(99), name="Ann", nearest="Ann", distance=0.1)
    other = feed(rf, 4, unit(4))
    gallery.delete(ann.id)
    assert rf.sync_people(gallery) == 2
    assert {e.key for e in rf.entries(include_ignored=True)} == {hidden, other}   # nothing added to or named Ann
    assert named not in {e.key for e in rf.entries(include_ignored=True)}
    assert rf.forget_all() == 2 and rf.entries(include_ignored=True) == []


# ---- the opt-in store -----------------------------------------------------------------------

def test_stored_faces_survive_a_restart_and_are_deleted_when_due(tmp_path, gallery):
    clock = Clock(1_000.0)
    path = tmp_path / STORE_FILENAME
    rf = RecentFaces(RecentStore(path, retention_s=3600, clock=clock), clock=clock)
    rf.configure(V, 0.5)
    k1 = feed(rf, 1, unit(1), crop_seed=41, t0=1_000.0)
    ann = gallery.enrol("Ann", sharp_crop(99), unit(99), V)
    k2 = feed(rf, 2, unit(2), crop_seed=42, t0=1_000.0)
    this_is(rf, FakeEngine(gallery), k2, ann.id)                      # an action is written at once
    rf.close()                                                       # the app exits
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    clock.t = 2_000.0
    again = RecentFaces(RecentStore(path, retention_s=3600, clock=clock), clock=clock)
    got = {e.key: e for e in again.entries()}
    assert set(got) == {k1, k2} and np.array_equal(got[k1].crop, sharp_crop(41))
    assert got[k2].status == ADDED and got[k2].person_name == "Ann" and got[k1].quality.ok
    assert np.allclose(got[k1].embedding, rf.get(k1).embedding)
    feed(again, 1, unit(1), frames=1, t0=2_000.0)                     # a new run's track 1 is a new entry
    assert len(again.entries()) == 3
    again.close()
    clock.t = 1_000.0 + 3600 + 1                                    # the first two are now due
    third = RecentFaces(RecentStore(path, retention_s=3600, clock=clock), clock=clock)
    assert len(third.entries()) == 1 and third.store.count() == 1
    clock.t = 2_000.0 + 3600 + 1                                    # due while the app runs
    assert third.purge() == 1 and third.store.count() == 0 and third.entries() == []
    third.close()
    raw = b"".join(f.read_bytes() for f in tmp_path.iterdir() if f.name.startswith(STORE_FILENAME))
    ok, png = cv2.imencode(".png", cv2.cvtColor(sharp_crop(41), cv2.COLOR_RGB2BGR))
    assert png.tobytes()[200:400] not in raw


def test_forget_all_and_turning_the_setting_off_delete_the_stored_faces(tmp_path):
    path = tmp_path / STORE_FILENAME
    clock = Clock(0.0)
    rf = open_recent_faces(True, 24, path, clock)
    feed(rf, 1, unit(1))
    rf.end_all()
    assert rf.store.count() == 1
    assert rf.forget_all() == 1 and rf.store.count() == 0
    feed(rf, 2, unit(2))
    rf.close()
    assert path.exists()
    off = open_recent_faces(False, 24, path, clock)                  # the setting turned off
    assert off.store is None and not path.exists() and not remove_store(path)


def test_turning_the_setting_on_and_off_carries_the_faces_over(tmp_path):
    path = tmp_path / STORE_FILENAME
    clock = Clock(10_000.0)
    mem = open_recent_faces(False, 24, path, clock)
    mem.configure(V, 0.5)
    k1 = feed(mem, 1, unit(1), t0=10_000.0)
    k2 = feed(mem, 2, unit(2), t0=10_000.0)
    mem.ignore(k2)
    kept = open_recent_faces(True, 1, path, clock)                   # turned on: stored from now on
    assert kept.adopt(mem.entries(include_ignored=True)) == 2
    assert kept.store.count() == 2 and {e.key for e in kept.entries()} == {k1}  # still ignored
    assert kept.adopt(mem.entries(include_ignored=True)) == 2 and kept.store.count() == 2  # replaced, not doubled
    kept.close()
    clock.t += 601
    off = open_recent_faces(False, 1, path, clock)                   # turned off: the file goes
    old = RecentFaces(RecentStore(tmp_path / "other.sqlite3", 3600, clock), clock=clock)
    old.adopt(mem.entries(include_ignored=True))
    assert off.adopt(old.entries(include_ignored=True)) == 0         # past the 10-minute memory window
    assert not path.exists()
    old.close()


def test_a_damaged_store_is_replaced_not_fatal(tmp_path):
    path = tmp_path / STORE_FILENAME
    path.write_bytes(b"not a database" * 100)
    rf = RecentFaces(RecentStore(path), clock=Clock(0.0))
    assert rf.entries() == [] and rf.store.count() == 0
    rf.close()


# ---- the live loop and the real engine ----------------------------------------------------------

def test_live_labeller_feeds_recent_faces():
    rf = RecentFaces(clock=Clock(0.0))
    ann = unit(1)
    lab = LiveLabeller(lambda embs: [Match("Ann", 1, 0.2, "Ann") for _ in embs], recent=rf)
    rgb = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    for i in range(4):
        rec = SimpleNamespace(face=face(100), match=Match("Ann", 1, 0.2, "Ann"),
                              embedding=near(ann, i, 0.05))
        lab(rgb, [rec], V, when=float(i) / 10, frame_index=i)
    (entry,) = rf.entries()
    assert entry.frames == 4 and entry.name == "Ann" and entry.crop.shape == (112, 112, 3)
    assert (entry.first_frame, entry.last_frame) == (0, 3)


@pytest.fixture
def engine(tmp_path, yunet_path):
    from app.live.pipeline import Engine
    eng = Engine.create("yunet", yunet_path, gallery_path=tmp_path / "g.sqlite3")
    yield eng
    eng.close()


def test_real_photos_of_one_person_group_together(engine, samples_dir):
    from app.imageio import load_image
    rf = RecentFaces(clock=Clock(0.0))
    rf.configure_from(engine)
    who = {}
    photos = ["obama.jpg", "obama2.jpg", "obama-480p.jpg", "obama_partial_face.jpg", "biden.jpg", "two_people.jpg",
              "lin-manuel-miranda.png", "alex-lacamoire.png"]
    track = 0
    for photo in photos:
        rgb = load_image(samples_dir / photo)
        for i, r in enumerate(engine.analyse(rgb)):  # each face a track of two frames
            track += 1
            for k in range(2):
                key = rf.observe(track, r.face, align(rgb, r.face, 112), r.embedding, UNKNOWN, r.match.distance,
                                 r.match.nearest, engine.encoder.version, when=float(track) + k / 10)
            who[key] = f"{photo}#{i}"
    grouped = {frozenset(who[k] for k in g.keys) for g in rf.groups()}
    assert grouped == {
        frozenset(["obama.jpg#0", "obama2.jpg#0", "obama-480p.jpg#0", "obama_partial_face.jpg#0", "two_people.jpg#0"]),
        frozenset(["biden.jpg#0", "two_people.jpg#1"]),
        frozenset(["lin-manuel-miranda.png#0"]), frozenset(["alex-lacamoire.png#0"])}, grouped
    # "New person…" with the real engine: the group's best face is embedded as an enrolment
    # photo and names the group's faces from then on.
    obama = next(g for g in rf.groups() if g.count == 5)
    p = new_person(rf, engine, obama.keys, "Barack Obama")
    assert p.sample_count == 1 and engine.gallery.samples(p.id)[0].source == SOURCE
    names = [m.name for m in engine.identify(np.stack([m.embedding for m in obama.members]))]
    assert names.count("Barack Obama") >= 4, names
    assert {g.count for g in rf.groups()} == {2, 1}


def test_review_folder_is_refused_unless_new_or_empty(tmp_path):
    from app.errors import OneShotError
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    (tmp_path / "file").write_text("x")
    for bad, says in (("full", "not empty"), ("file", "is a file")):
        with pytest.raises(OneShotError, match=says):
            check_review_folder(tmp_path / bad)
    out = check_review_folder(tmp_path / "new" / "review")
    assert out.is_dir() and stat.S_IMODE(out.stat().st_mode) == 0o700
    rf = RecentFaces(clock=Clock(0.0))
    rf.configure(V, 0.5)
    for t in (1, 2):
        feed(rf, t, near(unit(1), t, 0.1), t0=float(t))
    feed(rf, 3, unit(3), t0=3.0)
    index = write_review_folder(rf.groups(), out, {"model": V})
    assert index["model"] == V and [g["sightings"] for g in index["groups"]] == [2, 1]
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert files == ["group-01/face-01.png", "group-01/face-02.png", "group-02/face-01.png"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in out.rglob("*.png"))
