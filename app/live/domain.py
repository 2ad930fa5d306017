"""What the app has learned about its own camera: a crowd sample of faces it has seen.

The τ(N) table comes from LFW validation people; faces from one camera, one light and one
resolution lie closer to each other, so the table's τ names far more of that domain's strangers.
The engine compares the domain's impostor distances with the table's (`open_set.domain_shift`,
tighten-only). Its in-domain impostor pairs are the enrolled people's cross pairs and this
sample: a few representative faces of every live track, kept *whatever the track was named*
(a sample of faces that stayed Unknown would lie above τ by construction and could never show
that τ is too loose). The pairs drawn from it are only those known to be of different people:

- one track's faces are one person, never impostors of each other;
- two tracks in the same frame are two people, so their faces are impostor pairs; tracks never
  seen together may be one person coming back, so they are not paired;
- a track may be an enrolled person walking by: its faces are paired with every enrolled person
  except the one it lies nearest to (the same rule for every track, named or not, so the sample
  is not biased by the decision);
- τ judges a face against an enrolled photo, and the quality gate keeps small or blurred faces
  out of the gallery; so two seen faces are paired only when at least one of them passes the gate
  (`observe`'s `grade`). Two out-of-focus faces look alike to the model whoever they are: on the
  Hamilton clip one such pair of the audience alone made τ 0.2 stricter, and Alex's profile, once
  added to him, was then named on a fifth of its frames instead of nearly all.

The sample is persisted beside the gallery (atomically, `app.atomic`), dropped with it, and belongs to one
encoder version. Qt-free.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Callable

import numpy as np

from app.atomic import atomic_write
from app.recognition import scoring
from app.recognition.scoring import CohortScorer

MAX_FACES = 1000      # oldest faces dropped beyond this (a day of comings and goings)
PER_TRACK = 3         # faces kept per track: a long stay is still one person
KEEP_EVERY = 10       # embedded frames of a track between two faces kept (views that differ a little)
MAX_TOGETHER = 20000  # co-occurring track pairs remembered
ROUGH_PAIRS = 1000    # fewer in-domain impostor pairs than this: the estimate of the 1% tail is rough
SAVE_EVERY = 10       # faces kept between two writes (and on close)


def path_for(gallery_path: str | os.PathLike) -> Path:
    """The sample's file beside a gallery file (`gallery.sqlite3` → `gallery.domain.npz`)."""
    p = Path(gallery_path)
    return p.with_name(f"{p.stem}.domain.npz")


class DomainSample:
    """Faces the camera has seen, with their tracks and which tracks were in view together."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = None if path is None else Path(path)
        self.version = 0  # bumped on every change (the engine's cache key)
        self.generation = 0  # bumped when the sample starts afresh or is read back
        self._clear()
        self._unsaved = 0
        self.load_error: str | None = None
        if self.path is not None and self.path.exists():
            self._load()

    def _clear(self) -> None:
        self.generation += 1
        self.added = 0  # faces kept since the sample started (the oldest may have been dropped)
        self.model: str | None = None
        self._faces: list[np.ndarray] = []
        self._tracks: list[int] = []
        self._good: list[bool] = []  # the face passed the quality gate (could be in the gallery)
        self._together: set[tuple[int, int]] = set()
        self._next_track = 1
        self._counts: dict[int, int] = {}  # this session: embedded frames seen per track

    def __len__(self) -> int:
        return len(self._faces)

    @property
    def empty(self) -> bool:
        return not self._faces and not self._together

    @property
    def faces(self) -> np.ndarray:
        return np.stack(self._faces).astype(np.float32) if self._faces else np.zeros((0, 0), np.float32)

    @property
    def tracks(self) -> np.ndarray:
        return np.asarray(self._tracks, dtype=np.int64)

    @property
    def together(self) -> set[tuple[int, int]]:
        return set(self._together)

    def new_track(self) -> int:
        """A key for a new live track, unique across sessions of this sample."""
        key = self._next_track
        self._next_track += 1
        return key

    @property
    def good(self) -> np.ndarray:
        return np.asarray(self._good, dtype=bool)

    def observe(self, model: str, faces: list[tuple[int, np.ndarray | None]],
                grade: Callable[[int], bool] | None = None) -> bool:
        """One analysed frame: (track key, its embedding this frame or None) for every face in it.
        Keeps a track's 1st, (1 + KEEP_EVERY)th, … embedded face up to PER_TRACK, whatever it was
        named; remembers which tracks were in the frame together. `grade(i)`: whether face i
        passes the quality gate, asked only for the faces kept (None: all do). True if anything
        was kept."""
        if model != self.model:
            if self._faces or self._together:
                self._clear()  # another encoder's embeddings cannot be compared with this one's
            self.model = model
        changed = False
        keys = sorted({k for k, _ in faces})
        for i, a in enumerate(keys):
            for b in keys[i + 1:]:
                if (a, b) not in self._together and len(self._together) < MAX_TOGETHER:
                    self._together.add((a, b))
                    changed = True
        for i, (key, emb) in enumerate(faces):
            if emb is None:
                continue
            n = self._counts.get(key, 0)
            self._counts[key] = n + 1
            if n % KEEP_EVERY or n // KEEP_EVERY >= PER_TRACK:
                continue
            self._faces.append(np.asarray(emb, dtype=np.float32).reshape(-1))
            self._tracks.append(int(key))
            self._good.append(True if grade is None else bool(grade(i)))
            self.added += 1
            self._unsaved += 1
            changed = True
        if len(self._faces) > MAX_FACES:
            drop = len(self._faces) - MAX_FACES
            del self._faces[:drop], self._tracks[:drop], self._good[:drop]
        if changed:
            self.version += 1
            if self._unsaved >= SAVE_EVERY:
                self.save()
        return changed

    def impostors(self, enrolled: np.ndarray, enrolled_ids: np.ndarray,
                  scorer: CohortScorer | None) -> np.ndarray:
        """In-domain impostor distances (module doc): the enrolled cross pairs, each kept face
        against every enrolled person but its track's nearest, and faces of tracks seen together
        when one of the two passes the quality gate."""
        e = np.asarray(enrolled, dtype=np.float32)
        ids = np.asarray(enrolled_ids, dtype=np.int64)
        parts: list[np.ndarray] = []
        if len(e) >= 2:
            d = scoring.scores(e, e, scorer)
            iu = np.triu_indices(len(e), 1)
            parts.append(d[iu][ids[iu[0]] != ids[iu[1]]])
        s = self.faces
        if len(s) and len(e) and s.shape[1] == e.shape[1]:
            tr = self.tracks
            d = scoring.scores(s, e, scorer)
            people = np.unique(ids)
            # each track's nearest person (over all its kept faces): it may be them
            per_person = np.stack([d[:, ids == p].min(axis=1) for p in people], axis=1)  # (S, P)
            nearest = {}
            for t in np.unique(tr):
                nearest[int(t)] = people[int(np.argmin(per_person[tr == t].min(axis=0)))]
            own = np.array([nearest[int(t)] for t in tr])
            parts.append(d[own[:, None] != ids[None, :]])
        if len(s) >= 2 and self._together:
            tr = self.tracks
            d = scoring.scores(s, s, scorer)
            iu = np.triu_indices(len(s), 1)
            # which kept tracks were seen together, as a matrix (up to MAX_FACES² pairs per call:
            # a set lookup per pair would cost the live loop a noticeable pause each time)
            keys, ti = np.unique(tr, return_inverse=True)
            where = {int(k): i for i, k in enumerate(keys)}
            seen = np.zeros((len(keys), len(keys)), dtype=bool)
            for x, y in self._together:
                if x in where and y in where:
                    seen[where[x], where[y]] = seen[where[y], where[x]] = True
            a, b = ti[iu[0]], ti[iu[1]]
            good = self.good
            parts.append(d[iu][seen[a, b] & (a != b) & (good[iu[0]] | good[iu[1]])])
        return np.concatenate(parts) if parts else np.zeros(0)

    # ---- persistence -----------------------------------------------------------------------
    def save(self) -> None:
        """Write the sample beside the gallery (the old file or the new, never half); nothing
        without a path. An empty sample removes the file."""
        self._unsaved = 0
        if self.path is None:
            return
        if not self._faces and not self._together:
            self.path.unlink(missing_ok=True)
            return
        buf = io.BytesIO()
        together = np.asarray(sorted(self._together), dtype=np.int64).reshape(-1, 2)
        np.savez(buf, faces=self.faces, tracks=self.tracks, good=self.good, together=together,
                 model=np.asarray(self.model or ""), next_track=np.asarray(self._next_track))
        with atomic_write(self.path, mode=0o600) as f:  # faces are personal data
            f.write(buf.getvalue())

    def _load(self) -> None:
        assert self.path is not None
        try:
            with np.load(self.path, allow_pickle=False) as z:
                faces = np.asarray(z["faces"], dtype=np.float32)
                tracks = np.asarray(z["tracks"], dtype=np.int64).reshape(-1)
                together = np.asarray(z["together"], dtype=np.int64).reshape(-1, 2)
                model = str(z["model"])
                nxt = int(z["next_track"])
                good = np.asarray(z["good"], dtype=bool).reshape(-1) if "good" in z.files else np.ones(len(tracks), bool)
            if faces.ndim != 2 or len(faces) != len(tracks) or len(good) != len(tracks):
                raise ValueError("faces and tracks disagree")
        except Exception as exc:  # a damaged file costs only what was learned, never the app
            self.load_error = f"The camera sample {self.path} could not be read ({exc}); starting afresh."
            return
        self.model = model or None
        self._faces = list(faces)
        self._tracks = [int(t) for t in tracks]
        self._good = [bool(g) for g in good]
        self.generation += 1
        self.added = len(self._faces)
        self._together = {(int(a), int(b)) for a, b in together}
        self._next_track = max(nxt, max(self._tracks, default=0) + 1)

    def reset(self) -> int:
        """Forget everything learned (and the file); returns how many faces were dropped."""
        n = len(self._faces)
        self._clear()
        self.version += 1
        self._unsaved = 0
        if self.path is not None:
            self.path.unlink(missing_ok=True)
        return n
