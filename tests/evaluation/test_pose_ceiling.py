"""benchmarks/pose_ceiling.py: umist rank-1 by view, the shipped encoder beside the teachers."""

from __future__ import annotations

import numpy as np
from benchmark_scripts import load_benchmark


def test_rank1_by_view_on_a_hand_made_gallery():
    mod = load_benchmark("pose_ceiling")
    gallery = np.array([[1.0, 0.0], [0.0, 1.0]])
    probes = np.array([[0.9, 0.1], [0.8, 0.6], [0.6, 0.8], [0.2, 0.9]])
    r = mod.rank1_by_view(gallery, ["a", "b"], probes, ["a", "b", "b", "b"], [0, 3, 7, 15])
    # probe 2 ([0.8, 0.6]) is nearer a: the one miss, in the profile group
    assert r["rank1"] == 0.75 and r["probes"] == 4
    assert r["v000-v005 (profile)"] == 0.5 and r["v006-v011"] == 1.0 and r["v012-v017"] == 1.0
    assert mod.view_of("x/p01/v007.png") == 7 and mod.view_of("00_v018.png") == 18


def test_on_umist_the_shipped_row_is_the_evaluate_commands_rank1(shared):
    from app.service.evaluation import evaluate

    umist = shared / "datasets" / "umist"
    r = load_benchmark("pose_ceiling").run(umist)
    ours = next(v for k, v in r["networks"].items() if k.startswith("ours"))
    expected = evaluate("identification", "yunet", folder=str(umist), device="cpu")  # `evaluate identification --folder`
    assert abs(ours["rank1"] - expected["oneshot_rank1"]) < 1e-9 and ours["probes"] == expected["known_probes"]
    groups = [ours[g] for g in ("v000-v005 (profile)", "v006-v011", "v012-v017")]
    assert abs(np.mean(groups) - ours["rank1"]) < 1e-9  # equal groups of 6 views each
    assert ours["v000-v005 (profile)"] < ours["v012-v017"]  # the turned views are the ones lost


def test_profile_pairs_auc_worked_out_by_hand():
    """Unit vectors at angles (radians) a1 0, a2 0.2, b1 1.1, b2 0.5 (profile views) and one
    frontal probe (view 17) that is left out; distance grows with the angle between. Same-person
    pairs: a1a2 0.2, b1b2 0.6; different: a1b1 1.1, a1b2 0.5, a2b1 0.9, a2b2 0.3. Of the 2 x 4
    comparisons, 0.2 is closer than all four and 0.6 than two: AUC 6 / 8."""
    mod = load_benchmark("pose_ceiling")
    angles = np.array([0.0, 0.2, 1.1, 0.5, 3.0])
    emb = np.c_[np.cos(angles), np.sin(angles)]
    r = mod.profile_pairs_auc(emb, ["a", "a", "b", "b", "a"], [0, 3, 1, 5, 17])
    assert abs(r - 0.75) < 1e-9
