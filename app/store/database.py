"""The gallery's SQLite file: opening it (created 0600), recovering from damage, the schema and
its upgrades, the connection's settings, and the transactions every gallery operation runs in.

Its own module because none of this is about people or photos: it is how one SQLite file is kept
safe to share and to crash in. `Gallery` (app.store.gallery) builds its operations on it.
Design choices, and why:
- Every write is one `BEGIN IMMEDIATE ... COMMIT` transaction, so a crash never leaves half an
  enrolment, and the write lock is taken up front (no deadlock upgrading a read to a write).
- WAL + synchronous=FULL: readers (a second window, the CLI) never block the live engine, and a
  committed enrolment survives a power cut.
- Faces are personal data: the file is created 0600 (and an existing one, with its -wal/-shm,
  tightened to that) and deleted rows are zeroed (secure_delete).
- A damaged file is moved aside (never deleted) and reported; locked or read-only files give a
  `GalleryError` a person can act on, never a raw sqlite3 traceback.
- Format 2 added photo metadata, the main photo, soft deletion and rejections; a format-1 file is
  upgraded in place on open, in one transaction (older photos have no quality figure).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, NoReturn, Self

from app import paths
from app.errors import GalleryError

FILENAME = "gallery.sqlite3"
SCHEMA_VERSION = 2
DEFAULT_TIMEOUT_S = 5.0

_SQLITE_HEADER = b"SQLite format 3\x00"
# Primary SQLite result codes (the low byte of sqlite_errorcode).
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = 3, 5, 6, 8, 10, 11, 13, 14, 26

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS people (
    id      INTEGER PRIMARY KEY,
    name    TEXT UNIQUE NOT NULL,
    created REAL
);
CREATE TABLE IF NOT EXISTS samples (
    id            INTEGER PRIMARY KEY,
    person_id     INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
    crop          BLOB NOT NULL,   -- PNG bytes of the aligned face crop (RGB stored as BGR PNG)
    embedding     BLOB NOT NULL,   -- little-endian float32
    model_version TEXT NOT NULL,
    source        TEXT,
    created       REAL
);
CREATE INDEX IF NOT EXISTS samples_person ON samples(person_id);
CREATE INDEX IF NOT EXISTS samples_model ON samples(model_version);
"""
# Format N-1 -> N, each step applied in one transaction.
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    2: (
        "ALTER TABLE people ADD COLUMN deleted REAL",          # marked deleted at (undo window); NULL: active
        "ALTER TABLE samples ADD COLUMN quality REAL",         # 0-1 (app.recognition.quality.Quality.score); NULL: not measured
        "ALTER TABLE samples ADD COLUMN quality_note TEXT",    # "good" or why not
        "ALTER TABLE samples ADD COLUMN is_main INTEGER NOT NULL DEFAULT 0",
        """CREATE TABLE IF NOT EXISTS rejections (
            id            INTEGER PRIMARY KEY,
            person_id     INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
            crop          BLOB,            -- PNG of the aligned crop, so it can be re-embedded
            embedding     BLOB NOT NULL,
            model_version TEXT NOT NULL,
            created       REAL
        )""",
        "CREATE INDEX IF NOT EXISTS rejections_person ON rejections(person_id)",
    ),
}
_TABLES = {"meta", "people", "samples", "rejections"}
_REQUIRED_COLUMNS = {
    "people": {"id", "name", "created", "deleted"},
    "samples": {"id", "person_id", "crop", "embedding", "model_version", "source", "created",
                "quality", "quality_note", "is_main"},
    "rejections": {"id", "person_id", "crop", "embedding", "model_version", "created"},
}


def default_path() -> Path:
    return paths.data_dir() / FILENAME


def _sidecars(path: Path) -> list[Path]:
    return [Path(f"{path}-wal"), Path(f"{path}-shm")]


def _tighten(path: Path) -> None:
    """Drop group/other permissions from an existing file (keeps a read-only file read-only)."""
    try:
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            os.chmod(path, mode & ~0o077)
    except OSError:
        pass


def _move_no_overwrite(src: Path, dst: Path) -> None:
    """Rename `src` to `dst`, failing with FileExistsError rather than replacing anything."""
    try:
        os.link(src, dst)
    except FileExistsError:
        raise
    except OSError:  # no hard links on this file system
        if os.path.lexists(dst):
            raise FileExistsError(dst) from None
        os.rename(src, dst)
        return
    os.unlink(src)



def close_quietly(conn: sqlite3.Connection | None) -> None:
    """Closes a connection that may already be broken: closing is the last thing left to try, so
    its own error has nothing to add."""
    if conn is not None:
        try:
            conn.close()
        except sqlite3.Error:
            pass

class GalleryDatabase:
    """One gallery file and its connection, safe to share between threads (one lock): `_read` and
    `_write` hand the connection to the operations, with sqlite3 errors turned into GalleryError."""

    def __init__(self, path: str | os.PathLike | None = None, *, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        """Open (creating if needed) the gallery file at `path`, default `data_dir()/gallery.sqlite3`.
        `timeout`: seconds to wait for another program's write lock before giving up."""
        self.path = Path(path) if path is not None else default_path()
        self.timeout = float(timeout)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._open()

    # ---- opening -------------------------------------------------------------------------
    def _open(self) -> None:
        p = self.path
        if p.is_dir():
            raise GalleryError(f"The gallery path {p} is a folder, not a file.")
        try:
            if not p.parent.exists():
                p.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
            try:  # create it ourselves so it is 0600 from the first byte; SQLite gives -wal/-shm the same mode
                os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            except FileExistsError:
                pass
        except OSError as exc:
            raise GalleryError(f"The gallery file {p} cannot be created: {exc.strerror or exc}.") from None
        for f in [p, *_sidecars(p)]:
            if f.exists():
                _tighten(f)
        if not os.access(p, os.R_OK | os.W_OK):
            raise GalleryError(f"The gallery file {p} is read-only. Make it writable (or choose another "
                               f"data folder with ONESHOT_DATA_DIR) and try again.")
        try:
            with open(p, "rb") as fh:
                head = fh.read(len(_SQLITE_HEADER))
        except OSError as exc:
            raise GalleryError(f"The gallery file {p} cannot be read: {exc.strerror or exc}.") from None
        if head and head != _SQLITE_HEADER:
            self._set_aside("it is not a SQLite database")
        try:
            self._conn = sqlite3.connect(str(p), timeout=self.timeout, isolation_level=None,
                                         check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._explain(exc) from None
        try:
            conn = self._conn
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            check = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
            if check != ["ok"]:
                self._set_aside(f"integrity check failed: {'; '.join(map(str, check[:3]))}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA secure_delete = ON")
            conn.execute("PRAGMA temp_store = MEMORY")  # VACUUM's copy never touches a temp file
            self._ensure_schema(conn)
        except sqlite3.Error as exc:
            err = self._explain(exc)
            self._close_quietly()
            raise err from None
        except BaseException:
            self._close_quietly()
            raise

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "meta" not in tables or not {"people", "samples"} <= tables:
            if tables - _TABLES - {t for t in tables if t.startswith("sqlite_")}:
                raise GalleryError(f"{self.path} is a database of another program, not a OneShot Face gallery.")
            conn.execute("BEGIN IMMEDIATE")
            try:
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        conn.execute(stmt)
                # Format 1 first, then the same upgrade steps an old file takes (below).
                conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', 1)")
                conn.execute("INSERT OR IGNORE INTO meta(key, value) VALUES ('change_counter', 0)")
                conn.execute("COMMIT")
            except BaseException:
                self._rollback_quietly()
                raise
        row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise GalleryError(f"The gallery {self.path} was written by a newer version of OneShot Face "
                               f"(format {version}); please update the app.")
        if version < SCHEMA_VERSION:
            self._migrate(conn)
        for table, wanted in _REQUIRED_COLUMNS.items():
            have = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
            if not wanted <= have:
                raise GalleryError(f"{self.path} is not a OneShot Face gallery (table {table} lacks "
                                   f"{', '.join(sorted(wanted - have))}).")

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Upgrade an older format step by step, each step one transaction; the version is read
        again under the write lock, so two programs opening an old file upgrade it once."""
        while True:
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = int(conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0])
                if version >= SCHEMA_VERSION:
                    conn.execute("COMMIT")
                    return
                have = {t: {r[1] for r in conn.execute(f"PRAGMA table_info({t})")} for t in ("people", "samples")}
                for stmt in _MIGRATIONS[version + 1]:
                    parts = stmt.split()
                    if parts[0] == "ALTER" and parts[5] in have.get(parts[2], ()):
                        continue  # the column is already there (a hand-repaired file)
                    conn.execute(stmt)
                conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (version + 1,))
                conn.execute("COMMIT")
            except BaseException:
                self._rollback_quietly()
                raise

    def _set_aside(self, reason: str) -> NoReturn:
        """Move a damaged file (and its -wal/-shm) to `<name>.corrupt-<timestamp>`; never delete it."""
        self._close_quietly()
        p = self.path
        base = f"{p.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
        for n in range(1, 1000):
            aside = p.with_name(base if n == 1 else f"{base}-{n}")
            if any(os.path.lexists(f) for f in [aside, *_sidecars(aside)]):
                continue
            try:
                _move_no_overwrite(p, aside)
            except FileExistsError:
                continue
            except OSError as exc:
                raise GalleryError(f"The gallery file {p} is damaged ({reason}) and could not be moved "
                                   f"aside: {exc.strerror or exc}. Move or rename it, then try again.") from None
            for src, dst in zip(_sidecars(p), _sidecars(aside)):
                if src.exists():
                    try:
                        _move_no_overwrite(src, dst)
                    except OSError:
                        pass
            raise GalleryError(f"The gallery file was damaged ({reason}). It has been moved to {aside} "
                               f"(nothing was deleted); a new, empty gallery will be started.")
        raise GalleryError(f"The gallery file {p} is damaged ({reason}); move or rename it, then try again.")

    def _explain(self, exc: sqlite3.Error) -> GalleryError:
        """A message a person can act on for a sqlite3 error (damage is handled by moving the file)."""
        code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
        p = self.path
        if code in (_CORRUPT, _NOTADB):
            try:
                self._set_aside(str(exc))
            except GalleryError as err:
                return err
        if code in (_BUSY, _LOCKED):
            return GalleryError(f"The gallery {p} is in use by another program and stayed locked for more "
                                f"than {self.timeout:g} s. Close other copies of OneShot Face and try again.")
        if code == _READONLY:
            return GalleryError(f"The gallery {p} is read-only (check the permissions of the file and its "
                                f"folder), so nothing can be saved.")
        if code in (_CANTOPEN, _PERM):
            return GalleryError(f"The gallery {p} cannot be opened; check that its folder exists and is writable.")
        if code == _FULL:
            return GalleryError(f"The disk holding the gallery {p} is full.")
        if code == _IOERR:
            return GalleryError(f"The gallery {p} could not be read or written (input/output error).")
        return GalleryError(f"The gallery {p} cannot be used: {exc}.")

    # ---- lifetime ------------------------------------------------------------------------
    def _close_quietly(self) -> None:
        conn, self._conn = self._conn, None
        close_quietly(conn)

    def _rollback_quietly(self) -> None:
        if self._conn is not None and self._conn.in_transaction:
            try:
                self._conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass

    def close(self) -> None:
        """Close the connection; the last one to close checkpoints and removes the WAL file."""
        with self._lock:
            self._close_quietly()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, with sqlite3 errors turned into GalleryError."""
        with self._lock:
            if self._conn is None:
                raise GalleryError("The gallery has been closed.")
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise self._explain(exc) from None

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One all-or-nothing write transaction that also bumps the change counter."""
        with self._read() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("UPDATE meta SET value = value + 1 WHERE key = 'change_counter'")
                conn.execute("COMMIT")
            except BaseException:
                self._rollback_quietly()
                raise

    @property
    def version(self) -> int:
        """Bumped by every change (from any connection or process), so a UI or engine can tell
        cheaply when to rebuild its Matcher."""
        with self._read() as conn:
            return int(conn.execute("SELECT value FROM meta WHERE key = 'change_counter'").fetchone()[0])
