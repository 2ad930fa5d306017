"""Who is this face? The nearest enrolled sample, by the score of `scoring` (L2 distance between
unit embeddings, cohort-normalised when the model has a cohort).

Qt-free and stateless after construction, so the engine can rebuild a `Matcher` whenever the
gallery changes and share it with any thread. One float32 matrix product of cosine similarities
against the whole gallery gives every distance (`scoring.distance_from_similarity`): 100,000 x 128 costs a few ms per
query, with no index to keep in sync.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.recognition.scoring import CHUNK_ELEMENTS as _CHUNK_ELEMENTS
from app.recognition.scoring import CohortScorer
from app.recognition.scoring import distance_from_similarity as _distance
from app.recognition.scoring import unit_rows as _unit_rows

__all__ = ["UNKNOWN", "CohortScorer", "Match", "Matcher"]  # CohortScorer lives in scoring

UNKNOWN = "Unknown"


@dataclass(frozen=True)
class Match:
    """One query's answer: a person, or `UNKNOWN` when nobody is closer than the threshold."""

    name: str               # the person's name, or "Unknown"
    person_id: int | None   # None when unknown
    distance: float         # what τ is compared with: the (cohort-normalised, see `CohortScorer`)
                            # distance to the nearest enrolled sample (inf if the gallery is empty)
    nearest: str | None = None  # who that sample belongs to, also when unknown (None: empty gallery)
    threshold: float = float("nan")  # the τ this decision was made with
    raw_distance: float | None = None  # the plain L2 distance, when `distance` is normalised

    @property
    def known(self) -> bool:
        return self.person_id is not None


class Matcher:
    """Nearest enrolled sample by L2 distance, vectorised over the whole gallery."""

    def __init__(self, embeddings: np.ndarray, person_ids: np.ndarray, names: dict[int, str],
                 scorer: CohortScorer | None = None, rejections: np.ndarray | None = None,
                 rejection_ids: np.ndarray | None = None) -> None:
        """`embeddings` (N, D) L2-normalised, `person_ids` (N,) the owner of each row, `names`
        person id -> name for every id used. N may be 0 (nobody enrolled). With a `scorer`,
        distances are cohort-normalised (see `CohortScorer`).

        `rejections` (R, D) are faces someone said are NOT `rejection_ids` (R,) ("Not …" on a
        wrong match). In `match`, person P is passed over for a query that lies nearer (by the
        very distance τ is compared with) one of P's rejected faces than to any photo of P, and
        under τ of it: as if the rejected faces were enrolled as "not P", a nearest-neighbour
        vote that the rejected face wins. Such a query goes to the next nearest person, or stays
        Unknown; a face nearer P's own photos than to the rejected ones is still named P."""
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
        if scorer is not None and len(self._emb) and scorer.dim != self._emb.shape[1]:
            raise ValueError(f"the cohort has {scorer.dim} dimensions, the gallery {self._emb.shape[1]}")
        self.scorer = scorer
        self._crowd = scorer.crowd(self._emb) if scorer is not None else None
        # Per-person grouping for `ranked`: rows sorted by person, and where each person starts.
        self._order = np.argsort(ids, kind="stable")
        self._people, self._starts = np.unique(ids[self._order], return_index=True)
        self._rej: np.ndarray | None = None
        self._rej_groups: list[tuple[np.ndarray, np.ndarray]] = []  # (sample columns, rejection rows) per person
        if rejections is not None and len(rejections) and len(self._emb):
            rej = _unit_rows(np.asarray(rejections, dtype=np.float32))
            rid = np.asarray(rejection_ids, dtype=np.int64).reshape(-1)
            if rej.ndim != 2 or rej.shape[1] != self._emb.shape[1] or len(rid) != len(rej):
                raise ValueError(f"rejections must be (R, {self._emb.shape[1]}) with one person id each, "
                                 f"got {rej.shape} and {rid.shape}")
            for pid in np.unique(rid):
                cols = np.nonzero(ids == pid)[0]
                if len(cols):  # a rejection of someone without a photo here cannot change anything
                    self._rej_groups.append((cols, np.nonzero(rid == pid)[0]))
            if self._rej_groups:
                self._rej = rej
                self._rej_crowd = scorer.crowd(rej) if scorer is not None else None

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

    @property
    def embeddings(self) -> np.ndarray:
        """The enrolled samples' unit rows (read-only view), e.g. for in-domain impostor pairs."""
        v = self._emb.view()
        v.flags.writeable = False
        return v

    @property
    def person_ids(self) -> np.ndarray:
        """Each enrolled sample's owner (a copy)."""
        return self._ids.copy()

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
        ids, dist, _ = self._nearest(q)
        return ids, dist

    @property
    def rejection_count(self) -> int:
        """Rejected faces that can change a decision (of people with photos here)."""
        return 0 if self._rej is None else sum(len(r) for _, r in self._rej_groups)

    def _nearest(self, q: np.ndarray, tau: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Owner, (normalised) distance and plain distance of each unit query's nearest sample;
        with `tau` and rejections, people rejected for the query are passed over (see __init__)."""
        if tau is not None and self._rej is not None:
            return self._nearest_with_rejections(q, float(tau), self._rej)
        m, n = len(q), len(self._emb)
        ids = np.empty(m, dtype=np.int64)
        dist = np.empty(m, dtype=np.float64)
        raw = np.empty(m, dtype=np.float64)
        crowd_q = self.scorer.crowd(q) if self.scorer is not None else None
        step = max(1, _CHUNK_ELEMENTS // n)
        for lo in range(0, m, step):
            sims = q[lo:lo + step] @ self._emb.T                 # (chunk, N) cosine similarities
            rows = np.arange(len(sims))
            if self.scorer is None:
                best = np.argmax(sims, axis=1)
                dist[lo:lo + step] = raw[lo:lo + step] = _distance(sims[rows, best], np.float32)
            else:
                assert crowd_q is not None and self._crowd is not None  # both made with the scorer
                d = _distance(sims)
                adj = self.scorer.adjust(d, crowd_q[lo:lo + step], self._crowd)
                best = np.argmin(adj, axis=1)
                dist[lo:lo + step] = adj[rows, best]
                raw[lo:lo + step] = d[rows, best]
            ids[lo:lo + step] = self._ids[best]
        return ids, dist, raw

    def _nearest_with_rejections(self, q: np.ndarray, tau: float, rej: np.ndarray
                                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`_nearest` with rejected people masked out per query (float64 throughout); `rej` is
        `self._rej`."""
        m, n = len(q), len(self._emb)
        ids = np.empty(m, dtype=np.int64)
        dist = np.empty(m, dtype=np.float64)
        raw = np.empty(m, dtype=np.float64)
        crowd_q = self.scorer.crowd(q) if self.scorer is not None else None
        step = max(1, _CHUNK_ELEMENTS // (n + len(rej)))
        for lo in range(0, m, step):
            chunk = q[lo:lo + step]
            d = _distance(chunk @ self._emb.T)
            rd = _distance(chunk @ rej.T)
            if self.scorer is None:
                adj, radj = d.copy(), rd
            else:
                assert crowd_q is not None and self._crowd is not None and self._rej_crowd is not None
                adj = self.scorer.adjust(d, crowd_q[lo:lo + step], self._crowd)
                radj = self.scorer.adjust(rd, crowd_q[lo:lo + step], self._rej_crowd)
            for cols, rows in self._rej_groups:
                nearest_rejected = radj[:, rows].min(axis=1)
                excluded = (nearest_rejected < tau) & (nearest_rejected <= adj[:, cols].min(axis=1))
                if excluded.any():
                    adj[np.ix_(excluded, cols)] = np.inf
            best = np.argmin(adj, axis=1)
            r = np.arange(len(chunk))
            dist[lo:lo + step] = adj[r, best]
            raw[lo:lo + step] = np.where(np.isfinite(adj[r, best]), d[r, best], np.inf)
            ids[lo:lo + step] = self._ids[best]
        return ids, dist, raw

    def name_of(self, person_id: int | None) -> str | None:
        """The name person `person_id` has now (None: not enrolled here, or None)."""
        return None if person_id is None else self._names.get(int(person_id))

    def person_id(self, name: str) -> int | None:
        """The id of the enrolled person called `name` (None: nobody, or Unknown)."""
        for pid, n in self._names.items():
            if n == name:
                return int(pid)
        return None

    def match(self, queries: np.ndarray, tau: float) -> list[Match]:
        """Each query's nearest person if strictly closer than `tau`, else Unknown. The comparison
        uses the very distance reported, so `m.known == (m.distance < tau)` always holds."""
        q = self._queries(queries)
        if len(self._emb) == 0:
            return [Match(UNKNOWN, None, float("inf"), None, float(tau)) for _ in range(len(q))]
        tau = float(tau)
        ids, dist, raw = self._nearest(q, tau)
        plain = self.scorer is None
        out = []
        for pid, d, r in zip(ids.tolist(), dist.tolist(), raw.tolist()):
            name = self._names[pid] if d < float("inf") else None  # inf: everyone passed over (rejections)
            # d < tau implies d < inf, so a name is given only with one
            out.append(Match(name if d < tau and name is not None else UNKNOWN, pid if d < tau else None, d, name, tau,
                             None if plain else r))
        return out

    def ranked(self, query: np.ndarray, k: int = 5) -> list[tuple[int, float]]:
        """The `k` closest people as (person id, distance to their nearest sample), closest first;
        for "did you mean" lists and diagnostics. Ties are broken by person id."""
        q = self._queries(query)
        if len(q) != 1:
            raise ValueError("ranked takes a single query")
        if k <= 0 or len(self._emb) == 0:
            return []
        if self.scorer is None:
            sims = (self._emb @ q[0])[self._order]
            best = np.maximum.reduceat(sims, self._starts)
            dist = _distance(best, np.float32).astype(np.float64)
        else:
            assert self._crowd is not None  # made with the scorer
            d = _distance(self._emb @ q[0])
            adj = self.scorer.adjust(d[None, :], self.scorer.crowd(q), self._crowd)[0][self._order]
            dist = np.minimum.reduceat(adj, self._starts)
        order = np.lexsort((self._people, dist))[:k]
        return [(int(self._people[i]), float(dist[i])) for i in order]

