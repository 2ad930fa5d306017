"""The held-out check of a retrained model (app.training.heldout): who the check people are, that training
never sees them, both models' figures on them, and the verdict drawn from those figures."""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import pytest

from app.progress import CancelToken
from app.training import heldout
from app.training.heldout import (
    CheckPeople,
    check_after_training,
    choose_check_people,
    held_out_verdict,
    paired_se,
    plan_check,
)

TINY = {"input_size": 32, "widths": [8, 16], "blocks": [1, 1], "dim": 128}


# ---- who the check people are --------------------------------------------------------------------

def _first_by_hash(names, k):
    return sorted(sorted(names, key=lambda s: hashlib.sha256(s.encode()).digest())[:k])


def test_check_people_are_a_stable_hash_choice_of_the_names():
    multi = {f"person {i}": 3 for i in range(30)}
    single = {f"stranger {i}": 1 for i in range(20)}
    counts = {**multi, **single}
    chosen = choose_check_people(counts, 0.1)
    # 10% of 30 is 3, raised to the minimum of 5; 10% of the 20 one-photo people: 2
    assert chosen.multi == _first_by_hash(multi, 5) and chosen.single == _first_by_hash(single, 2)
    # the order the folders are listed in changes nothing, nor does a count other than one or many
    again = choose_check_people(dict(reversed(list(counts.items()))) | {"person 0": 40}, 0.1)
    assert (again.multi, again.single) == (chosen.multi, chosen.single)
    assert again.record() == chosen.record() and len(chosen.record()["ids"]) == 7
    assert not any(n in json.dumps(chosen.record()) for n in chosen.names)  # names are not recorded
    # at most 100, and none at all when fewer than twice the five could be kept out
    assert len(choose_check_people({f"p{i}": 2 for i in range(3000)}, 0.1).multi) == 100
    few = choose_check_people({f"p{i}": 2 for i in range(9)}, 0.1)
    assert not few and few.multi == [] and "only 9 people" in few.why
    assert not choose_check_people(counts, 0.0)


# ---- the verdict, by hand ----------------------------------------------------------------------

def test_paired_standard_error_by_hand():
    # person A: probe 1 right only with the new model, probe 2 right with both: differences 1, 0;
    # person B: right with both, then right only with the active model: 0, -1. Mean 0, so the
    # per-person sums of deviations are 1 and -1: sqrt(2/1 · (1 + 1)) / 4 probes = 0.5.
    assert paired_se([1, 1, 1, 0], [0, 1, 1, 1], ["A", "A", "B", "B"]) == pytest.approx(0.5)
    # the same four differences from four people: sums 1, 0, 0, -1 → sqrt(4/3 · 2) / 4
    assert paired_se([1, 1, 1, 0], [0, 1, 1, 1], ["A", "B", "C", "D"]) == pytest.approx(math.sqrt(8 / 3) / 4)
    assert paired_se([1, 0], [0, 0], ["A", "A"]) == math.inf  # one person: no error to estimate


def _check(new, active, se, people=40, probes=120, **kw):
    return {"source": "own-people", "people": people, "probes": probes, "strangers": 0,
            "new": {"rank1": new, "dir_at_far_1e-2": kw.get("dir_new")},
            "active": {"rank1": active, "dir_at_far_1e-2": kw.get("dir_active")},
            "difference_se": se}


def test_held_out_verdict_by_hand():
    # se 0.02 → margin 1.5 × 0.02 = 0.03
    word, text = held_out_verdict(_check(0.82, 0.75, 0.02))
    assert word == "better" and "On 40 people neither model trained on" in text and "82%" in text and "75%" in text
    assert held_out_verdict(_check(0.70, 0.75, 0.02))[0] == "worse"        # 5 points down
    word, text = held_out_verdict(_check(0.77, 0.75, 0.02))               # 2 points: within the margin
    assert word == "no better" and "under 3.0 points" in text and "120 photos" in text
    assert held_out_verdict(_check(0.73, 0.75, 0.02))[0] == "no better"
    # no spread at all (every probe the same with both): the half-point floor decides
    assert held_out_verdict(_check(0.754, 0.75, 0.0))[0] == "no better"
    assert held_out_verdict(_check(0.756, 0.75, 0.0))[0] == "better"
    # the rate at 1 stranger in 100 named is told when there are 100 strangers to measure it on
    figures = _check(0.8, 0.7, 0.01, dir_new=0.6, dir_active=0.52)
    assert "stranger" not in held_out_verdict(figures)[1]
    _, text = held_out_verdict({**figures, "strangers": 100})
    assert "60% against 52% when only 1 stranger in 100 may be named" in text
    assert held_out_verdict(None) is None and held_out_verdict({"skipped": "why"}) is None


def test_window_verdict_uses_the_check_and_says_when_it_is_not_held_out():
    from app.gui.figures import verdict
    good, old = {"accuracy": 0.90}, {"accuracy": 0.93}
    # held out: the check decides, whatever the (in-sample) pairs say
    word, text = verdict(old, good, _check(0.82, 0.75, 0.02))
    assert word == "better" and "neither model trained on" in text
    assert verdict(good, old, _check(0.70, 0.75, 0.02))[0] == "worse"
    # a broken model stays worse, an uncalibrated one uncalibrated (with the figures)
    assert verdict(old, {"accuracy": 0.6}, _check(0.82, 0.75, 0.02))[0] == "worse"
    word, text = verdict(old, {"tau": 0.6}, _check(0.82, 0.75, 0.02))
    assert word == "uncalibrated" and "82%" in text
    # no check possible: the pairs, saying so
    word, text = verdict(old, good, {"skipped": "only 7 people have two or more photos"})
    assert word == "worse" and "90.0% against 93.0%" in text and "Not a held-out check (only 7 people" in text
    word, text = verdict(old, good, {"skipped": "the check was cancelled", "cancelled": True})
    assert word == "skipped" and "cancelled" in text


# ---- where the check people come from --------------------------------------------------------------

def test_lfw_validation_people_are_the_check_when_both_models_kept_them_out(shared):
    from app.recognition.model_card import ModelCard
    from app.training.calibration import VALIDATION_TAG
    lfw = str(shared / "datasets" / "lfw")
    new = {"data": {"held_out": VALIDATION_TAG}, "config": {"datasets": [lfw], "init_weights": None}}
    shipped = ModelCard.from_file(Path(__file__).resolve().parents[2] / "models" / "encoder.json").training
    check, why = plan_check(new, shipped)
    assert why == "" and check.source == heldout.SOURCE_LFW and check.people == 300
    assert len(check.split.unknown_paths) == 600
    assert max(check.split.probe_labels.count(n) for n in set(check.split.probe_labels)) == heldout.CHECK_PHOTOS - 1
    # an active model that trained on LFW without keeping them out: no check
    trained = {"data": {"people": 5000}, "config": {"datasets": ["/elsewhere/lfw"], "init_weights": None}}
    check, why = plan_check(new, trained)
    assert check is None and "may have trained on LFW's validation people" in why
    # a model fine-tuned from one that did, too
    assert plan_check({**new, "config": {"datasets": [lfw], "init_weights": "faceplugin"}}, shipped)[0] is not None
    tuned = {"data": {"held_out": VALIDATION_TAG}, "config": {"datasets": [lfw], "init_weights": "/gone.pt"}}
    assert plan_check(new, tuned)[0] is None  # a start that cannot be looked up may have
    assert plan_check(new, None) == (None, "there is no active model to compare with")


def _people_folder(root: Path, people: list[Path], photos: int) -> Path:
    root.mkdir(parents=True)
    for person in people:
        (root / person.name).mkdir()
        for f in sorted(person.iterdir())[:photos]:
            os.symlink(f, root / person.name / f.name)
    return root


def _cfg(datasets, out, **kw):
    from app.training.loop import TrainConfig
    base = dict(datasets=[str(d) for d in datasets], out=str(out), epochs=1, p=4, k=2, singles=2, distill=0.0,
                arch=dict(TINY), workers=1)
    base.update(kw)
    return TrainConfig(**base)


def test_check_people_are_kept_out_of_training_and_both_models_are_checked_on_them(shared, tmp_path):
    from app import paths
    from app.evaluation.datasets import build_crops, scan_identity_folders
    from app.recognition.model_card import ModelCard, card_path_for, crop_box_of
    from app.training.loop import load_training_data, train
    celeba = sorted(p for p in (shared / "datasets" / "celeba_faces").iterdir() if p.is_dir())
    mine = _people_folder(tmp_path / "mine", celeba[:12], 4)
    for person in celeba[12:22]:  # ten one-photo people: one of them is kept out as a stranger
        (mine / person.name).mkdir()
        os.symlink(sorted(person.iterdir())[0], mine / person.name / "1.jpg")
    other = _people_folder(tmp_path / "other", celeba[30:36], 4)

    cfg = _cfg([mine], tmp_path / "new.pt", check_share=0.1)
    people, check = heldout.own_check_set([str(mine)], None, 0.1)
    assert len(people.multi) == 5 and len(people.single) == 1
    crops, labels, _, info, _ = load_training_data(cfg)
    names = np.asarray(scan_identity_folders([str(mine)]).names)
    trained = set(names[labels].tolist())
    assert trained and not trained & people.names                 # nobody kept out is trained on
    assert trained | people.names == set(names.tolist())          # and everyone else is
    assert info["check_people"]["people"] == 5 and info["check_people"]["images"] == 5 * 4 + 1
    held = build_crops(check.crop_paths, 32, "yunet", workers=1, cache_dir=paths.cache_dir(), box=crop_box_of(TINY))
    flat = crops.reshape(len(crops), -1)
    assert not any((flat == c.reshape(1, -1)).all(1).any() for c in held["crops"])  # no check photo in training

    new = train(cfg)
    assert new.card.training["data"]["check_people"]["hash"] == people.record()["hash"]
    assert not any(n in card_path_for(new.path).read_text() for n in people.names)
    active = train(_cfg([other], tmp_path / "active.pt"))
    stages = []
    result = check_after_training(new.path, new.card, active.path, device="cpu", workers=1,
                                  progress=lambda d, t, m="": stages.append(m))
    assert "skipped" not in result, result
    assert (result["source"], result["people"], result["probes"], result["strangers"]) == ("own-people", 5, 15, 1)
    for which, model in (("new", new), ("active", active)):
        assert result[which]["version"] == model.card.version
        assert 0.0 <= result[which]["rank1"] <= 1.0 and result[which]["dir_at_far_1e-2"] is not None
    assert result["difference"] == pytest.approx(result["new"]["rank1"] - result["active"]["rank1"])
    assert any("checking both models on 5 people they never trained on" in m for m in stages)
    assert ModelCard.from_file(card_path_for(new.path)).training["held_out_check"] == json.loads(json.dumps(result))
    # a retrain on the same folders keeps the same people out, so it can be checked against this one
    assert plan_check(new.card.training, new.card.training)[0] is not None
    # an active model that trained on these folders without keeping them out: no check, and why
    seen = train(_cfg([mine], tmp_path / "seen.pt"))
    result = check_after_training(new.path, new.card, seen.path, device="cpu", workers=1)
    assert "may have trained on the 5 people kept out of mine" in result["skipped"]
    # cancelled: the model stays, the card says the check was skipped
    token = CancelToken()
    token.cancel()
    result = check_after_training(new.path, new.card, active.path, device="cpu", workers=1, cancel=token)
    assert result["cancelled"] and Path(new.path).is_file()
    assert ModelCard.from_file(card_path_for(new.path)).training["held_out_check"]["cancelled"] is True


def test_too_few_people_record_why_and_no_one_is_kept_out(shared, tmp_path):
    from app.training.loop import load_training_data
    celeba = sorted(p for p in (shared / "datasets" / "celeba_faces").iterdir() if p.is_dir())
    mine = _people_folder(tmp_path / "mine", celeba[:6], 3)
    _, labels, _, info, _ = load_training_data(_cfg([mine], tmp_path / "m.pt", check_share=0.1))
    assert info["check_people"]["people"] == 0 and "only 6 people" in info["check_people"]["why"]
    assert len(np.unique(labels)) == 6
    check, why = plan_check({"data": info, "config": {"datasets": [str(mine)]}}, {"config": {"datasets": []}})
    assert check is None and "only 6 people" in why
    assert not CheckPeople()
