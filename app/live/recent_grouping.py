"""Recent faces, one entry per track (`RecentFace`), and how the unknown ones are grouped into
people (`RecentGroup`, average linkage of their pooled templates under the pair τ). Qt-free;
`app.live.recent` keeps them (`RecentFaces`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app.recognition.matching import UNKNOWN
from app.recognition.quality import Quality

NEW, ADDED, IGNORED = "new", "added", "ignored"  # what became of an entry


@dataclass(eq=False)
class RecentFace:
    """One track as the recent-faces view shows it. Copies are handed out; edit through actions."""

    key: str                 # stable id of the entry (survives restarts when stored)
    track_id: int            # the live tracker's id (restarts at 1 with each program run)
    first_seen: float
    last_seen: float
    frames: int
    name: str                # the name the live view gave it, or "Unknown"
    distance: float          # of its pooled template to `nearest` (the decision's distance)
    nearest: str | None      # who it is nearest to, also when Unknown
    crop: np.ndarray         # best frame: the aligned STORED_CROP crop, RGB uint8
    quality: Quality         # of that frame
    embedding: np.ndarray    # the pooled unit template of all its frames
    model_version: str
    status: str = NEW        # NEW, ADDED (to `person_id`) or IGNORED
    person_id: int | None = None
    person_name: str | None = None
    rejected: tuple[int, ...] = ()   # people said "Not …" for this face
    rejected_names: tuple[str, ...] = ()  # their names then: the live label may lag a few frames
    first_frame: int | None = None   # source frame numbers (videos: where to look)
    last_frame: int | None = None
    _pool: np.ndarray | None = field(default=None, repr=False)  # sum of the unit embeddings
    named_id: int | None = None      # who the live view named it (gallery id; None: Unknown)

    @property
    def unknown(self) -> bool:
        """Still to review: Unknown and neither added nor ignored."""
        return self.status == NEW and self.name == UNKNOWN

    @property
    def label(self) -> str:
        """What to show: the person it was added to, else the name given."""
        return self.person_name if self.status == ADDED and self.person_name else self.name

    @property
    def label_id(self) -> int | None:
        """The gallery id of whoever `label` names (None: Unknown, or named before ids were kept)."""
        return self.person_id if self.status == ADDED else self.named_id


@dataclass(frozen=True, eq=False)
class RecentGroup:
    """What the view lists: one unknown person (several tracks), or one named track."""

    key: str                          # its oldest member's key: stable while the group grows
    members: tuple[RecentFace, ...]   # best face first
    unknown: bool

    @property
    def keys(self) -> tuple[str, ...]:
        """Pass these to the actions to act on the whole group."""
        return tuple(m.key for m in self.members)

    @property
    def best(self) -> RecentFace:
        return self.members[0]

    @property
    def count(self) -> int:
        """How many times (tracks) this face was seen."""
        return len(self.members)

    @property
    def frames(self) -> int:
        return sum(m.frames for m in self.members)

    @property
    def first_seen(self) -> float:
        return min(m.first_seen for m in self.members)

    @property
    def last_seen(self) -> float:
        return max(m.last_seen for m in self.members)

    @property
    def label(self) -> str:
        return self.best.label

    @property
    def label_id(self) -> int | None:
        return self.best.label_id

    @property
    def distance(self) -> float:
        return min(m.distance for m in self.members)

    @property
    def nearest(self) -> str | None:
        return min(self.members, key=lambda m: m.distance).nearest


def _rank(q: Quality) -> tuple[bool, float]:
    """How a track's frames are ranked for its best one: passing the gate first, then size x sharpness."""
    return (q.ok, q.score)


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32).reshape(-1)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def average_linkage(d: np.ndarray, threshold: float) -> list[list[int]]:
    """Agglomerative clustering of a symmetric distance matrix: the two clusters with the
    smallest mean pairwise distance are merged while it is under `threshold`. Average linkage,
    not single: one ambiguous pair cannot chain two people together."""
    n = len(d)
    m = np.array(d, dtype=np.float64, copy=True)
    if n == 0:
        return []
    np.fill_diagonal(m, np.inf)
    sizes = np.ones(n)
    members: list[list[int]] = [[i] for i in range(n)]
    while n > 1:
        flat = int(np.argmin(m))
        i, j = divmod(flat, len(m))
        if not m[i, j] < threshold:
            break
        merged = (sizes[i] * m[i] + sizes[j] * m[j]) / (sizes[i] + sizes[j])
        m[i, :] = merged
        m[:, i] = merged
        m[i, i] = np.inf
        m[j, :] = np.inf
        m[:, j] = np.inf
        sizes[i] += sizes[j]
        members[i] += members[j]
        members[j] = []
    return [sorted(c) for c in members if c]
