"""Evaluation metrics against values worked out by hand, and the LFW / folder protocols against a
tiny fake LFW tree whose embeddings are known by construction (plus the real protocol files'
counts when ../shared is present)."""

import math
import os
import zlib
from pathlib import Path

import numpy as np
import pytest

from app.errors import Cancelled, DatasetError
from app.evaluation.protocols import (
    accuracy,
    auc,
    best_threshold,
    evaluate_identification,
    evaluate_open_set,
    evaluate_verification,
    far_label,
    folder_identification_split,
    kfold_accuracy,
    lfw_identification_split,
    load_verification_protocol,
    one_shot_identification,
    open_set_identification,
    read_people_counts,
    roc,
    tar_at_far,
    threshold_at_far,
)
from app.paths import shared_dir
from app.progress import CancelToken

# ---- metrics on a hand-worked example --------------------------------------------------------
#
# Six pairs, given unsorted. Sorted by distance (T = same person, F = different):
#     0.1 T   0.3 F   0.4 T   0.6 T   0.6 F   0.8 F        3 same, 3 different
# ROC, accepting d < t:
#     t = -inf: nothing               far 0    tar 0
#     t = 0.3 : 0.1T                  far 0    tar 1/3
#     t = 0.4 : + 0.3F                far 1/3  tar 1/3
#     t = 0.6 : + 0.4T                far 1/3  tar 2/3
#     t = 0.8 : + 0.6T, 0.6F (a tie)  far 2/3  tar 1
#     t = inf : everything            far 1    tar 1
# Trapezoid: 1/3·1/3 + 1/3·(2/3+1)/2 + 1/3·1 = 2/18 + 5/18 + 6/18 = 13/18.
# Mann-Whitney: same 0.1 beats 0.3, 0.6, 0.8 (3); 0.4 beats 0.6, 0.8 (2); 0.6 ties 0.6 (½) and
# beats 0.8 (1): 6.5 of 9 = 13/18.  Same number.
D = [0.6, 0.1, 0.8, 0.4, 0.3, 0.6]
S = [True, True, False, True, False, False]


def test_roc_by_hand():
    far, tar, thr = roc(D, S)
    assert np.allclose(far, [0, 0, 1 / 3, 1 / 3, 2 / 3, 1])
    assert np.allclose(tar, [0, 1 / 3, 1 / 3, 2 / 3, 1, 1])
    assert thr[0] == -np.inf and thr[-1] == np.inf
    assert np.allclose(thr[1:-1], [0.3, 0.4, 0.6, 0.8])


def test_auc_by_hand_equals_mann_whitney_with_ties_half():
    assert auc(D, S) == pytest.approx(13 / 18)
    # The same identity on random data with many ties (distances rounded to one decimal).
    rng = np.random.default_rng(3)
    d = np.round(rng.uniform(0, 1, 60), 1)
    s = rng.random(60) < 0.5
    pos, neg = d[s], d[~s]
    mw = ((pos[:, None] < neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum())
    assert auc(d, s) == pytest.approx(mw / (len(pos) * len(neg)))


def test_auc_extremes_and_all_tied():
    assert auc([0.1, 0.2, 0.8, 0.9], [True, True, False, False]) == 1.0
    assert auc([0.1, 0.2, 0.8, 0.9], [False, False, True, True]) == 0.0
    # Every distance equal: the ROC is one diagonal step, a coin toss.
    far, tar, thr = roc([0.5] * 4, [True, True, False, False])
    assert list(far) == [0, 1] and list(tar) == [0, 1] and list(thr) == [-np.inf, np.inf]
    assert auc([0.5] * 4, [True, True, False, False]) == 0.5


def test_best_threshold_by_hand_ties_go_to_smallest():
    # Candidates (sorted distinct 0.1 0.3 0.4 0.6 0.8), correct = TP + (3 - FP):
    #   0.1 (accept none) 0+3 = 3 | 0.2: 1+3 = 4 | 0.35: 1+2 = 3 | 0.5: 2+2 = 4
    #   0.7: 3+1 = 4 | above 0.8 (accept all): 3+0 = 3
    # Best 4/6, reached at 0.2, 0.5 and 0.7: the smallest, 0.2, wins.
    tau = best_threshold(D, S)
    assert tau == pytest.approx(0.2)
    assert accuracy(D, S, tau) == pytest.approx(4 / 6)


def test_accuracy_is_strict():
    # tau 0.4: 0.4T is NOT accepted (d < tau is strict) → right: 0.1T, 0.6F, 0.8F = 3/6.
    assert accuracy(D, S, 0.4) == pytest.approx(3 / 6)
    # tau 0.41: 0.4T accepted → 4/6.
    assert accuracy(D, S, 0.41) == pytest.approx(4 / 6)


def test_best_threshold_one_class_only():
    # All same: accepting everything is perfect; τ just above the largest distance.
    tau = best_threshold([0.3, 0.1, 0.2], [True, True, True])
    assert 0.3 < tau < 0.3 + 1e-12 and accuracy([0.3, 0.1, 0.2], [True] * 3, tau) == 1.0
    # All different: accept nothing; τ = the smallest distance (strict "<" rejects it).
    tau = best_threshold([0.3, 0.1, 0.2], [False] * 3)
    assert tau == 0.1 and accuracy([0.3, 0.1, 0.2], [False] * 3, tau) == 1.0
    # All tied: accepting none or all both get 2/4; the smaller τ (accept none) wins.
    assert best_threshold([0.5] * 4, [True, True, False, False]) == 0.5


def test_rates_need_both_classes_and_valid_input():
    with pytest.raises(ValueError):
        roc([0.1, 0.2], [True, True])
    with pytest.raises(ValueError):
        auc([0.1, 0.2], [False, False])
    with pytest.raises(ValueError):
        tar_at_far([0.1, 0.2], [True, True], 0.1)
    with pytest.raises(ValueError):
        best_threshold([0.1, float("nan")], [True, False])
    with pytest.raises(ValueError):
        accuracy([0.1, 0.2], [True], 0.5)
    with pytest.raises(ValueError):
        best_threshold([], [])


def test_tar_at_far_by_hand():
    # Impostors sorted 0.3 0.6 0.8 (n = 3); FAR allows floor(f·3) of them.
    # f = 1e-2 → 0 allowed → τ = 0.3 (accepts no impostor); same below 0.3: {0.1} → 1/3.
    assert tar_at_far(D, S, 1e-2) == (pytest.approx(1 / 3), 0.3)
    # f = 0.5 → 1 allowed → τ = 0.6 (accepts 0.3 only; 0.6F not, strict); same < 0.6: 0.1, 0.4.
    assert tar_at_far(D, S, 0.5) == (pytest.approx(2 / 3), 0.6)
    # f = 0.7 → 2 allowed → τ = 0.8; every same pair passes.
    assert tar_at_far(D, S, 0.7) == (1.0, 0.8)
    # f = 1 → all impostors allowed → τ = +inf.
    assert tar_at_far(D, S, 1.0) == (1.0, math.inf)


def test_threshold_at_far_ties_and_rounding():
    # Impostors 0.5 0.5 0.9 1.0, f = 0.25 → 1 allowed. τ = 0.5 accepts none (tie, strict); any
    # larger τ accepts both 0.5s = 2/4 > 0.25. So 0.5 is the largest τ (its real FAR is 0).
    assert threshold_at_far([0.9, 0.5, 1.0, 0.5], 0.25) == 0.5
    assert threshold_at_far([0.9, 0.5, 1.0, 0.5], 0.5) == 0.9
    # 0.29·100 is 28.999… in floats; 29 impostors must still be allowed.
    assert threshold_at_far(np.arange(100.0), 0.29) == 29.0
    with pytest.raises(ValueError):
        threshold_at_far([], 0.1)
    with pytest.raises(ValueError):
        threshold_at_far([0.1], -0.1)


def test_kfold_accuracy_by_hand():
    # fold a: 0.2T 0.9F   fold b: 0.3T 0.7F   fold c: 0.6T 0.5F
    # test a, train b+c (0.3T 0.5F 0.6T 0.7F): correct none 2, 0.4→3, 0.55→2, 0.65→3, all 2
    #   → τ 0.4 → fold a: 0.2T in, 0.9F out = 1.0
    # test b, train a+c (0.2T 0.5F 0.6T 0.9F): none 2, 0.35→3, 0.55→2, 0.75→3, all 2
    #   → τ 0.35 → fold b: 0.3T in, 0.7F out = 1.0
    # test c, train a+b (0.2T 0.3T 0.7F 0.9F): 0.5 → 4 of 4 → τ 0.5
    #   → fold c: 0.6T out (wrong), 0.5F out (strict, right) = 0.5
    # mean 5/6; population std sqrt(((1/6)²·2 + (1/3)²)/3) = sqrt(1/18) (ddof=1 would be sqrt(1/12)).
    d = [0.5, 0.2, 0.3, 0.9, 0.7, 0.6]
    s = [False, True, True, False, False, True]
    folds = [9, 1, 4, 1, 4, 9]  # ids need not be 0..k-1; per_fold follows ascending ids (1, 4, 9)
    mean, std, per_fold = kfold_accuracy(d, s, folds)
    assert list(per_fold) == [1.0, 1.0, 0.5]
    assert mean == pytest.approx(5 / 6)
    assert std == pytest.approx(math.sqrt(1 / 18))
    with pytest.raises(ValueError):
        kfold_accuracy(d, s, [0] * 6)


def test_one_shot_identification_by_hand():
    # Gallery A = (1,0), B = (0,1).
    # probe          label  nearest  distance          right?
    # (1, 0)         A      A        0                 yes
    # (.8, .6)       A      A        sqrt(.4)  = .632  yes
    # (.6, .8)       A      B        .632              no
    # (.6, .8)       B      B        .632              yes
    # (-.6, -.8)     A      A        sqrt(3.2) = 1.789 yes (B: sqrt(3.6) = 1.897)
    # rank-1 = 4/5.
    # Unknowns: (-1, 0) nearest B at sqrt(2) = 1.414; (.6, -.8) nearest A at sqrt(.8) = .894.
    # FAR 1e-2 of 2 unknowns → 0 accepted → τ = .894: right and nearer → 3 of 5 = 0.6.
    # FAR 0.5 → 1 accepted → τ = 1.414: still 3/5 (1.789 is beyond). FAR 1 → τ inf → 4/5.
    gallery = np.array([[1, 0], [0, 1]], float)
    probes = np.array([[1, 0], [.8, .6], [.6, .8], [.6, .8], [-.6, -.8]])
    labels = ["A", "A", "A", "B", "A"]
    unknown = np.array([[-1, 0], [.6, -.8]])
    r = one_shot_identification(gallery, ["A", "B"], probes, labels, unknown)
    assert r["oneshot_rank1"] == pytest.approx(0.8)
    assert r["oneshot_dir_at_far_1e-2"] == pytest.approx(0.6)
    assert r["dir_threshold"] == pytest.approx(math.sqrt(0.8))
    assert (r["gallery"], r["known_probes"], r["unknown_probes"]) == (2, 5, 2)
    r = one_shot_identification(gallery, ["A", "B"], probes, labels, unknown, far_target=0.5)
    assert r["oneshot_dir_at_far_5e-1"] == pytest.approx(0.6)
    assert r["dir_threshold"] == pytest.approx(math.sqrt(2))
    r = one_shot_identification(gallery, ["A", "B"], probes, labels, unknown, far_target=1.0)
    assert r["oneshot_dir_at_far_1e0"] == pytest.approx(0.8)
    # No strangers: rank-1 still defined, DIR is not.
    r = one_shot_identification(gallery, ["A", "B"], probes, labels, np.zeros((0, 2)))
    assert r["oneshot_dir_at_far_1e-2"] is None and r["unknown_probes"] == 0
    with pytest.raises(ValueError):
        one_shot_identification(gallery, ["A", "B"], np.zeros((0, 2)), [], unknown)


def test_one_shot_identification_with_the_cohort_normalisation_of_the_app():
    from app.recognition.matching import CohortScorer
    # Gallery A = (1, 0), B = (0, 1); probe (.8, .6) of B is nearer A plainly (.632 against .894).
    # A cohort of one face at (1, 0), k = 1: A's crowd distance 0, B's sqrt 2, the probe's .632, so
    # normalised A: .632 - (.632 + 0)/2 = .316, B: .894 - (.632 + 1.414)/2 = -.129: B is nearest.
    gallery = np.array([[1, 0], [0, 1]], float)
    probe = np.array([[.8, .6]])
    plain = one_shot_identification(gallery, ["A", "B"], probe, ["B"], np.zeros((0, 2)), per_probe=True)
    assert plain["oneshot_rank1"] == 0.0 and plain["probe_correct"] == [False]
    scored = one_shot_identification(gallery, ["A", "B"], probe, ["B"], np.array([[-1.0, 0.0]]), per_probe=True,
                                     scorer=CohortScorer(np.array([[1.0, 0.0]]), k=1))
    assert scored["oneshot_rank1"] == 1.0 and scored["probe_correct"] == [True]
    # the stranger (-1, 0): plainly 1.414 from B; normalised 1.414 - (2 + 1.414)/2 = -.293, and the
    # probe's -.129 is not below it, so at FAR 1e-2 it is not accepted
    assert scored["dir_threshold"] == pytest.approx(math.sqrt(2) - (2 + math.sqrt(2)) / 2)
    assert scored["oneshot_dir_at_far_1e-2"] == 0.0
    assert "probe_correct" not in one_shot_identification(gallery, ["A", "B"], probe, ["B"], np.zeros((0, 2)))


def test_far_label():
    assert far_label(1e-2) == "1e-2" and far_label(1e-3) == "1e-3" and far_label(0.015) == "1.5e-2"


# ---- protocols on a tiny fake LFW ------------------------------------------------------------

PEOPLE = {"Ann_Allen": 3, "Bob_Brown": 3, "Cal_Cole": 2,           # DevTrain people
          "Dan_Dunn": 3, "Eve_Ellis": 2, "Fay_Fox": 2, "Gus_Gray": 1, "Hal_Hill": 1}  # DevTest

PAIRS_DEVTRAIN = ("2\n"
                  "Ann_Allen\t1\t2\n"
                  "Bob_Brown\t1\t3\n"
                  "Ann_Allen\t3\tBob_Brown\t2\n"
                  "Bob_Brown\t1\tCal_Cole\t1\n")
PAIRS_DEVTEST = ("2\n"
                 "Dan_Dunn\t1\t2\n"
                 "Fay_Fox\t1\t2\n"
                 "Dan_Dunn\t3\tEve_Ellis\t1\n"
                 "Eve_Ellis\t2\tGus_Gray\t1\n")
PAIRS_VIEW2 = ("2\t2\n"
               "Ann_Allen\t1\t3\n"                 # fold 1
               "Dan_Dunn\t2\t3\n"
               "Ann_Allen\t1\tDan_Dunn\t1\n"
               "Cal_Cole\t2\tHal_Hill\t1\n"
               "Bob_Brown\t2\t3\n"                 # fold 2
               "Fay_Fox\t1\t2\n"
               "Eve_Ellis\t1\tFay_Fox\t1\n"
               "Gus_Gray\t1\tCal_Cole\t1\n")
PEOPLE_DEVTEST = "5\nDan_Dunn\t3\nEve_Ellis\t2\nFay_Fox\t2\nGus_Gray\t1\nHal_Hill\t1\n"


def make_lfw(root: Path) -> Path:
    for name, n in PEOPLE.items():
        d = root / "images" / name
        d.mkdir(parents=True)
        for i in range(1, n + 1):
            (d / f"{name}_{i:04d}.jpg").write_bytes(b"not really a jpeg")
    proto = root / "protocol"
    proto.mkdir()
    (proto / "pairsDevTrain.txt").write_text(PAIRS_DEVTRAIN)
    (proto / "pairsDevTest.txt").write_text(PAIRS_DEVTEST)
    (proto / "pairs.txt").write_text(PAIRS_VIEW2)
    (proto / "peopleDevTest.txt").write_text(PEOPLE_DEVTEST)
    return root


class FakeEmbedder:
    """Each person is a fixed random unit vector (orthonormal, so different people sit at
    distance ≈ √2) and each image adds small noise seeded by its file name (same person ≈ 0.08).

    `opposite` names images that actually show a stranger unlike that person: the negated
    vector, at distance ≈ 2 from the person and ≈ √2 from everyone else. Putting the swapped
    face beyond every impostor decides every comparison by construction, not by noise.
    """

    def __init__(self, people, dim=32, noise=0.01, opposite=(), missed=(), on_call=None):
        q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((dim, len(people))))
        self.vec = {p: q[:, i] for i, p in enumerate(people)}
        self.dim, self.noise = dim, noise
        self.opposite, self.missed, self.on_call = set(opposite), set(missed), on_call
        self.calls: list[list[str]] = []

    def __call__(self, paths):
        self.calls.append(list(paths))
        if self.on_call:
            self.on_call()
        out = np.empty((len(paths), self.dim), np.float32)
        for i, p in enumerate(paths):
            p = Path(p)
            v = self.vec[p.parent.name] * (-1.0 if p.name in self.opposite else 1.0)
            rng = np.random.default_rng(zlib.crc32(p.name.encode()))
            v = v + self.noise * rng.standard_normal(self.dim)
            out[i] = v / np.linalg.norm(v)
        found = np.array([Path(p).name not in self.missed for p in paths])
        return out, found


@pytest.fixture
def lfw(tmp_path):
    return make_lfw(tmp_path / "lfw")


def test_verification_well_separated(lfw):
    emb = FakeEmbedder(PEOPLE, missed={"Dan_Dunn_0003.jpg", "Hal_Hill_0001.jpg"})
    calls = []
    r = evaluate_verification(lfw, emb, progress=lambda d, t, m="": calls.append((d, t)))
    assert r["devtest_accuracy"] == 1.0 and r["devtest_auc"] == 1.0
    assert r["devtest_tar_at_far_1e-2"] == 1.0
    assert 0.2 < r["tau_devtrain"] < 1.2  # between same (≈0.08) and different (≈1.41)
    assert r["view2_accuracy_mean"] == 1.0 and r["view2_accuracy_std"] == 0.0
    assert (r["devtrain_pairs"], r["devtest_pairs"], r["view2_pairs"]) == (4, 4, 8)
    # All 17 images on disk appear in some pair; each is embedded once, in one call.
    assert r["images"] == 17 and r["missed_detections"] == 2
    flat = [p for c in emb.calls for p in c]
    assert len(flat) == len(set(flat)) == 17
    assert calls[-1][0] == calls[-1][1]


def test_verification_with_a_swapped_identity(lfw):
    # Fay_Fox_0002 shows someone else (opposite vector). Distances: same Fay 1-2 ≈ 2, other same
    # pairs ≈ 0.08, different pairs ≈ 1.41.
    # DevTest: Dan 1-2 ≈0.08 T, Fay 1-2 ≈2 T, two impostors ≈1.41. τ from clean DevTrain ≈ 0.75:
    #   accuracy: Dan in, Fay out (wrong), impostors out → 3/4.
    #   AUC: Dan beats both impostors, Fay beats neither → 2/4 = 0.5.
    #   TAR@FAR 1e-2: τ = smallest impostor ≈ 1.41 → Dan only → 1/2.
    # View 2: fold 1 clean; fold 2 = Bob ≈0.08 T, Fay ≈2 T, two impostors ≈1.41.
    #   fold 1 scored with τ from fold 2: accept-near-only gets 3/4 (best) → τ ≈ 0.75 → 1.0.
    #   fold 2 scored with τ from clean fold 1 → Fay rejected → 3/4.
    #   mean 0.875, population std 0.125.
    r = evaluate_verification(lfw, FakeEmbedder(PEOPLE, opposite={"Fay_Fox_0002.jpg"}))
    assert r["devtest_accuracy"] == 0.75
    assert r["devtest_auc"] == 0.5
    assert r["devtest_tar_at_far_1e-2"] == 0.5
    assert r["view2_accuracy_per_fold"] == [1.0, 0.75]
    assert r["view2_accuracy_mean"] == 0.875 and r["view2_accuracy_std"] == 0.125
    assert r["missed_detections"] == 0


def test_identification_lfw(lfw):
    # peopleDevTest: Dan(3) Eve(2) Fay(2) enrolled from image 1; probes Dan 2, Dan 3, Eve 2,
    # Fay 2; Gus and Hal (one image each) are the unknowns.
    emb = FakeEmbedder(PEOPLE, missed={"Dan_Dunn_0003.jpg", "Hal_Hill_0001.jpg"})
    r = evaluate_identification(lfw_dir=lfw, embed_paths=emb)
    assert (r["enrolled"], r["known_probes"], r["unknown_probes"], r["images"]) == (3, 4, 2, 9)
    assert r["oneshot_rank1"] == 1.0 and r["oneshot_dir_at_far_1e-2"] == 1.0
    assert r["missed_detections"] == 2
    flat = [p for c in emb.calls for p in c]
    assert len(flat) == len(set(flat)) == 9
    split = lfw_identification_split(lfw)
    assert [Path(p).name for p in split.gallery_paths] == [
        "Dan_Dunn_0001.jpg", "Eve_Ellis_0001.jpg", "Fay_Fox_0001.jpg"]


def test_identification_embeds_the_enrolment_images_as_the_app_enrols(lfw):
    # The enrolment embedder sees exactly the three enrolment images; giving Fay's the
    # stranger's vector (≈2 from her probe, ≈√2 from the others) turns her probe wrong: 3/4.
    live = FakeEmbedder(PEOPLE)
    enrol = FakeEmbedder(PEOPLE, opposite={"Fay_Fox_0001.jpg"})
    r = evaluate_identification(lfw_dir=lfw, embed_paths=live, embed_enrolment_paths=enrol)
    assert [Path(p).name for c in enrol.calls for p in c] == [
        "Dan_Dunn_0001.jpg", "Eve_Ellis_0001.jpg", "Fay_Fox_0001.jpg"]
    assert r["oneshot_rank1"] == 0.75 and r["enrolled"] == 3
    assert evaluate_identification(lfw_dir=lfw, embed_paths=live)["oneshot_rank1"] == 1.0


def test_identification_with_a_swapped_identity(lfw):
    # Probe Fay 2 shows a stranger: nearest gallery is Dan or Eve (≈1.41; Fay is ≈2) → wrong.
    # rank-1 = 3/4. Unknowns' nearest ≈1.41 → τ ≈ 1.41 at FAR 1e-2 (0 of 2 accepted); the three
    # right probes are ≈0.08 away → DIR = 3/4.
    r = evaluate_identification(lfw_dir=lfw,
                                embed_paths=FakeEmbedder(PEOPLE, opposite={"Fay_Fox_0002.jpg"}))
    assert r["oneshot_rank1"] == 0.75 and r["oneshot_dir_at_far_1e-2"] == 0.75
    assert 1.2 < r["dir_threshold"] < 1.6


def test_identification_folder(tmp_path, lfw):
    # Any folder tree: the first file by sorted name is enrolled.
    root = tmp_path / "faces"
    for person, files in {"Ann_Allen": ["b.jpg", "a.png", "c.jpg"], "Bob_Brown": ["z.jpg", "y.jpg"],
                          "Cal_Cole": ["only.jpg"]}.items():
        (root / person).mkdir(parents=True)
        for f in files:
            (root / person / f).write_bytes(b"x")
    split = folder_identification_split(root)
    assert [Path(p).name for p in split.gallery_paths] == ["a.png", "y.jpg"]
    assert [Path(p).name for p in split.unknown_paths] == ["only.jpg"]
    r = evaluate_identification(folder=root, embed_paths=FakeEmbedder(PEOPLE))
    assert (r["enrolled"], r["known_probes"], r["unknown_probes"]) == (2, 3, 1)
    assert r["oneshot_rank1"] == 1.0 and r["oneshot_dir_at_far_1e-2"] == 1.0
    # An LFW root works as a folder too: everyone with ≥2 images is enrolled.
    r = evaluate_identification(folder=lfw, embed_paths=FakeEmbedder(PEOPLE))
    assert (r["enrolled"], r["known_probes"], r["unknown_probes"]) == (6, 9, 2)
    # Nobody with a single image: no strangers, DIR undefined.
    (root / "Cal_Cole" / "only.jpg").unlink()
    (root / "Cal_Cole").rmdir()
    r = evaluate_identification(folder=root, embed_paths=FakeEmbedder(PEOPLE))
    assert r["oneshot_dir_at_far_1e-2"] is None and r["oneshot_rank1"] == 1.0


def test_identification_needs_someone_to_enrol(tmp_path):
    (tmp_path / "Ann_Allen").mkdir()
    (tmp_path / "Ann_Allen" / "a.jpg").write_bytes(b"x")
    with pytest.raises(DatasetError):
        evaluate_identification(folder=tmp_path, embed_paths=FakeEmbedder(PEOPLE))
    with pytest.raises(DatasetError):
        evaluate_identification(folder=tmp_path / "missing", embed_paths=FakeEmbedder(PEOPLE))
    with pytest.raises(ValueError):
        evaluate_identification(lfw_dir=tmp_path, folder=tmp_path, embed_paths=FakeEmbedder(PEOPLE))


def test_malformed_or_missing_dataset(lfw, tmp_path):
    emb = FakeEmbedder(PEOPLE)
    with pytest.raises(DatasetError):
        evaluate_verification(tmp_path / "nowhere", emb)
    with pytest.raises(DatasetError):
        evaluate_identification(lfw_dir=tmp_path / "nowhere", embed_paths=emb)
    # A pairs file whose header promises more pairs than it holds.
    (lfw / "protocol" / "pairsDevTest.txt").write_text(PAIRS_DEVTEST.replace("2\n", "3\n", 1))
    with pytest.raises(DatasetError, match="pairsDevTest"):
        evaluate_verification(lfw, emb)
    (lfw / "protocol" / "pairsDevTest.txt").write_text(PAIRS_DEVTEST.replace("\t2\n", "\tx\n", 1))
    with pytest.raises(DatasetError):
        evaluate_verification(lfw, emb)
    (lfw / "protocol" / "pairsDevTest.txt").write_text(PAIRS_DEVTEST)
    # An image named by the protocol that is not on disk.
    (lfw / "images" / "Gus_Gray" / "Gus_Gray_0001.jpg").unlink()
    with pytest.raises(DatasetError, match="missing"):
        evaluate_verification(lfw, emb)
    with pytest.raises(DatasetError, match="missing"):
        evaluate_identification(lfw_dir=lfw, embed_paths=emb)
    # A people file whose header disagrees with its lines.
    (lfw / "protocol" / "peopleDevTest.txt").write_text(PEOPLE_DEVTEST.replace("5\n", "6\n", 1))
    with pytest.raises(DatasetError):
        read_people_counts(lfw / "protocol" / "peopleDevTest.txt")
    assert emb.calls == []  # nothing was embedded for a broken dataset


def test_cancel_and_progress(lfw):
    token = CancelToken()
    token.cancel()
    emb = FakeEmbedder(PEOPLE)
    with pytest.raises(Cancelled):
        evaluate_verification(lfw, emb, cancel=token)
    with pytest.raises(Cancelled):
        evaluate_identification(lfw_dir=lfw, embed_paths=emb, cancel=token)
    assert emb.calls == []
    # Cancelled while the (heavy) embedding runs: stops right after it.
    token = CancelToken()
    with pytest.raises(Cancelled):
        evaluate_verification(lfw, FakeEmbedder(PEOPLE, on_call=token.cancel), cancel=token)
    token = CancelToken()
    seen = []
    evaluate_identification(lfw_dir=lfw, embed_paths=FakeEmbedder(PEOPLE), cancel=token,
                            progress=lambda d, t, m="": seen.append((d, t, m)))
    assert seen[0][0] == 0 and seen[-1][0] == seen[-1][1]
    assert all(d <= t for d, t, _ in seen)


# ---- the real protocol files -----------------------------------------------------------------

def real_lfw() -> Path:
    shared = shared_dir()
    lfw = shared / "datasets" / "lfw" if shared is not None else None
    if lfw is None or not (lfw / "protocol" / "pairs.txt").is_file():
        msg = ("the real LFW protocol files are not available (set ONESHOT_SHARED to the shared "
               "folder holding datasets/lfw)")
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return lfw


def test_real_lfw_protocol_counts():
    lfw = real_lfw()
    proto = load_verification_protocol(lfw)  # also checks every named image exists
    assert len(proto.devtrain) == 2200 and sum(p[4] for p in proto.devtrain) == 1100
    assert len(proto.devtest) == 1000 and sum(p[4] for p in proto.devtest) == 500
    assert len(proto.view2) == 6000 and (proto.view2_folds, proto.view2_fold_size) == (10, 600)
    folds = proto.view2_fold_ids()
    assert np.array_equal(np.bincount(folds), [600] * 10)
    same = np.array([p[4] for p in proto.view2])
    for f in range(10):  # each fold: 300 same pairs, then 300 different
        assert same[folds == f][:300].all() and not same[folds == f][300:].any()
    # The honesty rule: DevTrain and DevTest pairs share no person.
    names = lambda pairs: {n for a, _, b, _, _ in pairs for n in (a, b)}  # noqa: E731
    assert not names(proto.devtrain) & names(proto.devtest)
    split = lfw_identification_split(lfw)
    # peopleDevTest: 1711 people, 3708 images; 496 with ≥2 images, 1215 with one.
    assert len(split.gallery_paths) == 496
    assert len(split.probe_paths) == 3708 - 1711 == 1997
    assert len(split.unknown_paths) == 1215
    assert all(p.endswith("_0001.jpg") for p in split.gallery_paths + split.unknown_paths)


# ---- open-set identification at the app's operating point -------------------------------------

def _deg(*degrees):
    r = np.radians(degrees)
    return np.stack([np.cos(r), np.sin(r)], axis=1)


def test_open_set_identification_by_hand():
    # Enrolled A 0°, B 120°, C 240° (their first images, live, at the same places).
    # Probes: A 10° (0.174 from A), A 100° (0.347 from B: wrong), B 130°, C 250° (0.174 each).
    # Stranger S at 50°: nearest A at 2 sin 25° = 0.845.
    # Everyone enrolled (size 3, one draw), τ 0.9: right and accepted 3 of 4; S is named: 1 of 1.
    # τ for at most 1% of 1 stranger named = S's distance 0.845 (accepts d < 0.845): still 3/4.
    enrol = _deg(0, 120, 240)
    probes, owners = _deg(10, 100, 130, 250), ["A", "A", "B", "C"]
    seen = []
    r = open_set_identification(enrol, ["A", "B", "C"], probes, owners, _deg(50), enrol,
                                lambda m: seen.append(len(m)) or 0.9, sizes=())
    assert r["sizes"] == [3] and seen == [3]
    assert r["tpir_at_default_3"] == pytest.approx(0.75)
    assert r["fpir_at_default_3"] == 1.0
    assert r["tpir_at_fpir_1e-2_3"] == pytest.approx(0.75)
    assert (r["known_probes_3"], r["strangers_3"], r["draws_3"], r["threshold_default_3"]) == (4, 1, 1, 0.9)
    # τ 0.8: S stays Unknown; nobody else changes.
    r = open_set_identification(enrol, ["A", "B", "C"], probes, owners, _deg(50), enrol, lambda m: 0.8, sizes=())
    assert r["fpir_at_default_3"] == 0.0 and r["tpir_at_default_3"] == pytest.approx(0.75)
    # A stranger counts once however many enrolled people are under τ: S2 at 60° is 1.0 from
    # both A and B; τ 1.1 names both strangers, FPIR 2/2, not 3/2.
    r = open_set_identification(enrol, ["A", "B", "C"], probes, owners, _deg(50, 60), enrol,
                                lambda m: 1.1, sizes=())
    assert r["fpir_at_default_3"] == 1.0 and r["strangers_3"] == 2


def test_open_set_identification_small_galleries_are_drawn_and_counted():
    # Size 1, 20 draws: each draw's known probes are the drawn person's; every other image is a
    # stranger (S, the others' probes and the others' first images): 1 + 4 + 3 = 8 images less
    # the drawn person's own, so known + strangers = 7 a draw.
    enrol = _deg(0, 120, 240)
    probes, owners = _deg(10, 100, 130, 250), ["A", "A", "B", "C"]
    sizes_seen = []

    def tau(m):
        sizes_seen.append(len(m))
        return 0.5

    r = open_set_identification(enrol, ["A", "B", "C"], probes, owners, _deg(50), enrol, tau, sizes=(1,), draws=20)
    assert r["sizes"] == [1, 3] and r["draws_1"] == 20 and sizes_seen == [1] * 20 + [3]
    assert r["known_probes_1"] + r["strangers_1"] == 20 * 7
    again = open_set_identification(enrol, ["A", "B", "C"], probes, owners, _deg(50), enrol, tau, sizes=(1,))
    assert again == r  # fixed seed: the same draws
    other = open_set_identification(enrol, ["A", "B", "C"], probes, owners, _deg(50), enrol, tau, sizes=(1,),
                                    seed=5)
    assert other["known_probes_1"] != r["known_probes_1"]  # another seed: other galleries drawn
    with pytest.raises(ValueError):
        open_set_identification(enrol, ["A", "A", "C"], probes, owners, _deg(50), enrol, tau)
    with pytest.raises(ValueError):
        open_set_identification(enrol, ["A", "B", "C"], probes, ["A", "A", "B", "Z"], _deg(50), enrol, tau)


def test_evaluate_open_set_lfw_and_folder(lfw, tmp_path):
    # DevTest: Dan(3) Eve(2) Fay(2) enrolled from image 1, Gus and Hal strangers. Different people
    # are √2 apart, the same person ≈ 0.08: at τ 0.75 everyone is right and no stranger named.
    live, enrol = FakeEmbedder(PEOPLE), FakeEmbedder(PEOPLE)
    r = evaluate_open_set(lfw_dir=lfw, embed_paths=live, embed_enrolment_paths=enrol,
                          decide_threshold=lambda m: 0.75, sizes=(1, 2), draws=4)
    assert r["sizes"] == [1, 2, 3]
    assert [Path(p).name for c in enrol.calls for p in c] == [
        "Dan_Dunn_0001.jpg", "Eve_Ellis_0001.jpg", "Fay_Fox_0001.jpg"]
    assert sorted(Path(p).name for c in live.calls for p in c) == sorted(
        f"{n}_{i:04d}.jpg" for n in ("Dan_Dunn", "Eve_Ellis", "Fay_Fox", "Gus_Gray", "Hal_Hill")
        for i in range(1, PEOPLE[n] + 1))
    for n in (1, 2, 3):
        assert r[f"tpir_at_default_{n}"] == 1.0 and r[f"fpir_at_default_{n}"] == 0.0
        assert r[f"tpir_at_fpir_1e-2_{n}"] == 1.0
    assert (r["known_probes_3"], r["strangers_3"]) == (4, 2)
    assert (r["enrolled_people"], r["single_image_strangers"], r["images"]) == (3, 2, 9)
    # τ 2 names everyone: every stranger gets a name.
    r = evaluate_open_set(lfw_dir=lfw, embed_paths=live, embed_enrolment_paths=enrol,
                          decide_threshold=lambda m: 2.01, sizes=())
    assert r["fpir_at_default_3"] == 1.0
    # Any folder tree works the same way.
    r = evaluate_open_set(folder=lfw / "images", embed_paths=live, embed_enrolment_paths=enrol,
                          decide_threshold=lambda m: 0.75, sizes=(2,))
    assert r["enrolled_people"] == 6 and r["fpir_at_default_6"] == 0.0 and r["tpir_at_default_2"] == 1.0
    with pytest.raises(ValueError):
        evaluate_open_set(lfw_dir=lfw, embed_paths=live, embed_enrolment_paths=enrol)


def test_open_set_identification_decides_with_the_models_scorer():
    # A cohort orthogonal to every face puts each crowd at √2; offset 0 shifts every distance by
    # -√2, so at τ 0.9 - √2 the figures are those of plain distances at τ 0.9 (see above).
    from app.recognition.matching import CohortScorer
    enrol = np.concatenate([_deg(0, 120, 240), np.zeros((3, 1))], axis=1)
    probes = np.concatenate([_deg(10, 100, 130, 250), np.zeros((4, 1))], axis=1)
    stranger = np.concatenate([_deg(50), np.zeros((1, 1))], axis=1)
    scorer = CohortScorer(np.array([[0.0, 0.0, 1.0]]), k=1, offset=0.0)
    r = open_set_identification(enrol, ["A", "B", "C"], probes, ["A", "A", "B", "C"], stranger, enrol,
                                lambda m: 0.9 - math.sqrt(2), sizes=(), scorer=scorer)
    assert r["tpir_at_default_3"] == pytest.approx(0.75) and r["fpir_at_default_3"] == 1.0
    r = open_set_identification(enrol, ["A", "B", "C"], probes, ["A", "A", "B", "C"], stranger, enrol,
                                lambda m: 0.8 - math.sqrt(2), sizes=(), scorer=scorer)
    assert r["fpir_at_default_3"] == 0.0


def test_open_set_adaptation_sees_unscored_people_only_and_is_reported_both_ways():
    # Four people at 0°, 90°, 180°, 270°, each with one probe 5° on. Size 1 (four people drawn in
    # turn, one draw each with draws=4): of the three not drawn, seen_share 2/3 → two are "seen",
    # one is scored. The adapt callback records what it is shown.
    enrol = _deg(0, 90, 180, 270)
    probes, owners = _deg(5, 95, 185, 275), ["A", "B", "C", "D"]
    calls = []

    def adapt(tau, enrolled, seen_faces):
        calls.append((len(enrolled), None if seen_faces is None else seen_faces.copy()))
        return tau - (0.5 if seen_faces is not None else 0.25)

    r = open_set_identification(enrol, list("ABCD"), probes, owners, _deg(), enrol, lambda m: 1.0,
                                sizes=(1,), draws=4, adapt=adapt, seen_share=2 / 3)
    # Each draw: one stranger person scored, 2 images (probe + first image): 4 draws → 8.
    assert r["strangers_1"] == 8 and r["known_probes_1"] == 4
    # The adaptation is asked twice a draw: enrolled photos alone, then with the seen faces (the
    # everyone-enrolled gallery has no strangers and is skipped).
    with_seen = [s for _, s in calls if s is not None]
    assert len(calls) == 2 * 4 and len(with_seen) == 4
    assert all(len(s) == 4 for s in with_seen)          # two seen people x (probe + first image)
    assert r["threshold_default_1"] == 1.0
    assert r["threshold_default_enrolled_1"] == pytest.approx(0.75)
    assert r["threshold_default_adapted_1"] == pytest.approx(0.5)
    # τ 1.0 names the scored stranger 90° away (distance 1.414 > 1.0: no) — all strangers are
    # ≥ 85° from any enrolled face (≥ 1.35), so nobody is named at any of the three τ.
    assert r["fpir_at_default_1"] == r["fpir_at_default_enrolled_1"] == r["fpir_at_default_adapted_1"] == 0.0
    # Probes 5° from their own (0.087) are accepted at every τ.
    assert r["tpir_at_default_adapted_1"] == 1.0
