"""Training the encoder: P×K batches, triplet (or contrastive) loss, plus distillation from a
teacher's embeddings when the teacher is installed.

Crops come from `datasets.build_crops` (same detection + alignment as the app). Each epoch ends
with an atomic checkpoint, so Ctrl-C or a crash loses at most one epoch and `resume` continues.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from app import paths
from app.atomic import atomic_write
from app.errors import Cancelled, DatasetError
from app.evaluation.datasets import (
    aligned_files,
    build_crops,
    build_mixes,
    read_aligned,
    read_people_file,
    scan_identity_folders,
)
from app.progress import CancelToken, ProgressFn, no_progress
from app.recognition.alignment import FULL_BOX, recrop
from app.recognition.detection import DEFAULT_DETECTOR
from app.recognition.encoder import Encoder, bf16_native, resolve_device, save_model, to_tensor
from app.recognition.model_card import ModelCard, crop_box_of
from app.recognition.networks import DEFAULT_ARCH, PUBLISHED_NETS, FaceNet, Published, build_net
from app.training.augment import Augment, augment, student_view, turn  # noqa: F401 (turn: re-exported)
from app.training.calibration import (  # noqa: F401 (calibrate, calibrate_card: re-exported)
    VALIDATION_TAG,
    calibrate,
    calibrate_card,
    calibrate_trained,
    validation_people,
)
from app.training.heldout import CheckPeople, choose_check_people, name_counts
from app.training.losses import contrastive_loss, distillation_loss, relational_loss, triplet_loss
from app.training.pretrained import PRETRAINED  # noqa: F401 (re-exported for benchmarks)
from app.training.teachers import FRAME, OnnxTeacher, load_teachers, parse_teachers
from app.training.teachers import SPECS as ONLINE_TEACHERS

LOSSES = ("triplet-semihard", "triplet-hard", "contrastive")
# The teacher terms weigh 4 against the metric loss's 1: chosen on held-out training people
# (rank-1 0.759 at 1, 0.763 at 2, 0.786 at 4; README), and the shipped model's setting.
DEFAULT_DISTILL = 4.0
PRECISIONS = ("auto", "fp32", "bf16")
AUGMENTS = ("basic", "strong")
AUGMENTS_OF_PROJECTION = ("clean", "strong")
PROJECTION_TURN, PROJECTION_ZOOM = 25.0, 0.1  # the strong views of a "strong" projection: ± degrees, scale
CALIBRATING = "calibrating"  # how the progress messages of the calibration after the epochs begin
FINE_TUNE_LR = 1e-3  # the app's Retrain from the active model: a third of a fresh run's, not to wipe it out
PROJECTION_SAMPLE = 4096  # clean faces whose teacher embeddings fix the 128-d projection
MOBILEFACENET_ARCH: dict[str, Any] = {"net": "mobilefacenet", "input_size": 112, "dim": 128}
EDGENEXT_ARCH: dict[str, Any] = {"net": "edgenext", "input_size": 112, "dim": 128}
# the network each published starting point is copied into (--init NAME)
PUBLISHED_ARCH: dict[str, dict[str, Any]] = {"faceplugin": MOBILEFACENET_ARCH, "edgeface": EDGENEXT_ARCH}
# their fine-tuning: learning rate and leading layers kept (MobileFaceNet: the recipe of docs/model.md
# before EdgeNeXt; EdgeNeXt: the stem and the first two of its four stages, the 56 and 28 px maps)
TUNE_OF_NET: dict[str, tuple[float, int]] = {"mobilefacenet": (2e-4, 8), "edgenext": (2e-4, 3)}


@dataclass
class TrainConfig:
    datasets: list[str]
    out: str
    exclude_people: str | None = None
    epochs: int = 30
    p: int = 32                  # identities per batch
    k: int = 4                   # images per identity
    singles: int = 32            # extra images of one-image people per batch (negatives + distillation)
    lr: float = 3e-3
    weight_decay: float = 5e-4
    loss: str = "triplet-semihard"
    margin: float = 0.2
    distill: float = DEFAULT_DISTILL  # weight of the teacher terms; 0 trains from labels alone
    mix: int = 0                 # blends of two people's faces per batch, distilled only (build_mixes)
    detector: str = DEFAULT_DETECTOR
    device: str | None = None
    seed: int = 0
    workers: int = 2
    calibrate_lfw: str | None = None  # LFW root whose pairsDevTrain.txt calibrates τ
    max_images: int | None = None     # for quick runs and tests
    init_weights: str | None = None   # start from a saved encoder (fine-tuning) instead of random, or
                                      # from a published network (PRETRAINED: "faceplugin")
    members: int = 1                  # networks trained one after another (seeds seed, seed+1, ...), averaged
    precision: str = "fp32"           # "auto": bfloat16 autocast on CPUs that do it natively (faster, see README)
    rotate: float = 0.0               # augmentation: random rotation up to ± this many degrees;
    zoom: float = 0.0                 # and scale in [1 - zoom, 1 + zoom]. Off: 10° and 0.1 cost rank-1 (README)
    arch: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_ARCH))
    # Keep LFW's validation people (app.training.calibration) out of training when an LFW root is among
    # the datasets, and calibrate the open-set table on them afterwards.
    hold_out_validation: bool = True
    # Teachers and their relative weights (app.training.teachers): ONNX ones embed every augmented view
    # online; "dlib" describes each clean photo once. `distill` scales them all.
    teachers: list = field(default_factory=lambda: [["dlib", 1.0]])
    teacher_models: dict[str, str] = field(default_factory=dict)   # name → ONNX file
    unlabelled: list[str] = field(default_factory=list)  # flat folders of aligned 112 crops: teacher terms only
    unlabelled_per_batch: int = 64
    augment: str = "basic"       # "strong": + side light and shadows, glasses and masks, blur, low resolution
    # Faces the teachers' 128-d projections are fitted on: "clean" photos, or "strong": each photo and
    # one strong view of it (turned, side-lit, blurred), so the directions that keep such faces apart
    # survive the projection (docs/experiments.md, "clip regressions traced to the 128-d projection").
    projection_views: str = "clean"
    # Leading layers of the network's body kept as they start (published or fine-tuned weights):
    # their gradients are most of a MobileFaceNet step's cost on CPU (the 56 and 28 px maps).
    freeze: int = 0
    # Share of the people with two or more photos (and of the one-photo people) kept out of
    # training to check the model on (app.training.heldout; the app's Retrain: heldout.CHECK_SHARE).
    # 0: off. Not used when LFW's validation people are held out: they are the check then.
    check_share: float = 0.0


@dataclass
class EpochStats:
    epoch: int                   # counted over all members: member 2's first epoch follows member 1's last
    loss: float
    metric_loss: float
    distill_loss: float
    seconds: float
    member: int = 1


PREPARING, TRAINING = "preparing", "training"  # the phases of TrainingProgress (and CALIBRATING)


@dataclass(frozen=True)
class TrainingProgress:
    """One progress report of `train`, typed (`on_progress`); the text ones (`progress`) say the
    same in words. phase: PREPARING (crops, teachers), TRAINING (a step: epoch and running loss
    known), CALIBRATING (τ, cohort and open-set rule after the epochs; message without prefix)."""
    done: int
    total: int
    message: str
    phase: str
    epoch: int | None = None     # 1-based, within the member being trained
    loss: float | None = None    # the epoch's running mean loss so far
    member: int | None = None    # 1-based, with --members above 1


@dataclass
class TrainResult:
    path: Path
    card: ModelCard
    history: list[EpochStats]


def checkpoint_path(out: str | os.PathLike) -> Path:
    return Path(out).with_suffix(".ckpt")


def _augment(x: torch.Tensor, gen: torch.Generator, rotate: float = 0.0, zoom: float = 0.0) -> torch.Tensor:
    """The cheap views every model trains on (app.training.augment), with optional turns and zooms."""
    return augment(x, gen, Augment(rotate=rotate, zoom=zoom))


def augmentation(cfg: "TrainConfig") -> Augment:
    if cfg.augment not in AUGMENTS:
        raise DatasetError(f"Unknown augmentation {cfg.augment!r}; choose one of {', '.join(AUGMENTS)}.")
    return Augment.strong(cfg.rotate, cfg.zoom) if cfg.augment == "strong" else Augment(rotate=cfg.rotate, zoom=cfg.zoom)


def online_teachers(cfg: "TrainConfig") -> list[str]:
    return [name for name, _ in cfg.teachers if name in ONLINE_TEACHERS]


class PKSampler:
    """Batches of P identities × K images (with replacement when a person has fewer than K),
    plus `singles` images of one-image people, whose distinct labels make them negatives."""

    def __init__(self, labels: np.ndarray, p: int, k: int, singles: int, seed: int):
        self.rng = np.random.default_rng(seed)
        self.p, self.k, self.singles = p, k, singles
        by_label: dict[int, list[int]] = {}
        for i, lab in enumerate(labels):
            by_label.setdefault(int(lab), []).append(i)
        self.multi = [np.array(v) for v in by_label.values() if len(v) >= 2]
        self.single = np.array([v[0] for v in by_label.values() if len(v) == 1], dtype=np.int64)
        if len(self.multi) < 2:
            raise DatasetError("Training needs at least two people with two or more images each.")

    def batch(self) -> np.ndarray:
        ids = self.rng.choice(len(self.multi), size=min(self.p, len(self.multi)), replace=False)
        idx = [self.rng.choice(self.multi[i], size=self.k, replace=len(self.multi[i]) < self.k) for i in ids]
        out = np.concatenate(idx)
        if self.singles and len(self.single):
            out = np.concatenate([out, self.rng.choice(self.single, size=min(self.singles, len(self.single)),
                                                       replace=False)])
        return out


def centre_teacher(teacher: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
    """Subtract the mean teacher embedding (of these rows, or `mean`, e.g. the training set's
    when measuring on others) and re-normalise.

    dlib's unit embeddings all sit in a small cap of the sphere (different people are only ~0.6
    apart), so a student that merely predicts the mean already reaches cosine 0.9 with them while
    separating nobody (measured: 0.72 DevTrain accuracy after 10 epochs). Centring spreads the
    targets over the sphere; it keeps every pairwise difference, so it keeps who is near whom.
    """
    centred = teacher - (teacher.mean(0, keepdims=True) if mean is None else mean)
    return (centred / np.maximum(np.linalg.norm(centred, axis=1, keepdims=True), 1e-8)).astype(np.float32)


def load_training_data(cfg: TrainConfig, progress: ProgressFn = no_progress, cancel: CancelToken | None = None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict, dict[str, np.ndarray] | None]:
    """Crops, labels and (if distilling) teacher embeddings of every usable training image, plus
    (with `cfg.mix`) the blends of `datasets.build_mixes`, whose `pairs` index those rows: one
    blend for every two images, which keeps the teacher's extra pass near 5 minutes on two cores."""
    exclude = read_people_file(cfg.exclude_people) if cfg.exclude_people else set()
    images = scan_identity_folders(cfg.datasets, exclude=exclude)
    held = held_out_people(cfg)
    # chosen among everyone in the folders (before max_images), so the same folders always give
    # the same check people
    check = choose_check_people(name_counts(images), cfg.check_share) if not held else CheckPeople()
    paths_, labels = images.paths, images.labels
    if cfg.max_images is not None and len(paths_) > cfg.max_images:
        paths_, labels = paths_[:cfg.max_images], labels[:cfg.max_images]
    cache = paths.training_cache_dir(cfg.datasets)
    online = bool(online_teachers(cfg)) and cfg.distill > 0
    dlib = cfg.distill > 0 and any(name == "dlib" for name, _ in cfg.teachers)
    # with online teachers the crops are the teachers' 112 px frame; the student's view is cut
    # from each augmented one (app.training.augment.student_view)
    data = build_crops(paths_, FRAME if online else cfg.arch["input_size"], cfg.detector, teacher=dlib,
                       workers=cfg.workers, progress=progress, cancel=cancel,
                       cache_dir=cache, box=FULL_BOX if online else crop_box_of(cfg.arch))
    keep = data["found"] & data["readable"]
    held_images = check_images = 0
    owner = np.asarray(images.names)[labels] if len(labels) else np.zeros(0, str)
    if held:  # dropped after the crops are built, so the crop cache is the same with or without
        out = np.isin(owner, sorted(held))
        held_images = int((keep & out).sum())
        keep &= ~out
    if check:  # the same for the check people
        out = np.isin(owner, sorted(check.names))
        check_images = int((keep & out).sum())
        keep &= ~out
    info: dict[str, Any] = {"images_listed": len(paths_), "images_used": int(keep.sum()),
            "people": int(len(np.unique(labels[keep]))), "excluded_people": len(exclude),
            "detector_misses_dropped": int((~data["found"]).sum())}
    if held:
        info.update({"held_out": VALIDATION_TAG, "held_out_people": len(held),
                     "held_out_images": held_images})
    elif cfg.calibrate_lfw:  # e.g. the app's Retrain on the user's folders: are they all unseen?
        multi, single = validation_people(cfg.calibrate_lfw)
        info["validation_people_trained"] = int(len(set(owner[keep].tolist()) & (multi | single)))
    if check:
        info["check_people"] = {**check.record(), "share": cfg.check_share, "images": check_images}
    elif cfg.check_share > 0 and not held:
        info["check_people"] = {"people": 0, "share": cfg.check_share, "why": check.why}
    teacher = data["teacher"][keep] if "teacher" in data else None
    mixes = None
    if cfg.mix > 0 and teacher is not None:
        kept = np.flatnonzero(keep)
        mixes = build_mixes([paths_[i] for i in kept], labels[kept], len(kept) // 2, cfg.detector,
                            seed=cfg.seed, workers=cfg.workers, progress=progress, cancel=cancel,
                            cache_dir=cache)
    return data["crops"][keep], labels[keep], teacher, info, mixes


def load_unlabelled(cfg: TrainConfig, progress: ProgressFn = no_progress,
                    cancel: CancelToken | None = None) -> np.ndarray | None:
    """The unlabelled aligned faces of `cfg.unlabelled` (None without any): they feed the teacher
    terms only, never the triplet loss (one person may be in several crops)."""
    if not cfg.unlabelled:
        return None
    if not online_teachers(cfg) or cfg.distill <= 0:
        raise DatasetError("Unlabelled faces are learned from a teacher's embeddings: add an ONNX teacher "
                           "(--teacher edgeface or faceplugin) and keep --distill above 0.")
    files = [f for folder in cfg.unlabelled for f in aligned_files(folder)]
    if cfg.max_images is not None:
        files = files[:cfg.max_images]
    if not files:
        raise DatasetError(f"No face images in {', '.join(cfg.unlabelled)}.")
    return read_aligned(files, progress, cancel, cache_dir=paths.cache_dir())


class Projection:
    """A teacher's unit embeddings → the student's 128-d unit space: centred on the training faces'
    mean and projected on their top principal directions. EdgeFace's 512-d embeddings lie in a much
    smaller subspace, so 128 directions keep nearly all of who is near whom (measured in
    docs/experiments.md) and the student can copy the teacher's geometry itself."""

    def __init__(self, sample: np.ndarray, dim: int):
        self.mean = torch.from_numpy(sample.mean(0).astype(np.float32))
        _, _, vt = np.linalg.svd(sample - sample.mean(0), full_matrices=False)
        basis = np.zeros((sample.shape[1], dim), np.float32)  # fewer faces than dim: zero columns
        basis[:, :min(dim, len(vt))] = vt[:dim].T
        self.basis = torch.from_numpy(basis)

    def __call__(self, t: torch.Tensor) -> torch.Tensor:
        return F.normalize((t - self.mean) @ self.basis, dim=1)

    def align_to(self, teacher: torch.Tensor, student: torch.Tensor) -> None:
        """Turn the projected space (an orthogonal map, so no distance changes) onto a student's
        own embeddings of the same faces (orthogonal Procrustes). Why: principal directions refitted
        on other faces come out in another order and sign than the ones a model was trained on, so
        a fine-tune would otherwise be pulled towards a rotated copy of its own space."""
        u, _, vt = torch.linalg.svd(self(teacher).double().T @ student.double())
        self.basis = (self.basis.double() @ (u @ vt)).float()


def projection_sample(crops: np.ndarray, unlabelled: np.ndarray | None, seed: int) -> np.ndarray:
    """Up to PROJECTION_SAMPLE clean faces, labelled and unlabelled alike, that fix the teachers'
    128-d projections (and, for a fine-tune, turn them onto the model being tuned)."""
    rng = np.random.default_rng(seed)
    extra = 0 if unlabelled is None else len(unlabelled)
    pick = np.sort(rng.choice(len(crops) + extra, min(PROJECTION_SAMPLE, len(crops) + extra), replace=False))
    # only the picked faces are gathered: the two sets together are about a gigabyte at 112 px
    sample = crops[pick[pick < len(crops)]]
    if unlabelled is not None and extra:
        sample = np.concatenate([sample, unlabelled[pick[pick >= len(crops)] - len(crops)]])
    return sample


def fit_projections(teachers: list[tuple[OnnxTeacher, float]], sample: np.ndarray, dim: int,
                    progress: ProgressFn = no_progress, views: str = "clean",
                    seed: int = 0) -> tuple[list[Projection], list[np.ndarray]]:
    """One `Projection` per teacher from its embeddings of `sample` (with `views="strong"`, and of
    one strong view of each); the clean embeddings too."""
    if views not in AUGMENTS_OF_PROJECTION:
        raise DatasetError(f"Unknown projection views {views!r}; choose one of {', '.join(AUGMENTS_OF_PROJECTION)}.")
    out, seen = [], []
    for i, (teacher, _) in enumerate(teachers):
        progress(i, len(teachers), f"{teacher.name}: fitting the 128-d projection")
        seen.append(teacher.embed_crops(sample))
        fitted = seen[-1]
        if views == "strong":
            fitted = np.concatenate([fitted, _strong_view_embeddings(teacher, sample, seed)])
        out.append(Projection(fitted, dim))
    return out, seen


def _strong_view_embeddings(teacher: OnnxTeacher, sample: np.ndarray, seed: int, batch: int = 64) -> np.ndarray:
    """The teacher's embeddings of one `Augment.strong(PROJECTION_TURN, PROJECTION_ZOOM)` view of each face."""
    from app.recognition.encoder import to_tensor
    gen = torch.Generator().manual_seed(seed + 2)
    aug = Augment.strong(PROJECTION_TURN, PROJECTION_ZOOM)
    parts = [teacher.embed(augment(to_tensor(sample[i:i + batch]), gen, aug, FULL_BOX)).numpy()
             for i in range(0, len(sample), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, teacher.dim), np.float32)


def held_out_people(cfg: TrainConfig) -> set[str]:
    """The validation people this run keeps out (empty without an LFW root or with the option off)."""
    lfw = _validation_lfw(cfg)
    if lfw is None:
        return set()
    multi, single = validation_people(lfw)
    return multi | single


def _open_set_lfw(cfg: TrainConfig, info: dict, start: Encoder | None) -> str | None:
    """The LFW root whose validation people can calibrate this run's open-set table: they were
    held out, or (a run on other data asked to calibrate on LFW) none of them was trained on,
    here or by the model it fine-tunes."""
    if info.get("held_out") == VALIDATION_TAG:
        return _validation_lfw(cfg)
    started_clean = start is None or (start.card.training.get("data") or {}).get("held_out") == VALIDATION_TAG
    if cfg.calibrate_lfw and info.get("validation_people_trained") == 0 and started_clean:
        return cfg.calibrate_lfw
    return None


def _validation_lfw(cfg: TrainConfig) -> str | None:
    if not cfg.hold_out_validation:
        return None
    for r in cfg.datasets:
        if (Path(r) / "protocol" / "peopleDevTrain.txt").is_file():
            return r
    return None


def use_bf16(cfg: TrainConfig, device: torch.device) -> bool:
    """bfloat16 autocast for this run: asked for, or "auto" on a CPU that does it natively (about
    twice the training speed there; losses and the optimiser stay in float32)."""
    if cfg.precision not in PRECISIONS:
        raise DatasetError(f"Unknown precision {cfg.precision!r}; choose one of {', '.join(PRECISIONS)}.")
    if device.type != "cpu":
        return False
    return cfg.precision == "bf16" or (cfg.precision == "auto" and bf16_native())


def _start_network(cfg: TrainConfig) -> tuple[Encoder | None, FaceNet | Published | None, bool]:
    """What the student starts from: (the model it fine-tunes, its network, started from a
    published network); `cfg.arch` becomes the starting network's. (None, None, False): afresh."""
    start: Encoder | None = None
    start_net: FaceNet | Published | None = None
    pretrained = cfg.init_weights in PRETRAINED
    if pretrained and cfg.init_weights is not None:
        from app.training.pretrained import COPY_PUBLISHED
        if cfg.members > 1:
            raise DatasetError(f"Starting from a published network (--init {cfg.init_weights}) trains one network "
                               "(--members 1).")
        cfg.arch = dict(PUBLISHED_ARCH[cfg.init_weights])
        # found and checked (SHA-256) as the teacher of that name is
        published = OnnxTeacher(cfg.init_weights, cfg.teacher_models.get(cfg.init_weights)).path
        start_net = COPY_PUBLISHED[cfg.init_weights](published, int(cfg.arch["dim"]))
    elif cfg.init_weights:
        start = Encoder.load(cfg.init_weights, "cpu")
        if cfg.members > 1 or not isinstance(start.net, (FaceNet, *PUBLISHED_NETS.values())):
            raise DatasetError("Fine-tuning (--init) works on one network: a single-network model, "
                               "with --members 1.")
        cfg.arch = dict(start.card.arch)
        start_net = start.net
    return start, start_net, pretrained


def _new_card(cfg: TrainConfig, arch: dict, info: dict, history: list[EpochStats], device: torch.device,
              bf16: bool, seconds: float, online: list, teacher: np.ndarray | None, dlib_weight: float,
              weight_sum: float, unlabelled: np.ndarray | None, mixes: dict | None, pretrained: bool) -> ModelCard:
    """The new model's card before calibration: its architecture, and how it was trained (the
    config, data, signals, teachers and their licences, the network it started from)."""
    card = ModelCard(arch=arch, version=f"{Path(cfg.out).stem}-{int(time.time())}")
    if arch.get("net") in PUBLISHED_NETS:  # the mirror image's second pass would double the cost a face
        card.inference["flip_tta"] = False
    card.training = {
        "config": {k: v for k, v in asdict(cfg).items() if k not in ("arch",)},
        "data": info, "epochs_run": len(history), "seconds": seconds,
        "device": str(device), "precision": "bf16 autocast" if bf16 else "fp32",
        "final_loss": history[-1].loss if history else None,
        "signals": _signals_of_no_step(cfg, online, pretrained) if not history else
                   ["triplet" if cfg.loss.startswith("triplet") else "contrastive"]
                   + ([f"distillation (dlib ResNet teacher, weight {cfg.distill * dlib_weight:g})", "relational distances"]
                      if teacher is not None else [])
                   + [f"online distillation of every augmented view from {t.name} (weight {cfg.distill * w / weight_sum:g}, "
                      "its embedding projected to 128-d), relational distances" for t, w in online]
                   + ([f"{len(unlabelled)} unlabelled aligned faces, {cfg.unlabelled_per_batch} a batch, teacher terms only"]
                      if unlabelled is not None else [])
                   + ([f"{cfg.augment} augmentation"] if cfg.augment != "basic" else [])
                   + ([f"distillation on {len(mixes['lam'])} blends of two people's faces, {cfg.mix} a batch"]
                      if mixes is not None else [])
                   + ([f"mean of {cfg.members} networks trained from seeds {cfg.seed}–{cfg.seed + cfg.members - 1}"]
                      if cfg.members > 1 else []),
    }
    teachers_used = [t.describe(w) for t, w in online]
    if teacher is not None:
        teachers_used.append({"name": "dlib", "model": "dlib ResNet-29 (face_recognition_models)", "weight": dlib_weight,
                              "licence": "the terms of face_recognition_models and dlib's model files"})
    card.training["teachers"] = teachers_used
    if pretrained:  # the published network the student started from, and its terms
        from app.training.teachers import SPECS
        spec = SPECS[str(cfg.init_weights)]
        card.training["initialised_from"] = {"name": cfg.init_weights, "model": spec.model, "file": spec.filename,
                                             "sha256": spec.sha256, "licence": spec.licence,
                                             "frozen_layers": cfg.freeze}
    return card


@dataclass
class _Teachers:
    """The distillation targets: the ONNX teachers that embed every view, their projections to the
    student's space, and the weights of those and of the dlib teacher (each share of the total)."""
    online: list[tuple[OnnxTeacher, float]]
    weight_sum: float
    dlib_weight: float
    projections: list[Projection] = field(default_factory=list)


@dataclass
class _Data:
    """The training people's crops and what rides with them (dlib targets, blends, unlabelled faces),
    and the tensors every batch indexes."""
    crops: np.ndarray
    labels: np.ndarray
    teacher: np.ndarray | None
    info: dict
    mixes: dict | None
    unlabelled: np.ndarray | None
    labels_t: torch.Tensor = field(init=False)
    teacher_t: torch.Tensor | None = field(init=False)
    mix_t: torch.Tensor | None = None
    mix_pairs: np.ndarray | None = None
    mix_lam: torch.Tensor | None = None

    def __post_init__(self) -> None:
        self.teacher_t = torch.from_numpy(centre_teacher(self.teacher)) if self.teacher is not None else None
        if self.mixes is not None and self.teacher is not None:  # centred on the real faces' mean, like the
            # targets they sit between (mixes are only made with a teacher)
            self.mix_t = torch.from_numpy(centre_teacher(self.mixes["teacher"], self.teacher.mean(0, keepdims=True)))
            self.mix_pairs = self.mixes["pairs"]
            self.mix_lam = torch.from_numpy(self.mixes["lam"])[:, None, None, None]
        self.labels_t = torch.from_numpy(self.labels)


@dataclass
class _Run:
    """What every epoch of one training run reads: the config, data, teachers and schedule, and
    whom to tell of progress."""
    cfg: TrainConfig
    device: torch.device
    bf16: bool
    aug: Augment
    box: Any
    data: _Data
    teachers: _Teachers
    cancel: CancelToken
    say: ProgressFn
    on_progress: Callable[[TrainingProgress], None] | None
    on_epoch: Callable[[EpochStats], None] | None
    steps_per_epoch: int = field(init=False)
    total_steps: int = field(init=False)
    warmup: int = field(init=False)

    def __post_init__(self) -> None:
        batch_size = self.cfg.p * self.cfg.k + self.cfg.singles
        self.steps_per_epoch = max(1, math.ceil(len(self.data.crops) / batch_size))
        self.total_steps = self.cfg.epochs * self.steps_per_epoch
        self.warmup = max(1, self.total_steps // 20)


def _choose_teachers(cfg: TrainConfig) -> _Teachers:
    """The teachers `cfg` names, loaded (the ONNX ones only when distilling), and their weights."""
    chosen = parse_teachers([f"{n}:{w}" for n, w in cfg.teachers])
    if cfg.distill > 0 and not chosen:
        raise DatasetError("Distillation (--distill above 0) needs a teacher (--teacher).")
    online = load_teachers(chosen, cfg.teacher_models) if cfg.distill > 0 else []
    if online and cfg.mix > 0:
        raise DatasetError("Blends (--mix) are made for the dlib teacher; the ONNX teachers see every "
                           "augmented view instead.")
    weight_sum = sum(w for _, w in chosen) or 1.0
    dlib_weight = sum(w for n, w in chosen if n == "dlib") / weight_sum
    return _Teachers(online, weight_sum, dlib_weight)


def _load_data(cfg: TrainConfig, progress: ProgressFn, cancel: CancelToken) -> _Data:
    """The training people (the held-out check people left out) and the unlabelled faces."""
    crops, labels, teacher, info, mixes = load_training_data(cfg, progress, cancel)
    unlabelled = load_unlabelled(cfg, progress, cancel)
    if unlabelled is not None:
        info["unlabelled_images"] = len(unlabelled)
    return _Data(crops, labels, teacher, info, mixes, unlabelled)


def _fit_teachers(cfg: TrainConfig, teachers: _Teachers, data: _Data, start: Encoder | None,
                  start_net: FaceNet | Published | None, pretrained: bool, progress: ProgressFn) -> None:
    """Each ONNX teacher's projection to the student's space (a fine-tune's: to the model it tunes),
    and a published starting network's 128-d head fitted to the first teacher."""
    if teachers.online:
        sample = projection_sample(data.crops, data.unlabelled, cfg.seed)
        teachers.projections, seen = fit_projections(teachers.online, sample, int(cfg.arch.get("dim", 128)), progress,
                                                     cfg.projection_views, cfg.seed)
        if start is not None:  # a fine-tune: the targets in the active model's own space
            _align_projections(start, teachers.projections, seen, sample)
    if pretrained:
        if not teachers.online:
            raise DatasetError(f"Starting from a published network (--init {cfg.init_weights}) needs an ONNX teacher "
                               "(--teacher edgeface) to set its 128-d head from.")
        progress(0, 1, "fitting the student's 128-d head to the teacher")
        assert start_net is not None and not isinstance(start_net, FaceNet)  # made from the published network
        _fit_pretrained_head(start_net, teachers.online[0][0], teachers.projections[0], data.crops, cfg.seed)


def _batch(run: _Run, sampler: PKSampler, gen: torch.Generator
           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
    """One batch, drawn in a fixed order (people, blends, unlabelled faces, augmentation): the
    labelled indices, the student's views, the blends drawn and the ONNX teachers' embeddings."""
    cfg, data = run.cfg, run.data
    idx = torch.from_numpy(sampler.batch())
    x = to_tensor(data.crops[idx.numpy()])
    m = None
    if data.mixes is not None:
        assert data.mix_pairs is not None and data.mix_lam is not None
        m = torch.randint(0, len(data.mix_pairs), (cfg.mix,), generator=gen)
        a, b = data.mix_pairs[m.numpy()].T
        lam = data.mix_lam[m]
        x = torch.cat([x, lam * to_tensor(data.crops[a]) + (1 - lam) * to_tensor(data.crops[b])])
    if data.unlabelled is not None and cfg.unlabelled_per_batch > 0:
        u = torch.randint(0, len(data.unlabelled), (cfg.unlabelled_per_batch,), generator=gen)
        x = torch.cat([x, to_tensor(data.unlabelled[u.numpy()])])
    views: list[torch.Tensor] = []
    if run.teachers.online:  # the teachers see the very view the student sees, cut to its frame
        x = augment(x, gen, run.aug, FULL_BOX)
        views = [t.embed(x) for t, _ in run.teachers.online]
        x = student_view(x, cfg.arch["input_size"], run.box)
    else:
        x = augment(x, gen, run.aug, run.box)
    return idx, x, m, views


def _losses(run: _Run, net: torch.nn.Module, idx: torch.Tensor, x: torch.Tensor, m: torch.Tensor | None,
            views: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """The metric loss on the labelled faces and the teachers' terms on every view."""
    cfg, data, teachers = run.cfg, run.data, run.teachers
    x = x.to(run.device)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=run.bf16):
        emb_all = net(x)
    if run.bf16:  # losses in float32, on vectors made unit again after bfloat16 rounding
        emb_all = F.normalize(emb_all.float(), dim=1)
    emb = emb_all[:len(idx)]
    lab = data.labels_t[idx].to(run.device)
    if cfg.loss == "contrastive":
        metric = contrastive_loss(emb, lab, margin=1.0)
    else:
        metric = triplet_loss(emb, lab, cfg.margin, "hard" if cfg.loss == "triplet-hard" else "semihard")
    dist = emb.sum() * 0.0
    if data.teacher_t is not None and cfg.distill > 0:
        if m is None:
            t = data.teacher_t[idx]
        else:
            assert data.mix_t is not None
            t = torch.cat([data.teacher_t[idx], data.mix_t[m]])
        t = t.to(run.device)
        seen = emb_all[:len(t)]  # dlib knows the labelled photos (and blends) only
        dist = dist + cfg.distill * teachers.dlib_weight * (distillation_loss(seen, t) + relational_loss(seen, t))
    for (_, w), project, v in zip(teachers.online, teachers.projections, views):
        t = project(v).to(run.device)
        dist = dist + cfg.distill * w / teachers.weight_sum * (distillation_loss(emb_all, t) + relational_loss(emb_all, t))
    return metric, dist


def _run_epoch(run: _Run, net: torch.nn.Module, opt: torch.optim.Optimizer,
               sched: torch.optim.lr_scheduler.LRScheduler, sampler: PKSampler, gen: torch.Generator,
               member: int, epoch: int) -> np.ndarray:
    """One epoch's steps, each told as progress; the sums of (loss, metric, distillation)."""
    cfg = run.cfg
    sums = np.zeros(3)
    for step in range(run.steps_per_epoch):
        run.cancel.raise_if_cancelled()
        idx, x, m, views = _batch(run, sampler, gen)
        metric, dist = _losses(run, net, idx, x, m, views)
        loss = metric + dist
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        sums += [loss.item(), metric.item(), dist.item()]
        done_steps = (member * cfg.epochs + epoch) * run.steps_per_epoch + step + 1
        who = f"member {member + 1}/{cfg.members}, " if cfg.members > 1 else ""
        running = float(sums[0] / (step + 1))
        text = f"{who}epoch {epoch + 1}/{cfg.epochs} loss {running:.4f}"
        run.say(done_steps, cfg.members * run.total_steps, text)
        if run.on_progress is not None:
            run.on_progress(TrainingProgress(done_steps, cfg.members * run.total_steps, text, TRAINING,
                                             epoch + 1, running, member + 1 if cfg.members > 1 else None))
    return sums


def _new_member(run: _Run, start_net: FaceNet | Published | None, member: int
                ) -> tuple[torch.nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR, PKSampler,
                           torch.Generator]:
    """One member's network, optimiser, schedule, sampler and generator, all from its own seed."""
    cfg, warmup, total_steps = run.cfg, run.warmup, run.total_steps
    seed = cfg.seed + member
    torch.manual_seed(seed)
    random.seed(seed)
    net = start_net.train() if start_net is not None else build_net(cfg.arch)
    # ignore: torch's stub overloads of Module.to leave out memory_format, which it takes
    net = net.to(run.device, memory_format=net.memory_format)  # type: ignore[call-overload]
    opt = torch.optim.AdamW(_trainable(net, cfg.freeze), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warmup, 0.5 * (1 + math.cos(
        math.pi * min(1.0, max(0, s - warmup) / max(1, total_steps - warmup))))))
    return net, opt, sched, PKSampler(run.data.labels, cfg.p, cfg.k, cfg.singles, seed), torch.Generator().manual_seed(seed)


def _save_checkpoint(ckpt: Path, cfg: TrainConfig, net: torch.nn.Module, opt: torch.optim.Optimizer,
                     sched: torch.optim.lr_scheduler.LRScheduler, sampler: PKSampler, gen: torch.Generator,
                     member: int, epoch: int, done: list[dict], history: list[EpochStats]) -> None:
    # atomic: a crash or full disk mid-write keeps the previous epoch's checkpoint
    with atomic_write(ckpt) as f:
        torch.save({"net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                    "sampler_rng": sampler.rng, "gen": gen.get_state(), "epoch": epoch,
                    "member": member, "done_members": done,
                    "history": [asdict(h) for h in history], "config": asdict(cfg)}, f)


def _train_members(run: _Run, start_net: FaceNet | Published | None, ckpt: Path, state: dict | None,
                   history: list[EpochStats], done: list[dict], member: int, start_epoch: int) -> None:
    """The members one after another, from `member` and `start_epoch` (a resumed checkpoint's
    `state`), each epoch checkpointed; each finished member's weights join `done`."""
    cfg = run.cfg
    epoch = start_epoch
    try:
        for member in range(member, cfg.members):
            net, opt, sched, sampler, gen = _new_member(run, start_net, member)
            if state is not None and start_epoch > 0:
                net.load_state_dict(state["net"])
                opt.load_state_dict(state["opt"])
                sched.load_state_dict(state["sched"])
                sampler.rng = state["sampler_rng"]
                gen.set_state(state["gen"])
            for epoch in range(start_epoch, cfg.epochs):
                net.train()
                t0 = time.time()
                sums = _run_epoch(run, net, opt, sched, sampler, gen, member, epoch)
                mean_loss, mean_metric, mean_distill = (sums / run.steps_per_epoch).tolist()
                stats = EpochStats(member * cfg.epochs + epoch + 1, mean_loss, mean_metric, mean_distill,
                                   time.time() - t0, member + 1)
                history.append(stats)
                if epoch + 1 < cfg.epochs:
                    _save_checkpoint(ckpt, cfg, net, opt, sched, sampler, gen, member, epoch + 1, done, history)
                if run.on_epoch:
                    run.on_epoch(stats)
            done.append({k: v.detach().cpu() for k, v in net.state_dict().items()})
            # this member is finished: --resume starts the next
            _save_checkpoint(ckpt, cfg, net, opt, sched, sampler, gen, member + 1, 0, done, history)
            start_epoch, state = 0, None
    except (Cancelled, KeyboardInterrupt):
        raise Cancelled(f"Training cancelled during epoch {epoch + 1}; checkpoint of {len(history)} "
                        f"finished epoch(s) kept at {ckpt} (continue with --resume).") from None


def train(cfg: TrainConfig, resume: bool = False, progress: ProgressFn = no_progress,
          cancel: CancelToken | None = None,
          on_epoch: Callable[[EpochStats], None] | None = None,
          on_progress: Callable[[TrainingProgress], None] | None = None) -> TrainResult:
    """Train, checkpoint every epoch, calibrate τ, save weights + model card to `cfg.out`.

    `progress` is told in words (the CLI prints it), `on_progress` the same as `TrainingProgress`
    (the GUI's loss curve reads its `loss`).

    With `cfg.members` > 1 the networks are trained one after another on the same data, each
    from its own seed, and saved together as one `FaceEnsemble`.
    Cancelling (CancelToken or KeyboardInterrupt) saves a checkpoint of the finished epochs and
    raises `Cancelled`; the output model is only written when training completes.
    The steps, in order: the start network, the teachers, the data, the teachers' projections, the
    members' epochs, the card, the calibration.
    """
    if cfg.loss not in LOSSES:
        raise DatasetError(f"Unknown loss {cfg.loss!r}; choose one of {', '.join(LOSSES)}.")
    if cfg.members < 1:
        raise DatasetError(f"--members must be 1 or more, not {cfg.members}.")
    cancel = cancel or CancelToken()
    say = progress  # in words, every phase

    def preparing(done: int, total: int, message: str = "") -> None:
        say(done, total, message)
        if on_progress is not None:
            on_progress(TrainingProgress(int(done), int(total), message, PREPARING))

    device = resolve_device(cfg.device)
    bf16 = use_bf16(cfg, device)
    start, start_net, pretrained = _start_network(cfg)
    t_data = time.time()
    aug = augmentation(cfg)
    teachers = _choose_teachers(cfg)
    data = _load_data(cfg, preparing, cancel)
    box = crop_box_of(cfg.arch)
    _fit_teachers(cfg, teachers, data, start, start_net, pretrained, preparing)
    run = _Run(cfg, device, bf16, aug, box, data, teachers, cancel, say, on_progress, on_epoch)
    history: list[EpochStats] = []
    done: list[dict] = []  # state dicts of the members already trained
    member, start_epoch = 0, 0
    ckpt = checkpoint_path(cfg.out)
    state = None
    if resume and ckpt.is_file():
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        history = [EpochStats(**h) for h in state["history"]]
        done = state.get("done_members", [])
        member, start_epoch = state.get("member", 0), state["epoch"]
    t_start = time.time()
    stages = {"data": round(t_start - t_data, 1)}  # crops, unlabelled faces, projections (cached: seconds)
    _train_members(run, start_net, ckpt, state, history, done, member, start_epoch)
    return _card_and_calibration(run, start, pretrained, history, done, ckpt, t_start, stages)


def _card_and_calibration(run: _Run, start: Encoder | None, pretrained: bool, history: list[EpochStats],
                          done: list[dict], ckpt: Path, t_start: float, stages: dict) -> TrainResult:
    """The trained members as one network, its card, τ calibrated (training.calibration), saved."""
    cfg, device, say, on_progress = run.cfg, run.device, run.say, run.on_progress
    arch = {**cfg.arch, "members": cfg.members} if cfg.members > 1 else dict(cfg.arch)
    net = build_net(arch)
    for member_net, weights in zip(getattr(net, "members", [net]), done, strict=True):
        member_net.load_state_dict(weights)
    # ignore: torch's stub overloads of Module.to leave out memory_format, which it takes
    net = net.to(device, memory_format=net.memory_format).eval()  # type: ignore[call-overload]
    data, teachers = run.data, run.teachers
    card = _new_card(cfg, arch, data.info, history, device, run.bf16, round(time.time() - t_start, 1),
                     teachers.online, data.teacher, teachers.dlib_weight, teachers.weight_sum, data.unlabelled,
                     data.mixes, pretrained)
    lfw = cfg.calibrate_lfw or _find_lfw(cfg.datasets)
    calibration_lfw = _open_set_lfw(cfg, data.info, start)

    def calibrating(done: int, total: int, message: str = "") -> None:
        say(done, total, f"{CALIBRATING}: {message}" if message else CALIBRATING)
        if on_progress is not None:
            on_progress(TrainingProgress(int(done), int(total), message, CALIBRATING))

    try:
        calibrate_trained(net, card, device, lfw, calibration_lfw, cfg.detector, cfg.workers,
                          progress=calibrating, cancel=run.cancel)
    except (Cancelled, KeyboardInterrupt):
        raise Cancelled(f"Cancelled while calibrating; the {len(history)} trained epoch(s) are kept at {ckpt} "
                        "(--resume calibrates and saves the model).") from None
    stages["training"] = card.training["seconds"]
    stages["calibration"] = round(time.time() - t_start - card.training["seconds"], 1)
    card.training["stages_seconds"] = stages
    path = save_model(net.cpu(), card, cfg.out)
    return TrainResult(path, card, history)


def fine_tune_settings(card: ModelCard) -> tuple[float, int]:
    """Learning rate and frozen layers for fine-tuning a saved model (the app's Retrain): never
    above the rate it was trained with, nor above its kind's fine-tuning rate, and at least the
    layers its own run kept frozen, so a fine-tune adjusts the model rather than wiping it out."""
    base_lr, base_freeze = TUNE_OF_NET.get(str(card.arch.get("net")), (FINE_TUNE_LR, 0))
    config = card.training.get("config") or {}
    lr, freeze = config.get("lr"), config.get("freeze")
    lr = min(base_lr, float(lr)) if isinstance(lr, (int, float)) and lr > 0 else base_lr
    freeze = freeze if isinstance(freeze, int) and freeze > base_freeze else base_freeze
    return lr, freeze


def _trainable(net: torch.nn.Module, freeze: int) -> list[torch.nn.Parameter]:
    """The parameters to train: all but those of the body's first `freeze` layers."""
    if freeze == 0:
        return list(net.parameters())
    body = list(getattr(net, "body", []))
    if not 0 <= freeze < len(body):
        raise DatasetError(f"--freeze takes 0 to {len(body) - 1} layers, not {freeze}.")
    for layer in body[:freeze]:
        layer.requires_grad_(False)
    return [p for p in net.parameters() if p.requires_grad]


def _fit_pretrained_head(net: Published, teacher: OnnxTeacher, project: "Projection", crops: np.ndarray,
                         seed: int) -> None:
    """The head of a network started from published weights: the least-squares map from its
    features to the teacher's projected embeddings of PROJECTION_SAMPLE clean training faces."""
    from app.training.pretrained import fit_head
    rng = np.random.default_rng(seed + 1)
    pick = np.sort(rng.choice(len(crops), min(PROJECTION_SAMPLE, len(crops)), replace=False))
    x = to_tensor(crops[pick])
    fit_head(net, x, project(torch.from_numpy(teacher.embed_crops(crops[pick]))))


def _signals_of_no_step(cfg: TrainConfig, online: list[tuple[OnnxTeacher, float]], pretrained: bool) -> list[str]:
    """What a model made without a single training step (`--epochs 0`) learned from: no loss ran,
    so the card must not list one."""
    if pretrained and online:
        return [f"no training step: {cfg.init_weights}'s network as published, its 128-d head the least-squares "
                f"map onto {online[0][0].name}'s embeddings projected on their top 128 principal directions"]
    return ["no training step: the starting network as it was"]


def _align_projections(start: Encoder, projections: list["Projection"], seen: list[np.ndarray],
                       sample: np.ndarray) -> None:
    """`Projection.align_to` the model being fine-tuned, on the faces the projections were fitted on
    (`seen`: each teacher's embeddings of `sample`)."""
    student = torch.from_numpy(start.embed(recrop(sample, start.input_size, start.crop_box)))
    for project, teacher in zip(projections, seen):
        project.align_to(torch.from_numpy(teacher), student)


def _find_lfw(roots: list[str]) -> str | None:
    for r in roots:
        if (Path(r) / "protocol" / "pairsDevTrain.txt").is_file():
            return r
    return None


