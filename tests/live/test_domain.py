"""The camera sample (app.live.domain) and the Engine's τ from it: the safety rules of issue 31."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from domain_helpers import lookalike_pairs

from app.live import domain as domain_mod
from app.live.domain import DomainSample, path_for
from app.live.pipeline import Engine

ROOT = Path(__file__).resolve().parents[2]


def _unit(rng, n, d=8):
    x = rng.normal(size=(n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_one_track_is_never_its_own_impostor_and_tracks_not_seen_together_are_not_paired():
    rng = np.random.default_rng(0)
    s = DomainSample()
    a, b = s.new_track(), s.new_track()
    faces = _unit(rng, 2 * domain_mod.KEEP_EVERY * domain_mod.PER_TRACK)
    for i in range(0, len(faces), 2):  # a and b in view at different times
        s.observe("v1", [(a, faces[i])])
        s.observe("v1", [(b, faces[i + 1])])
    assert len(s) == 2 * domain_mod.PER_TRACK  # every KEEP_EVERY-th embedded face, PER_TRACK per track
    empty = np.zeros((0, 8), np.float32)
    assert len(s.impostors(empty, np.zeros(0), None)) == 0  # a's (and b's) faces never paired among themselves
    s.observe("v1", [(a, None), (b, None)])  # now in one frame: two people
    d = s.impostors(empty, np.zeros(0), None)
    assert len(d) == domain_mod.PER_TRACK ** 2  # only a × b pairs
    fa, fb = s.faces[s.tracks == a], s.faces[s.tracks == b]
    want = np.linalg.norm(fa[:, None] - fb[None], axis=2).ravel()
    assert np.allclose(np.sort(d), np.sort(want), atol=1e-5)


def test_two_faces_that_fail_the_gate_are_not_paired_but_one_good_face_is(tmp_path):
    """Two blurred faces look alike whoever they are, and τ never compares two such faces (the
    gallery holds only faces that pass the gate): a pair needs at least one good face."""
    rng = np.random.default_rng(3)
    s = DomainSample(tmp_path / "g.domain.npz")
    a, b, c = s.new_track(), s.new_track(), s.new_track()
    fa, fb, fc = _unit(rng, 3)
    empty = np.zeros((0, 8), np.float32)
    s.observe("v1", [(a, fa), (b, fb)], grade=lambda i: False)  # two poor faces in one frame
    assert len(s) == 2 and s.good.tolist() == [False, False]
    assert len(s.impostors(empty, np.zeros(0), None)) == 0
    s.observe("v1", [(a, None), (c, fc)], grade=lambda i: True)  # a good face beside one of them
    d = s.impostors(empty, np.zeros(0), None)
    assert np.allclose(d, [np.linalg.norm(fa - fc)], atol=1e-6)
    s.save()
    back = DomainSample(tmp_path / "g.domain.npz")  # the grades survive a restart
    assert back.good.tolist() == [False, False, True]
    assert np.allclose(back.impostors(empty, np.zeros(0), None), d)


def test_a_track_is_not_paired_with_the_enrolled_person_it_lies_nearest_to():
    """An enrolled person walking by is a genuine pair with their own photo, not an impostor."""
    enrolled = np.eye(3, dtype=np.float32)  # three people, one photo each
    ids = np.array([10, 20, 30])
    s = DomainSample()
    t = s.new_track()
    near_20 = np.array([0.1, 1.0, 0.0], np.float32)
    s.observe("v1", [(t, near_20 / np.linalg.norm(near_20))])
    d = s.impostors(enrolled, ids, None)
    # the three cross pairs at √2, and the face against people 10 and 30 only
    face = near_20 / np.linalg.norm(near_20)
    want = [np.sqrt(2)] * 3 + [np.linalg.norm(face - enrolled[0]), np.linalg.norm(face - enrolled[2])]
    assert np.allclose(np.sort(d), np.sort(want), atol=1e-6)


def test_another_model_starts_the_sample_afresh_and_the_file_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    s = DomainSample(tmp_path / "g.domain.npz")
    a, b = s.new_track(), s.new_track()
    s.observe("v1", [(a, _unit(rng, 1)[0]), (b, _unit(rng, 1)[0])])
    s.save()
    back = DomainSample(tmp_path / "g.domain.npz")
    assert len(back) == 2 and back.together == {(a, b)} and back.model == "v1"
    assert np.array_equal(back.faces, s.faces) and back.new_track() > b  # keys never reused
    back.observe("v2", [(back.new_track(), _unit(rng, 1)[0])])
    assert len(back) == 1 and back.together == set() and back.model == "v2"
    assert back.reset() == 1 and not (tmp_path / "g.domain.npz").exists()


def test_a_damaged_file_is_said_in_one_line_and_costs_only_the_sample(tmp_path):
    p = tmp_path / "g.domain.npz"
    p.write_bytes(b"not an npz")
    s = DomainSample(p)
    assert len(s) == 0 and s.load_error and "\n" not in s.load_error


# ---- through the Engine, with the shipped model ------------------------------------------

@pytest.fixture
def engine(yunet_path, tmp_path):
    eng = Engine.create("yunet", yunet_path, device="cpu", gallery_path=tmp_path / "g.sqlite3")
    yield eng
    eng.close()


def _table_tau(engine) -> float:
    return engine.encoder.open_set_rule.threshold(len(engine.matcher))


def test_a_tiny_or_far_sample_never_loosens_tau(engine, samples_dir):
    engine.enrol_photo("Barack Obama", samples_dir / "obama.jpg")
    table = _table_tau(engine)
    assert engine.threshold == pytest.approx(table)  # one person: no pair at all yet
    rng = np.random.default_rng(2)
    dim = engine.matcher.embeddings.shape[1]
    for n in (1, 3, 30):  # faces unlike anyone (random directions): the domain looks *less* alike
        for f in _unit(rng, n, dim):
            engine.observe_domain([(engine.domain.new_track(), f)])
        assert engine.threshold <= table + 1e-12
        assert engine.track_threshold <= engine.encoder.open_set_rule.track_threshold(1) + 1e-12
    report = engine.domain_report()
    assert report["rough"] and not report["stricter"] and "no stricter τ" in report["text"]


def test_faces_like_the_enrolled_make_tau_stricter_and_reset_undoes_it(engine, samples_dir):
    engine.enrol_photo("Barack Obama", samples_dir / "obama.jpg")
    table = _table_tau(engine)
    e = engine.matcher.embeddings[0]
    for a, b in lookalike_pairs(engine.encoder, e, 10, seed=3):  # two people in each frame who look alike
        engine.observe_domain([(engine.domain.new_track(), a), (engine.domain.new_track(), b)])
    assert engine.threshold < table
    report = engine.domain_report()
    assert report["stricter"] and f"τ {table:.2f} → {engine.threshold:.2f}" in report["text"]
    assert "look more alike" in engine.domain_text()
    assert engine.reset_domain() == 20 and engine.threshold == pytest.approx(table)
    assert not path_for(engine.gallery.path).exists()


def test_the_shift_follows_the_sample_once_it_grew_by_a_twentieth(engine, samples_dir):
    """A thousand faces cost ~0.1 s to pair: with 100 faces kept, the next 4 do not recompute the
    shift, the 5th does; a reset always does."""
    engine.enrol_photo("Barack Obama", samples_dir / "obama.jpg")
    e = engine.matcher.embeddings[0]
    pairs = lookalike_pairs(engine.encoder, e, 53, seed=5)
    for a, b in pairs[:50]:
        engine.observe_domain([(engine.domain.new_track(), a), (engine.domain.new_track(), b)])
    first = engine.domain_shift()
    assert len(engine.domain) == 100 and first is not None and first.stricter
    for a, b in pairs[50:52]:
        engine.observe_domain([(engine.domain.new_track(), a), (engine.domain.new_track(), b)])
    assert engine.domain_shift() is first  # 4 more faces: the same shift
    engine.observe_domain([(engine.domain.new_track(), pairs[52][0])])
    assert engine.domain_shift() is not first and engine.domain_shift().pairs > first.pairs  # the 5th
    engine.reset_domain()
    assert engine.threshold == pytest.approx(_table_tau(engine))


def test_a_restart_keeps_the_sample_and_forgetting_the_gallery_forgets_it(yunet_path, tmp_path, samples_dir):
    g = tmp_path / "g.sqlite3"
    eng = Engine.create("yunet", yunet_path, device="cpu", gallery_path=g)
    person, _ = eng.enrol_photo("Barack Obama", samples_dir / "obama.jpg")
    e = eng.matcher.embeddings[0]
    for a, b in lookalike_pairs(eng.encoder, e, 6, seed=4):  # two look-alikes in each frame
        eng.observe_domain([(eng.domain.new_track(), a), (eng.domain.new_track(), b)])
    tau = eng.threshold
    assert tau < _table_tau(eng)
    eng.close()
    assert path_for(g).exists()
    eng = Engine.create("yunet", yunet_path, device="cpu", gallery_path=g)
    try:
        assert len(eng.domain) == 12 and eng.threshold == pytest.approx(tau)  # kept across the restart
        eng.gallery.delete(person.id)  # the last person: the gallery is forgotten
        assert eng.threshold == pytest.approx(_table_tau(eng)) and len(eng.domain) == 0
        assert not path_for(g).exists()
        eng.observe_domain([(eng.domain.new_track(), e)])  # nothing learned while nobody is enrolled
        assert len(eng.domain) == 0
    finally:
        eng.close()


def test_umist_strangers_named_with_the_camera_sample_no_more_than_without(engine, shared):
    """A small version of the issue's check through the real Engine: 4 umist people enrolled from
    their first photo, 4 shown as unlabelled faces, 4 then shown as strangers."""
    folder = shared / "datasets" / "umist"
    if not folder.is_dir():
        pytest.skip("umist missing")
    spec = importlib.util.spec_from_file_location("engine_domain", ROOT / "benchmarks" / "engine_domain.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.run(engine, folder, enrolled=4, seen=4, strangers=4)
    assert out["seen_faces"] > 40 and out["stranger_faces"] > 40
    assert out["tau_adapted"] <= out["tau_table"]
    assert out["strangers_named_adapted"] <= out["strangers_named_table"]


def test_the_sentence_shows_a_third_decimal_when_two_would_show_no_change():
    from app.live.pipeline import _two_taus
    assert _two_taus(1.1784, 1.0611) == "1.18 → 1.06"
    assert _two_taus(1.1784, 1.1766) == "1.178 → 1.177"
