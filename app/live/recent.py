"""Recent faces: who the live view saw in the last minutes, to review and name in one click.

Qt-free. The live loop (`tracking.LiveLabeller`, shared by the GUI and `watch`) feeds every
analysed frame in; `RecentFaces` keeps ONE entry per track: when it was seen, the name it was
given (or "Unknown"), its distance and nearest person, every frame's embedding pooled into one
unit template, and its best frame (the gallery's aligned crop, ranked by `app.recognition.quality`: a frame
that passes the gate first, then size x sharpness). Unknown tracks that are one person are
grouped by clustering their pooled templates (average linkage under the τ that tells two faces
apart, `Engine.pair_threshold`, with the model's cohort normalisation), so a stranger who walks
past five times is one group "seen 5 times". Only tracks whose best face passes the quality gate
are grouped; the others are listed one by one (blurred faces all look alike to the model).

The one-click actions that write to the gallery ("This is …", "New person…", "Not …", and who
the gallery would name a face now) are in `recent_actions`, so that this model only holds what
was seen and nothing here writes to the gallery. The actions read entries out (`members`, copies
under the lock), call the gallery outside the lock, so the live thread feeding this model never
waits on an embedding or a gallery write, and mark the entries after (`mark_added`,
`mark_rejected`). Hiding (`ignore`) and forgetting touch no gallery and stay here.

Privacy, and why it is built so:
- By default everything lives in memory only, for `MEMORY_WINDOW_S`, and is gone when the program
  ends. Keeping recent faces across restarts is opt-in (`Settings.keep_recent_faces`): then they
  are written to `recent-faces.sqlite3` in the private data folder (0600, secure_delete, one
  transaction per write), deleted when older than the retention period (checked at start and
  every `PURGE_EVERY_S` while running), all of them at once by `forget_all`, and the file is
  removed when the setting is turned off. They are never exported or sent anywhere.
- Deleting a person must leave nothing of them: `forget_person` / `sync_people` drop every entry
  added to or named as someone no longer enrolled (the GUI calls `sync_people` after a delete).
- Stored entries are written when a track ends, on every action and on `flush` (the app's exit):
  a crash loses at most the tracks still open, never a half-written entry.

Where each concern lives: the entries and their grouping in `recent_grouping`, the opt-in file in
`recent_store`, the one-click review actions in `recent_actions`, the `watch --keep-unknown`
review folder in `recent_review`; here `RecentFaces` (what is kept, under one lock) and
`open_recent_faces`.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np

from app.errors import GalleryError
from app.recognition import scoring
from app.recognition.alignment import align
from app.recognition.detection import Face
from app.recognition.matching import UNKNOWN
from app.recognition.quality import assess
from app.recognition.scoring import CohortScorer

if TYPE_CHECKING:  # the engine is only called, never imported at run time (it pulls in torch)
    from app.live.pipeline import Engine
    from app.store.gallery import Gallery

from app.live.recent_grouping import ADDED, IGNORED, NEW, _rank, _unit
from app.live.recent_grouping import RecentFace as RecentFace
from app.live.recent_grouping import RecentGroup as RecentGroup
from app.live.recent_grouping import average_linkage as average_linkage
from app.live.recent_review import check_review_folder as check_review_folder
from app.live.recent_review import write_review_folder as write_review_folder
from app.live.recent_store import DEFAULT_RETENTION_H as DEFAULT_RETENTION_H
from app.live.recent_store import STORE_FILENAME as STORE_FILENAME
from app.live.recent_store import RecentStore as RecentStore
from app.live.recent_store import remove_store as remove_store

STORED_CROP = 112          # as pipeline.STORED_CROP: the gallery's full-frame crop
MEMORY_WINDOW_S = 600.0    # what "recent" means when nothing is stored: the last 10 minutes
TRACK_GAP_S = 3.0          # a track not seen for this long has ended (its entry is final)
MAX_ENTRIES = 300          # beyond this, the oldest entries are dropped (bounded memory and clustering)
PURGE_EVERY_S = 30.0



class RecentFaces:
    """The recent-faces model (see the module docstring); safe to feed from the live thread
    while another thread reads `view()` and acts (one lock)."""

    def __init__(self, store: RecentStore | None = None, *, window_s: float = MEMORY_WINDOW_S,
                 max_entries: int = MAX_ENTRIES, clock: Callable[[], float] = time.time) -> None:
        """`store`: keep entries across restarts (opt-in), for its retention period; without
        one, entries live in memory for `window_s`."""
        self.store = store
        self.window_s = float(window_s)
        self.max_entries = int(max_entries)
        self.clock = clock
        self._lock = threading.RLock()
        self._entries: dict[str, RecentFace] = {}
        self._open: dict[tuple[object, int], str] = {}   # (stream, track id) -> key of its entry
        self._model_version: str | None = None
        self._scorer: CohortScorer | None = None
        self._threshold: Callable[[int], float] | None = None
        self._last_purge = self.clock()
        self._groups: list[RecentGroup] | None = None
        if store is not None:
            for f in store.load():
                self._entries[f.key] = f

    # ---- settings ----------------------------------------------------------------------
    @property
    def retention_s(self) -> float:
        return self.store.retention_s if self.store is not None else self.window_s

    def configure(self, model_version: str, threshold: float | Callable[[int], float],
                  scorer: CohortScorer | None = None) -> None:
        """How unknown faces are grouped: the model whose embeddings are compared (others are
        not grouped), τ for "one person" (a number, or τ as a function of how many other tracks
        each is compared with: `Engine.pair_threshold`) and the model's cohort normalisation."""
        fixed = 0.0 if callable(threshold) else float(threshold)
        fn: Callable[[int], float] = threshold if callable(threshold) else (lambda n: fixed)
        with self._lock:
            self._model_version, self._threshold, self._scorer = model_version, fn, scorer
            self._groups = None

    def configure_from(self, engine: "Engine") -> None:
        """`configure` with the engine's model, `Engine.pair_threshold` and scorer (call again
        when the model or τ changes)."""
        self.configure(engine.encoder.version, engine.pair_threshold, engine.encoder.scorer)

    # ---- feeding -----------------------------------------------------------------------
    def observe_frame(self, rgb: np.ndarray, recognitions: Sequence, labels: Sequence, model_version: str | None,
                      when: float | None = None, frame_index: int | None = None, stream: object = None) -> None:
        """One analysed frame from the live loop: `recognitions` (pipeline.Recognition: face,
        embedding) and the tracker's `labels` (tracking.Labelled), in the same order. `stream`
        tells apart trackers whose ids could repeat (one per LiveLabeller)."""
        if model_version is None:
            return
        for rec, lab in zip(recognitions, labels):
            crop = align(rgb, rec.face, STORED_CROP)
            self.observe(lab.track_id, rec.face, crop, rec.embedding, lab.name, lab.distance, lab.nearest,
                         model_version, when=when, frame_index=frame_index, stream=stream,
                         person_id=lab.person_id)

    def observe(self, track_id: int, face: Face, crop: np.ndarray, embedding: np.ndarray, name: str,
                distance: float, nearest: str | None, model_version: str, when: float | None = None,
                frame_index: int | None = None, stream: object = None, person_id: int | None = None) -> str:
        """One face of one track in one frame; returns its entry's key. `person_id`: who `name`
        is in the gallery (the live label's id), so a rename does not split or lose the entry."""
        now = self.clock() if when is None else float(when)
        q = assess(face, crop)
        e = None if embedding is None else _unit(embedding)  # None: not embedded this frame (live.analysis)
        with self._lock:
            self._end_tracks(now)
            key = self._open.get((stream, int(track_id)))
            entry = self._entries.get(key) if key is not None else None
            if entry is None and e is None:
                return ""  # nothing to start an entry from; the track's next embedded frame will
            if entry is not None and (entry.model_version != model_version or (
                    entry.name != UNKNOWN and name != UNKNOWN
                    and (person_id != entry.named_id if person_id is not None and entry.named_id is not None
                         else name != entry.name))):
                # Another model, or the tracker jumped to someone else: a new entry from here.
                self._finish(entry)
                entry = None
            if entry is None:
                key = uuid.uuid4().hex[:16]
                entry = RecentFace(key, int(track_id), now, now, 0, name, float(distance), nearest,
                                   np.ascontiguousarray(crop), q, e, model_version,
                                   first_frame=frame_index, _pool=np.zeros_like(e))
                self._entries[key] = entry
                self._open[(stream, int(track_id))] = key
            elif _rank(q) > _rank(entry.quality):
                entry.crop, entry.quality = np.ascontiguousarray(crop), q
            if e is not None:
                entry._pool = entry._pool + e if entry._pool is not None and entry._pool.shape == e.shape else e.copy()
                entry.embedding = _unit(entry._pool)
            entry.frames += 1
            entry.last_seen = now
            entry.last_frame = frame_index
            rejected = (person_id is not None and person_id in entry.rejected) or name in entry.rejected_names
            entry.name = UNKNOWN if rejected else name  # the live label may lag a "Not …" by a few frames
            entry.named_id = None if rejected or name == UNKNOWN or person_id is None else int(person_id)
            if e is not None or nearest is not None:
                # a frame not embedded (live.analysis carries a settled track's name) says
                # nothing new about who an Unknown face is nearest to: the last answer stays
                entry.distance, entry.nearest = float(distance), nearest
            self._groups = None
            if len(self._entries) > self.max_entries:
                oldest = sorted(self._entries.values(), key=lambda f: f.last_seen)
                self._drop([f.key for f in oldest[:len(self._entries) - self.max_entries]])
            if now - self._last_purge >= PURGE_EVERY_S:
                self._purge(now)
            assert key is not None  # the entry was found under it, or made with a new one
            return key

    def _end_tracks(self, now: float) -> None:
        for sk, key in list(self._open.items()):
            f = self._entries.get(key)
            if f is None:
                del self._open[sk]
            elif now - f.last_seen > TRACK_GAP_S:
                self._finish(f)

    def _finish(self, f: RecentFace) -> None:
        """The track ended: its entry is final (and stored, with the opt-in store)."""
        for sk, key in list(self._open.items()):
            if key == f.key:
                del self._open[sk]
        self._save([f])

    def _save(self, faces: list[RecentFace]) -> None:
        if self.store is not None and faces:
            self.store.save(faces)

    def _drop(self, keys: Sequence[str]) -> None:
        for k in keys:
            self._entries.pop(k, None)
        for sk, key in list(self._open.items()):
            if key in keys:
                del self._open[sk]
        if self.store is not None:
            self.store.delete(list(keys))
        self._groups = None

    def _purge(self, now: float) -> int:
        self._last_purge = now
        old = [k for k, f in self._entries.items() if f.last_seen < now - self.retention_s]
        self._drop(old)
        if self.store is not None:
            self.store.purge()
        return len(old)

    def purge(self) -> int:
        """Drop entries older than the retention (memory and store); returns how many were in memory."""
        with self._lock:
            return self._purge(self.clock())

    def end_all(self) -> None:
        """Every track has ended (the source stopped): their entries are final."""
        with self._lock:
            for key in list(self._open.values()):
                if key in self._entries:
                    self._finish(self._entries[key])
            self._open.clear()

    def flush(self) -> None:
        """Write every entry to the store (the app is closing); nothing without one."""
        with self._lock:
            self._save(list(self._entries.values()))

    def close(self) -> None:
        self.flush()
        if self.store is not None:
            self.store.close()

    def adopt(self, faces: Iterable[RecentFace]) -> int:
        """Take over another RecentFaces' entries (`entries(include_ignored=True)` of the one this
        replaces, when the keep setting changed): those within this one's retention are kept
        (replacing an older copy of the same entry read from the store), and stored if this one
        stores; the tracks still open start new entries. Returns how many were taken."""
        with self._lock:
            cutoff = self.clock() - self.retention_s
            taken = [replace(f) for f in faces if f.last_seen >= cutoff]
            for f in taken:
                self._entries[f.key] = f
            self._groups = None
            self._save(taken)
            return len(taken)

    # ---- reading -----------------------------------------------------------------------
    def entries(self, include_ignored: bool = False) -> list[RecentFace]:
        """Every track still recent, most recently seen first (copies)."""
        with self._lock:
            now = self.clock()
            if now - self._last_purge >= PURGE_EVERY_S:
                self._purge(now)
            out = [replace(f) for f in self._entries.values()
                   if (include_ignored or f.status != IGNORED) and f.last_seen >= now - self.retention_s]
        return sorted(out, key=lambda f: (-f.last_seen, f.key))

    def view(self) -> list[RecentGroup]:
        """What the "Recent faces" view lists, most recently seen first: each group of unknown
        tracks of one person (clustered), and each named or added track on its own."""
        with self._lock:
            if self._groups is not None and self.clock() - self._last_purge >= PURGE_EVERY_S:
                self._groups = None  # nothing new was seen, but entries may have expired since
            if self._groups is None:
                self._groups = self._compute_groups(self.entries())
            return list(self._groups)

    def groups(self) -> list[RecentGroup]:
        """The unknown groups only (what `watch --keep-unknown` writes)."""
        return [g for g in self.view() if g.unknown]

    def _compute_groups(self, entries: list[RecentFace]) -> list[RecentGroup]:
        unknown = [f for f in entries if f.unknown]
        alone = [f for f in entries if not f.unknown]
        clusters: list[list[RecentFace]] = []
        # Only tracks with a good face are grouped: blurred and tiny faces all embed alike (on the
        # Hamilton clip, blurred faces of different people lie closer together than two sharp
        # views of one man), so they would pile into one false group. They are listed alone.
        same_model = [f for f in unknown if f.model_version == self._model_version
                      and self._threshold is not None and f.quality.ok]
        others = [f for f in unknown if f not in same_model]
        if same_model and self._threshold is not None:  # (same_model is empty without one)
            x = np.stack([f.embedding for f in same_model])
            scorer = self._scorer if self._scorer is not None and self._scorer.dim == x.shape[1] else None
            d = scoring.scores(x, x, scorer)
            # Each track is compared with the n - 1 others, as a face with a gallery of that size:
            # τ for that size keeps false merges as rare as false names.
            tau = self._threshold(max(1, len(same_model) - 1))
            for rows in average_linkage(d, tau):
                clusters.append([same_model[i] for i in rows])
        clusters += [[f] for f in others]
        out = []
        for c in clusters:
            members = tuple(sorted(c, key=lambda f: (_rank(f.quality), f.frames), reverse=True))
            out.append(RecentGroup(min(c, key=lambda f: (f.first_seen, f.key)).key, members, True))
        out += [RecentGroup(f.key, (f,), False) for f in alone]
        return sorted(out, key=lambda g: (-g.last_seen, g.key))

    def get(self, key: str) -> RecentFace:
        with self._lock:
            f = self._entries.get(key)
            if f is None:
                raise GalleryError("That face is no longer in the recent faces.")
            return replace(f)

    # ---- what the review actions mark; hiding and forgetting -------------------------------
    def _members(self, keys: str | Sequence[str]) -> list[RecentFace]:
        ks = [keys] if isinstance(keys, str) else list(keys)
        found = [self._entries[k] for k in ks if k in self._entries]
        if not found:
            raise GalleryError("Those faces are no longer in the recent faces.")
        return found

    def members(self, keys: str | Sequence[str]) -> list[RecentFace]:
        """Copies of these tracks' entries (GalleryError when none is still here): what a review
        action (`recent_actions`) reads under the lock before it calls the gallery outside it."""
        with self._lock:
            return [replace(f) for f in self._members(keys)]

    def mark_added(self, keys: Sequence[str], person_id: int, name: str) -> None:
        """These tracks were added to (or enrolled as) `person_id`; entries forgotten while the
        gallery was written stay forgotten."""
        with self._lock:
            live = [self._entries[k] for k in keys if k in self._entries]
            for f in live:
                f.status, f.person_id, f.person_name = ADDED, int(person_id), name
            self._groups = None
            self._save(live)

    def mark_rejected(self, keys: Sequence[str], person_id: int, name: str) -> None:
        """"Not …" `person_id` was stored for these tracks: they remember it (the live label may
        lag a few frames) and turn Unknown if they were named or added as that person."""
        with self._lock:
            live = [self._entries[k] for k in keys if k in self._entries]
            for f in live:
                f.rejected = tuple(sorted(set(f.rejected) | {int(person_id)}))
                f.rejected_names = tuple(sorted(set(f.rejected_names) | {name}))
                if f.named_id == person_id or f.name == name or (f.status == ADDED and f.person_id == person_id):
                    f.name, f.status, f.person_id, f.person_name, f.named_id = UNKNOWN, NEW, None, None, None
            self._groups = None
            self._save(live)

    def ignore(self, keys: str | Sequence[str]) -> None:
        """"Ignore": hide these tracks (they stay until they expire, so a restart does not bring
        them back as new)."""
        with self._lock:
            members = self._members(keys)
            for f in members:
                f.status = IGNORED
            self._groups = None
            self._save(members)

    def forget(self, keys: str | Sequence[str]) -> None:
        """Remove these tracks now (memory and store)."""
        with self._lock:
            self._drop([f.key for f in self._members(keys)])

    def forget_all(self) -> int:
        """"Forget all recent faces": every entry, in memory and stored; returns how many."""
        with self._lock:
            n = len(self._entries)
            self._entries.clear()
            self._open.clear()
            self._groups = None
            if self.store is not None:
                self.store.clear()
            return n

    def forget_person(self, person_id: int | None = None, name: str | None = None) -> int:
        """Drop every entry added to `person_id` or named `name` (a deleted person leaves no
        trace here), and that person from the others' "Not …" lists; returns how many dropped."""
        with self._lock:
            gone = [k for k, f in self._entries.items()
                    if (person_id is not None and int(person_id) in (f.person_id, f.named_id))
                    or (name is not None and name != UNKNOWN and name in (f.name, f.person_name))]
            if person_id is not None:
                changed = [f for k, f in self._entries.items() if k not in gone and int(person_id) in f.rejected]
                for f in changed:
                    f.rejected = tuple(r for r in f.rejected if r != int(person_id))
                self._save(changed)
            self._drop(gone)
            return len(gone)

    def sync_people(self, gallery: "Gallery") -> int:
        """After people were renamed, deleted or merged away: drop the entries of anyone no
        longer enrolled (returns how many) and show everyone else under their name now. Entries
        are matched by gallery id; only ones named before ids were kept go by name."""
        active = {p.id: p.name for p in gallery.people()}
        names = set(active.values())
        with self._lock:
            stale = [f for f in self._entries.values()
                     if (f.person_id is not None and f.person_id not in active)
                     or (f.named_id is not None and f.named_id not in active)
                     or (f.person_id is None and f.named_id is None and f.name != UNKNOWN and f.name not in names)]
            ids = {pid for f in stale for pid in (f.person_id, f.named_id) if pid is not None}
            n = 0
            for pid in ids:
                n += self.forget_person(pid)
            leftover = [f.key for f in stale if f.key in self._entries]
            self._drop(leftover)
            changed = []
            for f in self._entries.values():
                before = (f.name, f.person_name, f.rejected, f.rejected_names)
                if f.person_id is not None:
                    f.person_name = active[f.person_id]
                if f.named_id is not None:
                    f.name = active[f.named_id]
                f.rejected = tuple(r for r in f.rejected if r in active)
                f.rejected_names = tuple(sorted({active[r] for r in f.rejected}))
                if (f.name, f.person_name, f.rejected, f.rejected_names) != before:
                    changed.append(f)
            if changed:
                self._groups = None
                self._save(changed)
            return n + len(leftover)


def open_recent_faces(keep: bool, retention_hours: float = DEFAULT_RETENTION_H,
                      path: str | os.PathLike | None = None, clock: Callable[[], float] = time.time) -> RecentFaces:
    """The app's recent faces as its settings say (`Settings.keep_recent_faces`,
    `recent_faces_retention_h`): stored in the private data folder when `keep`, else in memory
    only, and then any file left from when the setting was on is deleted."""
    if keep:
        return RecentFaces(RecentStore(path, retention_hours * 3600.0, clock), clock=clock)
    remove_store(path)
    return RecentFaces(clock=clock)
