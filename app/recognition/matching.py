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
# Up to this many queries (a live frame's faces) are scored without multi-threaded BLAS.
_FEW = 16


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


class CohortScorer:
    """Cohort normalisation: a pair's L2 distance minus half the sum of how near each face lies
    to the crowd (the mean distance to its `k` nearest faces of a fixed cohort of other people),
    plus a constant that keeps the result on the scale of a distance.

    Why: some faces (blurred, turned, plain) are near everybody, so a stranger's such face falls
    under τ for someone in a large gallery; measured against the crowd, it is only as near to
    the enrolled person as it is to anyone (adaptive score normalisation, as in speaker
    verification's AS-norm). It changes which faces clear τ, not just where τ sits.
    """

    def __init__(self, cohort: np.ndarray, k: int = 20, offset: float = 0.0) -> None:
        c = np.asarray(cohort, dtype=np.float32)
        if c.ndim != 2 or len(c) < k or k < 1:
            raise ValueError(f"a cohort of at least k={k} faces is needed, got shape {c.shape}")
        self.cohort = _unit_rows(c)
        self.k = int(k)
        self.offset = float(offset)

    @property
    def dim(self) -> int:
        return self.cohort.shape[1]

    def crowd(self, x: np.ndarray) -> np.ndarray:
        """Each row's mean distance to its k nearest cohort faces (float64)."""
        x = _unit_rows(np.asarray(x, dtype=np.float32))
        if len(x) == 0:
            return np.zeros(0)
        out = np.empty(len(x))
        step = max(1, _CHUNK_ELEMENTS // len(self.cohort))
        for lo in range(0, len(x), step):
            chunk = x[lo:lo + step]
            # The few faces of a live frame: einsum's own single-threaded loop, not BLAS, whose
            # worker threads keep spinning after a call and take the cores from the encoder
            # (measured: 24 → 18 ms a frame end to end with the pipeline's own matmuls).
            sims = np.einsum("ij,kj->ik", chunk, self.cohort) if len(chunk) <= _FEW else chunk @ self.cohort.T
            top = -np.partition(-sims, self.k - 1, axis=1)[:, :self.k].astype(np.float64)
            out[lo:lo + step] = np.sqrt(np.maximum(2.0 - 2.0 * top, 0.0)).mean(axis=1)
        return out

    def adjust(self, d: np.ndarray, crowd_q: np.ndarray, crowd_g: np.ndarray) -> np.ndarray:
        """Normalised distances from plain ones, (M, N) with the rows' and columns' crowd means."""
        return d - 0.5 * (crowd_q[:, None] + crowd_g[None, :]) + self.offset


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
                top = sims[rows, best]
                sq = np.maximum(np.float32(2) - np.float32(2) * top, np.float32(0))
                dist[lo:lo + step] = raw[lo:lo + step] = np.sqrt(sq)
            else:
                assert crowd_q is not None and self._crowd is not None  # both made with the scorer
                d = np.sqrt(np.maximum(2.0 - 2.0 * sims.astype(np.float64), 0.0))
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
            d = np.sqrt(np.maximum(2.0 - 2.0 * (chunk @ self._emb.T).astype(np.float64), 0.0))
            rd = np.sqrt(np.maximum(2.0 - 2.0 * (chunk @ rej.T).astype(np.float64), 0.0))
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
            dist = np.sqrt(np.maximum(np.float32(2) - np.float32(2) * best, np.float32(0))).astype(np.float64)
        else:
            assert self._crowd is not None  # made with the scorer
            d = np.sqrt(np.maximum(2.0 - 2.0 * (self._emb @ q[0]).astype(np.float64), 0.0))
            adj = self.scorer.adjust(d[None, :], self.scorer.crowd(q), self._crowd)[0][self._order]
            dist = np.minimum.reduceat(adj, self._starts)
        order = np.lexsort((self._people, dist))[:k]
        return [(int(self._people[i]), float(dist[i])) for i in order]

