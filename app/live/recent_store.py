"""The opt-in store of recent faces: `recent-faces.sqlite3` in the private data folder (0600,
secure_delete, one transaction a write), purged past its retention, removed when the setting is
turned off (`app.live.recent` says why it is built so)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence, TypeVar

import cv2
import numpy as np

from app import paths
from app.errors import GalleryError
from app.live.recent_grouping import RecentFace
from app.recognition.quality import Quality
from app.store.database import close_quietly

_T = TypeVar("_T")

STORE_FILENAME = "recent-faces.sqlite3"
DEFAULT_RETENTION_H = 24.0  # the opt-in store's default retention


class RecentStore:
    """The opt-in copy of recent faces in the private data folder (see the module docstring)."""

    def __init__(self, path: str | os.PathLike | None = None, retention_s: float = DEFAULT_RETENTION_H * 3600,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path) if path is not None else paths.data_dir() / STORE_FILENAME
        if not retention_s > 0:
            raise ValueError("the retention period must be positive")
        self.retention_s = float(retention_s)
        self.clock = clock
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        try:
            self._connect()
        except sqlite3.DatabaseError:
            # Only a cache of faces that expire anyway: a damaged file is removed, not kept aside
            # (keeping it would keep face data past its retention).
            self._close()
            remove_store(self.path)
            try:
                self._connect()
            except sqlite3.Error as exc:
                raise GalleryError(f"The recent faces file {self.path} cannot be used: {exc}.") from None
        except sqlite3.Error as exc:
            raise GalleryError(f"The recent faces file {self.path} cannot be used: {exc}.") from None

    def _connect(self) -> None:
        p = self.path
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        conn = self._conn = sqlite3.connect(str(p), timeout=5.0, isolation_level=None, check_same_thread=False)
        if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise sqlite3.DatabaseError("integrity check failed")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("CREATE TABLE IF NOT EXISTS faces (key TEXT PRIMARY KEY, last_seen REAL NOT NULL, "
                     "meta TEXT NOT NULL, crop BLOB NOT NULL, embedding BLOB NOT NULL, pool BLOB)")

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        close_quietly(conn)

    def close(self) -> None:
        with self._lock:
            self._close()

    def _tx(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        with self._lock:
            if self._conn is None:
                raise GalleryError("The recent faces file has been closed.")
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    out = fn(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise GalleryError(f"The recent faces file {self.path} cannot be written: {exc}.") from None
            return out

    def _compact(self) -> None:
        with self._lock:
            if self._conn is None:
                return
            try:
                self._conn.execute("VACUUM")
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass  # secure_delete already zeroed the freed pages

    def save(self, faces: Iterable[RecentFace]) -> None:
        """Write (or rewrite) these entries, all in one transaction."""
        rows = []
        for f in faces:
            ok, png = cv2.imencode(".png", cv2.cvtColor(f.crop, cv2.COLOR_RGB2BGR))
            if not ok:
                raise ValueError("could not encode a face crop as PNG")
            q = f.quality
            meta = {"track_id": f.track_id, "first_seen": f.first_seen, "frames": f.frames, "name": f.name,
                    "distance": f.distance if np.isfinite(f.distance) else None, "nearest": f.nearest,
                    "model_version": f.model_version, "status": f.status, "person_id": f.person_id,
                    "person_name": f.person_name, "rejected": list(f.rejected),
                    "rejected_names": list(f.rejected_names), "first_frame": f.first_frame,
                    "last_frame": f.last_frame, "named_id": f.named_id,
                    "quality": {"ok": q.ok, "reasons": list(q.reasons), "side_px": q.side_px,
                                "sharpness": q.sharpness, "yaw": q.yaw, "pitch": q.pitch,
                                "brightness": q.brightness}}
            pool = None if f._pool is None else f._pool.astype("<f4").tobytes()
            rows.append((f.key, f.last_seen, json.dumps(meta), png.tobytes(),
                         f.embedding.astype("<f4").tobytes(), pool))
        if rows:
            self._tx(lambda c: c.executemany("INSERT OR REPLACE INTO faces VALUES (?, ?, ?, ?, ?, ?)", rows))

    def load(self) -> list[RecentFace]:
        """The stored entries still within the retention period (older ones are purged first);
        an entry that cannot be read is dropped."""
        self.purge()
        with self._lock:
            if self._conn is None:
                raise GalleryError("The recent faces file has been closed.")
            rows = self._conn.execute("SELECT key, last_seen, meta, crop, embedding, pool FROM faces "
                                      "ORDER BY last_seen").fetchall()
        out, bad = [], []
        for key, last_seen, meta, png, emb, pool in rows:
            try:
                m = json.loads(meta)
                bgr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
                if bgr is None:
                    raise ValueError("crop")
                q = m["quality"]
                out.append(RecentFace(
                    key, int(m["track_id"]), float(m["first_seen"]), float(last_seen), int(m["frames"]),
                    str(m["name"]), float("inf") if m["distance"] is None else float(m["distance"]), m["nearest"],
                    cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB),
                    Quality(bool(q["ok"]), tuple(q["reasons"]), float(q["side_px"]), float(q["sharpness"]),
                            q["yaw"], q["pitch"], q.get("brightness")),
                    np.frombuffer(emb, "<f4").astype(np.float32), str(m["model_version"]), str(m["status"]),
                    m["person_id"], m["person_name"], tuple(int(x) for x in m["rejected"]),
                    tuple(str(x) for x in m.get("rejected_names", ())), m["first_frame"], m["last_frame"],
                    None if pool is None else np.frombuffer(pool, "<f4").astype(np.float32),
                    named_id=None if m.get("named_id") is None else int(m["named_id"])))
            except (ValueError, KeyError, TypeError):
                bad.append(key)
        if bad:
            self.delete(bad)
        return out

    def delete(self, keys: Sequence[str]) -> None:
        keys = list(keys)
        if keys:
            self._tx(lambda c: c.executemany("DELETE FROM faces WHERE key = ?", [(k,) for k in keys]))
            self._compact()

    def purge(self) -> int:
        """Delete the entries older than the retention period; returns how many."""
        cutoff = self.clock() - self.retention_s
        n = int(self._tx(lambda c: c.execute("DELETE FROM faces WHERE last_seen < ?", (cutoff,)).rowcount))
        if n:
            self._compact()
        return n

    def clear(self) -> None:
        self._tx(lambda c: c.execute("DELETE FROM faces"))
        self._compact()

    def count(self) -> int:
        with self._lock:
            if self._conn is None:
                return 0
            return int(self._conn.execute("SELECT COUNT(*) FROM faces").fetchone()[0])


def remove_store(path: str | os.PathLike | None = None) -> bool:
    """Delete the stored recent faces file and its WAL (the setting was turned off); True if any."""
    p = Path(path) if path is not None else paths.data_dir(create=False) / STORE_FILENAME
    found = False
    for f in (p, Path(f"{p}-wal"), Path(f"{p}-shm")):
        try:
            f.unlink()
            found = True
        except FileNotFoundError:
            pass
    return found
