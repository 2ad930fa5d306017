"""The held-out check of a retrained model: one-shot identification of people neither the new
model nor the active one trained on, both models embedding them exactly as the app does, and
the verdict ("better", "worse", "no better") drawn from it.

Where the check people come from:

1. LFW's validation people (`app.training.calibration`: 300 people with two or more photos, 600 with
   one), when this run kept them out of training (or never had them: a run on other folders
   that calibrated on them) and the active model's card says the same of its own training.
2. Otherwise the user's own people: `TrainConfig.check_share` of the people with two or more
   photos (at least CHECK_MIN, at most CHECK_MAX), and the same share of the one-photo people
   as strangers, chosen by a hash of the folder name, so every retrain on the same folders
   keeps the same people out. `loop.load_training_data` drops them from training; the
   card records how many, a hash of the set and a short hash of each name (never the photos).
   The active model must not have trained on them either: its card (and the cards of the
   models it was fine-tuned from) either kept the same people out or never trained on a
   folder of the same name.

When neither is possible the check is skipped with the reason, and the verdict falls back to
the calibration pairs, saying they are not held out.

Each check person's first photo (by file name) is enrolled with `Encoder.embed_enrolment`, the
others (CHECK_PHOTOS in all at most, so nobody with hundreds of photos outweighs the rest) are
live faces (`Encoder.embed`), and `evaluation.protocols.one_shot_identification` names each from the
nearest enrolled photo, cohort-normalised with the model's own cohort as the matcher does.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app import paths
from app.errors import Cancelled, OneShotError
from app.evaluation.datasets import ImageList, build_crops, read_people_file, scan_identity_folders
from app.evaluation.protocols import IdentificationSplit, far_label, one_shot_identification
from app.progress import CancelToken, ProgressFn, no_progress
from app.recognition.detection import DEFAULT_DETECTOR
from app.text import plural
from app.training.calibration import VALIDATION_TAG, validation_images, validation_people

CHECK_SHARE = 0.1      # the app's Retrain keeps a tenth of the people with 2+ photos out
CHECK_MIN, CHECK_MAX = 5, 100
CHECK_PHOTOS = 10      # photos of a check person used: the first enrolled, the others probes
CHECK_STRANGERS = 500  # one-photo people kept out at most
FAR = 1e-2             # the DIR figure: right and accepted when 1 stranger in 100 gets a name
# The verdict's margin: a change in rank-1 counts when it passes 1.5 standard errors of the
# difference (one-sided, about 7% of "better" calls on two models equally good) and half a point.
MARGIN_SE = 1.5
MIN_MARGIN = 0.005
SOURCE_LFW, SOURCE_OWN = "lfw-validation", "own-people"
WHERE = {SOURCE_LFW: "LFW's validation people", SOURCE_OWN: "people kept out of your folders"}


def person_key(name: str) -> str:
    """A person's short hash, as cards record check people (their names are not written)."""
    return hashlib.sha256(name.encode("utf-8")).hexdigest()[:12]


@dataclass
class CheckPeople:
    """The people kept out of a run to check it on; empty, with `why`, when there are none."""
    multi: list[str] = field(default_factory=list)    # two or more photos: enrolled and probed
    single: list[str] = field(default_factory=list)   # one photo: strangers
    why: str = ""

    def __bool__(self) -> bool:
        return bool(self.multi)

    @property
    def names(self) -> set[str]:
        return set(self.multi) | set(self.single)

    def record(self) -> dict:
        """What the card keeps: counts, a hash of the whole set, each person's short hash."""
        digest = hashlib.sha256("\n".join(sorted(self.multi) + ["--"] + sorted(self.single)).encode("utf-8"))
        return {"people": len(self.multi), "strangers": len(self.single), "hash": digest.hexdigest()[:16],
                "ids": sorted(person_key(n) for n in self.names)}


def choose_check_people(counts: Mapping[str, int], share: float) -> CheckPeople:
    """`share` of the people with two or more photos (`counts`: photos per name), clamped to
    CHECK_MIN..CHECK_MAX, and `share` of the one-photo people (CHECK_STRANGERS at most): those
    whose SHA-256 of the name comes first, so the choice depends on nothing but the names. None
    when fewer than twice CHECK_MIN people have two photos: training needs the rest."""
    if not share or share <= 0:
        return CheckPeople(why="no people were kept out of this run to check it on")
    multi = [n for n, c in counts.items() if c >= 2]
    single = [n for n, c in counts.items() if c == 1]
    n = min(CHECK_MAX, max(CHECK_MIN, round(share * len(multi))))
    if len(multi) < 2 * n:
        return CheckPeople(why=f"only {len(multi)} {'person has' if len(multi) == 1 else 'people have'} two or "
                               f"more photos, too few to keep {n} of them out as a check ({2 * n} are needed)")

    def first(names: list[str], k: int) -> list[str]:
        return sorted(sorted(names, key=lambda s: (hashlib.sha256(s.encode("utf-8")).digest(), s))[:k])

    return CheckPeople(first(multi, n), first(single, min(CHECK_STRANGERS, round(share * len(single)))))


def name_counts(images: ImageList) -> dict[str, int]:
    """Photos per person name (a name found in two folders counts as one person)."""
    counts: dict[str, int] = {}
    for label, k in zip(*np.unique(images.labels, return_counts=True)):
        name = images.names[int(label)]
        counts[name] = counts.get(name, 0) + int(k)
    return counts


def _scan(datasets: list[str], exclude_people: str | None) -> ImageList:
    exclude = read_people_file(exclude_people) if exclude_people else set()
    return scan_identity_folders(datasets, exclude=exclude)


# ---- who trained on whom --------------------------------------------------------------------

def _same_folder(a: str, b: str) -> bool:
    """The same dataset folder, or one of the same name (a card's paths are those of the machine
    and working folder it was trained in, so the name is all that can be compared)."""
    pa, pb = Path(a), Path(b)
    if pa.name.lower() == pb.name.lower():
        return True
    try:
        return pa.resolve() == pb.resolve()
    except OSError:
        return False


def _looks_like_lfw(folder: str) -> bool:
    p = Path(folder)
    return p.name.lower().startswith("lfw") or (p / "protocol" / "peopleDevTrain.txt").is_file()


def _kept_out_lfw(training: dict) -> bool:
    """This run kept LFW's validation people out of training, or never had them."""
    data = training.get("data")
    config = training.get("config")
    if isinstance(data, dict) and (data.get("held_out") == VALIDATION_TAG or data.get("validation_people_trained") == 0):
        return True
    if not isinstance(config, dict) or not isinstance(config.get("datasets"), list):
        return False  # nothing recorded: it may have
    if not any(_looks_like_lfw(str(d)) for d in config["datasets"]):
        return True
    # a record without its data section (an imported card) that says it kept them out
    return not isinstance(data, dict) and config.get("hold_out_validation") is True


def _kept_out_own(ids: set[str], folders: list[str]) -> Callable[[dict], bool]:
    def kept_out(training: dict) -> bool:
        record = (training.get("data") or {}).get("check_people") or {}
        if ids <= set(record.get("ids") or []):
            return True
        config = training.get("config")
        if not isinstance(config, dict) or not isinstance(config.get("datasets"), list):
            return False
        used = [str(d) for d in config["datasets"]] + [str(d) for d in config.get("unlabelled") or []]
        return not any(_same_folder(u, f) for u in used for f in folders)
    return kept_out


def never_trained_on(training: dict, kept_out: Callable[[dict], bool], depth: int = 0) -> bool:
    """Whether the model whose card's training section this is, and every model it was
    fine-tuned from, kept the check people out (`kept_out` judges one run). A start that cannot
    be looked up (a model file since deleted) counts as having trained on them."""
    from app.training.pretrained import PRETRAINED  # lazily: it pulls in torch
    if depth > 10 or not isinstance(training, dict) or not kept_out(training):
        return False
    init = (training.get("config") or {}).get("init_weights")
    if not init:
        return True
    if isinstance(training.get("fine_tuned_from"), dict):
        return never_trained_on(training["fine_tuned_from"], kept_out, depth + 1)
    if init in PRETRAINED:  # published weights, trained on other people
        return True
    from app.recognition.model_card import ModelCard, card_path_for
    try:
        start = ModelCard.from_file(card_path_for(init))
    except (OneShotError, OSError):
        return False
    return never_trained_on(start.training, kept_out, depth + 1)


# ---- the check set ------------------------------------------------------------------------------

@dataclass
class CheckSet:
    source: str                    # SOURCE_LFW or SOURCE_OWN
    split: IdentificationSplit     # enrolled, probes (capped at CHECK_PHOTOS a person) and strangers
    crop_paths: list[str]          # every photo to crop (a superset: LFW's list is the one calibration cached)

    @property
    def people(self) -> int:
        return len(self.split.gallery_paths)


def _split(photos: dict[str, list[str]], multi: list[str], single: list[str]) -> IdentificationSplit:
    split = IdentificationSplit([], [], [], [], [], [])
    for name in sorted(multi):
        files = photos[name][:CHECK_PHOTOS]
        split.gallery_paths.append(files[0])
        split.gallery_labels.append(name)
        split.probe_paths.extend(files[1:])
        split.probe_labels.extend([name] * (len(files) - 1))
    for name in sorted(single):
        split.unknown_paths.append(photos[name][0])
        split.unknown_labels.append(name)
    return split


def own_check_set(datasets: list[str], exclude_people: str | None, share: float) -> tuple[CheckPeople, CheckSet | None]:
    """The check people of a run on these folders and their photos (first by file name)."""
    images = _scan(datasets, exclude_people)
    people = choose_check_people(name_counts(images), share)
    if not people:
        return people, None
    photos: dict[str, list[str]] = {}
    for path, label in zip(images.paths, images.labels.tolist()):
        name = images.names[label]
        if name in people.names:
            photos.setdefault(name, []).append(path)
    for files in photos.values():
        files.sort(key=lambda p: (Path(p).name, p))
    split = _split(photos, people.multi, people.single)
    return people, CheckSet(SOURCE_OWN, split, sorted(set(split.gallery_paths + split.probe_paths + split.unknown_paths)))


def lfw_check_set(lfw_dir: str | os.PathLike) -> CheckSet | None:
    multi, single = validation_people(lfw_dir)
    if not multi:
        return None
    all_paths, owners = validation_images(lfw_dir)
    photos: dict[str, list[str]] = {}
    for path, name in zip(all_paths, owners):
        photos.setdefault(name, []).append(path)
    return CheckSet(SOURCE_LFW, _split(photos, sorted(multi), sorted(single)), list(all_paths))


def plan_check(training: dict, active_training: dict | None) -> tuple[CheckSet | None, str]:
    """The people to check a new model (its card's `training`) against the active one on, or
    None and why there are none."""
    if active_training is None:
        return None, "there is no active model to compare with"
    data = training.get("data") or {}
    config = training.get("config") or {}
    reasons = []
    record = data.get("check_people") or {}
    if record.get("people"):
        folders = [str(d) for d in config.get("datasets") or []]
        kept_out = _kept_out_own(set(record.get("ids") or []), folders)
        if not never_trained_on(active_training, kept_out):
            reasons.append(f"the active model may have trained on the {record['people']} people kept out "
                           f"of {', '.join(Path(f).name for f in folders)}")
        elif not never_trained_on(training, kept_out):
            reasons.append("the model this one was fine-tuned from may have trained on the people kept out")
        else:
            people, check = own_check_set(folders, config.get("exclude_people"), float(config.get("check_share") or 0))
            if check is None or people.record()["hash"] != record.get("hash"):
                reasons.append("the folders changed since training, so its check people are not the same")
            else:
                return check, ""
    lfw = None
    if data.get("held_out") == VALIDATION_TAG:
        lfw = next((str(d) for d in config.get("datasets") or []
                    if (Path(d) / "protocol" / "peopleDevTrain.txt").is_file()), None)
    elif data.get("validation_people_trained") == 0 and config.get("calibrate_lfw"):
        lfw = str(config["calibrate_lfw"])
    if lfw is not None:
        if not never_trained_on(active_training, _kept_out_lfw):
            reasons.append("the active model may have trained on LFW's validation people")
        elif not never_trained_on(training, _kept_out_lfw):
            reasons.append("the model this one was fine-tuned from may have trained on LFW's validation people")
        else:
            check = lfw_check_set(lfw)
            if check is not None:
                return check, ""
            reasons.append(f"{lfw} holds too few people for LFW's validation split")
    if not reasons:
        reasons.append(record.get("why") or "no people were kept out of this training run to check it on")
    return None, "; ".join(reasons)


# ---- running it -------------------------------------------------------------------------------

class CheckImpossible(OneShotError):
    """The check people could not be checked on (too few faces found)."""


def paired_se(new_right: np.ndarray, active_right: np.ndarray, owners: list) -> float:
    """Standard error of the difference in rank-1 between two models named on the same probes:
    each probe's difference (+1, 0, -1), clustered by person (one person's photos rise or fall
    together), with the small-sample factor G/(G-1) for G people; inf for fewer than two."""
    d = np.asarray(new_right, dtype=np.float64) - np.asarray(active_right, dtype=np.float64)
    owner = np.asarray(owners)
    people = np.unique(owner)
    if len(people) < 2 or len(d) == 0:
        return math.inf
    dev = d - d.mean()
    sums = np.array([dev[owner == p].sum() for p in people])
    return float(math.sqrt(len(people) / (len(people) - 1) * float(np.sum(sums ** 2))) / len(d))


def _embed(encoder, crops: np.ndarray, cancel: CancelToken | None, enrol: bool = False) -> np.ndarray:
    out = []
    for lo in range(0, len(crops), 256):
        if cancel is not None:
            cancel.raise_if_cancelled()
        chunk = crops[lo:lo + 256]
        out.append(encoder.embed_enrolment(chunk) if enrol else encoder.embed(chunk))
    dim = int(encoder.card.arch.get("dim", 128))
    return np.concatenate(out) if out else np.zeros((0, dim), np.float32)


def run_check(new, active, check: CheckSet, detector: str = DEFAULT_DETECTOR, workers: int = 2,
              progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> dict:
    """One-shot rank-1 (and DIR at FAR 1e-2 when there are strangers) of both encoders on the
    check set; photos whose face the detector misses are left out for both, as the app would
    not see them (a person whose enrolment photo is missed, with all their photos)."""
    split = check.split
    what = f"checking both models on {plural(check.people, 'person', 'people')} they never trained on"
    built: dict[tuple, dict[str, np.ndarray]] = {}
    for enc in (new, active):
        key = (enc.input_size, tuple(enc.crop_box))
        if key not in built:
            progress(0, 1, f"{what}: face crops")
            built[key] = build_crops(list(check.crop_paths), enc.input_size, detector, workers=workers,
                                     progress=lambda d, t, m="": progress(d, t, f"{what}: face crops"),
                                     cancel=cancel, cache_dir=paths.cache_dir(), box=enc.crop_box)
    index = {p: i for i, p in enumerate(check.crop_paths)}
    seen = np.logical_and.reduce([b["found"] & b["readable"] for b in built.values()])
    ok = {p for p in check.crop_paths if seen[index[p]]}
    enrolled = {n for n, p in zip(split.gallery_labels, split.gallery_paths) if p in ok}
    gallery = [(p, n) for p, n in zip(split.gallery_paths, split.gallery_labels) if n in enrolled]
    probes = [(p, n) for p, n in zip(split.probe_paths, split.probe_labels) if n in enrolled and p in ok]
    strangers = [p for p in split.unknown_paths if p in ok]
    used = len(gallery) + len(probes) + len(strangers)
    missed = len(split.gallery_paths) + len(split.probe_paths) + len(split.unknown_paths) - used
    if len(gallery) < 2 or not probes:
        raise CheckImpossible(f"the detector found too few of the check people's faces ({len(gallery)} people "
                              f"with a photo to enrol and another to recognise)")
    owners = [n for _, n in probes]
    out: dict[str, Any] = {"source": check.source, "people": len(gallery), "probes": len(probes),
                           "strangers": len(strangers), "photos_missed": int(missed), "photos_per_person": CHECK_PHOTOS}
    right = {}
    for step, (which, enc) in enumerate((("new", new), ("active", active))):
        progress(step, 2, f"{what}: the {which} model")
        crops = built[(enc.input_size, tuple(enc.crop_box))]["crops"]

        def rows(ps: list[str], _c=crops) -> np.ndarray:
            return _c[np.array([index[p] for p in ps], dtype=np.int64)]

        g = _embed(enc, rows([p for p, _ in gallery]), cancel, enrol=True)
        q = _embed(enc, rows([p for p, _ in probes]), cancel)
        u = _embed(enc, rows(strangers), cancel)
        r = one_shot_identification(g, [n for _, n in gallery], q, owners, u, FAR, cancel=cancel,
                                    scorer=enc.scorer, per_probe=True)
        right[which] = np.asarray(r["probe_correct"], dtype=bool)
        out[which] = {"version": enc.version, "rank1": r["oneshot_rank1"],
                      f"dir_at_far_{far_label(FAR)}": r[f"oneshot_dir_at_far_{far_label(FAR)}"],
                      "dir_threshold": r["dir_threshold"]}
    progress(2, 2, f"{what}: done")
    out["difference"] = out["new"]["rank1"] - out["active"]["rank1"]
    se = paired_se(right["new"], right["active"], owners)
    out["difference_se"] = se if math.isfinite(se) else None
    out["only_new_right"] = int(np.sum(right["new"] & ~right["active"]))
    out["only_active_right"] = int(np.sum(right["active"] & ~right["new"]))
    return out


def check_after_training(weights: str | os.PathLike, card, active_weights: str | os.PathLike | None,
                         device: str | None = None, detector: str = DEFAULT_DETECTOR, workers: int = 2,
                         progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> dict:
    """Check the model just trained (`weights`, its `card`) against the active model on people
    neither trained on, store the result in the card as `training["held_out_check"]` (written
    beside the weights) and return it. When there is nobody to check on, or cancelling stops it,
    the result says so (`skipped`, `cancelled`); the model is kept either way."""
    from app.recognition.encoder import Encoder
    from app.recognition.model_card import write_card
    active = None
    why = ""
    if active_weights:
        try:
            active = Encoder.load(active_weights, device)
        except OneShotError as exc:
            why = f"the active model could not be loaded ({exc})"
    try:
        check, reason = plan_check(card.training, active.card.training if active is not None else None)
    except OneShotError as exc:  # e.g. a training folder gone since
        check, reason = None, str(exc)
    if check is None or active is None:
        result: dict = {"skipped": why or reason}
    else:
        try:
            new = Encoder.load(weights, device)
            result = run_check(new, active, check, detector, workers, progress, cancel)
        except Cancelled:
            result = {"skipped": "the check was cancelled", "cancelled": True, "people": check.people,
                      "source": check.source}
        except OneShotError as exc:
            result = {"skipped": str(exc), "people": check.people, "source": check.source}
    card.training["held_out_check"] = result
    write_card(card, weights)
    return result


# ---- the verdict ---------------------------------------------------------------------------------

def margin(check: dict) -> float:
    """How far rank-1 must move to count: MARGIN_SE standard errors of the difference, at least
    MIN_MARGIN (no standard error: only a difference in every probe would count)."""
    se = check.get("difference_se")
    return max(MIN_MARGIN, MARGIN_SE * float(se)) if se is not None else 1.0


def _pct(a: float, b: float) -> tuple[str, str]:
    fa, fb = f"{100 * a:.0f}%", f"{100 * b:.0f}%"
    if fa == fb and a != b:
        fa, fb = f"{100 * a:.1f}%", f"{100 * b:.1f}%"
    return fa, fb


def figures_sentence(check: dict) -> str:
    """"On 40 people neither model trained on (…): 82% named right against 75%." """
    new, old = check["new"]["rank1"], check["active"]["rank1"]
    a, b = _pct(new, old)
    text = (f"On {plural(check['people'], 'person', 'people')} neither model trained on "
            f"({WHERE.get(check.get('source', ''), 'held out')}): {a} of their other photos named right "
            f"against {b} with the active model")
    key = f"dir_at_far_{far_label(FAR)}"
    if check.get("strangers", 0) >= round(1 / FAR) and None not in (check["new"].get(key), check["active"].get(key)):
        c, d = _pct(check["new"][key], check["active"][key])
        text += f"; {c} against {d} when only 1 stranger in 100 may be named"
    return text + "."


def held_out_verdict(check: dict | None) -> tuple[str, str] | None:
    """("better" | "worse" | "no better", a sentence) from a card's `held_out_check`; None when
    no check was made. "better" when the new model's rank-1 is higher by more than `margin`,
    "worse" when lower by more, "no better" between."""
    if not check or "new" not in check or "active" not in check:
        return None
    diff = check["new"]["rank1"] - check["active"]["rank1"]
    m = margin(check)
    word = "better" if diff > m else "worse" if diff < -m else "no better"
    text = f"{word.capitalize()} than the active model. {figures_sentence(check)}"
    if word == "no better":
        text += (f" A difference under {100 * m:.1f} points cannot be told apart on "
                 f"{plural(check['probes'], 'photo')}.")
    return word, text


