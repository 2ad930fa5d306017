"""The open-set rule against values worked out by hand, and its promise on a synthetic population
whose impostor distances are known."""

import math

import numpy as np
import pytest

from app.recognition.matching import Matcher
from app.recognition.open_set import (
    DEFAULT_TARGET,
    OpenSetRule,
    adapted_threshold,
    background_table,
    domain_shift,
    impostor_distances,
    named_rates,
    seen_threshold,
    threshold_for,
    track_table,
)


def _at(*degrees: float) -> np.ndarray:
    r = np.radians(degrees)
    return np.stack([np.cos(r), np.sin(r)], axis=1).astype(np.float32)


def test_named_rates_by_hand():
    # A stranger with 4 candidates of whom k lie under τ is named by a random gallery of N of
    # them with probability 1 - C(4-k, N) / C(4, N):
    #   k=1: N=1 → 1/4, N=2 → 1 - 3/6 = 1/2, N=4 → 1;  k=2: N=2 → 1 - 1/6 = 5/6.
    r = named_rates(np.array([[0, 1, 2]]), np.array([4]), [1, 2, 4])
    assert r[0] == pytest.approx([0, 1 / 4, 1 / 2])
    assert r[1] == pytest.approx([0, 1 / 2, 5 / 6])
    assert r[2] == pytest.approx([0, 1, 1])
    # Two strangers are averaged; a size above a stranger's candidates leaves that one out.
    r = named_rates(np.array([[1], [0]]), np.array([4, 2]), [1, 3])
    assert r[:, 0] == pytest.approx([(1 / 4 + 0) / 2, 3 / 4])
    with pytest.raises(ValueError):
        named_rates(np.zeros((2, 3)), np.array([4]), [1])


def test_background_table_by_hand():
    # Faces at 0°, 10°, 90°, 180° (distance 2 sin(Δ/2)): 0-10 0.174, 10-90 1.286, 0-90 and
    # 90-180 1.414, 0-180 2, 10-180 1.992. Each is a stranger to the 3 others.
    # τ 0.5: faces 0° and 10° have k = 1 → N=1: (1/3 + 1/3)/4 = 1/6; N=2: (2/3 + 2/3)/4 = 1/3;
    #        N=3: (1 + 1)/4 = 1/2.
    # τ 1.3: k = 1, 2, 1, 0 → N=1: (1 + 2 + 1)/3/4 = 1/3.
    x = _at(0, 10, 90, 180)
    t = background_table(x, x, grid=[0.5, 1.3], sizes=[1, 2, 3])
    assert t[:, 0] == pytest.approx([1 / 6, 1 / 3, 1 / 2])
    assert t[0, 1] == pytest.approx(1 / 3)
    # With labels, a face of the same person is no candidate: 0° and 10° as one person leave
    # each of them 2 candidates, none under 0.5 → nobody is named at τ 0.5.
    t = background_table(x, x, labels=["a", "a", "b", "c"], grid=[0.5], sizes=[1])
    assert t[0, 0] == 0.0


def test_track_table_by_hand():
    # Candidates at 0°, 90°, 180° (people a, b, c). A stranger's track whose two templates lie at
    # 10° and 60°: its nearest template to each candidate is 10° to 0° (2 sin 5° = 0.174), 60° to
    # 90° (2 sin 15° = 0.518) and 60° to 180° (2 sin 60° = 1.732).
    #   τ 0.3: 1 of 3 candidates → N=1: 1/3, N=2: 1 - C(2,2)/C(3,2) = 2/3.
    #   τ 0.6: 2 of 3 → N=1: 2/3, N=2: 1.  (Its 10° frame alone: 1 of 3 → 1/3.)
    enrolled, labels = _at(0, 90, 180), ["a", "b", "c"]
    track = _at(10, 60)[None]
    t = track_table(track, ["s"], enrolled, labels, grid=[0.3, 0.6], sizes=[1, 2])
    assert t[:, 0] == pytest.approx([1 / 3, 2 / 3])
    assert t[:, 1] == pytest.approx([2 / 3, 1.0])
    one_frame = track_table(track[:, :1], ["s"], enrolled, labels, grid=[0.6], sizes=[1])
    assert one_frame[0, 0] == pytest.approx(1 / 3)
    # A track of person a is no stranger to a's photo: its candidates are b and c (1.414, 2.0 from
    # a track at 0°), so it is named by nobody at τ 0.6, and the mean over the two tracks halves.
    both = track_table(np.concatenate([track, _at(0, 0)[None]]), ["s", "a"], enrolled, labels, grid=[0.6], sizes=[1])
    assert both[0, 0] == pytest.approx((2 / 3 + 0) / 2)
    with pytest.raises(ValueError):
        track_table(_at(10, 60), ["s"], enrolled, labels)  # not (T, K, D)


def _rule() -> OpenSetRule:
    # strangers named at τ = 0.4, 0.6, 0.8: with 1 enrolled 0, 0.01, 0.03; with 100: 0, 0.05, 0.2
    return OpenSetRule(np.array([0.4, 0.6, 0.8]), np.array([1.0, 100.0]),
                       np.array([[0.0, 0.01, 0.03], [0.0, 0.05, 0.2]]), target=0.01)


def test_rule_threshold_and_estimates_by_hand():
    rule = _rule()
    assert rule.threshold(1) == pytest.approx(0.6)                # exactly 0.01 at 0.6
    assert rule.threshold(1, 0.02) == pytest.approx(0.7)          # halfway from 0.01 to 0.03
    assert rule.threshold(100) == pytest.approx(0.4 + 0.2 * 0.01 / 0.05)  # 0.44
    # n = 10 is halfway between 1 and 100 in log size: rates 0, 0.03, 0.115 → 0.01 at 0.4667
    assert rule.threshold(10) == pytest.approx(0.4 + 0.2 / 3)
    assert rule.strangers_named(0.6, 10) == pytest.approx(0.03)
    assert rule.strangers_named(0.7, 1) == pytest.approx(0.02)
    # Larger galleries: stricter; beyond the table, blocks of 100: 1 - (1 - 0.05)^2 at τ 0.6.
    assert rule.threshold(1) > rule.threshold(10) > rule.threshold(100) > rule.threshold(1000)
    assert rule.strangers_named(0.6, 200) == pytest.approx(1 - 0.95 ** 2)
    # An empty gallery is treated as one enrolled face; a target nothing meets gives the grid's start.
    assert rule.threshold(0) == rule.threshold(1)
    assert OpenSetRule(np.array([0.4, 0.6]), np.array([1.0]), np.array([[0.2, 0.5]])).threshold(1) == 0.4


def _track_rule() -> OpenSetRule:
    # strangers' tracks named at τ = 0.4, 0.6, 0.8: with 1 enrolled 0, 0.02, 0.05; with 100: 0.01, 0.1, 0.3
    r = _rule()
    return OpenSetRule(r.grid, r.sizes, r.rates, r.target, track_rates=np.array([[0.0, 0.02, 0.05],
                                                                                  [0.01, 0.1, 0.3]]))


def test_track_threshold_by_hand_and_never_above_the_faces():
    rule = _track_rule()
    assert rule.track_threshold(1) == pytest.approx(0.5)     # halfway from 0 (0.4) to 0.02 (0.6)
    assert rule.threshold(1) == pytest.approx(0.6)           # the faces' τ is unchanged
    assert rule.track_threshold(100) == pytest.approx(0.4)   # 0.01 already at 0.4
    assert rule.tracks_named(0.6, 1) == pytest.approx(0.02)
    assert rule.tracks_named(0.5, 1) == pytest.approx(0.01)
    # A track table looser than the faces' never raises τ above theirs.
    loose = OpenSetRule(rule.grid, rule.sizes, rule.rates, rule.target, track_rates=np.zeros((2, 3)))
    assert loose.track_threshold(1) == pytest.approx(loose.threshold(1))
    # Without a track table, tracks are held to the faces' τ and their rate is not known.
    plain = _rule()
    assert plain.track_threshold(10) == plain.threshold(10) and plain.tracks_named(0.6, 1) is None


def test_rule_card_round_trip_and_damage():
    rule = _rule()
    again = OpenSetRule.from_card(rule.to_card())
    assert again.threshold(10) == pytest.approx(rule.threshold(10)) and again.target == 0.01
    assert OpenSetRule.from_card({}) is None and OpenSetRule.from_card(None) is None
    bad = rule.to_card()
    for change in ({"rates": [[0.0, 0.1]]}, {"grid": [0.8, 0.6, 0.4]}, {"sizes": [0, 100]},
                   {"target": 0.0}, {"rates": [[0.0, float("nan"), 0.1], [0, 0, 0]]}):
        with pytest.raises(ValueError):
            OpenSetRule.from_card({**bad, **change})
    with pytest.raises(ValueError):
        OpenSetRule.from_card({"grid": [0.4]})
    tracks = OpenSetRule.from_card(_track_rule().to_card())
    assert tracks.track_threshold(1) == pytest.approx(0.5) and "track_rates" not in rule.to_card()
    for damage in ([[0.0, 0.1]], [[0.0, float("inf"), 0.1], [0, 0, 0]], "none"):
        with pytest.raises(ValueError):
            OpenSetRule.from_card({**_track_rule().to_card(), "track_rates": damage})


def test_threshold_for_precedence():
    m = Matcher(_at(0, 90), np.array([1, 2]), {1: "A", 2: "B"})
    rule = _rule()
    assert threshold_for(m, rule, 1.1, tau=0.9) == 0.9          # a τ the user fixed wins
    assert threshold_for(m, rule, 1.1) == pytest.approx(rule.threshold(2))  # 2 samples enrolled
    assert threshold_for(m, None, 1.1) == 1.1                   # no table: the one-to-one τ
    tracks = _track_rule()
    assert threshold_for(m, tracks, 1.1, track=True) == pytest.approx(tracks.track_threshold(2))
    assert threshold_for(m, tracks, 1.1, track=True) < threshold_for(m, tracks, 1.1)
    assert threshold_for(m, tracks, 1.1, tau=0.9, track=True) == 0.9  # the user's τ holds for tracks too
    assert threshold_for(m, None, 1.1, track=True) == 1.1


def test_default_keeps_strangers_near_the_target_at_every_gallery_size():
    """Random unit vectors in 24-d are a population whose impostor distances are known (they
    concentrate near √2). A table built from 2,000 of them must hold fresh galleries of any size
    from 1 to 1,000 near 1% of fresh strangers named."""
    rng = np.random.default_rng(1)

    def faces(n):
        x = rng.standard_normal((n, 24))
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    bg = faces(2000)
    grid = np.round(np.arange(0.5, 1.5, 0.005), 4)
    sizes = (1, 3, 10, 30, 100, 300, 1000)
    rule = OpenSetRule(grid, np.array(sizes, float), background_table(bg, bg, grid=grid, sizes=sizes))
    strangers = faces(20000)
    for n in (1, 5, 10, 100, 1000):
        gallery = faces(n)
        m = Matcher(gallery, np.arange(n), {i: str(i) for i in range(n)})
        tau = threshold_for(m, rule, fallback_tau=1.0)
        named = np.mean([x.known for x in m.match(strangers, tau)])
        assert named <= 2 * DEFAULT_TARGET, (n, tau, named)
        assert named >= DEFAULT_TARGET / 4, (n, tau, named)   # and not uselessly strict
    # the one-to-one τ that names 1% of strangers against one face names most of them against 1,000
    tau1 = rule.threshold(1)
    m = Matcher(faces(1000), np.arange(1000), {i: str(i) for i in range(1000)})
    assert np.mean([x.known for x in m.match(strangers[:2000], tau1)]) > 0.5
    assert math.isfinite(tau1)


def test_background_table_uses_the_matchers_normalised_distances():
    """With a scorer, the table counts the distances the matcher would compare with τ: a cohort
    scorer with offset 1 and a cohort far from every face (crowd 2: the opposite vector of all)
    shifts every distance by 1 - 2 = -1, so the table at τ equals the plain one at τ + 1."""
    from app.recognition.matching import CohortScorer
    x = _at(0, 10, 90, 180)
    plain = background_table(x, x, grid=[1.5, 2.3], sizes=[1, 2])
    far = CohortScorer(np.array([[0.0, 0.0, 1.0]], np.float32), k=1, offset=1.0)
    x3 = np.concatenate([x, np.zeros((4, 1), np.float32)], axis=1)  # orthogonal to the cohort face
    # crowd = √2 for every face, so the shift is 1 - √2
    shifted = background_table(x3, x3, grid=[1.5 + 1 - math.sqrt(2), 2.3 + 1 - math.sqrt(2)], sizes=[1, 2],
                               scorer=far)
    assert shifted == pytest.approx(plain)


def test_domain_shift_by_hand_tightens_by_the_quantile_gap():
    rule = _rule()  # one enrolled face: 1% of strangers named at τ 0.6
    imp = np.linspace(0.45, 1.45, 101)  # the domain's 1% quantile: 0.46 (all above τ(100) 0.44)
    shift = domain_shift(rule, imp, quantiles=[0.01])
    assert shift.table_quantile == pytest.approx(0.6)
    assert shift.domain_quantile == pytest.approx(0.46)
    assert shift.delta == pytest.approx(0.14) and shift.stricter and shift.pairs == 101
    assert adapted_threshold(rule, 10, shift) == pytest.approx(rule.threshold(10) - 0.14)


def test_domain_that_looks_less_alike_or_a_tiny_sample_never_loosens_tau():
    rule = _rule()
    for imp in (np.full(500, 1.6), np.array([1.5, 1.7]), np.zeros(0)):
        for shift in (domain_shift(rule, imp, quantiles=[0.01]), domain_shift(rule, imp)):
            assert shift.delta == 0.0 and not shift.stricter
            for n in (1, 10, 100):
                assert adapted_threshold(rule, n, shift) == rule.threshold(n)
                assert adapted_threshold(rule, n, shift, track=True) == rule.track_threshold(n)


def test_domain_shift_takes_the_largest_gap_from_the_tail_to_the_median_and_strictest_the_largest():
    """45 cross pairs cannot estimate a 1% tail: the quantiles start at 1/(n + 1) (here 1/46) and
    reach the median; a domain whose median lies lower by 0.3 is shifted by (at least) that much."""
    from app.recognition.open_set import domain_quantiles, strictest
    qs = domain_quantiles(45)
    assert qs[0] == pytest.approx(1 / 46) and qs[-1] == pytest.approx(0.5) and len(qs) == 12
    assert domain_quantiles(10_000)[0] == pytest.approx(0.01) and domain_quantiles(0)[0] == pytest.approx(0.5)
    rule = _rule()
    table_median = rule._threshold_on(rule.rates[0], 0.5)
    imp = np.full(45, table_median - 0.3)
    shift = domain_shift(rule, imp)
    assert shift.delta >= 0.3 - 1e-9 and shift.pairs == 45
    by_hand = max(rule._threshold_on(rule.rates[0], float(q)) - (table_median - 0.3) for q in qs)
    assert shift.delta == pytest.approx(by_hand)
    small = domain_shift(rule, imp, quantiles=[0.01])
    both = strictest([small, shift])
    assert both.delta == max(small.delta, shift.delta) and both.pairs == 45
    assert strictest([]).delta == 0.0


def test_one_or_two_pairs_are_no_evidence_three_are():
    """Two people enrolled give one cross pair: under the table's median half the time in an
    unchanged domain, so it alone must not move τ; from DOMAIN_MIN_PAIRS on, the shift applies."""
    from app.recognition.open_set import DOMAIN_MIN_PAIRS
    rule = _rule()
    low = rule._threshold_on(rule.rates[0], 0.5) - 0.2  # well under the table's median
    for n in range(1, DOMAIN_MIN_PAIRS):
        shift = domain_shift(rule, np.full(n, low))
        assert shift.delta == 0.0 and shift.pairs == n and not shift.stricter
    assert DOMAIN_MIN_PAIRS == 3 and domain_shift(rule, np.full(3, low)).delta >= 0.2 - 1e-9


def test_pairs_the_table_calls_one_person_in_any_gallery_are_not_domain_evidence():
    """One person enrolled under two names (or a photo of a photo) gives a cross pair the table
    would name as one person even in its largest gallery: it must not put τ under everyone."""
    rule = _rule()
    floor = rule.threshold(int(rule.sizes[-1]))
    dup = np.full(3, floor - 0.2)
    assert domain_shift(rule, dup).delta == 0.0 and domain_shift(rule, dup).pairs == 0
    mixed = np.concatenate([dup, np.linspace(0.4, 1.4, 101)])
    assert domain_shift(rule, mixed).delta == pytest.approx(domain_shift(rule, mixed[mixed >= floor]).delta)


def test_impostor_pairs_never_pair_one_track_or_one_person_with_itself():
    e = np.eye(4, dtype=np.float32)
    enrolled, ids = e[[0, 0, 1]], [7, 7, 8]          # two photos of person 7, one of 8
    seen = e[[2, 2, 3]]                                # track 1 twice (the same face), track 2 once
    d = impostor_distances(enrolled, ids, seen, [1, 1, 2])
    # enrolled: the 7-8 pairs only (2); seen x enrolled (9); seen x seen across tracks (2), not the
    # track-1 pair at distance 0
    assert len(d) == 2 + 9 + 2
    assert np.all(d > 0) and np.allclose(d, math.sqrt(2))
    # without track ids, seen faces are only paired with the enrolled ones
    assert len(impostor_distances(enrolled, ids, seen)) == 2 + 9


def test_seen_threshold_by_hand_is_the_nearest_seen_face_when_few():
    e = np.eye(3, dtype=np.float32)[:2]                      # enrolled along x and y
    a = np.array([[math.cos(0.3), math.sin(0.3), 0.0]])      # 2 sin 0.15 from x
    b = np.array([[0.0, 0.0, 1.0]])                          # sqrt 2 from both
    seen = np.concatenate([a, b]).astype(np.float32)
    assert seen_threshold(seen, e) == pytest.approx(2 * math.sin(0.15), abs=1e-6)
    # 1% of 200 faces: the 2nd nearest (lower), so one face alone cannot set it
    many = np.concatenate([a, a * 0 + seen[1:2].repeat(199, 0)]).astype(np.float32)
    assert seen_threshold(many, e) == pytest.approx(math.sqrt(2), abs=1e-6)
    assert seen_threshold(np.zeros((0, 3)), e) is None
