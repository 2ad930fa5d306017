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

The live view decides again on every analysed frame of a track, so a stranger in view has many
chances to be named: a second table (`track_table`), from pseudo-tracks of the same background
people, holds the share of strangers' *tracks* named, and `OpenSetRule.track_threshold` reads from
it the τ that keeps that share at the target too.

Qt-free and numpy-only: the engine, `evaluate open-set` and the settings pane all read the same
`OpenSetRule`, and `threshold_for` with `Matcher.match` is the one decision the app, `watch`
and the evaluation make.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from app.recognition import scoring
from app.recognition.matching import Matcher
from app.recognition.scoring import CohortScorer

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


def _within(d: np.ndarray, same: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(within, candidates) of a block of strangers: `d` (B, M) their distances to the M enrolled
    faces, `same` (B, M) which of those are the stranger's own person (never a candidate)."""
    d = np.where(same, np.inf, d)
    d.sort(axis=1)
    within = np.stack([np.searchsorted(row, grid, side="left") for row in d])  # strictly below τ
    return within, d.shape[1] - same.sum(axis=1)


def _distances(live: np.ndarray, enrolled: np.ndarray, scorer: CohortScorer | None,
               crowd_enr: np.ndarray | None) -> np.ndarray:
    """L2 distances of unit rows, cohort-normalised as the matcher does when `scorer` is given."""
    return scoring.scores(live, enrolled, scorer, crowd_enr)


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
    crowd_enr = None if scorer is None else scorer.crowd(enr)
    for lo in range(0, m, 512):
        d = _distances(live[lo:lo + 512], enr, scorer, crowd_enr)
        within[lo:lo + 512], cand[lo:lo + 512] = _within(d, lab[lo:lo + 512, None] == lab[None, :], g)
    return named_rates(within, cand, sizes)


def track_table(templates: np.ndarray, owners: Sequence | np.ndarray, enrolled: np.ndarray,
                labels: Sequence | np.ndarray,
                grid: Sequence[float] = GRID, sizes: Sequence[int] = SIZES,
                scorer: CohortScorer | None = None) -> np.ndarray:
    """Strangers-named rates for live *tracks*: the live view decides again on every analysed
    frame, so a stranger in view has as many chances as frames. `templates` (T, K, D): each
    stranger's track as the pooled templates it is matched with on the K frames that may name it
    (`live.tracking.Tracker`: from its `min_frames`-th frame on); `owners` (T,): whose track it is;
    `enrolled` (M, D) with `labels` (M,): the candidates, as in `background_table`. A candidate
    names the track if any of its templates lies under τ of it. (The tracker's vote can only hide
    such a name, so the rates err on the safe side.)"""
    tpl = np.asarray(templates, dtype=np.float32)
    enr = np.asarray(enrolled, dtype=np.float32)
    own, lab = np.asarray(owners), np.asarray(labels)
    if tpl.ndim != 3 or enr.ndim != 2 or tpl.shape[2] != enr.shape[1] or len(own) != len(tpl) or len(lab) != len(enr):
        raise ValueError(f"templates must be (T, K, D) with T owners and enrolled (M, D) with M labels, got "
                         f"{tpl.shape} for {len(own)} owners and {enr.shape} for {len(lab)} labels")
    t, k, dim = tpl.shape
    g = np.asarray(grid, dtype=np.float64)
    within = np.empty((t, len(g)), dtype=np.int64)
    cand = np.empty(t, dtype=np.int64)
    crowd_enr = None if scorer is None else scorer.crowd(enr)
    step = max(1, 512 // max(k, 1))
    for lo in range(0, t, step):
        block = tpl[lo:lo + step]
        d = _distances(block.reshape(-1, dim), enr, scorer, crowd_enr).reshape(len(block), k, -1).min(axis=1)
        within[lo:lo + step], cand[lo:lo + step] = _within(d, own[lo:lo + step, None] == lab[None, :], g)
    return named_rates(within, cand, sizes)


@dataclass(frozen=True)
class OpenSetRule:
    """The card's table: the share of strangers named at each τ of `grid`, per gallery size."""

    grid: np.ndarray     # (G,) τ values, ascending
    sizes: np.ndarray    # (S,) gallery sizes, ascending
    rates: np.ndarray    # (S, G) strangers named, non-decreasing along each row
    target: float = DEFAULT_TARGET
    source: str = ""
    # Strangers' live tracks named (`track_table`), on the same grid and sizes; None: not measured
    # (a background without names), and tracks are held to the faces' τ.
    track_rates: np.ndarray | None = None

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
            tracks = section.get("track_rates")
            track_rates = None if tracks is None else np.asarray(tracks, dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"open_set section is damaged: {exc}") from None
        if (grid.ndim != 1 or sizes.ndim != 1 or rates.shape != (len(sizes), len(grid)) or len(grid) < 2
                or np.any(np.diff(grid) <= 0) or np.any(np.diff(sizes) <= 0) or sizes[0] < 1
                or not np.all(np.isfinite(rates)) or not 0 < target < 1
                or (track_rates is not None and (track_rates.shape != rates.shape
                                                 or not np.all(np.isfinite(track_rates))))):
            raise ValueError("open_set section is damaged: inconsistent grid, sizes or rates")
        return cls(grid, sizes, _curves(rates), target, str(section.get("source", "")),
                   None if track_rates is None else _curves(track_rates))

    def to_card(self) -> dict[str, Any]:
        out = {"grid": [round(float(x), 4) for x in self.grid], "sizes": [int(x) for x in self.sizes],
               "rates": card_rates(self.rates), "target": self.target, "source": self.source}
        if self.track_rates is not None:
            out["track_rates"] = card_rates(self.track_rates)
        return out

    def _row(self, n: int, rates: np.ndarray | None = None) -> np.ndarray:
        """Rates at gallery size n: log-size interpolation inside the table; beyond its largest
        size, galleries are treated as independent blocks of that size (1 − (1 − p)^(n/N))."""
        rates = self.rates if rates is None else rates
        n = max(1, int(n))
        s = self.sizes
        if n >= s[-1]:
            return 1.0 - (1.0 - rates[-1]) ** (n / s[-1])
        j = int(np.searchsorted(s, n, side="right"))
        if j == 0:
            return rates[0]
        lo, hi = math.log(s[j - 1]), math.log(s[j])
        w = (math.log(n) - lo) / (hi - lo)
        return (1 - w) * rates[j - 1] + w * rates[j]

    def strangers_named(self, tau: float, n: int) -> float:
        """Estimated share of strangers' faces given a name at τ with n samples enrolled."""
        return float(np.interp(tau, self.grid, self._row(n)))

    def tracks_named(self, tau: float, n: int) -> float | None:
        """Estimated share of strangers' live tracks given a name at τ (None: not measured)."""
        if self.track_rates is None:
            return None
        return float(np.interp(tau, self.grid, self._row(n, self.track_rates)))

    def threshold(self, n: int, target: float | None = None) -> float:
        """The largest τ at which at most `target` of strangers are named with n samples
        enrolled (linear between grid points; the grid's first τ if even that names too many)."""
        return self._threshold_on(self._row(n), target)

    def track_threshold(self, n: int, target: float | None = None) -> float:
        """τ for a live track's pooled template: the largest τ at which at most `target` of
        strangers' *tracks* are named, never above the faces' `threshold` (the faces' τ where the
        card has no track table)."""
        face = self.threshold(n, target)
        if self.track_rates is None:
            return face
        return min(face, self._threshold_on(self._row(n, self.track_rates), target))

    def _threshold_on(self, row: np.ndarray, target: float | None) -> float:
        t = self.target if target is None else float(target)
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
                  tau: float | None = None, track: bool = False) -> float:
    """The τ a decision uses: the user's fixed `tau` if set, else the rule's τ for the gallery's
    size (samples enrolled; for a live `track`'s template, the rule's τ for tracks), else the
    model's one-to-one τ (a card without an open-set table)."""
    if tau is not None:
        return float(tau)
    if rule is None:
        return float(fallback_tau)
    n = len(matcher)
    return rule.track_threshold(n) if track else rule.threshold(n)


def _curves(rates: np.ndarray) -> np.ndarray:
    """Each row made a CDF-like curve, so interpolation never runs backwards."""
    return np.clip(np.maximum.accumulate(rates, axis=1), 0.0, 1.0)


def card_rates(rates: np.ndarray) -> list[list[float]]:
    """Rates as the card stores them (4 significant digits)."""
    return [[float(f"{x:.4g}") for x in row] for row in rates]



# ---- adapting τ to the domain the app is used in ---------------------------------------------

# The impostor quantiles at which the domain is compared with the validation people: from the
# tail that τ lives in (1%, or the lowest quantile the pairs at hand can estimate, 1/(n + 1)) up to
# the median, so that a few dozen cross pairs, which say nothing about a 1% tail, still show a
# domain whose whole impostor distribution lies lower; the largest gap is the shift (chosen on
# umist, see docs/open_set.md).
DOMAIN_QUANTILE = 0.01
DOMAIN_QUANTILE_TOP = 0.5
DOMAIN_QUANTILE_STEPS = 12
# Fewer impostor pairs than this are no distribution: in a domain exactly like the table's, the one
# cross pair of two enrolled people lies under the table's median half the time, and the shift
# then follows its chance place (on the sample clip, the Lin-Manuel/Alex pair alone made τ 0.04
# stricter, and the 24-pixel pianist of the wide shot went Unknown). With three people enrolled
# (three pairs), or the faces the camera has seen, the shift applies.
DOMAIN_MIN_PAIRS = 3
# Impostor pairs the table itself would call one person even in its largest gallery (under
# τ(largest size)) are taken for one face twice (one person enrolled under two names, a photo of
# a photo), not as evidence about the domain: one such pair would put τ under the user's own face.


def domain_quantiles(pairs: int) -> np.ndarray:
    """The quantiles `domain_shift` compares at for a sample of `pairs` impostor distances."""
    lo = max(DOMAIN_QUANTILE, 1.0 / (max(int(pairs), 1) + 1))
    return np.linspace(min(lo, DOMAIN_QUANTILE_TOP), DOMAIN_QUANTILE_TOP, DOMAIN_QUANTILE_STEPS)


def impostor_distances(enrolled: np.ndarray, enrolled_ids: Sequence | np.ndarray,
                       seen: np.ndarray | None = None, seen_tracks: Sequence | np.ndarray | None = None,
                       scorer: CohortScorer | None = None) -> np.ndarray:
    """In-domain impostor distances, on the scale τ is compared with: enrolled faces of different
    people against each other, and faces seen by the camera that stayed Unknown against every
    enrolled face and against seen faces of *other* tracks (one track is one person: never its own
    impostor; seen faces without track ids are only paired with the enrolled ones)."""
    e = np.asarray(enrolled, dtype=np.float32).reshape(len(enrolled), -1) if len(enrolled) else None
    ids = np.asarray(enrolled_ids)
    parts: list[np.ndarray] = []
    if e is not None and len(e) >= 2:
        d = _distances(e, e, scorer, None)
        iu = np.triu_indices(len(e), 1)
        parts.append(d[iu][ids[iu[0]] != ids[iu[1]]])
    if seen is not None and len(seen):
        s = np.asarray(seen, dtype=np.float32)
        if e is not None:
            parts.append(_distances(s, e, scorer, None).ravel())
        if seen_tracks is not None and len(s) >= 2:
            tr = np.asarray(seen_tracks)
            d = _distances(s, s, scorer, None)
            iu = np.triu_indices(len(s), 1)
            parts.append(d[iu][tr[iu[0]] != tr[iu[1]]])
    return np.concatenate(parts) if parts else np.zeros(0)


@dataclass(frozen=True)
class DomainShift:
    """How much stricter the domain makes τ: `delta` ≥ 0 is subtracted from the table's τ(N).

    Why a shift and only a tightening: faces from one camera, one light, one resolution lie closer
    to each other than the validation people's photos, so the table's τ lets far more of the
    domain's strangers through; comparing a low quantile of the domain's impostor distances with
    the same quantile of the validation people's (the table's N = 1 row) says how much closer.
    Evidence that the domain is *less* alike never loosens τ (a handful of faces must never name
    more strangers than the shipped table would)."""

    delta: float
    pairs: int
    domain_quantile: float | None
    table_quantile: float | None

    @property
    def stricter(self) -> bool:
        return self.delta > 0


def domain_shift(rule: OpenSetRule, impostors: np.ndarray,
                 quantiles: Sequence[float] | None = None) -> DomainShift:
    """The tightening the domain's impostor distances ask for: the largest gap, over
    `quantiles` (default `domain_quantiles`), between the validation people's impostor quantile
    (the table's N = 1 row) and the domain's; 0 when they are nowhere nearer, or when there are
    fewer than `DOMAIN_MIN_PAIRS`."""
    raw = np.asarray(impostors, dtype=np.float64).ravel()
    d: np.ndarray = raw[np.isfinite(raw) & (raw >= rule.threshold(int(rule.sizes[-1])))]
    if len(d) < DOMAIN_MIN_PAIRS:
        return DomainShift(0.0, len(d), None, None)
    qs = domain_quantiles(len(d)) if quantiles is None else np.asarray(quantiles, dtype=np.float64)
    best = DomainShift(0.0, len(d), None, None)
    for q in qs:
        table_q = rule._threshold_on(rule.rates[0], float(q))
        dom_q = float(np.quantile(d, q))
        if best.domain_quantile is None or table_q - dom_q > best.delta:
            best = DomainShift(max(0.0, table_q - dom_q), len(d), dom_q, table_q)
    return best


def strictest(shifts: Sequence[DomainShift]) -> DomainShift:
    """The largest of several shifts (e.g. from the enrolled photos alone and from them with the
    seen faces: more evidence may dilute a tail that fewer pairs already showed; tighten-only)."""
    if not shifts:
        return DomainShift(0.0, 0, None, None)
    top = max(shifts, key=lambda s: s.delta)
    return DomainShift(top.delta, max(s.pairs for s in shifts), top.domain_quantile, top.table_quantile)


def adapted_threshold(rule: OpenSetRule, n: int, shift: DomainShift | None, track: bool = False) -> float:
    """τ(N) of the table made stricter by the domain's shift (never looser)."""
    base = rule.track_threshold(n) if track else rule.threshold(n)
    if shift is None:
        return base
    return min(base, base - shift.delta)


def seen_threshold(seen: np.ndarray, enrolled: np.ndarray, scorer: CohortScorer | None = None,
                   target: float = DEFAULT_TARGET) -> float | None:
    """τ read directly from faces the camera has seen that stayed Unknown, for *this* gallery:
    the `target` quantile (lower) of each seen face's distance to its nearest enrolled sample, so
    that at most `target` of such faces would have been named. Few faces put it at their nearest
    one, a stricter τ than the true quantile more often than not (tightening may follow little
    evidence; callers only ever take it as a lower bound with the table's τ). None: no faces."""
    if seen is None or len(seen) == 0 or len(enrolled) == 0:
        return None
    d = _distances(np.asarray(seen, dtype=np.float32), np.asarray(enrolled, dtype=np.float32), scorer, None)
    return float(np.quantile(d.min(axis=1), target, method="lower"))
