"""The enrolled people without a model: what `people` does that needs no encoder (list, show,
rename, merge, delete and undo, photos moved, removed or made the main one, export).

`Library` (app.service) does the same on a running engine for the GUI; this one opens only the
gallery, so these commands answer at once and never load torch. Every change goes through the
gallery's own checks (a taken name, an unknown photo) and its errors, as for the GUI.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import TYPE_CHECKING

from app.errors import GalleryError

if TYPE_CHECKING:
    from app.store.backup import Backup, ExportSummary
    from app.store.gallery import Gallery
    from app.store.records import DeletedPerson, Person, Sample


class PeopleBook:
    """The gallery opened for the `people` commands (a context manager: closed at the end)."""

    def __init__(self, path: str | os.PathLike | None = None) -> None:
        from app.store.gallery import Gallery
        self._gallery: Gallery = Gallery(path)

    def __enter__(self) -> PeopleBook:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._gallery.close()

    def forget_camera(self) -> int:
        """Forget the faces the camera has seen (app.live.domain, beside the gallery); how many."""
        from app.live.domain import DomainSample, path_for
        return DomainSample(path_for(self._gallery.path)).reset()

    # ---- finding -----------------------------------------------------------------------------
    def people(self) -> list[Person]:
        return self._gallery.people()

    def find(self, name: str) -> Person | None:
        return self._gallery.find(name)

    def lookup(self, name: str) -> Person:
        """The person enrolled as `name`, or a one-line GalleryError."""
        person = self._gallery.find(name)
        if person is None:
            raise GalleryError(f"Nobody called {name!r} is enrolled.")
        return person

    def person(self, person_id: int) -> Person:
        return self._gallery.person(person_id)

    def samples(self, person_id: int) -> list[Sample]:
        """A person's photos, numbered 1.. in this order (as `people show` lists them)."""
        return self._gallery.samples(person_id)

    def rejection_count(self, person_id: int) -> int:
        return self._gallery.rejection_count(person_id)

    def learned(self, person_id: int) -> list[Sample]:
        """The person's views learned from the camera (app.live.learning), oldest first."""
        from app.live.learning import learned_views
        return learned_views(self._gallery, person_id)

    def forget_learned(self, person_id: int, sample_id: int | None = None) -> int:
        """Remove one learned view (`sample_id`) or all of them; returns how many. Matching is
        then exactly as before they were learned."""
        from app.live.learning import forget_learned
        return forget_learned(self._gallery, person_id, None if sample_id is None else [sample_id])

    @property
    def undo_window_s(self) -> float:
        """How long an undoable deletion can be undone."""
        return self._gallery.undo_window_s

    # ---- changes -----------------------------------------------------------------------------
    def remove_photo(self, sample_id: int) -> Person:
        return self._gallery.remove_sample(sample_id)

    def move_photo(self, sample_id: int, to_person_id: int) -> Person:
        return self._gallery.move_sample(sample_id, to_person_id)

    def set_main_photo(self, sample_id: int) -> None:
        self._gallery.set_main_sample(sample_id)

    def merge(self, from_id: int, into_id: int) -> Person:
        return self._gallery.merge(from_id, into_id)

    def rename(self, person_id: int, new_name: str) -> Person:
        """`NameTakenError` (naming who has it) when the name is someone else's."""
        return self._gallery.rename(person_id, new_name)

    def delete_now(self, person_id: int) -> None:
        """Erase at once, with every photo and embedding."""
        self._gallery.delete(person_id)

    def delete(self, person_id: int) -> DeletedPerson:
        """Delete undoably (for `undo_window_s`)."""
        return self._gallery.delete(person_id, undoable=True)

    def find_deleted(self, name: str) -> DeletedPerson | None:
        return self._gallery.find_deleted(name)

    def undo_delete(self, person_id: int) -> Person:
        return self._gallery.undo_delete(person_id)

    def export(self, path: str | os.PathLike) -> ExportSummary:
        """A backup of everyone enrolled (face data: private)."""
        from app.store.backup import export_gallery
        return export_gallery(self._gallery, path)


def read_backup(path: str | os.PathLike) -> Backup:
    """A backup read and checked (a damaged or newer file refused with one line)."""
    from app.store.backup import read_backup as read
    return read(path)


def backup_suffix() -> str:
    """The file ending of a gallery backup."""
    from app.store.backup import SUFFIX
    return SUFFIX
