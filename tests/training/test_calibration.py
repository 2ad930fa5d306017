"""The open-set calibration on real faces: the validation people are a fixed draw of training
people, kept out of training, and the table made from them (or from any background) is a valid
rule that grows stricter with the gallery."""

from __future__ import annotations

import numpy as np
import pytest

import app.training.loop as T
from app.errors import DatasetError
from app.evaluation.datasets import read_people_file, scan_identity_folders
from app.recognition.encoder import Encoder
from app.recognition.open_set import OpenSetRule
from app.training.calibration import (
    VALIDATION_TAG,
    calibrate_on_aligned,
    calibrate_on_people,
    calibrate_open_set,
    pseudo_tracks,
    validation_images,
    validation_people,
)


@pytest.fixture(scope="module")
def shipped():
    return Encoder.load(None, "cpu")


def test_validation_people_are_a_fixed_draw_of_training_people(shared):
    lfw = shared / "datasets" / "lfw"
    multi, single = validation_people(lfw)
    assert (len(multi), len(single)) == (300, 600) and not multi & single
    devtrain = read_people_file(lfw / "protocol" / "peopleDevTrain.txt")
    devtest = read_people_file(lfw / "protocol" / "peopleDevTest.txt")
    assert (multi | single) <= devtrain and not (multi | single) & devtest
    assert validation_people(lfw) == (multi, single)
    paths_, owners = validation_images(lfw)
    assert set(owners) == multi | single and len(paths_) == len(owners) > 900
    assert all((lfw / "images" / o).is_dir() for o in set(owners))


def test_validation_people_need_the_protocol(tmp_path):
    assert validation_people(tmp_path) == (set(), set())


def test_training_keeps_the_validation_people_out(shared, tmp_path, monkeypatch):
    """Only the crops are faked (every image 'found'); the people kept are the real listing's."""
    lfw = shared / "datasets" / "lfw"

    def fake_crops(paths_, size, *a, **k):
        n = len(paths_)
        return {"crops": np.zeros((n, 8, 8, 3), np.uint8), "found": np.ones(n, bool),
                "readable": np.ones(n, bool)}

    monkeypatch.setattr(T, "build_crops", fake_crops)
    cfg = T.TrainConfig(datasets=[str(lfw)], out=str(tmp_path / "m.pt"), distill=0.0, max_images=3000,
                        exclude_people=str(lfw / "protocol" / "peopleDevTest.txt"))
    crops, labels, _, info, _ = T.load_training_data(cfg)
    names = np.asarray(scan_identity_folders([lfw], exclude=read_people_file(cfg.exclude_people)).names)
    multi, single = validation_people(lfw)
    kept = set(names[labels].tolist())
    assert not kept & (multi | single)
    assert info["held_out"] == VALIDATION_TAG and info["held_out_people"] == 900
    assert info["held_out_images"] > 0 and info["images_used"] + info["held_out_images"] == 3000
    cfg.hold_out_validation = False
    _, labels, _, info, _ = T.load_training_data(cfg)
    assert "held_out" not in info and set(names[labels].tolist()) & (multi | single)


def test_table_from_labelled_photos_is_a_rule_that_tightens_with_the_gallery(shared, shipped):
    lfw = shared / "datasets" / "lfw"
    multi, _ = validation_people(lfw)
    people = sorted(multi)[:40]
    image_paths, owners = validation_images(lfw, set(people))
    section = calibrate_on_people(shipped, image_paths, owners, "40 validation people")
    rule = OpenSetRule.from_card(section)
    assert rule is not None and rule.source == "40 validation people" and section["faces"] == len(image_paths)
    assert max(rule.sizes) < 40                      # galleries are drawn from the other people
    taus = [rule.threshold(n) for n in (1, 3, 10, 30)]
    assert all(a >= b for a, b in zip(taus, taus[1:])) and taus[0] > taus[-1]
    assert 0.3 < taus[-1] < taus[0] < 1.5
    # the same faces with no names: one person's other photos now count as strangers near them
    loose = OpenSetRule.from_card(calibrate_on_people(shipped, image_paths, [str(i) for i in range(len(owners))],
                                                      "unlabelled"))
    assert loose.threshold(10) < rule.threshold(10)
    # the live-track table: the people with 4+ faces found, 10 orders each; none without names
    found = {o: owners.count(o) for o in people}  # photos per person (every face is found, above)
    trackable = [o for o, c in found.items() if c >= 4]
    assert section["tracks"]["people"] == len(trackable) >= 3 and section["tracks"]["count"] == 10 * len(trackable)
    assert rule.track_rates is not None and rule.track_rates.shape == rule.rates.shape
    assert all(rule.track_threshold(n) <= rule.threshold(n) for n in (1, 3, 10, 30))
    assert loose.track_rates is None and "tracks" not in loose.to_card()  # one face per "person": no track
    with pytest.raises(DatasetError):
        calibrate_on_people(shipped, image_paths[:4], ["a", "a", "b", "b"], "two people")


def test_pseudo_tracks_pool_distinct_views_as_the_tracker_does():
    # Person p's 4 faces and their mirror images are 8 orthogonal views; q has 3 faces (too few).
    eye = np.eye(16, dtype=np.float32)
    live, mirrored = eye[[0, 1, 2, 3, 8, 9, 10]], eye[[4, 5, 6, 7, 11, 12, 13]]
    labels = ["p"] * 4 + ["q"] * 3
    templates, owners = pseudo_tracks(live, mirrored, labels, frames=8, orders=3, first=2, seed=1)
    assert templates.shape == (3, 7, 16) and owners.tolist() == ["p"] * 3
    for track in templates:
        # frame k (from 2 on) pools k distinct views of p, each weighing 1/√k, each frame adding one
        support = [set(np.nonzero(t > 0)[0].tolist()) for t in track]
        assert [len(x) for x in support] == list(range(2, 9))
        assert all(a < b for a, b in zip(support, support[1:])) and support[-1] == set(range(8))
        assert np.allclose(track[np.arange(7)].max(axis=1), 1 / np.sqrt(np.arange(2, 9)))
    assert len({tuple(np.argsort(-t[0])[:2]) for t in templates}) > 1  # orders differ
    none, who = pseudo_tracks(live[4:], mirrored[4:], labels[4:])
    assert none.shape[0] == 0 and len(who) == 0
    with pytest.raises(ValueError):
        pseudo_tracks(live, mirrored, labels, frames=9)  # more frames than 4 photos have views


def test_table_from_aligned_crops_and_folder_dispatch(shared, shipped, tmp_path):
    src = sorted((shared / "datasets" / "utkface_aligned").glob("*.jpg"))[:120]
    flat = tmp_path / "flat"
    flat.mkdir()
    for f in src:
        (flat / f.name).symlink_to(f)
    section = calibrate_open_set(shipped, flat)
    assert section["faces"] == 120 and OpenSetRule.from_card(section).threshold(10) > 0.2
    assert calibrate_on_aligned(shipped, flat, count=100)["faces"] == 100
    (tmp_path / "few").mkdir()
    with pytest.raises(DatasetError):
        calibrate_open_set(shipped, tmp_path / "few")
    with pytest.raises(DatasetError):
        calibrate_open_set(shipped, tmp_path / "missing")


def test_cohort_is_training_people_outside_the_split_and_a_valid_scorer(shared, shipped, monkeypatch):
    import app.training.calibration as C
    from app.recognition.model_card import ModelCard, scorer_from_card
    lfw = shared / "datasets" / "lfw"
    monkeypatch.setattr(C, "COHORT_FACES", 60)
    images = C.cohort_images(lfw)
    multi, single = validation_people(lfw)
    devtest = read_people_file(lfw / "protocol" / "peopleDevTest.txt")
    owners = {p.split("/")[-2] for p in images}
    assert len(images) == 60 and not owners & (multi | single | devtest) and images == C.cohort_images(lfw)
    section = C.make_cohort(shipped, lfw)
    assert section["faces"] == 60 and section["k"] == C.COHORT_K and 0.8 < section["offset"] < 1.6
    scorer = scorer_from_card(ModelCard(cohort=section))
    assert scorer.cohort.shape == (60, 128)
    # the offset keeps normalised distances on the plain scale: a cohort face's crowd ≈ offset
    assert abs(float(np.median(scorer.crowd(scorer.cohort[:20]))) - section["offset"]) < 0.2


def test_which_runs_get_an_open_set_table(tmp_path):
    """Held out: calibrate on them. Another run asking to calibrate on LFW: only if none of the
    validation people was trained on, by it or by the model it fine-tunes."""
    cfg = T.TrainConfig(datasets=["x"], out=str(tmp_path / "m.pt"), calibrate_lfw="lfw-root")

    class Start:
        def __init__(self, held):
            self.card = type("C", (), {"training": {"data": {"held_out": held} if held else {}}})()

    assert T._open_set_lfw(cfg, {"validation_people_trained": 0}, None) == "lfw-root"
    assert T._open_set_lfw(cfg, {"validation_people_trained": 3}, None) is None
    assert T._open_set_lfw(cfg, {"validation_people_trained": 0}, Start(VALIDATION_TAG)) == "lfw-root"
    assert T._open_set_lfw(cfg, {"validation_people_trained": 0}, Start(None)) is None
    cfg.calibrate_lfw = None
    assert T._open_set_lfw(cfg, {"validation_people_trained": 0}, None) is None
