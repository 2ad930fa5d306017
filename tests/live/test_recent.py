"""Recent faces and the quality gate: one entry per track with its best frame, unknown tracks of
one person grouped (hand-made vectors, then the real engine on the sample photos and the
Hamilton clip), the one-click actions against a real gallery, the opt-in store with its
retention, and the privacy promises (forget all, a deleted person leaves no entry)."""

from __future__ import annotations

import stat
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from app.errors import GalleryError, NameTakenError, QualityError
from app.live.recent import (
    ADDED,
    SOURCE,
    STORE_FILENAME,
    RecentFaces,
    RecentStore,
    average_linkage,
    check_review_folder,
    open_recent_faces,
    remove_store,
    write_review_folder,
)
from app.live.tracking import LiveLabeller
from app.recognition.alignment import TEMPLATE_112, align
from app.recognition.detection import Face
from app.recognition.matching import UNKNOWN, Match
from app.recognition.quality import MIN_SHARPNESS, MIN_SIDE_PX, assess, pose
from app.store.gallery import Gallery

V = "enc-test"


class Clock:
    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def unit(seed: int, dim: int = 16) -> np.ndarray:
    e = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return e / np.linalg.norm(e)


def near(e: np.ndarray, seed: int, by: float) -> np.ndarray:
    d = np.random.default_rng(900 + seed).standard_normal(len(e)).astype(np.float32)
    d -= d.dot(e) * e
    v = e + by * d / np.linalg.norm(d)
    return (v / np.linalg.norm(v)).astype(np.float32)


def sharp_crop(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (112, 112, 3), dtype=np.uint8)


BLURRED = np.full((112, 112, 3), 128, np.uint8)


def face(side: float = 100.0, landmarks: np.ndarray | None = None) -> Face:
    lm = TEMPLATE_112 * side / 112 if landmarks is None else landmarks
    return Face((0.0, 0.0, side, side), 0.9, lm)


class FakeEngine:
    """What the actions use of an Engine: its gallery, its model version, and enrolment
    embedding of stored crops (here: a fixed vector per crop, so a test knows it)."""

    def __init__(self, gallery: Gallery, embed=None):
        self.gallery = gallery
        self.encoder = SimpleNamespace(version=V, scorer=None)
        self._embed = embed or (lambda c: unit(int(c.sum()) % 10_000))

    def embed_stored_crops(self, crops: np.ndarray) -> np.ndarray:
        return np.stack([self._embed(c) for c in crops])

    def pair_threshold(self, n: int = 1) -> float:
        return 0.5

    def identify(self, embeddings: np.ndarray) -> list[Match]:
        return self.gallery.matcher(V).match(embeddings, 0.5)


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


def feed(rf: RecentFaces, track: int, e: np.ndarray, frames: int = 3, name: str = UNKNOWN, t0: float = 0.0,
         crop_seed: int | None = None, crop=None, side: float = 100.0, distance: float = 0.9,
         nearest: str | None = None, person_id: int | None = None) -> str:
    key = None
    for i in range(frames):
        c = crop if crop is not None else sharp_crop(track * 100 + i if crop_seed is None else crop_seed)
        key = rf.observe(track, face(side), c, near(e, track * 10 + i, 0.05), name, distance, nearest, V,
                         when=t0 + 0.1 * i, frame_index=i, person_id=person_id)
    return key


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


# ---- actions ----------------------------------------------------------------------------

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
    smp = rf.this_is(eng, g.keys, ann.id)
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
        rf.this_is(eng, key, ann.id)
    with pytest.raises(QualityError, match="blurred"):
        rf.new_person(eng, key, "Someone")
    small = feed(rf, 2, unit(2), side=20)
    with pytest.raises(QualityError, match="too small"):
        rf.new_person(eng, small, "Someone")
    assert gallery.version == v and rf.get(key).unknown


def test_new_person_enrols_and_refuses_a_taken_name(gallery):
    eng = FakeEngine(gallery)
    gallery.enrol("Ann", sharp_crop(99), unit(99), V)
    rf = RecentFaces(clock=Clock(0.0))
    key = feed(rf, 1, unit(1))
    with pytest.raises(NameTakenError):
        rf.new_person(eng, key, "ann")
    p = rf.new_person(eng, key, "Carl")
    assert (p.name, p.sample_count) == ("Carl", 1) and rf.get(key).person_id == p.id
    with pytest.raises(GalleryError, match="no longer"):
        rf.this_is(eng, "no-such-key", p.id)


def test_not_person_stops_that_match(gallery):
    eng = FakeEngine(gallery)
    ann_photo = unit(1)
    ann = gallery.enrol("Ann", sharp_crop(99), ann_photo, V)
    look_alike = near(ann_photo, 5, 0.3)
    rf = RecentFaces(clock=Clock(0.0))
    key = feed(rf, 1, look_alike, name="Ann", nearest="Ann", distance=0.3)
    entry = rf.get(key)
    assert gallery.matcher(V).match(entry.embedding, 0.5)[0].name == "Ann"
    assert rf.not_person(eng, key, ann.id) == 1
    assert gallery.rejection_count(ann.id) == 1
    m = gallery.matcher(V)
    assert m.match(entry.embedding, 0.5)[0].name == UNKNOWN            # no longer named Ann
    assert m.match(near(look_alike, 6, 0.05), 0.5)[0].name == UNKNOWN  # nor when seen again
    assert m.match(ann_photo, 0.5)[0].name == "Ann"                    # Ann still is
    after = rf.get(key)
    assert after.unknown and after.rejected == (ann.id,)
    feed(rf, 1, look_alike, frames=1, name="Ann", t0=1.0)             # the live label lags: ignored
    assert rf.get(key).name == UNKNOWN


def test_a_renamed_person_keeps_their_recent_faces_under_the_new_name(tmp_path, gallery):
    eng = FakeEngine(gallery)
    ann = gallery.enrol("Ann", sharp_crop(99), unit(99), V)
    bob = gallery.enrol("Bob", sharp_crop(98), unit(98), V)
    clock = Clock(0.0)
    rf = RecentFaces(RecentStore(tmp_path / STORE_FILENAME, retention_s=3600, clock=clock), clock=clock)
    rf.configure(V, 0.5)
    named = feed(rf, 1, unit(99), name="Ann", nearest="Ann", distance=0.1, person_id=ann.id)
    added = feed(rf, 2, unit(2))
    rf.this_is(eng, added, ann.id)
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
    rf.not_person(eng, wrong, bob.id)
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
    assert rf.matches_now(eng) == {}  # nobody near Ann's one photo yet
    rf.this_is(eng, profile, ann.id)
    now = rf.matches_now(eng)
    assert set(now) == {stranger} and now[stranger].person_id == ann.id and now[stranger].distance < 0.5
    assert far not in now and profile not in now  # far from her; and added, so no longer to review
    rf.not_person(eng, stranger, ann.id)
    assert rf.matches_now(eng) == {}  # "Not Ann" for it: it no longer matches her
    rf.ignore(far)
    assert rf.matches_now(eng) == {}


def test_ignore_hides_and_forget_person_leaves_no_trace(gallery):
    eng = FakeEngine(gallery)
    ann = gallery.enrol("Ann", sharp_crop(99), unit(99), V)
    rf = RecentFaces(clock=Clock(0.0))
    rf.configure(V, 0.5)
    hidden = feed(rf, 1, unit(1))
    rf.ignore(hidden)
    assert rf.entries() == [] and len(rf.entries(include_ignored=True)) == 1
    added = feed(rf, 2, unit(2))
    rf.this_is(eng, added, ann.id)
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
    rf.this_is(FakeEngine(gallery), k2, ann.id)                      # an action is written at once
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
    p = rf.new_person(engine, obama.keys, "Barack Obama")
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
