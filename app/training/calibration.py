"""The open-set calibration of a model: its strangers-named table, measured on people it never
trained on.

A model is tighter on its own training people, so their impostor distances would promise too
little; the table must come from people kept out of training. When LFW is among the training
data, `train` keeps the *validation people* out (a fixed draw of DevTrain people, never DevTest:
300 with two or more images and 600 with one) and calibrates on them, so every such model carries
an honest table. Any other background can be given: a folder-per-person tree of photos (detected
and aligned as the app does) or a flat folder of faces already aligned to the 112 px ArcFace
frame. Each face is embedded as a live face and as an enrolment photo, exactly as the app does,
and `open_set.background_table` turns the two into the card's table.

(UTKFace's aligned crops in ../shared are no background for a full-frame model: about 30% of
every crop is the grey padding, which makes all of them look alike to it; measured in
docs/open_set.md.)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from app.errors import DatasetError
from app.progress import CancelToken, ProgressFn, no_progress
from app.recognition.alignment import recrop
from app.recognition.detection import DEFAULT_DETECTOR
from app.recognition.open_set import DEFAULT_TARGET, GRID, SIZES, OpenSetRule, background_table
from app.training.datasets import aligned_files, build_crops, lfw_image_path, read_aligned, scan_identity_folders

# The validation people: drawn from LFW's peopleDevTrain.txt with this seed (benchmarks/
# validation_split.py chose recipes on them before; the draw is unchanged).
VALIDATION_SEED, VALIDATION_MULTI, VALIDATION_SINGLE = 7, 300, 600
VALIDATION_TAG = "lfw-devtrain-validation-v1"  # what a card's training data says was held out
FLAT_FACES = 5000      # faces drawn from a flat folder of aligned crops (fixed seed)
FLAT_SEED = 2026


def validation_people(lfw_dir: str | os.PathLike) -> tuple[set[str], set[str]]:
    """(people with >= 2 images, people with one) of the validation draw; two empty sets when
    `lfw_dir` has no protocol/peopleDevTrain.txt with enough people for it."""
    listing = Path(lfw_dir) / "protocol" / "peopleDevTrain.txt"
    if not listing.is_file():
        return set(), set()
    counts: dict[str, int] = {}
    for line in listing.read_text(encoding="utf-8").splitlines()[1:]:
        parts = line.strip().split("\t")
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    multi = sorted(n for n, c in counts.items() if c >= 2)
    single = sorted(n for n, c in counts.items() if c == 1)
    if len(multi) < VALIDATION_MULTI or len(single) < VALIDATION_SINGLE:
        return set(), set()
    rng = np.random.default_rng(VALIDATION_SEED)
    return (set(rng.choice(multi, VALIDATION_MULTI, replace=False).tolist()),
            set(rng.choice(single, VALIDATION_SINGLE, replace=False).tolist()))


def validation_images(lfw_dir: str | os.PathLike, people: set[str] | None = None
                      ) -> tuple[list[str], list[str]]:
    """(image paths, owner names) of every image of the validation people (or of `people`,
    a subset of them), in name order."""
    multi, single = validation_people(lfw_dir)
    chosen = (multi | single) if people is None else set(people)
    counts = {}
    for line in (Path(lfw_dir) / "protocol" / "peopleDevTrain.txt").read_text(encoding="utf-8").splitlines()[1:]:
        parts = line.strip().split("\t")
        if len(parts) == 2 and parts[0] in chosen:
            counts[parts[0]] = int(parts[1])
    paths_, owners = [], []
    for name in sorted(counts):
        for i in range(1, counts[name] + 1):
            paths_.append(lfw_image_path(lfw_dir, name, i))
            owners.append(name)
    return paths_, owners


COHORT_FACES, COHORT_K, COHORT_SEED = 2000, 20, 0


def cohort_images(lfw_dir: str | os.PathLike) -> list[str]:
    """The cohort's photos: COHORT_FACES images of LFW DevTrain people outside the validation
    draw (so they are never strangers or enrolled people of any check, nor DevTest people)."""
    from app.training.datasets import read_people_file
    lfw = Path(lfw_dir)
    devtrain = lfw / "protocol" / "peopleDevTrain.txt"
    if not devtrain.is_file():
        raise DatasetError(f"{lfw} has no protocol/peopleDevTrain.txt to draw the cohort from.")
    multi, single = validation_people(lfw)
    keep = read_people_file(devtrain) - multi - single
    images = scan_identity_folders([lfw])
    pool = [p for p, label in zip(images.paths, images.labels.tolist()) if images.names[label] in keep]
    if len(pool) < COHORT_FACES:
        raise DatasetError(f"{lfw} holds only {len(pool)} cohort images; {COHORT_FACES} are needed.")
    pick = np.random.default_rng(COHORT_SEED).choice(len(pool), COHORT_FACES, replace=False)
    return [pool[i] for i in sorted(pick)]


def make_cohort(encoder, lfw_dir: str | os.PathLike, detector: str = DEFAULT_DETECTOR, workers: int = 2,
                progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> dict:
    """The card's `cohort` section for `encoder`: its live embeddings of the cohort's faces, and
    the offset that keeps normalised distances on the scale of plain ones (the median crowd
    distance among the cohort faces themselves)."""
    from app import paths
    from app.recognition.model_card import cohort_section
    data = build_crops(cohort_images(lfw_dir), encoder.input_size, detector, workers=workers, progress=progress,
                       cancel=cancel, cache_dir=paths.cache_dir(), box=encoder.crop_box)
    emb = encoder.embed(data["crops"][data["found"] & data["readable"]])
    sims = emb.astype(np.float64) @ emb.astype(np.float64).T
    np.fill_diagonal(sims, -np.inf)  # a face is not its own crowd
    top = -np.partition(-sims, COHORT_K - 1, axis=1)[:, :COHORT_K]
    offset = float(np.median(np.sqrt(np.maximum(2.0 - 2.0 * top, 0.0)).mean(axis=1)))
    return cohort_section(emb, COHORT_K, offset, f"{len(emb)} faces of LFW training people outside the "
                                                 f"validation split")


def _table(encoder, crops: np.ndarray, labels, source: str, progress: ProgressFn,
           cancel: CancelToken | None) -> dict:
    if cancel is not None:
        cancel.raise_if_cancelled()
    progress(0, 3, f"embedding {len(crops)} faces as live faces")
    live = encoder.embed(crops)
    if cancel is not None:
        cancel.raise_if_cancelled()
    progress(1, 3, "embedding them as enrolment photos")
    enrolled = encoder.embed_enrolment(crops)
    if cancel is not None:
        cancel.raise_if_cancelled()
    progress(2, 3, "strangers-named table")
    people = len(set(labels)) if labels is not None else len(crops)
    sizes = [n for n in SIZES if n < people]  # a gallery is drawn from the other people
    rates = background_table(live, enrolled, labels=labels, grid=GRID, sizes=sizes, scorer=encoder.scorer)
    rule = OpenSetRule(np.asarray(GRID), np.asarray(sizes, dtype=np.float64), rates, DEFAULT_TARGET, source)
    progress(3, 3, "open-set calibration done")
    return {**rule.to_card(), "faces": int(len(crops))}


def calibrate_on_people(encoder, image_paths: list[str], owners: list[str], source: str,
                        detector: str = DEFAULT_DETECTOR, workers: int = 2, cache_dir: str | os.PathLike | None = None,
                        progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> dict:
    """The card's `open_set` section from labelled photos (detected and aligned as the app does;
    a photo whose face the detector misses is left out, as the app would not see it)."""
    from app import paths
    if len(set(owners)) < 3:
        raise DatasetError("The open-set calibration needs photos of at least three people.")
    data = build_crops(list(image_paths), encoder.input_size, detector, workers=workers, progress=progress,
                       cancel=cancel, cache_dir=cache_dir or paths.cache_dir(), box=encoder.crop_box)
    keep = data["found"] & data["readable"]
    labels = np.asarray(owners)[keep]
    return _table(encoder, data["crops"][keep], labels, source, progress, cancel)


def calibrate_on_aligned(encoder, folder: str | os.PathLike, count: int = FLAT_FACES,
                         progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> dict:
    """The card's `open_set` section from a flat folder of aligned 112 px crops without names
    (one person seen twice counts against the rule: a safe error)."""
    folder = Path(folder)
    files = aligned_files(folder)
    if len(files) < 100:
        raise DatasetError(f"{folder} holds {len(files)} face images; the open-set calibration needs "
                           f"at least 100 faces of people the model never trained on.")
    if len(files) > count:
        pick = np.random.default_rng(FLAT_SEED).choice(len(files), count, replace=False)
        files = [files[i] for i in sorted(pick)]
    crops = read_aligned(files, cancel=cancel)
    crops = recrop(crops, encoder.input_size, encoder.crop_box)
    return _table(encoder, crops, None, f"{len(files)} aligned faces of {folder.name}", progress, cancel)


def calibrate_open_set(encoder, background: str | os.PathLike, detector: str = DEFAULT_DETECTOR,
                       progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> dict:
    """From any background folder: a folder-per-person tree, or a flat folder of aligned crops."""
    folder = Path(background)
    if not folder.is_dir():
        raise DatasetError(f"Background folder {folder} not found.")
    if any(p.is_dir() for p in folder.iterdir()):
        images = scan_identity_folders([folder])
        owners = [images.names[i] for i in images.labels.tolist()]
        return calibrate_on_people(encoder, images.paths, owners,
                                   f"{len(set(owners))} people of {folder.name}", detector,
                                   progress=progress, cancel=cancel)
    return calibrate_on_aligned(encoder, folder, progress=progress, cancel=cancel)


def calibrate_on_validation_people(encoder, lfw_dir: str | os.PathLike, detector: str = DEFAULT_DETECTOR,
                                   workers: int = 2, cache_dir: str | os.PathLike | None = None,
                                   progress: ProgressFn = no_progress,
                                   cancel: CancelToken | None = None) -> dict:
    """The table from the validation people, for a model trained without them."""
    image_paths, owners = validation_images(lfw_dir)
    if not image_paths:
        raise DatasetError(f"{lfw_dir} has no protocol/peopleDevTrain.txt to draw the validation people from.")
    source = f"{len(set(owners))} people this model never trained on, LFW's validation split"
    return calibrate_on_people(encoder, image_paths, owners, source, detector, workers, cache_dir,
                               progress, cancel)
