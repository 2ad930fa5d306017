"""The gallery: enrolled people and their samples (aligned face crop + embedding) in SQLite.

Qt-free. The file itself (opening, recovery, schema, transactions) is app.store.database; the
values stored and handed out are app.store.records. Design choices, and why:
- The aligned crop is kept (PNG, lossless), so the gallery can be re-embedded when the encoder
  changes without asking anyone for their photos again; embeddings carry their model version and
  only current ones are matched.
- Faces are personal data: `delete` VACUUMs and truncates the WAL so nothing of a removed person
  lingers in the file, and removes the copies made for retraining (paths.remove_derived_copies).
- Backups (app.store.backup) copy people exactly as stored with `dump` and add them back with
  `restore`, one transaction, so a failed import changes nothing.
- A person's photos can be listed (when, from where, how good), removed, moved to someone else,
  one chosen as the main photo (the thumbnail), and two people merged; each is one transaction,
  and a person never ends up with no photo (removing or moving the last one is refused).
- Deleting can be undone for `UNDO_WINDOW_S`: the person is only marked deleted (the matcher,
  listings and backups skip them) and erased for good, with the same VACUUM, by the first
  `purge_deleted` after the window (every open runs one). `delete(…)` without `undoable` erases at
  once, as before.
- "Not X" answers are kept as rejections (the face's embedding and crop, for X): the matcher
  never names X for a face nearer that rejected face than to any photo of X (see
  `matching.Matcher`). They go with X when X is deleted, and to B when X is merged into B.
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Callable, Literal, Sequence, overload

import numpy as np

from app import paths
from app.errors import GalleryError, NameTakenError
from app.progress import CancelToken, ProgressFn, no_progress
from app.recognition.matching import CohortScorer, Matcher
from app.store.database import DEFAULT_TIMEOUT_S, GalleryDatabase
from app.store.records import (
    DeletedPerson,
    NewSample,
    Person,
    RawPerson,
    RawSample,
    RestoreReport,
    Sample,
    check_crop,
    check_embedding,
    check_model_version,
    decode_crop,
    embedding_array,
    embedding_bytes,
    encode_crop,
    name_key,
    validate_name,
)

UNDO_WINDOW_S = 600.0  # how long a deletion can be undone before everything of the person is erased
# What `reembed` refreshes: (table, condition); a rejection saved without its crop cannot be.
_REEMBEDDED = (("samples", ""), ("rejections", " AND crop IS NOT NULL"))


def _new_id(cur: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just made (sqlite3 gives None only when nothing was inserted)."""
    rowid = cur.lastrowid
    if rowid is None:
        raise GalleryError("The gallery did not store the new row.")
    return int(rowid)


class Gallery(GalleryDatabase):
    """People and their samples in one SQLite file; safe to share between threads (one lock)."""

    def __init__(self, path: str | os.PathLike | None = None, *, timeout: float = DEFAULT_TIMEOUT_S,
                 undo_window_s: float = UNDO_WINDOW_S, clock: Callable[[], float] = time.time) -> None:
        """Open (creating if needed) the gallery at `path`, default `data_dir()/gallery.sqlite3`.
        `timeout`: seconds to wait for another program's write lock before giving up;
        `undo_window_s`: how long an undoable deletion can be undone; `clock`: the time (tests)."""
        self.undo_window_s = float(undo_window_s)
        self.clock = clock
        super().__init__(path, timeout=timeout)
        try:
            self.purge_deleted()  # people whose undo window ran out while no program had the file open
        except GalleryError:
            pass  # locked by another program just now: the next open or purge_deleted() erases them

    # ---- people --------------------------------------------------------------------------
    # Active people only: someone deleted with undo is invisible to every listing and match.
    _PERSON_SQL = ("SELECT p.id, p.name, p.created, (SELECT COUNT(*) FROM samples s WHERE s.person_id = p.id) "
                   "FROM people p WHERE p.deleted IS NULL")

    @staticmethod
    def _person(row) -> Person:
        return Person(id=int(row[0]), name=row[1], sample_count=int(row[3]), created=float(row[2] or 0.0))

    def people(self) -> list[Person]:
        """Everyone enrolled, sorted by name ignoring case."""
        with self._read() as conn:
            rows = conn.execute(self._PERSON_SQL).fetchall()
        return sorted((self._person(r) for r in rows), key=lambda p: (p.name.casefold(), p.name, p.id))

    def person(self, person_id: int) -> Person:
        with self._read() as conn:
            row = conn.execute(self._PERSON_SQL + " AND p.id = ?", (int(person_id),)).fetchone()
        if row is None:
            raise GalleryError("That person is no longer in the gallery.")
        return self._person(row)

    def find(self, name: str) -> Person | None:
        """The person called `name`: exact match first, else the one match ignoring case."""
        name = name.strip()
        with self._read() as conn:
            row = conn.execute(self._PERSON_SQL + " AND p.name = ?", (name,)).fetchone()
            if row is None:
                key = name_key(name)
                rows = [r for r in conn.execute(self._PERSON_SQL).fetchall() if name_key(r[1]) == key]
                row = rows[0] if len(rows) == 1 else None
        return self._person(row) if row is not None else None

    def _active(self, conn: sqlite3.Connection, person_id: int) -> tuple[int, str]:
        row = conn.execute("SELECT id, name FROM people WHERE id = ? AND deleted IS NULL", (int(person_id),)).fetchone()
        if row is None:
            raise GalleryError("That person is no longer in the gallery.")
        return int(row[0]), row[1]

    def _taken_by(self, conn: sqlite3.Connection, name: str) -> tuple[int, str] | None:
        key = name_key(name)
        for pid, other in conn.execute("SELECT id, name FROM people WHERE deleted IS NULL ORDER BY id"):
            if name_key(other) == key:
                return int(pid), other
        return None

    def _free_name(self, conn: sqlite3.Connection, name: str) -> bool:
        """Erase, in the caller's transaction, anyone deleted (awaiting undo) under this name: the
        name is being given to someone new, so that deletion can no longer be undone."""
        key = name_key(name)
        gone = [int(pid) for pid, other in conn.execute("SELECT id, name FROM people WHERE deleted IS NOT NULL")
                if name_key(other) == key]
        for pid in gone:
            conn.execute("DELETE FROM people WHERE id = ?", (pid,))
        return bool(gone)

    def _insert_sample(self, conn: sqlite3.Connection, person_id: int, png: bytes, emb: np.ndarray,
                       model_version: str, source: str | None, quality: float | None = None,
                       quality_note: str | None = None) -> int:
        cur = conn.execute(
            "INSERT INTO samples(person_id, crop, embedding, model_version, source, created, quality, quality_note) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (person_id, png, embedding_bytes(emb), model_version, source, self.clock(),
             None if quality is None else float(quality), quality_note))
        return _new_id(cur)

    def enrol(self, name: str, crop: np.ndarray, embedding: np.ndarray, model_version: str,
               source: str | None = None, add_to_existing: bool = False, quality: float | None = None,
               quality_note: str | None = None, more: Sequence[NewSample] = ()) -> Person:
        """Create a person with their first sample, and any `more` photos, in one transaction. A
        name already taken (ignoring case) is refused unless `add_to_existing`, which adds the
        samples to that person. `quality`, `quality_note`: the face's
        `app.recognition.quality.Quality` score and note, shown later.

        Why `more` here and not a second call: giving the name to someone new erases a deleted
        namesake awaiting undo, so a person enrolled in two steps whose second step fails would
        have cost that undo for nothing."""
        name = validate_name(name)
        crop, emb = check_crop(crop), check_embedding(embedding)
        model_version = check_model_version(model_version)
        png = encode_crop(crop)
        extra = [self._checked(n) for n in more]
        with self._write() as conn:
            taken = self._taken_by(conn, name)
            freed = False
            if taken is not None:
                if not add_to_existing:
                    raise NameTakenError(f"{taken[1]} is already enrolled. Add this photo to them, or "
                                         f"choose a different name.", taken[0], taken[1])
                person_id = taken[0]
            else:
                freed = self._free_name(conn, name)
                cur = conn.execute("INSERT INTO people(name, created) VALUES (?, ?)", (name, self.clock()))
                person_id = _new_id(cur)
            self._insert_sample(conn, person_id, png, emb, model_version, source, quality, quality_note)
            for _, x_emb, x_mv, x_png, n in extra:
                self._insert_sample(conn, person_id, x_png, x_emb, x_mv, n.source, n.quality, n.quality_note)
            row = conn.execute(self._PERSON_SQL + " AND p.id = ?", (person_id,)).fetchone()
        if freed:
            self._compact()
        return self._person(row)

    def add_sample(self, person_id: int, crop: np.ndarray, embedding: np.ndarray, model_version: str,
                   source: str | None = None, quality: float | None = None,
                   quality_note: str | None = None) -> Sample:
        """Another photo of someone already enrolled (more samples, better recall)."""
        (smp,) = self.add_samples(person_id, [NewSample(crop, embedding, model_version, source, quality,
                                                        quality_note)])
        return smp

    def add_samples(self, person_id: int, new: Sequence[NewSample]) -> list[Sample]:
        """Several photos of someone in ONE transaction: all of them are added, or none."""
        checked = [self._checked(n) for n in new]
        out = []
        with self._write() as conn:
            pid, _ = self._active(conn, person_id)
            for crop, emb, mv, png, n in checked:
                sid = self._insert_sample(conn, pid, png, emb, mv, n.source, n.quality, n.quality_note)
                created = conn.execute("SELECT created FROM samples WHERE id = ?", (sid,)).fetchone()[0]
                out.append(Sample(sid, pid, crop.copy(), emb.copy(), mv, n.source, float(created),
                                  None if n.quality is None else float(n.quality), n.quality_note, False))
        return out

    @staticmethod
    def _checked(n: NewSample) -> tuple[np.ndarray, np.ndarray, str, bytes, NewSample]:
        """A new sample's crop, embedding, model version and PNG, checked before any write."""
        crop, emb = check_crop(n.crop), check_embedding(n.embedding)
        return crop, emb, check_model_version(n.model_version), encode_crop(crop), n

    def rename(self, person_id: int, new_name: str) -> Person:
        """A new name; `NameTakenError` (naming who has it) when it is someone else's, so the caller
        can offer to merge the two instead."""
        new_name = validate_name(new_name)
        with self._write() as conn:
            pid, _ = self._active(conn, person_id)
            taken = self._taken_by(conn, new_name)
            if taken is not None and taken[0] != pid:
                raise NameTakenError(f"{taken[1]} is already enrolled; choose a different name, or merge "
                                     f"the two into {taken[1]}.", taken[0], taken[1])
            freed = self._free_name(conn, new_name)
            conn.execute("UPDATE people SET name = ? WHERE id = ?", (new_name, pid))
            row = conn.execute(self._PERSON_SQL + " AND p.id = ?", (pid,)).fetchone()
        if freed:
            self._compact()
        return self._person(row)

    def _compact(self) -> None:
        """After erasing faces: VACUUM and truncate the WAL so their crops and embeddings do not
        linger in free pages or old WAL frames; drop the copies made for retraining."""
        with self._read() as conn:
            try:
                conn.execute("VACUUM")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                # The deletion itself is committed. If another connection blocks the compaction,
                # secure_delete has already zeroed the freed pages; the WAL is rewritten later.
                pass
        paths.remove_derived_copies(self.path.parent)

    @overload
    def delete(self, person_id: int, undoable: Literal[True]) -> DeletedPerson: ...
    @overload
    def delete(self, person_id: int, undoable: bool = False) -> DeletedPerson | None: ...

    def delete(self, person_id: int, undoable: bool = False) -> DeletedPerson | None:
        """Remove the person and every sample and rejection, then compact the file (`_compact`).

        With `undoable`, the person is only marked deleted: nobody sees or matches them any more,
        `undo_delete` brings them back within `undo_window_s`, and the first `purge_deleted`
        after that erases them as above. Returns what can be undone (None when erased now)."""
        with self._write() as conn:
            if undoable:
                pid, name = self._active(conn, person_id)
                now = self.clock()
                conn.execute("UPDATE people SET deleted = ? WHERE id = ?", (now, pid))
                count = int(conn.execute("SELECT COUNT(*) FROM samples WHERE person_id = ?", (pid,)).fetchone()[0])
            else:
                cur = conn.execute("DELETE FROM people WHERE id = ?", (int(person_id),))
                if cur.rowcount == 0:
                    raise GalleryError("That person is no longer in the gallery.")
        if undoable:
            paths.remove_derived_copies(self.path.parent)  # rebuilt from the gallery at the next retraining
            return DeletedPerson(pid, name, count, now, now + self.undo_window_s)
        self._compact()
        return None

    def deleted_people(self) -> list[DeletedPerson]:
        """People deleted with undo whose window has not run out, most recent first."""
        with self._read() as conn:
            rows = conn.execute("SELECT p.id, p.name, p.deleted, (SELECT COUNT(*) FROM samples s "
                                "WHERE s.person_id = p.id) FROM people p WHERE p.deleted IS NOT NULL "
                                "ORDER BY p.deleted DESC, p.id DESC").fetchall()
        cutoff = self.clock() - self.undo_window_s
        return [DeletedPerson(int(pid), name, int(n), float(when), float(when) + self.undo_window_s)
                for pid, name, when, n in rows if float(when) > cutoff]

    def find_deleted(self, name: str) -> DeletedPerson | None:
        """The most recently deleted person called `name` (ignoring case) who can still be restored."""
        key = name_key(name.strip())
        return next((d for d in self.deleted_people() if name_key(d.name) == key), None)

    def undo_delete(self, person_id: int) -> Person:
        """Bring back someone deleted with undo, with every photo, while the window is open."""
        with self._write() as conn:
            row = conn.execute("SELECT name, deleted FROM people WHERE id = ?", (int(person_id),)).fetchone()
            if row is None:
                raise GalleryError("That person was erased for good; it is too late to undo the deletion.")
            if row[1] is None:
                raise GalleryError(f"{row[0]} was not deleted.")
            if float(row[1]) <= self.clock() - self.undo_window_s:
                raise GalleryError(f"It is too late to undo the deletion of {row[0]}: it is "
                                   f"{self.undo_window_s / 60:g} minutes at most.")
            taken = self._taken_by(conn, row[0])
            if taken is not None:  # cannot happen through this class (_free_name), but a file may be edited
                raise GalleryError(f"{taken[1]} is enrolled again since; rename them first.")
            conn.execute("UPDATE people SET deleted = NULL WHERE id = ?", (int(person_id),))
            out = conn.execute(self._PERSON_SQL + " AND p.id = ?", (int(person_id),)).fetchone()
        return self._person(out)

    def purge_deleted(self, everyone: bool = False) -> int:
        """Erase, as `delete` does, the people whose undo window has run out (with `everyone`, all
        deleted people now); returns how many. Every open runs it; a long-running program calls
        it now and then (the GUI on a timer)."""
        cutoff = float("inf") if everyone else self.clock() - self.undo_window_s
        with self._read() as conn:
            due = conn.execute("SELECT COUNT(*) FROM people WHERE deleted IS NOT NULL AND deleted <= ?",
                               (cutoff,)).fetchone()[0]
        if not due:
            return 0
        with self._write() as conn:
            n = conn.execute("DELETE FROM people WHERE deleted IS NOT NULL AND deleted <= ?", (cutoff,)).rowcount
        if n:
            self._compact()
        return int(n)

    def merge(self, from_id: int, into_id: int) -> Person:
        """Make two people one: every photo and rejection of `from_id` goes to `into_id`, who
        keeps their name and main photo, and `from_id` disappears. One transaction."""
        if int(from_id) == int(into_id):
            raise GalleryError("A person cannot be merged into themselves.")
        with self._write() as conn:
            src, _ = self._active(conn, from_id)
            dst, _ = self._active(conn, into_id)
            conn.execute("UPDATE samples SET person_id = ?, is_main = 0 WHERE person_id = ?", (dst, src))
            conn.execute("UPDATE rejections SET person_id = ? WHERE person_id = ?", (dst, src))
            conn.execute("DELETE FROM people WHERE id = ?", (src,))
            row = conn.execute(self._PERSON_SQL + " AND p.id = ?", (dst,)).fetchone()
        return self._person(row)

    # ---- rejections ("Not X") -----------------------------------------------------------
    def reject(self, person_id: int, embedding: np.ndarray, model_version: str,
               crop: np.ndarray | None = None) -> int:
        """Remember that this face is NOT `person_id` (a wrong match said "Not …"): from now on the
        matcher never names that person for a face nearer this one than to any of their photos.
        `crop` (the aligned stored crop) lets a new model re-embed it; returns its id."""
        emb = check_embedding(embedding)
        model_version = check_model_version(model_version)
        png = None if crop is None else encode_crop(check_crop(crop))
        with self._write() as conn:
            pid, _ = self._active(conn, person_id)
            cur = conn.execute("INSERT INTO rejections(person_id, crop, embedding, model_version, created) "
                               "VALUES (?, ?, ?, ?, ?)", (pid, png, embedding_bytes(emb), model_version, self.clock()))
        return _new_id(cur)

    def rejections(self, person_id: int, model_version: str) -> np.ndarray:
        """(R, D) the faces said to be NOT this person, embedded by `model_version` (R may be 0):
        what learning from live tracks checks before it adds a view to them."""
        with self._read() as conn:
            rows = conn.execute("SELECT embedding FROM rejections WHERE person_id = ? AND model_version = ? "
                                "ORDER BY id", (int(person_id), model_version)).fetchall()
        if not rows:
            return np.zeros((0, 0), np.float32)
        return np.stack([embedding_array(r[0]) for r in rows]).astype(np.float32)

    def rejection_count(self, person_id: int) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM rejections WHERE person_id = ?",
                                    (int(person_id),)).fetchone()[0])

    def clear_rejections(self, person_id: int) -> int:
        """Forget every "Not …" said about this person; returns how many."""
        with self._write() as conn:
            n = conn.execute("DELETE FROM rejections WHERE person_id = ?", (int(person_id),)).rowcount
        return int(n)

    # ---- backups -------------------------------------------------------------------------
    def dump(self) -> list[RawPerson]:
        """Everyone with every sample as stored, read in one transaction (a consistent copy even
        while another program writes)."""
        with self._read() as conn:
            conn.execute("BEGIN")
            try:
                # People deleted with undo are gone as far as a backup is concerned.
                people = conn.execute("SELECT id, name, created FROM people WHERE deleted IS NULL "
                                      "ORDER BY id").fetchall()
                rows = conn.execute("SELECT person_id, crop, embedding, model_version, source, created, "
                                    "quality, quality_note, is_main FROM samples ORDER BY id").fetchall()
            finally:
                self._rollback_quietly()  # a read transaction: nothing to commit
        by_person: dict[int, list[RawSample]] = {int(p[0]): [] for p in people}
        for pid, png, e, mv, source, created, quality, note, main in rows:
            if int(pid) in by_person:
                by_person[int(pid)].append(RawSample(bytes(png), bytes(e), mv, source, float(created or 0.0),
                                                     None if quality is None else float(quality), note,
                                                     bool(main)))
        return [RawPerson(name, float(created or 0.0), tuple(by_person[int(pid)])) for pid, name, created in people]

    def restore(self, people: list[RawPerson], merge: bool = False) -> RestoreReport:
        """Add people from a backup in ONE transaction: all of them or, on any problem, none.

        A name already enrolled (ignoring case) is refused, naming every clash, unless `merge`:
        then the backup's photos are added to that person, skipping crops they already have.
        """
        checked: list[tuple[str, float, list[RawSample]]] = []
        seen: dict[str, str] = {}
        for person in people:
            try:
                name = validate_name(person.name)
            except GalleryError as exc:
                raise GalleryError(f"The backup holds a name that cannot be used ({exc}); "
                                   f"nothing was imported.") from None
            if name_key(name) in seen:
                raise GalleryError(f"The backup names {seen[name_key(name)]!r} twice; it may be damaged.")
            seen[name_key(name)] = name
            samples = []
            for smp in person.samples:
                try:
                    if len(smp.embedding) == 0 or len(smp.embedding) % 4:
                        raise ValueError("embedding size")
                    check_embedding(embedding_array(smp.embedding))
                    check_model_version(smp.model_version)
                    decode_crop(smp.png)
                except (ValueError, GalleryError):
                    raise GalleryError(f"A photo of {name} in the backup is damaged; nothing was imported.") from None
                samples.append(smp)
            if samples:  # a person is never created without a photo
                checked.append((name, float(person.created), samples))
        added: list[str] = []
        merged: list[str] = []
        n_added = n_skipped = 0
        with self._write() as conn:
            existing = {name_key(n): (int(pid), n)  # DESC: the oldest wins, as in _taken_by
                        for pid, n in conn.execute("SELECT id, name FROM people WHERE deleted IS NULL "
                                                   "ORDER BY id DESC")}
            freed = False
            clashes = [(name, existing[name_key(name)][1]) for name, _, _ in checked
                       if name_key(name) in existing]
            if clashes and not merge:
                listed = ", ".join(other for _, other in clashes[:5]) + (" …" if len(clashes) > 5 else "")
                raise GalleryError(f"{len(clashes)} of the people in the backup are already enrolled "
                                   f"({listed}). Nothing was imported; import with --merge to add their "
                                   f"photos to the people already here.")
            for name, created, samples in checked:
                taken = existing.get(name_key(name))
                if taken is None:
                    freed = self._free_name(conn, name) or freed
                    cur = conn.execute("INSERT INTO people(name, created) VALUES (?, ?)", (name, created))
                    pid, have = _new_id(cur), set()
                    added.append(name)
                else:
                    pid = taken[0]
                    have = {bytes(r[0]) for r in conn.execute("SELECT crop FROM samples WHERE person_id = ?", (pid,))}
                    merged.append(taken[1])
                main_taken = taken is not None  # a merged person keeps their own main photo
                for smp in samples:
                    if smp.png in have:
                        n_skipped += 1
                        continue
                    have.add(smp.png)
                    conn.execute("INSERT INTO samples(person_id, crop, embedding, model_version, source, created, "
                                 "quality, quality_note, is_main) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 (pid, smp.png, smp.embedding, smp.model_version, smp.source, float(smp.created),
                                  smp.quality, smp.quality_note, int(smp.is_main and not main_taken)))
                    main_taken = main_taken or smp.is_main
                    n_added += 1
        if freed:
            self._compact()
        return RestoreReport(tuple(added), tuple(merged), n_added, n_skipped)

    # ---- samples -------------------------------------------------------------------------
    _SAMPLE_SQL = ("SELECT s.id, s.person_id, s.crop, s.embedding, s.model_version, s.source, s.created, "
                   "s.quality, s.quality_note, s.is_main FROM samples s JOIN people p ON p.id = s.person_id "
                   "WHERE p.deleted IS NULL")

    @staticmethod
    def _sample(row) -> Sample:
        sid, pid, crop, emb, mv, source, created, quality, note, main = row
        return Sample(int(sid), int(pid), decode_crop(crop), embedding_array(emb), mv, source, float(created or 0.0),
                      None if quality is None else float(quality), note, bool(main))

    def samples(self, person_id: int | None = None) -> list[Sample]:
        """Every sample of the active people (oldest first), or one person's; GalleryError for
        an unknown person. A person's photo number N (1-based, as `people show` lists them) is
        `samples(person_id)[N - 1]`."""
        with self._read() as conn:
            if person_id is None:
                rows = conn.execute(self._SAMPLE_SQL + " ORDER BY s.id").fetchall()
            else:
                pid, _ = self._active(conn, person_id)
                rows = conn.execute(self._SAMPLE_SQL + " AND s.person_id = ? ORDER BY s.id", (pid,)).fetchall()
        return [self._sample(r) for r in rows]

    def sample(self, sample_id: int) -> Sample:
        with self._read() as conn:
            row = conn.execute(self._SAMPLE_SQL + " AND s.id = ?", (int(sample_id),)).fetchone()
        if row is None:
            raise GalleryError("That photo is no longer in the gallery.")
        return self._sample(row)

    def _sample_owner(self, conn: sqlite3.Connection, sample_id: int) -> tuple[int, int, str, int]:
        """(sample id, person id, person name, how many photos they have) of an active person's sample."""
        row = conn.execute("SELECT s.id, p.id, p.name, (SELECT COUNT(*) FROM samples t WHERE t.person_id = p.id) "
                           "FROM samples s JOIN people p ON p.id = s.person_id "
                           "WHERE s.id = ? AND p.deleted IS NULL", (int(sample_id),)).fetchone()
        if row is None:
            raise GalleryError("That photo is no longer in the gallery.")
        return int(row[0]), int(row[1]), row[2], int(row[3])

    def remove_sample(self, sample_id: int) -> Person:
        """Remove one photo (its crop and embedding erased from the file, as `delete` does) and
        return its person. Their only photo is refused: a person is never left without one."""
        with self._write() as conn:
            sid, pid, name, count = self._sample_owner(conn, sample_id)
            if count <= 1:
                raise GalleryError(f"That is the only photo of {name}; a person needs at least one. "
                                   f"Add another first, or delete {name}.")
            conn.execute("DELETE FROM samples WHERE id = ?", (sid,))
            row = conn.execute(self._PERSON_SQL + " AND p.id = ?", (pid,)).fetchone()
        self._compact()
        return self._person(row)

    def move_sample(self, sample_id: int, to_person_id: int) -> Person:
        """Give one photo to another person (it was of them); returns that person. Moving
        someone's only photo is refused: merge them instead."""
        with self._write() as conn:
            sid, pid, name, count = self._sample_owner(conn, sample_id)
            dst, dst_name = self._active(conn, to_person_id)
            if dst == pid:
                raise GalleryError(f"That photo is already {name}'s.")
            if count <= 1:
                raise GalleryError(f"That is the only photo of {name}; to make them one person with "
                                   f"{dst_name}, merge {name} into {dst_name} instead.")
            conn.execute("UPDATE samples SET person_id = ?, is_main = 0 WHERE id = ?", (dst, sid))
            row = conn.execute(self._PERSON_SQL + " AND p.id = ?", (dst,)).fetchone()
        return self._person(row)

    def set_main_sample(self, sample_id: int) -> None:
        """Make this photo its person's main one (their thumbnail everywhere)."""
        with self._write() as conn:
            sid, pid, _, _ = self._sample_owner(conn, sample_id)
            conn.execute("UPDATE samples SET is_main = (id = ?) WHERE person_id = ?", (sid, pid))

    def thumbnail(self, person_id: int) -> np.ndarray | None:
        """The person's main photo (else their first); None if they have none or no longer exist."""
        with self._read() as conn:
            row = conn.execute("SELECT s.crop FROM samples s JOIN people p ON p.id = s.person_id "
                               "WHERE s.person_id = ? AND p.deleted IS NULL ORDER BY s.is_main DESC, s.id LIMIT 1",
                               (int(person_id),)).fetchone()
        return decode_crop(row[0]) if row else None

    def matcher(self, model_version: str, scorer: CohortScorer | None = None) -> Matcher:
        """A Matcher over the active people's samples embedded by `model_version` (others are
        stale, not comparable), scoring with that model's `scorer` if it has one, with their
        rejections ("Not …") of the same model."""
        with self._read() as conn:
            rows = conn.execute("SELECT s.person_id, s.embedding FROM samples s JOIN people p ON p.id = s.person_id "
                                "WHERE s.model_version = ? AND p.deleted IS NULL ORDER BY s.id",
                                (model_version,)).fetchall()
            rej = conn.execute("SELECT r.person_id, r.embedding FROM rejections r JOIN people p ON p.id = r.person_id "
                               "WHERE r.model_version = ? AND p.deleted IS NULL ORDER BY r.id",
                               (model_version,)).fetchall()
            names = {int(pid): name for pid, name in conn.execute("SELECT id, name FROM people WHERE deleted IS NULL")}
        if not rows:
            return Matcher(np.zeros((0, 0), np.float32), np.zeros(0, np.int64), {}, scorer)
        sizes = {len(r[1]) for r in rows} | {len(r[1]) for r in rej}
        if len(sizes) != 1 or next(iter(sizes)) % 4:
            raise GalleryError(f"The gallery holds embeddings of different sizes for model {model_version}; "
                               f"it may be damaged.")
        dim = next(iter(sizes)) // 4

        def stack(rs):
            emb = np.frombuffer(b"".join(r[1] for r in rs), dtype="<f4").reshape(len(rs), dim).astype(np.float32)
            return emb, np.fromiter((r[0] for r in rs), dtype=np.int64, count=len(rs))
        emb, ids = stack(rows)
        rej_emb, rej_ids = stack(rej) if rej else (None, None)
        return Matcher(emb, ids, names, scorer, rejections=rej_emb, rejection_ids=rej_ids)

    def stale_count(self, model_version: str) -> int:
        """Samples (and rejections with a crop) embedded by another model, which `reembed` would
        refresh."""
        with self._read() as conn:
            return sum(int(conn.execute(f"SELECT COUNT(*) FROM {table} WHERE model_version != ?{extra}",
                                        (model_version,)).fetchone()[0]) for table, extra in _REEMBEDDED)

    def reembed(self, embed_crops: Callable[[np.ndarray], np.ndarray], model_version: str,
                progress: ProgressFn = no_progress, cancel: CancelToken | None = None, batch: int = 64) -> int:
        """Re-embed samples (then rejections) of other model versions from their stored crops;
        returns how many.

        Each batch is embedded outside any transaction (inference can be slow and must not hold
        the write lock) and then written in its own transaction, so a cancel (raised as
        `Cancelled` between batches) or crash leaves every sample either fully old or fully new.
        `embed_crops` receives (B, H, W, 3) uint8 RGB crops of equal size and returns (B, D).
        """
        model_version = check_model_version(model_version)
        batch = max(1, int(batch))
        total = self.stale_count(model_version)
        done = 0
        progress(0, total, "Updating the gallery for the new model")
        for table, extra in _REEMBEDDED:
            last_id = -1
            while True:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                with self._read() as conn:
                    rows = conn.execute(
                        f"SELECT id, crop, model_version FROM {table} WHERE model_version != ?{extra} AND id > ? "
                        "ORDER BY id LIMIT ?", (model_version, last_id, batch)).fetchall()
                if not rows:
                    break
                last_id = int(rows[-1][0])
                crops = [decode_crop(r[1]) for r in rows]
                embs: list[np.ndarray | None] = [None] * len(rows)
                by_shape: dict[tuple, list[int]] = {}
                for i, c in enumerate(crops):
                    by_shape.setdefault(c.shape, []).append(i)
                for idx in by_shape.values():
                    out = np.asarray(embed_crops(np.stack([crops[i] for i in idx])), dtype=np.float32)
                    if out.ndim != 2 or len(out) != len(idx):
                        raise ValueError(f"embed_crops returned shape {out.shape} for {len(idx)} crops")
                    for i, e in zip(idx, out):
                        embs[i] = check_embedding(e)
                with self._write() as conn:
                    for (sid, _, old_version), e in zip(rows, embs):
                        assert e is not None  # every crop was embedded above
                        # Only if untouched since we read it (deleted or refreshed by someone else: skip).
                        cur = conn.execute(f"UPDATE {table} SET embedding = ?, model_version = ? "
                                           "WHERE id = ? AND model_version = ?",
                                           (embedding_bytes(e), model_version, sid, old_version))
                        done += cur.rowcount
                progress(min(done, total), total, "Updating the gallery for the new model")
        if done < total:  # some were deleted or refreshed elsewhere meanwhile: still finished
            progress(total, total, "Updating the gallery for the new model")
        return done
