"""Open-set decisions: how strict τ must be for the number of faces enrolled.

The app compares every face with every enrolled sample, so a stranger is named if they fall
under τ for *anyone*: with one τ for all gallery sizes, the share of strangers given a name
grows with the gallery (one-to-one calibration, one-to-many use). This module turns a
background of faces the model has never trained on into a table of "strangers named" rates,
one row per gallery size, and reads from it the τ that keeps that rate at the target for the
gallery actually enrolled.

The estimate is exact for galleries drawn at random from the background population: a
stranger s with k_s background faces within τ (out of M_s candidates) is named by a random
gallery of N of them with probability 1 − C(M_s − k_s, N) / C(M_s, N). Averaging over strangers
keeps the correlation between one stranger's distances (a "hub" face near many people), which an
independence formula would miss.

Qt-free and numpy-only: the engine, `evaluate open-set` and the settings pane all read the same
`OpenSetRule`, and `threshold_for` with `Matcher.match` is the one decision the app, `watch`
and the evaluation make.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from app.recognition.matching import CohortScorer, Matcher

# Share of strangers' faces that may get a name at the default setting.
DEFAULT_TARGET = 0.01
# Gallery sizes (enrolled samples) the table holds; between them, log-size interpolation.
SIZES: tuple[int, ...] = (1, 2, 3, 5, 10, 20, 30, 50, 100, 200, 300, 500, 1000, 2000)
# The τ grid the rates are tabled on (L2 distance between unit vectors, or its cohort-normalised
# form, which can fall below 0 for a face much nearer its match than the crowd).
GRID: tuple[float, ...] = tuple(round(-0.3 + 0.01 * i, 2) for i in range(201))  # -0.30 … 1.70


def _log_binom(n: np.ndarray, k: int, logfact: np.ndarray) -> np.ndarray:
    """log C(n, k) elementwise (−inf where n < k)."""
    n = np.asarray(n, dtype=np.int64)
    out = np.full(n.shape, -np.inf)
    ok = n >= k
    out[ok] = logfact[n[ok]] - logfact[k] - logfact[n[ok] - k]
    return out


def named_rates(within: np.ndarray, candidates: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """Probability that each stranger is named by a random gallery of N candidates.

    `within` (S, G): how many of stranger s's candidates lie under each grid τ; `candidates`
    (S,): how many candidates s has. Returns (len(sizes), G), the mean over strangers; a size
    larger than a stranger's candidate count is left out for that stranger (it cannot be drawn).
    """
    within = np.asarray(within, dtype=np.int64)
    cand = np.asarray(candidates, dtype=np.int64).reshape(-1)
    if within.ndim != 2 or len(within) != len(cand):
        raise ValueError(f"within must be (S, G) with one row per stranger, got {within.shape} "
                         f"for {len(cand)} strangers")
    if len(cand) == 0:
        raise ValueError("no strangers")
    logfact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, int(cand.max()) + 1)))])
    out = np.zeros((len(sizes), within.shape[1]))
    for i, n in enumerate(sizes):
        rows = cand >= n
        if not rows.any():
            out[i] = np.nan
            continue
        c = cand[rows][:, None]
        free = c - within[rows]
        p_none = np.exp(_log_binom(free, n, logfact) - _log_binom(c, n, logfact))
        out[i] = np.mean(1.0 - p_none, axis=0)
    return out


def background_table(live: np.ndarray, enrolled: np.ndarray, labels: Sequence | None = None,
                     grid: Sequence[float] = GRID, sizes: Sequence[int] = SIZES,
                     scorer: CohortScorer | None = None) -> np.ndarray:
    """Strangers-named rates on a background set: each face, embedded as a live face (`live`),
    is a stranger against every *other* face embedded as enrolled (`enrolled`); with `labels`,
    faces of the same person are not counted as candidates (unlabelled sets: only the face itself
    is left out, so a repeat of one person counts against the rule, a safe error). With a
    `scorer`, the distances are cohort-normalised as the matcher normalises them."""
    live = np.asarray(live, dtype=np.float32)
    enr = np.asarray(enrolled, dtype=np.float32)
    if live.shape != enr.shape or live.ndim != 2:
        raise ValueError(f"live and enrolled embeddings must have one shape, got {live.shape} and {enr.shape}")
    m = len(live)
    lab = np.arange(m) if labels is None else np.asarray(labels)
    if len(lab) != m:
        raise ValueError(f"{m} faces but {len(lab)} labels")
    g = np.asarray(grid, dtype=np.float64)
    within = np.empty((m, len(g)), dtype=np.int64)
    cand = np.empty(m, dtype=np.int64)
    if scorer is not None:
        crowd_live, crowd_enr = scorer.crowd(live), scorer.crowd(enr)
    for lo in range(0, m, 512):
        sims = live[lo:lo + 512] @ enr.T
        d = np.sqrt(np.maximum(2.0 - 2.0 * sims.astype(np.float64), 0.0))
        if scorer is not None:
            d = scorer.adjust(d, crowd_live[lo:lo + 512], crowd_enr)
        same = lab[lo:lo + 512, None] == lab[None, :]
        d[same] = np.inf
        d.sort(axis=1)
        cand[lo:lo + 512] = m - same.sum(axis=1)
        for j, row in enumerate(d):
            within[lo + j] = np.searchsorted(row, g, side="left")  # strictly below τ
    return named_rates(within, cand, sizes)


@dataclass(frozen=True)
class OpenSetRule:
    """The card's table: the share of strangers named at each τ of `grid`, per gallery size."""

    grid: np.ndarray     # (G,) τ values, ascending
    sizes: np.ndarray    # (S,) gallery sizes, ascending
    rates: np.ndarray    # (S, G) strangers named, non-decreasing along each row
    target: float = DEFAULT_TARGET
    source: str = ""

    @classmethod
    def from_card(cls, section: dict[str, Any] | None) -> "OpenSetRule | None":
        """The rule of a card's `open_set` section; None when the card has none (older models)."""
        if not section:
            return None
        try:
            grid = np.asarray(section["grid"], dtype=np.float64)
            sizes = np.asarray(section["sizes"], dtype=np.float64)
            rates = np.asarray(section["rates"], dtype=np.float64)
            target = float(section.get("target", DEFAULT_TARGET))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"open_set section is damaged: {exc}") from None
        if (grid.ndim != 1 or sizes.ndim != 1 or rates.shape != (len(sizes), len(grid)) or len(grid) < 2
                or np.any(np.diff(grid) <= 0) or np.any(np.diff(sizes) <= 0) or sizes[0] < 1
                or not np.all(np.isfinite(rates)) or not 0 < target < 1):
            raise ValueError("open_set section is damaged: inconsistent grid, sizes or rates")
        # Each row must be a CDF-like curve; enforce it so interpolation never runs backwards.
        rates = np.clip(np.maximum.accumulate(rates, axis=1), 0.0, 1.0)
        return cls(grid, sizes, rates, target, str(section.get("source", "")))

    def to_card(self) -> dict[str, Any]:
        return {"grid": [round(float(x), 4) for x in self.grid], "sizes": [int(x) for x in self.sizes],
                "rates": [[float(f"{x:.4g}") for x in row] for row in self.rates],
                "target": self.target, "source": self.source}

    def _row(self, n: int) -> np.ndarray:
        """Rates at gallery size n: log-size interpolation inside the table; beyond its largest
        size, galleries are treated as independent blocks of that size (1 − (1 − p)^(n/N))."""
        n = max(1, int(n))
        s = self.sizes
        if n >= s[-1]:
            return 1.0 - (1.0 - self.rates[-1]) ** (n / s[-1])
        j = int(np.searchsorted(s, n, side="right"))
        if j == 0:
            return self.rates[0]
        lo, hi = math.log(s[j - 1]), math.log(s[j])
        w = (math.log(n) - lo) / (hi - lo)
        return (1 - w) * self.rates[j - 1] + w * self.rates[j]

    def strangers_named(self, tau: float, n: int) -> float:
        """Estimated share of strangers' faces given a name at τ with n samples enrolled."""
        return float(np.interp(tau, self.grid, self._row(n)))

    def threshold(self, n: int, target: float | None = None) -> float:
        """The largest τ at which at most `target` of strangers are named with n samples
        enrolled (linear between grid points; the grid's first τ if even that names too many)."""
        t = self.target if target is None else float(target)
        row = self._row(n)
        ok = np.nonzero(row <= t)[0]
        if len(ok) == 0:
            return float(self.grid[0])
        i = int(ok[-1])
        if i == len(row) - 1:
            return float(self.grid[-1])
        r0, r1 = row[i], row[i + 1]
        w = 0.0 if r1 <= r0 else (t - r0) / (r1 - r0)
        return float(self.grid[i] + w * (self.grid[i + 1] - self.grid[i]))


def threshold_for(matcher: Matcher, rule: OpenSetRule | None, fallback_tau: float,
                  tau: float | None = None) -> float:
    """The τ a decision uses: the user's fixed `tau` if set, else the rule's τ for the gallery's
    size (samples enrolled), else the model's one-to-one τ (a card without an open-set table)."""
    if tau is not None:
        return float(tau)
    if rule is None:
        return float(fallback_tau)
    return rule.threshold(len(matcher))

