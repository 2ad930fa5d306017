"""Who is this face? The nearest enrolled sample, by L2 distance between unit embeddings.

Qt-free and stateless after construction, so the engine can rebuild a `Matcher` whenever the
gallery changes and share it with any thread. For unit vectors |a - b|² = 2 - 2 a·b, so one float32
matrix product against the whole gallery gives every distance: 100,000 x 128 costs a few ms per
query, with no index to keep in sync.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNKNOWN = "Unknown"

# Largest distance matrix built at once (elements): many queries against a huge gallery are
# processed in chunks so memory stays around 32 MB whatever the sizes.
_CHUNK_ELEMENTS = 8_000_000


@dataclass(frozen=True)
class Match:
    """One query's answer: a person, or `UNKNOWN` when nobody is closer than the threshold."""

    name: str               # the person's name, or "Unknown"
    person_id: int | None   # None when unknown
    distance: float         # L2 distance to the nearest enrolled sample (inf if the gallery is empty)

    @property
    def known(self) -> bool:
        return self.person_id is not None


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), so 2 - 2 a·b really is |a - b|² even if
    a caller hands in slightly unnormalised vectors."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.size == 0:
        return x
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.maximum(norms, np.float32(1e-12), out=norms)
    return x / norms


class Matcher:
    """Nearest enrolled sample by L2 distance, vectorised over the whole gallery."""

    def __init__(self, embeddings: np.ndarray, person_ids: np.ndarray, names: dict[int, str]) -> None:
        """`embeddings` (N, D) L2-normalised, `person_ids` (N,) the owner of each row, `names`
        person id -> name for every id used. N may be 0 (nobody enrolled)."""
        emb = np.asarray(embeddings, dtype=np.float32)
        if emb.size == 0 and emb.ndim < 2:
            emb = emb.reshape(0, 0)
        if emb.ndim != 2:
            raise ValueError(f"embeddings must be (N, D), got shape {emb.shape}")
        ids = np.asarray(person_ids, dtype=np.int64).reshape(-1)
        if len(ids) != len(emb):
            raise ValueError(f"{len(emb)} embeddings but {len(ids)} person ids")
        missing = set(np.unique(ids).tolist()) - set(names)
        if missing:
            raise ValueError(f"no name for person id(s) {sorted(missing)[:5]}")
        self._emb = _unit_rows(emb)
        self._ids = ids
        self._names = dict(names)
        # Per-person grouping for `ranked`: rows sorted by person, and where each person starts.
        self._order = np.argsort(ids, kind="stable")
        self._people, self._starts = np.unique(ids[self._order], return_index=True)

    def __len__(self) -> int:
        """Number of enrolled samples (not people)."""
        return len(self._emb)

    @property
    def dim(self) -> int:
        """Embedding size, 0 for an empty gallery."""
        return self._emb.shape[1]

    @property
    def names(self) -> dict[int, str]:
        return dict(self._names)

    def _queries(self, queries: np.ndarray) -> np.ndarray:
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim == 1:
            q = q[None, :]
        if q.ndim != 2:
            raise ValueError(f"queries must be (D,) or (M, D), got shape {q.shape}")
        if len(self._emb) and q.shape[1] != self._emb.shape[1]:
            raise ValueError(f"queries have {q.shape[1]} dimensions, the gallery {self._emb.shape[1]}")
        return _unit_rows(q)

    def nearest(self, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Owner of the nearest sample (-1 when the gallery is empty) and its distance (inf), one
        per query. Distances are computed in float32 and returned as float64; ties go to the
        first enrolled sample."""
        q = self._queries(queries)
        m, n = len(q), len(self._emb)
        if n == 0:
            return np.full(m, -1, dtype=np.int64), np.full(m, np.inf, dtype=np.float64)
        ids = np.empty(m, dtype=np.int64)
        dist = np.empty(m, dtype=np.float64)
        step = max(1, _CHUNK_ELEMENTS // n)
        for lo in range(0, m, step):
            sims = q[lo:lo + step] @ self._emb.T                 # (chunk, N) cosine similarities
            best = np.argmax(sims, axis=1)
            top = sims[np.arange(len(best)), best]
            sq = np.maximum(np.float32(2) - np.float32(2) * top, np.float32(0))
            ids[lo:lo + step] = self._ids[best]
            dist[lo:lo + step] = np.sqrt(sq)
        return ids, dist

    def match(self, queries: np.ndarray, tau: float) -> list[Match]:
        """Each query's nearest person if strictly closer than `tau`, else Unknown. The comparison
        uses the very distance reported, so `m.known == (m.distance < tau)` always holds."""
        ids, dist = self.nearest(queries)
        tau = float(tau)
        out = []
        for pid, d in zip(ids.tolist(), dist.tolist()):
            if pid >= 0 and d < tau:
                out.append(Match(self._names[pid], pid, d))
            else:
                out.append(Match(UNKNOWN, None, d))
        return out

    def ranked(self, query: np.ndarray, k: int = 5) -> list[tuple[int, float]]:
        """The `k` closest people as (person id, distance to their nearest sample), closest first;
        for "did you mean" lists and diagnostics. Ties are broken by person id."""
        q = self._queries(query)
        if len(q) != 1:
            raise ValueError("ranked takes a single query")
        if k <= 0 or len(self._emb) == 0:
            return []
        sims = (self._emb @ q[0])[self._order]
        best = np.maximum.reduceat(sims, self._starts)
        dist = np.sqrt(np.maximum(np.float32(2) - np.float32(2) * best, np.float32(0))).astype(np.float64)
        order = np.lexsort((self._people, dist))[:k]
        return [(int(self._people[i]), float(dist[i])) for i in order]

