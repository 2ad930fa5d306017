"""Gallery: people and samples in SQLite — round trips, names, deletion that leaves no trace,
re-embedding with cancellation, damaged/locked/read-only files, file permissions."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import numpy as np
import pytest

from app.errors import Cancelled, GalleryError
from app.progress import CancelToken
from app.store.database import FILENAME, SCHEMA_VERSION
from app.store.gallery import Gallery
from app.store.records import validate_name

V1, V2 = "enc-v1", "enc-v2"


def crop(seed: int, size: int = 24) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def emb(seed: int, dim: int = 8) -> np.ndarray:
    e = np.random.default_rng(1000 + seed).standard_normal(dim).astype(np.float32)
    return e / np.linalg.norm(e)


def shows_no_sqlite_error(err: BaseException) -> bool:
    """True when a traceback of `err` would not show a sqlite3 exception."""
    e: BaseException | None = err
    while e is not None:
        if isinstance(e, sqlite3.Error):
            return False
        e = e.__cause__ or (None if e.__suppress_context__ else e.__context__)
    return True


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "g.sqlite3"


def test_round_trip_survives_reopening(db):
    with Gallery(db) as g:
        assert g.people() == [] and g.samples() == []
        bob = g.enrol("Bob", crop(1), emb(1), V1, source="bob.jpg")
        assert (bob.name, bob.sample_count) == ("Bob", 1)
        ann = g.enrol("ann", crop(2, 30), emb(2), V1)
        s = g.add_sample(bob.id, crop(3), emb(3), V1, source="bob2.png")
        assert s.person_id == bob.id and np.array_equal(s.crop, crop(3))
    with Gallery(db) as g:
        assert [(p.name, p.sample_count) for p in g.people()] == [("ann", 1), ("Bob", 2)]  # casefold order
        assert g.person(bob.id).created == pytest.approx(bob.created)
        got = g.samples(bob.id)
        assert [x.source for x in got] == ["bob.jpg", "bob2.png"]
        for x, seed in zip(got, (1, 3)):
            assert x.crop.dtype == np.uint8 and np.array_equal(x.crop, crop(seed))
            assert x.embedding.dtype == np.float32 and np.array_equal(x.embedding, emb(seed))
            assert x.model_version == V1
        (a,) = g.samples(ann.id)
        assert a.crop.shape == (30, 30, 3) and np.array_equal(a.crop, crop(2, 30)) and a.source is None
        assert len(g.samples()) == 3
        assert np.array_equal(g.thumbnail(bob.id), crop(1))
        assert g.thumbnail(9999) is None
        assert g.find("Bob").id == bob.id and g.find("  bob ").id == bob.id and g.find("Carl") is None
        with pytest.raises(GalleryError):
            g.person(9999)
        with pytest.raises(GalleryError):
            g.add_sample(9999, crop(4), emb(4), V1)


def test_rename_persists_and_refuses_taken_or_invalid(db):
    with Gallery(db) as g:
        a = g.enrol("Ann", crop(1), emb(1), V1)
        b = g.enrol("Bea", crop(2), emb(2), V1)
        assert g.rename(a.id, "  Anna Smith ").name == "Anna Smith"
        assert g.rename(a.id, "anna smith").name == "anna smith"          # own name, other case: fine
        with pytest.raises(GalleryError, match="already enrolled"):
            g.rename(a.id, "BEA")
        with pytest.raises(GalleryError):
            g.rename(a.id, "   ")
        with pytest.raises(GalleryError):
            g.rename(12345, "Zed")
    with Gallery(db) as g:
        assert [p.name for p in g.people()] == ["anna smith", "Bea"]
        assert g.person(b.id).name == "Bea"


def test_duplicate_name_refused_unless_adding(db):
    with Gallery(db) as g:
        p = g.enrol("Ann", crop(1), emb(1), V1)
        v = g.version
        for name in ("Ann", " Ann ", "ANN"):
            with pytest.raises(GalleryError, match="already enrolled"):
                g.enrol(name, crop(2), emb(2), V1)
        assert g.version == v and len(g.samples()) == 1            # refused writes change nothing
        q = g.enrol("ann", crop(2), emb(2), V1, add_to_existing=True)
        assert (q.id, q.name, q.sample_count) == (p.id, "Ann", 2)
        assert len(g.people()) == 1 and g.version > v


def test_delete_leaves_no_trace_in_the_file(db):
    secret_crop = crop(77, 40)
    secret_emb = emb(77, 64)
    with Gallery(db) as g:
        keep = g.enrol("Keep", crop(1), emb(1, 64), V1)
        gone = g.enrol("Gone Person", secret_crop, secret_emb, V1)
        g.add_sample(gone.id, crop(78, 40), emb(78, 64), V1)
        png = g._conn.execute("SELECT crop FROM samples WHERE person_id = ? ORDER BY id",
                              (gone.id,)).fetchone()[0]
        g.delete(gone.id)
        assert [p.name for p in g.people()] == ["Keep"]
        assert g._conn.execute("SELECT COUNT(*) FROM samples WHERE person_id = ?", (gone.id,)).fetchone()[0] == 0
        with pytest.raises(GalleryError):
            g.delete(gone.id)
    raw = b"".join(f.read_bytes() for f in db.parent.iterdir() if f.name.startswith(db.name))
    assert raw                                                  # the file is there...
    for needle in (png[-200:], png[100:300], secret_emb.tobytes(), "Gone Person".encode()):
        assert needle not in raw                                # ...but nothing of the deleted person
    with Gallery(db) as g:
        assert [p.id for p in g.people()] == [keep.id]
        assert np.array_equal(g.samples(keep.id)[0].crop, crop(1))


@pytest.mark.parametrize("name", [
    "O'Brien", 'Say "hi"', "Zoë Ñúñez", "李小龍", "Dwayne 💪🏽 Johnson", "'); DROP TABLE people;--",
    "Robert'); DELETE FROM samples; --", "x" * 100, "%_*?\\",
])
def test_awkward_names_stored_verbatim(db, name):
    with Gallery(db) as g:
        g.enrol("Other", crop(0), emb(0), V1)
        p = g.enrol(name, crop(1), emb(1), V1)
        assert p.name == name
    with Gallery(db) as g:
        assert sorted(x.name for x in g.people()) == sorted(["Other", name])
        assert g.find(name).id == p.id
        assert len(g.samples()) == 2
        assert g.matcher(V1).match(emb(1), 0.1)[0].name == name


def test_validate_name():
    assert validate_name("  Ann Lee\t") == "Ann Lee"
    assert validate_name("x" * 100) == "x" * 100
    assert validate_name("  " + "é" * 100 + " ") == "é" * 100
    for bad in ("", "   ", "\t\n", "x" * 101, "Ann\nLee", "a\tb", "nul\x00", "Unknown", " unknown "):
        with pytest.raises(GalleryError):
            validate_name(bad)


def test_matcher_uses_only_current_model_version(db):
    with Gallery(db) as g:
        a = g.enrol("Ann", crop(1), emb(1), V1)
        b = g.enrol("Bob", crop(2), emb(2), V2)
        g.add_sample(a.id, crop(3), emb(3), V2)
        m1, m2 = g.matcher(V1), g.matcher(V2)
        assert len(m1) == 1 and len(m2) == 2 and len(g.matcher("other")) == 0
        assert m1.match(emb(2), 0.01)[0].name == "Unknown"          # Bob's sample is V2 only
        assert m2.match(emb(2), 0.01)[0].person_id == b.id
        assert m2.match(emb(3), 0.01)[0].person_id == a.id
        assert g.matcher("other").match(emb(1), 5.0)[0].name == "Unknown"
        assert g.stale_count(V2) == 1 and g.stale_count(V1) == 2 and g.stale_count("other") == 3


def test_version_counts_changes_from_any_connection(db):
    with Gallery(db) as g, Gallery(db) as other:
        v0 = g.version
        p = other.enrol("Ann", crop(1), emb(1), V1)
        v1 = g.version
        assert v1 > v0
        assert g.matcher(V1).match(emb(1), 0.1)[0].name == "Ann"
        other.rename(p.id, "Anne")
        assert g.version > v1
        v2 = g.version
        g.people(), g.samples(), g.matcher(V1)                      # reads change nothing
        assert g.version == v2


def fake_embed(crops: np.ndarray) -> np.ndarray:
    """A deterministic "new model": mean colour, tiled to 8 dims."""
    x = crops.reshape(len(crops), -1, 3).mean(axis=1).astype(np.float32)
    return np.concatenate([x, x, x[:, :2]], axis=1)


def test_reembed_updates_every_stale_sample(db):
    with Gallery(db) as g:
        for i in range(7):
            g.enrol(f"P{i}", crop(i, 16 if i % 2 else 20), emb(i), V1)
        g.add_sample(g.find("P0").id, crop(50), emb(50), V2)      # already current: left alone
        seen = []
        n = g.reembed(fake_embed, V2, progress=lambda d, t, m="": seen.append((d, t)), batch=3)
        assert n == 7 and g.stale_count(V2) == 0
        assert seen[0] == (0, 7) and seen[-1] == (7, 7)
        for s in g.samples():
            assert s.model_version == V2
            if s.id != 8:
                assert np.allclose(s.embedding, fake_embed(s.crop[None])[0])
        assert np.array_equal(g.samples()[-1].embedding, emb(50))
        assert len(g.matcher(V2)) == 8 and len(g.matcher(V1)) == 0
        assert g.reembed(fake_embed, V2) == 0


def test_reembed_cancelled_midway_is_consistent(db):
    with Gallery(db) as g:
        for i in range(10):
            g.enrol(f"P{i}", crop(i), emb(i), V1)
        token = CancelToken()
        batches = []

        def embed_then_cancel(crops):
            batches.append(len(crops))
            if len(batches) == 2:
                token.cancel()                 # takes effect before the third batch
            return fake_embed(crops)

        with pytest.raises(Cancelled):
            g.reembed(embed_then_cancel, V2, cancel=token, batch=4)
        assert batches == [4, 4]
    with Gallery(db) as g:
        got = g.samples()
        assert len(got) == 10 and len(g.people()) == 10                   # none lost
        versions = [s.model_version for s in got]
        assert versions.count(V2) == 8 and versions.count(V1) == 2
        for s in got:
            want = fake_embed(s.crop[None])[0] if s.model_version == V2 else emb(int(g.person(s.person_id).name[1:]))
            assert np.allclose(s.embedding, want)                         # embedding matches its version
        assert g.reembed(fake_embed, V2) == 2 and g.stale_count(V2) == 0  # resumes where it stopped


def test_reembed_failure_rolls_back_only_its_batch(db):
    with Gallery(db) as g:
        for i in range(6):
            g.enrol(f"P{i}", crop(i), emb(i), V1)
        calls = []

        def flaky(crops):
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("GPU fell over")
            return fake_embed(crops)

        with pytest.raises(RuntimeError):
            g.reembed(flaky, V2, batch=3)
        assert [s.model_version for s in g.samples()] == [V2] * 3 + [V1] * 3


def test_garbage_file_is_set_aside_not_deleted(db):
    garbage = os.urandom(5000)
    db.write_bytes(garbage)
    with pytest.raises(GalleryError, match="corrupt-") as err:
        Gallery(db)
    aside = [f for f in db.parent.iterdir() if f.name.startswith(db.name + ".corrupt-")]
    assert len(aside) == 1 and aside[0].read_bytes() == garbage
    assert str(aside[0]) in str(err.value)
    assert shows_no_sqlite_error(err.value)
    # A second damaged file in the same second gets its own name; nothing is overwritten.
    db.write_bytes(b"not a database either" * 10)
    with pytest.raises(GalleryError):
        Gallery(db)
    aside = sorted(f for f in db.parent.iterdir() if f.name.startswith(db.name + ".corrupt-"))
    assert len(aside) == 2 and {f.read_bytes() for f in aside} == {garbage, b"not a database either" * 10}
    with Gallery(db) as g:                                   # the next open starts afresh
        assert g.people() == []


def test_damaged_database_with_valid_header_is_set_aside(db):
    with Gallery(db) as g:
        for i in range(5):
            g.enrol(f"P{i}", crop(i, 64), emb(i), V1)
    data = bytearray(db.read_bytes())
    data[100:len(data)] = os.urandom(len(data) - 100)        # keep only the 100-byte header
    db.write_bytes(bytes(data))
    with pytest.raises(GalleryError, match="moved to") as err:
        Gallery(db)
    assert shows_no_sqlite_error(err.value)
    assert not db.exists()
    kept = [f for f in db.parent.iterdir() if ".corrupt-" in f.name and not f.name.endswith(("-wal", "-shm"))]
    assert [f.read_bytes() for f in kept] == [bytes(data)]


def test_locked_database_gives_a_clear_error(db):
    with Gallery(db) as g:
        g.enrol("Ann", crop(1), emb(1), V1)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")                        # another program's write lock
    try:
        with Gallery(db, timeout=0.2) as g:
            assert [p.name for p in g.people()] == ["Ann"]  # WAL: reading still works
            with pytest.raises(GalleryError, match="in use by another program") as err:
                g.enrol("Bob", crop(2), emb(2), V1)
            assert shows_no_sqlite_error(err.value)
            assert [p.name for p in g.people()] == ["Ann"]  # and the connection is still usable
    finally:
        holder.execute("ROLLBACK")
        holder.close()


NOBODY = 65534  # the unprivileged user the read-only check runs as when the tests run as root


def _open_as_nobody(path: Path) -> str:
    """Opens the gallery at `path` in a forked child that has given up root (root writes through
    file modes, so only an ordinary user meets a read-only file); returns what happened."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        os.close(read)
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            try:
                Gallery(path).close()
                answer = "opened"
            except GalleryError as exc:
                answer = f"GalleryError: {exc}"
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            answer = f"{type(exc).__name__}: {exc}"
        os.write(write, answer.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        answer = f.read().decode()
    os.waitpid(pid, 0)
    return answer


def test_read_only_errors_are_explained(db):
    with Gallery(db) as g:
        g.enrol("Ann", crop(1), emb(1), V1)
        ro = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            with pytest.raises(sqlite3.Error) as exc:
                ro.execute("DELETE FROM people")
        finally:
            ro.close()
        assert "read-only" in str(g._explain(exc.value))
    if os.geteuid() != 0:
        os.chmod(db, 0o400)
        try:
            with pytest.raises(GalleryError, match="read-only"):
                Gallery(db)
        finally:
            os.chmod(db, 0o600)
        assert not [f for f in db.parent.iterdir() if ".corrupt-" in f.name]     # not mistaken for damage
        return
    # as root: the same file in an ordinary user's own folder, made read-only, opened as that user
    import shutil
    import tempfile
    with tempfile.TemporaryDirectory() as home:
        folder = Path(home)
        theirs = folder / db.name
        shutil.copy(db, theirs)
        os.chown(folder, NOBODY, NOBODY)
        os.chown(theirs, NOBODY, NOBODY)
        os.chmod(theirs, 0o400)
        answer = _open_as_nobody(theirs)
        assert answer.startswith("GalleryError: ") and "is read-only" in answer, answer
        assert [f.name for f in folder.iterdir()] == [db.name]  # not mistaken for damage, nothing made


def test_files_are_private(db):
    with Gallery(db) as g:
        g.enrol("Ann", crop(1), emb(1), V1)
        files = [f for f in db.parent.iterdir() if f.name.startswith(db.name)]
        assert {f.name for f in files} >= {db.name, db.name + "-wal"}
        for f in files:
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    os.chmod(db, 0o644)                                     # loosened by someone: tightened on open
    Gallery(db).close()
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_default_location_is_the_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("ONESHOT_DATA_DIR", str(tmp_path / "data"))
    with Gallery() as g:
        g.enrol("Ann", crop(1), emb(1), V1)
    assert (tmp_path / "data" / FILENAME).is_file()
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) == 0o700


def test_pragmas_and_closed_gallery(db):
    g = Gallery(db)
    conn = g._conn
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2           # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == SCHEMA_VERSION == 2
    g.close()
    g.close()
    with pytest.raises(GalleryError):
        g.people()


def test_bad_arrays_are_bugs_not_user_errors(db):
    with Gallery(db) as g:
        with pytest.raises(ValueError):
            g.enrol("Ann", np.zeros((8, 8), np.uint8), emb(1), V1)
        with pytest.raises(ValueError):
            g.enrol("Ann", crop(1), np.full(8, np.nan, np.float32), V1)
        assert g.people() == []


def test_full_disk_during_enrolment_keeps_the_previous_state(db):
    """A real SQLITE_FULL: the file may not grow (max_page_count), as on a full disk."""
    with Gallery(db) as g:
        ann = g.enrol("Ann", crop(1, 64), emb(1), V1)
        pages = g._conn.execute("PRAGMA page_count").fetchone()[0]
        g._conn.execute(f"PRAGMA max_page_count = {pages + 1}")
        with pytest.raises(GalleryError, match="disk holding the gallery .* is full") as err:
            g.enrol("Bob", crop(2, 112), emb(2), V1)          # a 112x112 crop needs many pages
        assert shows_no_sqlite_error(err.value)
        with pytest.raises(GalleryError, match="full"):
            g.add_sample(ann.id, crop(3, 112), emb(3), V1)
        assert [(p.name, p.sample_count) for p in g.people()] == [("Ann", 1)]
    with Gallery(db) as g:                                      # after a restart: as before, usable
        assert [(p.name, p.sample_count) for p in g.people()] == [("Ann", 1)]
        assert np.array_equal(g.samples(ann.id)[0].crop, crop(1, 64))
        g.enrol("Bob", crop(2, 112), emb(2), V1)
        assert g._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# ---- the face library: photos, merge, undoable delete, rejections ----------------------------

class Clock:
    """An injectable clock: tests move time on by hand."""

    def __init__(self, t: float = 1_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def near(e: np.ndarray, seed: int, by: float) -> np.ndarray:
    """A unit vector about `by` away from `e` (another view of the same face)."""
    d = np.random.default_rng(5000 + seed).standard_normal(len(e)).astype(np.float32)
    d -= d.dot(e) * e
    v = e + by * d / np.linalg.norm(d)
    return (v / np.linalg.norm(v)).astype(np.float32)


def test_format_1_gallery_is_upgraded_in_place_and_keeps_everyone(db):
    from app.store.database import _SCHEMA
    conn = sqlite3.connect(db, isolation_level=None)
    conn.executescript(_SCHEMA)                           # exactly the format-1 tables
    conn.execute("INSERT INTO meta VALUES ('schema_version', 1), ('change_counter', 7)")
    conn.execute("INSERT INTO people(id, name, created) VALUES (1, 'Ann', 5.0)")
    ok, png = __import__("cv2").imencode(".png", crop(1))
    conn.execute("INSERT INTO samples(person_id, crop, embedding, model_version, source, created) "
                 "VALUES (1, ?, ?, ?, 'ann.jpg', 6.0)", (png.tobytes(), emb(1).astype("<f4").tobytes(), V1))
    conn.close()
    with Gallery(db) as g:
        assert g._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == 2
        (s,) = g.samples(1)
        assert (s.source, s.created, s.quality, s.quality_note, s.is_main) == ("ann.jpg", 6.0, None, None, False)
        assert g.matcher(V1).match(emb(1), 0.1)[0].name == "Ann"
        g.add_sample(1, crop(2), emb(2), V1, quality=0.5, quality_note="good")
    with Gallery(db) as g:                                # a second open has nothing left to upgrade
        assert [x.quality for x in g.samples(1)] == [None, 0.5]


def test_photo_metadata_main_photo_and_listing_persist(db):
    clock = Clock()
    with Gallery(db, clock=clock) as g:
        ann = g.enrol("Ann", crop(1), emb(1), V1, source="ann.jpg", quality=0.9, quality_note="good")
        clock.t += 60
        s2 = g.add_sample(ann.id, crop(2), emb(2), V1, source="recent faces", quality=0.4,
                          quality_note="the face is turned to the side")
        assert np.array_equal(g.thumbnail(ann.id), crop(1))          # no main photo chosen: the first
        g.set_main_sample(s2.id)
        assert np.array_equal(g.thumbnail(ann.id), crop(2))
    with Gallery(db) as g:
        got = g.samples(ann.id)
        assert [(x.source, x.quality, x.is_main) for x in got] == [("ann.jpg", 0.9, False), ("recent faces", 0.4, True)]
        assert got[1].created - got[0].created == pytest.approx(60)
        assert got[1].quality_note == "the face is turned to the side"
        assert np.array_equal(g.thumbnail(ann.id), crop(2)) and g.sample(s2.id).is_main
        with pytest.raises(GalleryError, match="no longer"):
            g.set_main_sample(9999)


def test_remove_photo_persists_erases_it_and_refuses_the_last(db):
    with Gallery(db) as g:
        ann = g.enrol("Ann", crop(1, 40), emb(1), V1)
        gone = g.add_sample(ann.id, crop(77, 40), emb(77), V1)
        png = g._conn.execute("SELECT crop FROM samples WHERE id = ?", (gone.id,)).fetchone()[0]
        assert g.remove_sample(gone.id).sample_count == 1
        v = g.version
        with pytest.raises(GalleryError, match="only photo of Ann"):
            g.remove_sample(g.samples(ann.id)[0].id)
        with pytest.raises(GalleryError, match="no longer"):
            g.remove_sample(gone.id)
        assert g.version == v                                          # refused: nothing written
    raw = b"".join(f.read_bytes() for f in db.parent.iterdir() if f.name.startswith(db.name))
    assert png[100:300] not in raw and emb(77).tobytes() not in raw
    with Gallery(db) as g:
        assert [np.array_equal(x.crop, crop(1, 40)) for x in g.samples(ann.id)] == [True]


def test_move_photo_persists_and_refuses_bad_moves(db):
    with Gallery(db) as g:
        ann = g.enrol("Ann", crop(1), emb(1), V1)
        bob = g.enrol("Bob", crop(2), emb(2), V1)
        wrong = g.add_sample(ann.id, crop(3), emb(3), V1)              # really a photo of Bob
        g.set_main_sample(wrong.id)
        assert g.move_sample(wrong.id, bob.id).sample_count == 2
        v = g.version
        with pytest.raises(GalleryError, match="already Bob's"):
            g.move_sample(wrong.id, bob.id)
        with pytest.raises(GalleryError, match="only photo of Ann.*merge"):
            g.move_sample(g.samples(ann.id)[0].id, bob.id)
        with pytest.raises(GalleryError, match="no longer"):
            g.move_sample(wrong.id, 9999)
        assert g.version == v
    with Gallery(db) as g:
        assert [p.sample_count for p in g.people()] == [1, 2]
        moved = g.sample(wrong.id)
        assert moved.person_id == bob.id and not moved.is_main          # main photo of Ann, not of Bob
        assert g.matcher(V1).match(emb(3), 0.1)[0].name == "Bob"


def test_merge_moves_everything_persists_and_refuses_self_merge(db):
    with Gallery(db) as g:
        a = g.enrol("Ann Lee", crop(1), emb(1), V1)
        g.add_sample(a.id, crop(2), emb(2), V1)
        b = g.enrol("Ann", crop(3), emb(3), V1)
        g.reject(a.id, emb(9), V1)
        v = g.version
        with pytest.raises(GalleryError, match="themselves"):
            g.merge(a.id, a.id)
        with pytest.raises(GalleryError, match="no longer"):
            g.merge(a.id, 9999)
        assert g.version == v
        out = g.merge(a.id, b.id)
        assert (out.id, out.name, out.sample_count) == (b.id, "Ann", 3)
    with Gallery(db) as g:
        assert [(p.name, p.sample_count) for p in g.people()] == [("Ann", 3)]
        assert g.rejection_count(b.id) == 1
        m = g.matcher(V1)
        assert {x.name for x in m.match(np.stack([emb(1), emb(2), emb(3)]), 0.1)} == {"Ann"}


def test_rename_onto_a_taken_name_says_who_has_it(db):
    from app.errors import NameTakenError
    with Gallery(db) as g:
        a = g.enrol("Ann", crop(1), emb(1), V1)
        b = g.enrol("Bea", crop(2), emb(2), V1)
        with pytest.raises(NameTakenError) as err:
            g.rename(a.id, "bea")
        assert (err.value.person_id, err.value.name) == (b.id, "Bea") and "merge" in str(err.value)


def test_undoable_delete_hides_then_undo_restores_in_a_new_gallery_object(db):
    clock = Clock()
    with Gallery(db, clock=clock) as g:
        ann = g.enrol("Ann", crop(1), emb(1), V1)
        g.add_sample(ann.id, crop(2), emb(2), V1)
        g.enrol("Bob", crop(3), emb(3), V1)
        gone = g.delete(ann.id, undoable=True)
        assert (gone.name, gone.sample_count, gone.purge_at - gone.deleted) == ("Ann", 2, g.undo_window_s)
        assert [p.name for p in g.people()] == ["Bob"] and g.find("Ann") is None
        assert g.matcher(V1).match(emb(1), 0.1)[0].name == "Unknown"
        assert len(g.samples()) == 1 and [p.name for p in g.dump()] == ["Bob"]
        with pytest.raises(GalleryError):
            g.samples(ann.id)
        with pytest.raises(GalleryError):
            g.delete(ann.id, undoable=True)
    clock.t += 60
    with Gallery(db, clock=clock) as g:                         # another program undoes it
        assert [d.name for d in g.deleted_people()] == ["Ann"] and g.find_deleted("ann").id == ann.id
        back = g.undo_delete(ann.id)
        assert (back.name, back.sample_count) == ("Ann", 2)
        with pytest.raises(GalleryError, match="not deleted"):
            g.undo_delete(ann.id)
    with Gallery(db, clock=clock) as g:
        assert [p.name for p in g.people()] == ["Ann", "Bob"] and g.deleted_people() == []
        assert g.matcher(V1).match(emb(1), 0.1)[0].name == "Ann"


def test_deleted_person_is_erased_for_good_when_the_window_runs_out(db):
    clock = Clock()
    secret = emb(77, 64)
    with Gallery(db, clock=clock) as g:
        g.enrol("Keep", crop(1), emb(1, 64), V1)
        ann = g.enrol("Gone Person", crop(77, 40), secret, V1)
        g.reject(ann.id, emb(78, 64), V1)
        g.delete(ann.id, undoable=True)
        clock.t += g.undo_window_s - 1
        assert g.purge_deleted() == 0                           # not yet due
        clock.t += 2
        with pytest.raises(GalleryError, match="too late"):
            g.undo_delete(ann.id)
        assert g.deleted_people() == [] and g.find_deleted("Gone Person") is None
    with Gallery(db, clock=clock) as g:                         # opening purges what is due
        assert g._conn.execute("SELECT COUNT(*) FROM people").fetchone()[0] == 1
        assert g._conn.execute("SELECT COUNT(*) FROM rejections").fetchone()[0] == 0
        with pytest.raises(GalleryError, match="erased for good"):
            g.undo_delete(ann.id)
    raw = b"".join(f.read_bytes() for f in db.parent.iterdir() if f.name.startswith(db.name))
    assert secret.tobytes() not in raw and emb(78, 64).tobytes() not in raw and b"Gone Person" not in raw


def test_a_new_person_under_a_deleted_name_ends_that_undo(db):
    with Gallery(db) as g:
        old = g.enrol("Ann", crop(1), emb(1), V1)
        g.delete(old.id, undoable=True)
        new = g.enrol("ann", crop(2), emb(2), V1)             # the name is free again
        assert g.deleted_people() == [] and [p.id for p in g.people()] == [new.id]
        with pytest.raises(GalleryError):
            g.undo_delete(old.id)
        other = g.enrol("Bob", crop(3), emb(3), V1)
        g.delete(other.id, undoable=True)
        g.rename(new.id, "Bob")                                  # a rename takes it too
        assert g.deleted_people() == [] and len(g.samples()) == 1


def test_a_person_enrolled_with_more_photos_is_one_transaction_that_keeps_a_deleted_namesake(db):
    from app.store.records import NewSample
    with Gallery(db) as g:
        old = g.enrol("Ann", crop(1), emb(1), V1)
        g.delete(old.id, undoable=True)
        with pytest.raises(ValueError):  # a bad later photo: refused before anything is written
            g.enrol("Ann", crop(2), emb(2), V1, more=[NewSample(crop(3), np.full(8, np.nan), V1)])
        assert [d.id for d in g.deleted_people()] == [old.id] and g.people() == []
        new = g.enrol("Ann", crop(2), emb(2), V1, source="a",
                      more=[NewSample(crop(3), emb(3), V1, "b", 0.5, "note"), NewSample(crop(4), emb(4), V2, "c")])
        assert new.sample_count == 3 and g.deleted_people() == []
        got = g.samples(new.id)
        assert [s.source for s in got] == ["a", "b", "c"] and [s.model_version for s in got] == [V1, V1, V2]
        assert np.array_equal(got[2].crop, crop(4)) and got[1].quality == 0.5 and got[1].quality_note == "note"


def test_rejection_stops_that_match_only_persists_and_goes_with_the_person(db):
    ann_photo = emb(1)
    stranger = near(ann_photo, 1, 0.3)      # a look-alike the matcher names Ann at τ 0.5
    again = near(stranger, 2, 0.08)         # the look-alike seen again, nearer them than Ann
    ann_again = near(ann_photo, 3, 0.1)     # Ann herself, another day
    with Gallery(db) as g:
        ann = g.enrol("Ann", crop(1), ann_photo, V1)
        g.enrol("Bob", crop(2), emb(2), V1)
        probes = np.stack([stranger, again, ann_again, ann_photo])
        assert [m.name for m in g.matcher(V1).match(probes, 0.5)] == ["Ann"] * 4
        g.reject(ann.id, stranger, V1, crop=crop(5))
    with Gallery(db) as g:
        m = g.matcher(V1)
        assert m.rejection_count == 1 and g.rejection_count(ann.id) == 1
        got = m.match(probes, 0.5)
        assert [x.name for x in got] == ["Unknown", "Unknown", "Ann", "Ann"]
        assert all(x.known == (x.distance < 0.5) for x in got)
        assert len(g.matcher(V2)) == 0                           # rejections are per model too
        assert g.clear_rejections(ann.id) == 1
        assert g.matcher(V1).match(stranger, 0.5)[0].name == "Ann"
        g.reject(ann.id, stranger, V1)
        g.delete(ann.id)
        assert g._conn.execute("SELECT COUNT(*) FROM rejections").fetchone()[0] == 0


def test_rejections_with_a_crop_are_re_embedded_for_a_new_model(db):
    with Gallery(db) as g:
        ann = g.enrol("Ann", crop(1), emb(1), V1)
        g.reject(ann.id, emb(4), V1, crop=crop(4))
        g.reject(ann.id, emb(5), V1)                             # no crop: cannot be re-embedded
        assert g.stale_count(V2) == 2
        assert g.reembed(fake_embed, V2) == 2 and g.stale_count(V2) == 0
        assert g.matcher(V2).rejection_count == 1


def test_add_samples_is_all_or_nothing(db):
    from app.store.records import NewSample
    with Gallery(db) as g:
        ann = g.enrol("Ann", crop(1), emb(1), V1)
        with pytest.raises(ValueError):
            g.add_samples(ann.id, [NewSample(crop(2), emb(2), V1), NewSample(crop(3), np.full(8, np.nan), V1)])
        assert g.person(ann.id).sample_count == 1
        out = g.add_samples(ann.id, [NewSample(crop(2), emb(2), V1, "a.jpg", 0.7, "good"),
                                     NewSample(crop(3), emb(3), V1, "b.jpg", 0.8, "good")])
        assert [s.source for s in out] == ["a.jpg", "b.jpg"] and g.person(ann.id).sample_count == 3


def test_backups_carry_quality_and_the_main_photo_but_not_deleted_people(db, tmp_path):
    with Gallery(db) as g:
        ann = g.enrol("Ann", crop(1), emb(1), V1, quality=0.9, quality_note="good")
        s2 = g.add_sample(ann.id, crop(2), emb(2), V1, quality=0.3, quality_note="the face is blurred")
        g.set_main_sample(s2.id)
        bob = g.enrol("Bob", crop(3), emb(3), V1)
        g.delete(bob.id, undoable=True)
        people = g.dump()
    assert [p.name for p in people] == ["Ann"]
    with Gallery(tmp_path / "other.sqlite3") as h:
        h.restore(people)
        got = h.samples(h.find("Ann").id)
        assert [(s.quality, s.quality_note, s.is_main) for s in got] == [(0.9, "good", False),
                                                                          (0.3, "the face is blurred", True)]
