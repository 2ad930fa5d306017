"""The distance between faces and the score τ is compared with: written once, used by everyone.

The matcher (live view, `identify`), `api.compare`, the open-set tables, the Recent faces
grouping, calibration, the Threshold pane's estimates and `evaluate` all call these functions,
so a change of the score (say, another normalisation) changes every decision at once and the
pane, `evaluate` and the live view can never disagree.

For unit vectors |a - b|² = 2 - 2 a·b, so one matrix product of cosine similarities gives every
distance; `distance_from_similarity` is the only place that turns one into the other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Largest similarity matrix built at once (elements): many faces against a large cohort are
# processed in chunks so memory stays around 32 MB whatever the sizes.
CHUNK_ELEMENTS = 8_000_000
# Up to this many queries (a live frame's faces) are scored without multi-threaded BLAS.
FEW = 16


def distance_from_similarity(sims: np.ndarray | float, dtype: Any = np.float64) -> np.ndarray:
    """L2 distance between unit vectors from their cosine similarity, sqrt(max(2 - 2·s, 0)), in
    `dtype` (float64 by default; the matcher's plain path keeps float32 for speed)."""
    s = np.asarray(sims, dtype=dtype)
    two, zero = np.asarray(2, dtype=dtype), np.asarray(0, dtype=dtype)
    return np.sqrt(np.maximum(two - two * s, zero))


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), so 2 - 2 a·b really is |a - b|² even if
    a caller hands in slightly unnormalised vectors."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.size == 0:
        return x
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    np.maximum(norms, np.float32(1e-12), out=norms)
    return x / norms


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(M, N) float64 L2 distances between the unit rows of `a` (M, D) and `b` (N, D), from the
    float32 similarity matrix as the matcher computes it."""
    return distance_from_similarity(np.asarray(a, np.float32) @ np.asarray(b, np.float32).T)


def pair_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) float64 L2 distances between row i of `a` and row i of `b` (unit rows, float64 dots)."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return distance_from_similarity(np.einsum("ij,ij->i", a64, b64))


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
        self.cohort = unit_rows(c)
        self.k = int(k)
        self.offset = float(offset)

    @property
    def dim(self) -> int:
        return self.cohort.shape[1]

    def crowd(self, x: np.ndarray) -> np.ndarray:
        """Each row's mean distance to its k nearest cohort faces (float64)."""
        x = unit_rows(np.asarray(x, dtype=np.float32))
        if len(x) == 0:
            return np.zeros(0)
        out = np.empty(len(x))
        step = max(1, CHUNK_ELEMENTS // len(self.cohort))
        for lo in range(0, len(x), step):
            chunk = x[lo:lo + step]
            # The few faces of a live frame: einsum's own single-threaded loop, not BLAS, whose
            # worker threads keep spinning after a call and take the cores from the encoder
            # (measured: 24 → 18 ms a frame end to end with the pipeline's own matmuls).
            sims = np.einsum("ij,kj->ik", chunk, self.cohort) if len(chunk) <= FEW else chunk @ self.cohort.T
            out[lo:lo + step] = crowd_of_top(-np.partition(-sims, self.k - 1, axis=1)[:, :self.k])
        return out

    def adjust(self, d: np.ndarray, crowd_q: np.ndarray, crowd_g: np.ndarray) -> np.ndarray:
        """Normalised distances from plain ones, (M, N) with the rows' and columns' crowd means."""
        return normalise(d, crowd_q[:, None], crowd_g[None, :], self.offset)


def crowd_of_top(top_sims: np.ndarray) -> np.ndarray:
    """A face's crowd distance from the similarities to its k nearest cohort faces (rows): the
    mean of their distances. `CohortScorer.crowd` and the cohort's own offset both use it."""
    return distance_from_similarity(np.asarray(top_sims).astype(np.float64)).mean(axis=1)


def normalise(d: np.ndarray, crowd_a: np.ndarray, crowd_b: np.ndarray, offset: float) -> np.ndarray:
    """The cohort-normalised score of plain distances `d`: d - (crowd_a + crowd_b) / 2 + offset,
    the crowd distances of each pair's two faces broadcast against `d`."""
    return d - 0.5 * (crowd_a + crowd_b) + offset


def scores(a: np.ndarray, b: np.ndarray, scorer: CohortScorer | None,
           crowd_b: np.ndarray | None = None) -> np.ndarray:
    """(M, N) what τ is compared with between unit rows `a` and `b`: the plain distance, or with
    a `scorer` the cohort-normalised one (`crowd_b`: `b`'s crowd distances, when already known)."""
    d = distances(a, b)
    if scorer is None:
        return d
    return scorer.adjust(d, scorer.crowd(a), scorer.crowd(b) if crowd_b is None else crowd_b)


def pair_scores(a: np.ndarray, b: np.ndarray, scorer: CohortScorer | None) -> np.ndarray:
    """(N,) what τ is compared with between row i of `a` and row i of `b` (see `scores`)."""
    d = pair_distances(a, b)
    if scorer is None:
        return d
    return normalise(d, scorer.crowd(a), scorer.crowd(b), scorer.offset)
