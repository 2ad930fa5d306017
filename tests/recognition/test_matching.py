"""Matcher: nearest enrolled sample by L2 distance, checked on hand-worked 2-D unit vectors and
against a brute-force loop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.recognition.matching import UNKNOWN, Match, Matcher


def unit(deg: float) -> np.ndarray:
    r = math.radians(deg)
    return np.array([math.cos(r), math.sin(r)], np.float32)


def test_hand_worked_distances():
    # Alice at 0°, Bob at 90°. |u(a) - u(b)| = 2 sin(|a - b| / 2).
    m = Matcher(np.stack([unit(0), unit(90)]), np.array([1, 2]), {1: "Alice", 2: "Bob"})
    assert len(m) == 2
    # -60°: cos 60° = 0.5 exactly, so distance² to Alice = 2 - 1 = 1, distance exactly 1
    # (Bob is 150° away).
    q60 = np.array([0.5, -math.sqrt(3) / 2], np.float32)
    ids, dist = m.nearest(np.stack([unit(10), unit(80), q60, unit(200)]))
    assert ids.tolist() == [1, 2, 1, 2]
    assert dist[0] == pytest.approx(2 * math.sin(math.radians(5)), abs=1e-4)
    assert dist[1] == pytest.approx(2 * math.sin(math.radians(5)), abs=1e-4)
    assert dist[2] == pytest.approx(1.0, abs=1e-6)
    assert dist[3] == pytest.approx(2 * math.sin(math.radians(55)), abs=1e-4)  # 110° from Bob
    # Orthogonal unit vectors are sqrt(2) apart.
    assert m.nearest(unit(-90))[1][0] == pytest.approx(math.sqrt(2), abs=1e-5)


def test_tau_is_strict():
    m = Matcher(unit(0)[None], np.array([7]), {7: "Alice"})
    q = np.array([0.5, math.sqrt(3) / 2], np.float32)          # distance exactly 1.0
    (d,) = m.nearest(q)[1]
    assert d == 1.0
    at = m.match(q, 1.0)[0]
    assert at == Match(UNKNOWN, None, 1.0, "Alice", 1.0) and not at.known
    above = m.match(q, 1.0 + 1e-6)[0]
    assert above == Match("Alice", 7, 1.0, "Alice", 1.0 + 1e-6) and above.known
    # Opposite vector: distance exactly 2.
    assert m.match(-unit(0), 2.0)[0].name == UNKNOWN
    assert m.match(-unit(0), 2.0001)[0].name == "Alice"
    # known always agrees with distance < tau on the reported number.
    for tau in (0.1, 0.5, 1.0, 1.5):
        for x in m.match(np.stack([unit(a) for a in range(0, 360, 7)]), tau):
            assert x.known == (x.distance < tau)


def test_single_query_may_be_1d():
    m = Matcher(np.stack([unit(0), unit(90)]), np.array([1, 2]), {1: "A", 2: "B"})
    ids, dist = m.nearest(unit(85))
    assert ids.shape == (1,) and dist.shape == (1,) and ids[0] == 2
    assert [x.name for x in m.match(unit(85), 0.5)] == ["B"]


def test_empty_gallery():
    m = Matcher(np.zeros((0, 128), np.float32), np.zeros(0, np.int64), {})
    assert len(m) == 0
    q = np.random.default_rng(0).standard_normal((3, 128)).astype(np.float32)
    ids, dist = m.nearest(q)
    assert ids.tolist() == [-1, -1, -1] and np.all(np.isinf(dist))
    out = m.match(q, 10.0)
    assert [x.name for x in out] == [UNKNOWN] * 3
    assert all(x.person_id is None and math.isinf(x.distance) and not x.known for x in out)
    assert m.ranked(q[0]) == []
    # No dimension known yet: any query size, and the (0, 0) form the gallery builds, are fine.
    m0 = Matcher(np.zeros((0, 0), np.float32), np.zeros(0, np.int64), {})
    assert m0.match(np.ones(5, np.float32), 1.0)[0].name == UNKNOWN
    assert m0.match(np.zeros((0, 5), np.float32), 1.0) == []


def test_several_samples_per_person_nearest_sample_wins():
    # Alice has samples at 0° and 100°; Bob at 60°. A query at 95° is nearest Alice's 100° sample
    # (5°) although Alice's mean direction (50°) is nearer Bob.
    emb = np.stack([unit(0), unit(60), unit(100)])
    m = Matcher(emb, np.array([1, 2, 1]), {1: "Alice", 2: "Bob"})
    x = m.match(unit(95), 0.5)[0]
    assert x.name == "Alice" and x.distance == pytest.approx(2 * math.sin(math.radians(2.5)), abs=1e-4)
    assert m.match(unit(55), 0.5)[0].name == "Bob"
    # ranked: one entry per person with their best distance, closest first.
    r = m.ranked(unit(95), k=5)
    assert [pid for pid, _ in r] == [1, 2]
    assert r[0][1] == pytest.approx(2 * math.sin(math.radians(2.5)), abs=1e-4)
    assert r[1][1] == pytest.approx(2 * math.sin(math.radians(17.5)), abs=1e-4)
    assert m.ranked(unit(95), k=1) == r[:1]
    assert m.ranked(unit(95), k=0) == []


def test_matches_brute_force_on_random_data():
    rng = np.random.default_rng(42)
    n, d, q = 500, 32, 40
    emb = rng.standard_normal((n, d)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    pids = rng.integers(0, 60, n)
    names = {int(p): f"person {p}" for p in np.unique(pids)}
    queries = rng.standard_normal((q, d)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    queries[:5] = emb[[3, 17, 99, 250, 499]] + 0.01 * rng.standard_normal((5, d)).astype(np.float32)
    queries[:5] /= np.linalg.norm(queries[:5], axis=1, keepdims=True)

    m = Matcher(emb, pids, names)
    ids, dist = m.nearest(queries)
    tau = 1.2
    matches = m.match(queries, tau)
    for i in range(q):
        all_d = np.array([np.linalg.norm(queries[i].astype(np.float64) - emb[j]) for j in range(n)])
        j = int(np.argmin(all_d))
        assert dist[i] == pytest.approx(all_d[j], abs=1e-4)
        second = np.partition(all_d, 1)[1]
        if second - all_d[j] > 1e-4:
            assert ids[i] == pids[j]
        expect = names[int(pids[j])] if all_d[j] < tau else UNKNOWN
        if abs(all_d[j] - tau) > 1e-4:
            assert matches[i].name == expect
        # ranked agrees with a per-person brute-force minimum.
        if i < 5:
            per = {}
            for jj in range(n):
                p = int(pids[jj])
                per[p] = min(per.get(p, np.inf), all_d[jj])
            want = sorted(per.items(), key=lambda kv: (kv[1], kv[0]))[:5]
            got = m.ranked(queries[i], k=5)
            assert [p for p, _ in got] == [p for p, _ in want]
            assert np.allclose([x for _, x in got], [x for _, x in want], atol=1e-4)
    assert [x.name for x in matches[:5]] == [names[int(pids[j])] for j in [3, 17, 99, 250, 499]]


def test_chunking_gives_same_answer(monkeypatch):
    import app.recognition.matching as matching
    rng = np.random.default_rng(1)
    emb = rng.standard_normal((300, 16)).astype(np.float32)
    queries = rng.standard_normal((50, 16)).astype(np.float32)
    m = Matcher(emb, np.arange(300), {i: str(i) for i in range(300)})
    whole = m.nearest(queries)
    monkeypatch.setattr(matching, "_CHUNK_ELEMENTS", 700)         # 2 queries per chunk
    parts = m.nearest(queries)
    assert np.array_equal(whole[0], parts[0]) and np.allclose(whole[1], parts[1])


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        Matcher(np.zeros((3, 4), np.float32), np.arange(2), {0: "a", 1: "b"})
    with pytest.raises(ValueError):
        Matcher(np.eye(2, dtype=np.float32), np.array([0, 1]), {0: "a"})     # no name for 1
    m = Matcher(np.eye(2, dtype=np.float32), np.array([0, 1]), {0: "a", 1: "b"})
    with pytest.raises(ValueError):
        m.nearest(np.ones(3, np.float32))


def test_cohort_scorer_by_hand():
    """Cohort at 0° and 180° (k=1): a face's crowd distance is its distance to the nearer of
    them. Gallery A at 90° (crowd √2), B at 10° (crowd 2 sin 5° = 0.174).
    Query at 60°: plain distances A 2 sin 15° = 0.518, B 2 sin 25° = 0.845 → A.
    crowd(q) = 2 sin 30° = 1.0; normalised (offset 1): A 0.518 - (1 + 1.414)/2 + 1 = 0.311,
    B 0.845 - (1 + 0.174)/2 + 1 = 1.258 → still A, at 0.311, with the plain 0.518 kept beside."""
    from app.recognition.matching import CohortScorer
    scorer = CohortScorer(np.stack([unit(0), unit(180)]), k=1, offset=1.0)
    assert scorer.crowd(unit(60)[None]) == pytest.approx([1.0], abs=1e-6)
    m = Matcher(np.stack([unit(90), unit(10)]), np.array([1, 2]), {1: "A", 2: "B"}, scorer)
    (got,) = m.match(unit(60), 0.4)
    s15, s25, s5 = (2 * math.sin(math.radians(a)) for a in (15, 25, 5))
    assert got.name == "A" and got.distance == pytest.approx(s15 - (1 + math.sqrt(2)) / 2 + 1, abs=1e-5)
    assert got.raw_distance == pytest.approx(s15, abs=1e-5)
    assert m.match(unit(60), 0.3)[0].name == UNKNOWN and m.match(unit(60), 0.3)[0].nearest == "A"
    assert m.ranked(unit(60))[1] == (2, pytest.approx(s25 - (1 + s5) / 2 + 1, abs=1e-5))
    # a face at 5°, right next to B but also next to the cohort face at 0°: plain B 0.087;
    # normalised 0.087 - (0.087 + 0.174)/2 + 1 = 0.957: a crowd face is a weak match for anyone
    (near_b,) = m.match(unit(5), 0.4)
    assert near_b.raw_distance == pytest.approx(2 * math.sin(math.radians(2.5)), abs=1e-5)
    assert near_b.name == UNKNOWN and near_b.nearest == "B"
    assert Matcher(np.stack([unit(90)]), np.array([1]), {1: "A"}).match(unit(60), 0.6)[0].raw_distance is None
    with pytest.raises(ValueError):
        CohortScorer(np.stack([unit(0)]), k=2)


def test_a_rejected_face_passes_its_person_over_for_faces_nearer_it_than_their_photos():
    # Alice at 0°, Bob at 40°; a look-alike of Alice at 20° was said to be "Not Alice".
    m = Matcher(np.stack([unit(0), unit(40)]), np.array([1, 2]), {1: "Alice", 2: "Bob"},
                rejections=unit(20)[None], rejection_ids=np.array([1]))
    assert m.rejection_count == 1
    tau = 2 * math.sin(math.radians(15))          # names a face within 30° of a photo
    got = m.match(np.stack([unit(8), unit(12), unit(18), unit(60)]), tau)
    # 8°: nearer Alice (8°) than the rejected face (12°): still Alice. 12° and 18°: nearer the
    # rejected face, so not Alice; Bob is 28° and 22° away, under τ: Bob. 60°: Bob, as before.
    assert [x.name for x in got] == ["Alice", "Bob", "Bob", "Bob"]
    assert all(x.known == (x.distance < tau) for x in got)
    # With Bob far away the same face stays Unknown; with Alice alone, nobody is left at all.
    alone = Matcher(unit(0)[None], np.array([1]), {1: "Alice"}, rejections=unit(20)[None],
                    rejection_ids=np.array([1]))
    (x,) = alone.match(unit(18), tau)
    assert (x.name, x.distance, x.nearest) == (UNKNOWN, math.inf, None)
    # A rejection further than τ from the face changes nothing (only faces like it are affected).
    assert alone.match(unit(-14), tau)[0].name == "Alice"
    # nearest() (the evaluation's) ignores rejections; a rejection of someone absent is inert.
    assert alone.nearest(unit(18))[0].tolist() == [1]
    inert = Matcher(unit(0)[None], np.array([1]), {1: "Alice", 2: "Bob"}, rejections=unit(1)[None],
                    rejection_ids=np.array([2]))
    assert inert.rejection_count == 0 and inert.match(unit(1), tau)[0].name == "Alice"


def test_rejections_use_the_cohort_normalised_distance_too():
    from app.recognition.matching import CohortScorer
    rng = np.random.default_rng(0)
    cohort = rng.standard_normal((50, 8)).astype(np.float32)
    scorer = CohortScorer(cohort, k=5)
    e = np.eye(8, dtype=np.float32)
    a, look_alike = e[0], (e[0] + 0.4 * e[1]) / np.linalg.norm(e[0] + 0.4 * e[1])
    plain = Matcher(a[None], np.array([1]), {1: "Alice"}, scorer)
    tau = plain.match(look_alike, 10.0)[0].distance + 0.05     # a τ that names the look-alike
    assert plain.match(look_alike, tau)[0].name == "Alice"
    m = Matcher(a[None], np.array([1]), {1: "Alice"}, scorer, rejections=look_alike[None],
                rejection_ids=np.array([1]))
    assert m.match(look_alike, tau)[0].name == UNKNOWN and m.match(a, tau)[0].name == "Alice"
