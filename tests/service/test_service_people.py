"""service.people.PeopleBook: what the `people` commands do, through the gallery's own checks."""

from __future__ import annotations

import numpy as np
import pytest

from app.errors import GalleryError, NameTakenError
from app.service.people import PeopleBook, backup_suffix, read_backup
from app.store.gallery import Gallery

V1 = "enc-v1"


def crop(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (24, 24, 3), dtype=np.uint8)


def emb(seed: int) -> np.ndarray:
    e = np.random.default_rng(1000 + seed).standard_normal(8).astype(np.float32)
    return e / np.linalg.norm(e)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "g.sqlite3"
    with Gallery(path) as g:
        bob = g.enrol("Bob", crop(1), emb(1), V1, source="bob.jpg")
        g.add_sample(bob.id, crop(2), emb(2), V1, source="bob2.jpg")
        g.enrol("Ann", crop(3), emb(3), V1, source="ann.jpg")
    return path


def test_lookup_finds_any_case_and_refuses_a_stranger_in_one_line(db):
    with PeopleBook(db) as book:
        assert book.lookup("bob").name == "Bob"
        with pytest.raises(GalleryError, match="Nobody called 'Zed' is enrolled."):
            book.lookup("Zed")
        assert [p.name for p in book.people()] == ["Ann", "Bob"]


def test_photos_move_merge_and_rename_go_through_the_gallery(db):
    with PeopleBook(db) as book:
        bob, ann = book.lookup("Bob"), book.lookup("Ann")
        second = book.samples(bob.id)[1]
        assert book.move_photo(second.id, ann.id).sample_count == 2
        assert sorted(s.source for s in book.samples(ann.id)) == ["ann.jpg", "bob2.jpg"]
        with pytest.raises(NameTakenError):
            book.rename(bob.id, "ANN")
        assert book.rename(bob.id, "Robert").name == "Robert"
        assert book.merge(bob.id, ann.id).sample_count == 3
        assert [p.name for p in book.people()] == ["Ann"]
    with Gallery(db) as g:  # the changes are the gallery's, on disk
        assert [(p.name, p.sample_count) for p in g.people()] == [("Ann", 3)]


def test_delete_is_undoable_and_delete_now_is_not(db):
    with PeopleBook(db) as book:
        gone = book.delete(book.lookup("Bob").id)
        assert gone.sample_count == 2 and book.find("Bob") is None
        deleted = book.find_deleted("bob")
        assert deleted is not None and book.undo_delete(deleted.id).sample_count == 2
        book.delete_now(book.lookup("Ann").id)
        assert book.find_deleted("Ann") is None and [p.name for p in book.people()] == ["Bob"]


def test_export_then_read_backup_round_trips(db, tmp_path):
    out = tmp_path / f"people{backup_suffix()}"
    with PeopleBook(db) as book:
        done = book.export(out)
    assert (done.people, done.samples) == (2, 3)
    assert sorted(read_backup(out).names) == ["Ann", "Bob"]
