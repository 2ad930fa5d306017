import math

import numpy as np
import pytest

from app.evaluation.protocols import one_shot_identification
from app.recognition import scoring
from app.recognition.matching import Matcher
from app.recognition.open_set import background_table
from app.recognition.scoring import CohortScorer


def test_distance_from_similarity_by_hand():
    # s = 1 → 0; s = 0 → sqrt(2); s = -1 → 2; s = 0.5 → 1; rounding above 1 stays at 0.
    d = scoring.distance_from_similarity(np.array([1.0, 0.0, -1.0, 0.5, 1.0000001]))
    assert d.tolist() == pytest.approx([0.0, math.sqrt(2), 2.0, 1.0, 0.0])
    assert scoring.distance_from_similarity(np.float32(0.5), np.float32).dtype == np.float32


def test_distances_and_pair_distances_by_hand():
    a = np.array([[1.0, 0.0], [0.6, 0.8]])
    b = np.array([[0.0, 1.0], [1.0, 0.0]])
    # (1,0)-(0,1): sqrt 2; (1,0)-(1,0): 0; (.6,.8)-(0,1): sqrt(.36+.04) = .632; (.6,.8)-(1,0): sqrt(.8)
    assert scoring.distances(a, b) == pytest.approx(np.array([[math.sqrt(2), 0.0], [math.sqrt(.4), math.sqrt(.8)]]))
    assert scoring.pair_distances(a, b) == pytest.approx([math.sqrt(2), math.sqrt(.8)])


def test_cohort_score_by_hand():
    # Cohort (1,0), (0,1), k = 1: a face's crowd distance is its distance to the nearer one.
    # q = (1,0): crowd 0; g = (.6,.8): crowd .632 (to (0,1)). Plain q-g: sqrt(.8) = .894.
    # Score = .894 - (0 + .632)/2 + offset .1 = .678.
    scorer = CohortScorer(np.array([[1.0, 0.0], [0.0, 1.0]]), k=1, offset=0.1)
    q, g = np.array([[1.0, 0.0]]), np.array([[0.6, 0.8]])
    assert scorer.crowd(np.vstack([q, g])).tolist() == pytest.approx([0.0, math.sqrt(.4)])
    expected = math.sqrt(.8) - 0.5 * math.sqrt(.4) + 0.1
    assert scoring.scores(q, g, scorer)[0, 0] == pytest.approx(expected)
    assert scoring.pair_scores(q, g, scorer)[0] == pytest.approx(expected)
    assert scoring.scores(q, g, None)[0, 0] == pytest.approx(math.sqrt(.8))


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("with_cohort", [False, True])
def test_evaluated_rule_and_live_rule_decide_alike(with_cohort):
    rng = np.random.default_rng(3)
    gallery = _unit(rng.normal(size=(12, 8)))
    probes = _unit(gallery[rng.integers(0, 12, 40)] + 0.6 * rng.normal(size=(40, 8)))
    strangers = _unit(rng.normal(size=(30, 8)))
    scorer = CohortScorer(_unit(rng.normal(size=(50, 8))), k=5, offset=0.3) if with_cohort else None
    labels = [f"p{i}" for i in range(12)]
    owners = [labels[i] for i in np.argmin(scoring.scores(probes, gallery, scorer), axis=1)]
    # The evaluation: who each probe is named as, and the τ it sets from the strangers.
    ev = one_shot_identification(gallery, labels, probes, owners, strangers, far_target=0.2, scorer=scorer,
                                 per_probe=True)
    tau = ev["dir_threshold"]
    # The live rule: Matcher.match with that τ, as Engine.identify and the tracker call it.
    live = Matcher(gallery, np.arange(12), dict(enumerate(labels)), scorer)
    named = live.match(probes, tau)
    assert [m.known and m.name == o for m, o in zip(named, owners)] == [
        c and d < tau for c, d in zip(ev["probe_correct"], scoring.scores(probes, gallery, scorer).min(axis=1))]
    assert np.mean([m.known and m.name == o for m, o in zip(named, owners)]) == pytest.approx(
        ev["oneshot_dir_at_far_2e-1"])
    # The strangers the live rule names are exactly those the evaluation counted under τ.
    s_scores = scoring.scores(strangers, gallery, scorer).min(axis=1)
    assert [m.known for m in live.match(strangers, tau)] == (s_scores < tau).tolist()
    # And the open-set table's rate for one enrolled face agrees with a one-person matcher.
    table = background_table(strangers, strangers, grid=[tau], sizes=[1], scorer=scorer)
    count = 0
    for i in range(len(strangers)):
        one = Matcher(strangers[i:i + 1], np.array([0]), {0: "x"}, scorer)
        count += sum(m.known for j, m in enumerate(one.match(strangers, tau)) if j != i)
    assert table[0, 0] == pytest.approx(count / (len(strangers) * (len(strangers) - 1)))
