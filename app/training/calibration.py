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

from app import paths
from app.errors import DatasetError
from app.evaluation.datasets import (
    aligned_files,
    build_crops,
    lfw_image_path,
    read_aligned,
    read_pairs,
    scan_identity_folders,
)
from app.live.tracking import MIN_FRAMES, POOL
from app.progress import CancelToken, ProgressFn, no_progress
from app.recognition.alignment import recrop
from app.recognition.detection import DEFAULT_DETECTOR
from app.recognition.encoder import Encoder
from app.recognition.model_card import ModelCard, write_card
from app.recognition.open_set import DEFAULT_TARGET, GRID, SIZES, OpenSetRule, background_table, card_rates, track_table
from app.recognition.scoring import crowd_of_top, normalise, pair_distances

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
# Pseudo-tracks for the live-track table: each person with TRACK_MIN_PHOTOS+ faces, seen in
# TRACK_ORDERS random orders of TRACK_FRAMES views (their faces and the mirror images, the other
# half-turn of the head), one view per analysed frame.
TRACK_FRAMES, TRACK_ORDERS, TRACK_MIN_PHOTOS, TRACK_SEED = 8, 10, 4, 0


def pseudo_tracks(live: np.ndarray, mirrored: np.ndarray, labels, frames: int = TRACK_FRAMES,
                  orders: int = TRACK_ORDERS, min_photos: int = TRACK_MIN_PHOTOS, first: int = MIN_FRAMES,
                  seed: int = TRACK_SEED) -> tuple[np.ndarray, np.ndarray]:
    """(templates (T, frames − first + 1, D), owners (T,)): tracks of people with `min_photos` or
    more faces, each view a different photo or mirror image, pooled as `live.tracking.Tracker`
    pools them (the re-normalised mean of the views so far), from the `first` frame that may name
    a track on. Views change faster than between a video's frames: the worst case for a stranger
    who gets a chance on every frame. (T = 0 when nobody has enough faces.)"""
    live, mirrored = np.asarray(live, dtype=np.float32), np.asarray(mirrored, dtype=np.float32)
    if live.shape != mirrored.shape or frames > min(2 * min_photos, POOL) or not 1 <= first <= frames:
        raise ValueError(f"pseudo-tracks need live and mirrored embeddings of one shape and "
                         f"{first} <= frames <= {min(2 * min_photos, POOL)}, got {live.shape}, {mirrored.shape}, "
                         f"frames {frames}")
    views = np.concatenate([live, mirrored])
    lab = np.asarray(labels)
    rng = np.random.default_rng(seed)
    templates, owners = [], []
    for person in sorted(set(lab.tolist())):
        rows = np.nonzero(lab == person)[0]
        if len(rows) < min_photos:
            continue
        both = np.concatenate([rows, rows + len(live)])
        for _ in range(orders):
            pooled = np.cumsum(views[rng.permutation(both)[:frames]], axis=0)
            pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
            templates.append(pooled[first - 1:])
            owners.append(person)
    if not templates:
        return np.zeros((0, frames - first + 1, live.shape[1]), dtype=np.float32), np.asarray([], dtype=lab.dtype)
    return np.stack(templates), np.asarray(owners)


def cohort_images(lfw_dir: str | os.PathLike) -> list[str]:
    """The cohort's photos: COHORT_FACES images of LFW DevTrain people outside the validation
    draw (so they are never strangers or enrolled people of any check, nor DevTest people)."""
    from app.evaluation.datasets import read_people_file
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
    offset = float(np.median(crowd_of_top(-np.partition(-sims, COHORT_K - 1, axis=1)[:, :COHORT_K])))
    return cohort_section(emb, COHORT_K, offset, f"{len(emb)} faces of LFW training people outside the "
                                                 f"validation split")


def _table(encoder, crops: np.ndarray, labels, source: str, progress: ProgressFn,
           cancel: CancelToken | None) -> dict:
    """The `open_set` section: faces' table; with `labels`, the live-track table too (a background
    without names has no tracks of one person, and the tracks are held to the faces' τ)."""
    steps = 4 if labels is not None else 3
    step = _stepper(steps, progress, cancel)
    live, enrolled = _embed_both(encoder, crops, step)
    step(2, "strangers-named table")
    people = len(set(labels)) if labels is not None else len(crops)
    sizes = [n for n in SIZES if n < people]  # a gallery is drawn from the other people
    rates = background_table(live, enrolled, labels=labels, grid=GRID, sizes=sizes, scorer=encoder.scorer)
    rule = OpenSetRule(np.asarray(GRID), np.asarray(sizes, dtype=np.float64), rates, DEFAULT_TARGET, source)
    out = {**rule.to_card(), "faces": int(len(crops))}
    if labels is not None:
        step(3, "live tracks: embedding the mirror images")
        out.update(_tracks(encoder, crops, live, enrolled, labels, GRID, sizes))
    progress(steps, steps, "open-set calibration done")
    return out


def _stepper(steps: int, progress: ProgressFn, cancel: CancelToken | None):
    def step(i: int, what: str) -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(i, steps, what)
    return step


def _embed_both(encoder, crops: np.ndarray, step) -> tuple[np.ndarray, np.ndarray]:
    """The faces embedded as live faces and as enrolment photos, exactly as the app does (steps 0, 1)."""
    step(0, f"embedding {len(crops)} faces as live faces")
    live = encoder.embed(crops)
    step(1, "embedding them as enrolment photos")
    return live, encoder.embed_enrolment(crops)


def _labelled_crops(encoder, image_paths: list[str], owners: list[str], detector: str, workers: int,
                    cache_dir: str | os.PathLike | None, progress: ProgressFn,
                    cancel: CancelToken | None) -> tuple[np.ndarray, np.ndarray]:
    """(crops, owners) of the photos whose face the detector finds (detected and aligned as the app
    does; a missed one is left out, as the app would not see it)."""
    from app import paths
    data = build_crops(list(image_paths), encoder.input_size, detector, workers=workers, progress=progress,
                       cancel=cancel, cache_dir=cache_dir or paths.cache_dir(), box=encoder.crop_box)
    keep = data["found"] & data["readable"]
    return data["crops"][keep], np.asarray(owners)[keep]


def _validation_photos(lfw_dir: str | os.PathLike) -> tuple[list[str], list[str]]:
    """`validation_images` of `lfw_dir`, or a DatasetError saying why there are none."""
    image_paths, owners = validation_images(lfw_dir)
    if not image_paths:
        raise DatasetError(f"{lfw_dir} has no protocol/peopleDevTrain.txt to draw the validation people from.")
    return image_paths, owners


def _tracks(encoder, crops: np.ndarray, live: np.ndarray, enrolled: np.ndarray, labels, grid, sizes) -> dict:
    """The section's live-track part (`track_rates`, `tracks`); empty when nobody has enough
    photos for a pseudo-track."""
    mirrored = encoder.embed(np.ascontiguousarray(crops[:, :, ::-1]))
    templates, owners = pseudo_tracks(live, mirrored, labels)
    if not len(templates):
        return {}
    rates = track_table(templates, owners, enrolled, labels, grid, sizes, encoder.scorer)
    return {"track_rates": card_rates(rates),
            "tracks": {"count": int(len(templates)), "people": len(set(owners.tolist())),
                       "frames": TRACK_FRAMES, "first_named": MIN_FRAMES}}


def add_track_table(encoder, section: dict, lfw_dir: str | os.PathLike, detector: str = DEFAULT_DETECTOR,
                    workers: int = 2, progress: ProgressFn = no_progress,
                    cancel: CancelToken | None = None) -> dict:
    """`section` (a card's `open_set`, calibrated on the validation people) with the live-track
    table measured on the same people and added, its faces' table and the cohort unchanged: for a
    model calibrated before tracks were measured."""
    rule = OpenSetRule.from_card(section)
    if rule is None:
        raise DatasetError("This model has no open-set table to add the live-track table to.")
    crops, labels = _labelled_crops(encoder, *_validation_photos(lfw_dir), detector, workers, None, progress, cancel)
    step = _stepper(3, progress, cancel)
    live, enrolled = _embed_both(encoder, crops, step)
    step(2, "live tracks: embedding the mirror images")
    tracks = _tracks(encoder, crops, live, enrolled, labels, rule.grid, rule.sizes.astype(int).tolist())
    progress(3, 3, "live-track table done")
    if not tracks:
        raise DatasetError(f"None of the validation people has {TRACK_MIN_PHOTOS} photos for a live track.")
    return {**section, **tracks}


def calibrate_on_people(encoder, image_paths: list[str], owners: list[str], source: str,
                        detector: str = DEFAULT_DETECTOR, workers: int = 2, cache_dir: str | os.PathLike | None = None,
                        progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> dict:
    """The card's `open_set` section from labelled photos (`_labelled_crops`)."""
    if len(set(owners)) < 3:
        raise DatasetError("The open-set calibration needs photos of at least three people.")
    crops, labels = _labelled_crops(encoder, image_paths, owners, detector, workers, cache_dir, progress, cancel)
    return _table(encoder, crops, labels, source, progress, cancel)


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
    image_paths, owners = _validation_photos(lfw_dir)
    source = f"{len(set(owners))} people this model never trained on, LFW's validation split"
    return calibrate_on_people(encoder, image_paths, owners, source, detector, workers, cache_dir,
                               progress, cancel)


def calibrate(encoder: Encoder, lfw_dir: str | os.PathLike, detector: str = DEFAULT_DETECTOR,
              workers: int = 2, progress: ProgressFn = no_progress,
              cancel: CancelToken | None = None) -> tuple[float, dict]:
    """τ maximising accuracy on pairsDevTrain.txt (training people only, as DATA.md asks), plus
    the same- and different-person distance histograms the settings pane draws. Uses the
    encoder's own `embed`, so test-time options (flip) are calibrated as they will run."""
    from app.evaluation.protocols import best_threshold

    pairs = read_pairs(Path(lfw_dir) / "protocol" / "pairsDevTrain.txt")
    uniq = sorted({lfw_image_path(lfw_dir, n, i) for a, i1, b, i2, _ in pairs
                   for n, i in ((a, i1), (b, i2))})
    data = build_crops(uniq, encoder.input_size, detector, workers=workers, progress=progress,
                       cancel=cancel, cache_dir=paths.cache_dir(), box=encoder.crop_box)
    if cancel is not None:
        cancel.raise_if_cancelled()
    emb = encoder.embed(data["crops"])
    pos = {p: i for i, p in enumerate(uniq)}
    ia = [pos[lfw_image_path(lfw_dir, a, i1)] for a, i1, *_ in pairs]
    ib = [pos[lfw_image_path(lfw_dir, b, i2)] for _, _, b, i2, _ in pairs]
    d = pair_distances(emb[ia], emb[ib])
    if encoder.scorer is not None:  # the distances the matcher compares with τ
        crowd = encoder.scorer.crowd(emb)
        d = normalise(d, crowd[ia], crowd[ib], encoder.scorer.offset)
    same = np.array([s for *_, s in pairs])
    tau = float(best_threshold(d, same))
    bins = np.linspace(0.0, 2.0, 81)
    calib = {"source": "LFW pairsDevTrain.txt (training people)", "bins": bins.round(4).tolist(),
             "same_hist": np.histogram(d[same], bins)[0].tolist(),
             "diff_hist": np.histogram(d[~same], bins)[0].tolist(),
             "same_distances_sorted": np.sort(d[same]).round(4).tolist(),
             "diff_distances_sorted": np.sort(d[~same]).round(4).tolist()}
    return tau, calib


def calibrate_card(weights: str | os.PathLike, lfw_dir: str | os.PathLike | None, detector: str = DEFAULT_DETECTOR,
                   progress: ProgressFn = no_progress, background: str | os.PathLike | None = None,
                   cancel: CancelToken | None = None, tau: bool = True) -> ModelCard:
    """Recompute τ and the histograms of a saved model (from `lfw_dir`'s pairsDevTrain.txt, unless
    `tau` is False) and its open-set table (from `background`, see `app.training.calibration`; None: kept
    as it is), and rewrite its card atomically. `background` may be
    "validation": the validation people of `lfw_dir`, for a model trained without them, or
    "validation-tracks": only the live-track table added on them, all else kept."""
    encoder = Encoder.load(weights, "cpu")
    if background == "validation-tracks":
        if lfw_dir is None:
            raise DatasetError("The validation people are drawn from LFW: give the LFW folder.")
        encoder.card.open_set = add_track_table(encoder, encoder.card.open_set, lfw_dir, detector,
                                                progress=progress, cancel=cancel)
    elif background == "validation":  # the cohort too: LFW's training people outside the split
        if lfw_dir is None:
            raise DatasetError("The validation people are drawn from LFW: give the LFW folder.")
        encoder.card.cohort = make_cohort(encoder, lfw_dir, detector, progress=progress, cancel=cancel)
        encoder = Encoder(encoder.net, encoder.card, "cpu", encoder.path)  # with the new scorer
        tau = True  # τ and its histograms are in the new cohort's distances
        encoder.card.open_set = calibrate_on_validation_people(encoder, lfw_dir, detector, progress=progress,
                                                               cancel=cancel)
    elif background is not None:
        encoder.card.open_set = calibrate_open_set(encoder, background, detector, progress=progress,
                                                   cancel=cancel)
    if tau and lfw_dir is not None:
        encoder.card.tau, encoder.card.calibration = calibrate(encoder, lfw_dir, detector, progress=progress)
    write_card(encoder.card, weights)
    return encoder.card


def calibrate_trained(net, card: ModelCard, device, lfw_dir: str | os.PathLike | None,
                      validation_lfw: str | os.PathLike | None, detector: str, workers: int,
                      progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> None:
    """A newly trained network's calibration, written into its `card`: the cohort on
    `validation_lfw`'s training people first (τ and the table are in its normalised distances),
    then τ on `lfw_dir`'s pairsDevTrain.txt, then the open-set table on the validation people."""
    if validation_lfw is not None:
        card.cohort = make_cohort(Encoder(net, card, device), validation_lfw, detector, workers,
                                  progress=progress, cancel=cancel)
    if lfw_dir:
        card.tau, card.calibration = calibrate(Encoder(net, card, device), lfw_dir, detector, workers,
                                               progress=progress, cancel=cancel)
    if validation_lfw is not None:
        card.open_set = calibrate_on_validation_people(Encoder(net, card, device), validation_lfw,
                                                       detector, workers, progress=progress, cancel=cancel)
