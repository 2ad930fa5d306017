"""Face datasets on disk: folder-per-identity trees (LFW's `images/`, `celeba_faces/`), LFW's
protocol files, and the cache of aligned crops (and teacher embeddings) built from them.

Building the cache runs detection + alignment once per image with the same code as enrolment and
live frames; training then reads uint8 crops from one .npz instead of decoding JPEGs every epoch.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.atomic import atomic_write
from app.errors import DatasetError, OneShotError
from app.imageio import IMAGE_EXTENSIONS, load_image
from app.progress import CancelToken, ProgressFn, no_progress
from app.recognition.alignment import FULL_BOX, align
from app.recognition.detection import DEFAULT_DETECTOR, Face, create_detector

IMAGE_EXTS = IMAGE_EXTENSIONS  # the same photo types as `watch` and enrolment read


@dataclass
class ImageList:
    paths: list[str]
    labels: np.ndarray  # int identity index per image
    names: list[str]    # identity names, indexed by label


def read_people_file(path: str | os.PathLike) -> set[str]:
    """Names from an LFW `people*.txt` file (or any file with one name per line, tab-separated
    extras ignored; numeric header lines skipped)."""
    names = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        parts = line.strip().split("\t")
        if not parts[0] or parts[0].isdigit():
            continue
        names.add(parts[0])
    return names


def scan_identity_folders(roots: Sequence[str | os.PathLike], exclude: set[str] | None = None,
                          min_images: int = 1) -> ImageList:
    """All images under `root/<person>/`, one label per (root, person) folder."""
    exclude = exclude or set()
    paths: list[str] = []
    labels: list[int] = []
    names: list[str] = []
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"Dataset folder {root} does not exist.")
        # LFW keeps its people under images/.
        if (root / "images").is_dir() and not any(
                p.suffix.lower() in IMAGE_EXTS for p in root.glob("*.*")):
            root = root / "images"
        for person_dir in sorted(p for p in root.iterdir() if p.is_dir()):
            if person_dir.name in exclude:
                continue
            files = sorted(str(f) for f in person_dir.iterdir() if f.suffix.lower() in IMAGE_EXTS)
            if len(files) < min_images:
                continue
            label = len(names)
            names.append(person_dir.name)
            paths.extend(files)
            labels.extend([label] * len(files))
    if not paths:
        raise DatasetError(f"No images found under {', '.join(map(str, roots))}.")
    return ImageList(paths, np.asarray(labels, dtype=np.int64), names)


def lfw_image_path(lfw_dir: str | os.PathLike, name: str, number: int) -> str:
    return str(Path(lfw_dir) / "images" / name / f"{name}_{number:04d}.jpg")


def read_pairs(path: str | os.PathLike) -> list[tuple[str, int, str, int, bool]]:
    """LFW pairs file → (name1, n1, name2, n2, same)."""
    pairs = []
    for line in Path(path).read_text(encoding="utf-8").splitlines()[1:]:
        parts = line.strip().split("\t")
        if len(parts) == 3:
            pairs.append((parts[0], int(parts[1]), parts[0], int(parts[2]), True))
        elif len(parts) == 4:
            pairs.append((parts[0], int(parts[1]), parts[2], int(parts[3]), False))
    return pairs


def fallback_face(shape: tuple[int, ...]) -> Face:
    """Used when the detector misses a face in a dataset image that is known to be a centred face
    crop (LFW, CelebA cut like LFW): a box over the middle 40% of the image. The same rule applies
    to every model evaluated, so misses never favour one."""
    h, w = shape[:2]
    side = 0.4 * min(h, w)
    return Face(((w - side) / 2, (h - side) / 2 + 0.03 * h, side, side), 0.0, None)


# ---- crop cache ------------------------------------------------------------------------------

_worker_state: dict = {}


def _init_worker(detector_kind: str, detector_model: str | None, teacher: bool) -> None:
    import cv2
    cv2.setNumThreads(1)
    _worker_state["detector"] = create_detector(detector_kind, detector_model)
    _worker_state["teacher"] = None
    if teacher:
        from app.recognition.dlib_teacher import DlibTeacher
        _worker_state["teacher"] = DlibTeacher()


def _process(args: tuple[str, int, tuple[float, float, float]]
             ) -> tuple[np.ndarray, np.ndarray | None, bool, bool]:
    path, size, box = args
    try:
        rgb = load_image(path)
    except OneShotError:
        return np.zeros((size, size, 3), np.uint8), None, False, False
    face = _worker_state["detector"].detect_central(rgb)
    found = face is not None
    if face is None:
        face = fallback_face(rgb.shape)
    crop = align(rgb, face, size, box)
    t = _worker_state["teacher"]
    emb = t.embed(rgb, face) if t is not None else None
    return crop, emb, found, True


def _teacher_cache_file(cache_dir: str | os.PathLike, paths: list[str], detector_kind: str) -> Path:
    """Teacher embeddings depend on the images and the detected boxes, not on the crop size, so
    they are cached apart: training at another input size skips the slow dlib pass (~10 min)."""
    key = hashlib.sha256("\n".join([detector_kind, "teacher-v1", *paths]).encode()).hexdigest()[:16]
    return Path(cache_dir) / f"teacher-{detector_kind}-{key}.npz"


def build_crops(paths: list[str], size: int, detector_kind: str = DEFAULT_DETECTOR,
                detector_model: str | None = None, teacher: bool = False, workers: int = 2,
                progress: ProgressFn = no_progress, cancel: CancelToken | None = None,
                cache_dir: str | os.PathLike | None = None,
                box: tuple[float, float, float] = FULL_BOX) -> dict[str, np.ndarray]:
    """Detect (central face), align (to `box` of the canonical frame) and optionally
    teacher-embed each image.

    Returns arrays `crops` (N,S,S,3 uint8), `found` (detector hit), `readable`, and `teacher`
    (N,128) when asked. Results are cached under `cache_dir` keyed by the inputs; teacher
    embeddings also on their own, whatever the crop size.
    """
    x0, y0, side = map(float, box)
    box = (x0, y0, side)
    # the full frame keeps the key it had before boxes existed, so old caches stay valid
    tag = [] if box == FULL_BOX else ["box", *map(repr, box)]
    key = hashlib.sha256("\n".join([str(size), detector_kind, str(teacher), "v1", *tag, *paths])
                         .encode()).hexdigest()[:16]
    cache_file = Path(cache_dir) / f"crops-{detector_kind}-{size}-{key}.npz" if cache_dir else None
    if cache_file is not None and cache_file.is_file():
        with np.load(cache_file) as data:
            return {k: data[k] for k in data.files}
    teacher_file = _teacher_cache_file(cache_dir, paths, detector_kind) if cache_dir and teacher else None
    known_teacher = None
    if teacher_file is not None and teacher_file.is_file():
        with np.load(teacher_file) as data:
            known_teacher = data["teacher"]
    out = _align_all(paths, size, box, detector_kind, detector_model,
                     teacher and known_teacher is None, workers, progress, cancel)
    if known_teacher is not None:
        out["teacher"] = known_teacher
    elif teacher_file is not None:
        with atomic_write(teacher_file) as f:
            np.savez(f, teacher=out["teacher"])
    if cache_file is not None:
        with atomic_write(cache_file) as f:  # a killed run leaves no half-written cache behind
            # ignore: numpy's stub has a keyword `allow_pickle`, which mypy takes a str-keyed ** to fill
            np.savez(f, **out)  # type: ignore[arg-type]
    return out


def build_mixes(paths: list[str], labels: np.ndarray, count: int, detector_kind: str = DEFAULT_DETECTOR,
                detector_model: str | None = None, seed: int = 0, lam: tuple[float, float] = (0.2, 0.8),
                workers: int = 2, progress: ProgressFn = no_progress, cancel: CancelToken | None = None,
                cache_dir: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """Faces no photo shows, for distillation: `count` blends of two images of different people
    (`pairs` (N,2) rows of `paths`, weight `lam` (N,) of the first), with the teacher's
    embedding of the same blend of its own aligned chips (`teacher` (N,128)). dlib takes about
    0.14 s a blend on one core, so the count is what this costs.

    Why: the student copies the teacher well on training faces and worse on new people, and the
    people are what is scarce. A blend of two aligned faces is a plausible third face whose
    teacher embedding lies between theirs, so every blend is a new point of the teacher's space
    to copy. The student blends its own crops of the two images with the same weight.
    """
    labels = np.asarray(labels)
    key = hashlib.sha256("\n".join([detector_kind, "mix-v1", str(count), str(seed), repr(tuple(lam)),
                                     hashlib.sha256(labels.tobytes()).hexdigest(), *paths])
                         .encode()).hexdigest()[:16]
    cache_file = Path(cache_dir) / f"mixes-{detector_kind}-{key}.npz" if cache_dir else None
    if cache_file is not None and cache_file.is_file():
        with np.load(cache_file) as data:
            return {k: data[k] for k in data.files}
    rng = np.random.default_rng(seed)
    if len(np.unique(labels)) < 2:
        raise DatasetError("Blending faces needs images of at least two people.")
    n = count
    first = rng.integers(0, len(paths), n)
    partner = rng.integers(0, len(paths), n)
    same = labels[partner] == labels[first]
    while same.any():  # redraw partners of the same person
        partner[same] = rng.integers(0, len(paths), int(same.sum()))
        same = labels[partner] == labels[first]
    pairs = np.stack([first, partner], 1)
    lams = rng.uniform(*lam, n).astype(np.float32)
    used = np.unique(pairs)  # dlib chips of just the images the blends use
    chip_list = _run_pool(_chip_job, [(paths[i],) for i in used], (detector_kind, detector_model, True),
                          workers, progress, cancel, "teacher chips")
    chips = dict(zip(used.tolist(), chip_list))
    chunk = 32
    jobs = [([chips[a] for a, _ in pairs[i:i + chunk]], [chips[b] for _, b in pairs[i:i + chunk]],
             lams[i:i + chunk]) for i in range(0, n, chunk)]
    emb = _run_pool(_mix_job, jobs, (detector_kind, detector_model, True), workers,
                    lambda i, total, msg="": progress(min(n, i * chunk), n, msg), cancel, "teacher on blended faces")
    out = {"pairs": pairs, "lam": lams, "teacher": np.concatenate(emb).astype(np.float32)}
    if cache_file is not None:
        with atomic_write(cache_file) as f:
            np.savez(f, **out)
    return out


def _chip_job(path: str) -> np.ndarray:
    rgb = load_image(path)  # build_mixes gets images build_crops could read
    face = _worker_state["detector"].detect_central(rgb)
    return _worker_state["teacher"].chip(rgb, fallback_face(rgb.shape) if face is None else face)


def _mix_job(a: list[np.ndarray], b: list[np.ndarray], lams: np.ndarray) -> np.ndarray:
    blends = [np.clip(lam_ * x.astype(np.float32) + (1 - lam_) * y.astype(np.float32) + 0.5, 0, 255)
              .astype(np.uint8) for x, y, lam_ in zip(a, b, lams)]
    return _worker_state["teacher"].embed_chips(blends)


def _run_pool(fn: Callable, jobs: list[tuple], init_args: tuple, workers: int, progress: ProgressFn,
              cancel: CancelToken | None, message: str) -> list:
    """fn(*job) for every job, in `workers` spawned processes (or here), in order, cancellable."""
    out: list = []
    results: Iterator
    if workers <= 1:
        _init_worker(*init_args)
        pool, results = None, (fn(*j) for j in jobs)
    else:
        # spawn, not fork: forking a process that already runs threads (torch, dlib, Qt) can hang.
        pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=init_args,
                                   mp_context=multiprocessing.get_context("spawn"))
        results = pool.map(fn, *zip(*jobs), chunksize=16) if jobs else iter(())
    with pool or contextlib.nullcontext():
        try:
            for r in results:
                out.append(r)
                if len(out) % 20 == 0 or len(out) == len(jobs):
                    progress(len(out), len(jobs), message)
                    if cancel is not None:
                        cancel.raise_if_cancelled()
        except BaseException:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)
            raise
    return out


def _align_all(paths: list[str], size: int, box: tuple[float, float, float], detector_kind: str,
               detector_model: str | None,
               teacher: bool, workers: int, progress: ProgressFn,
               cancel: CancelToken | None) -> dict[str, np.ndarray]:
    crops = np.zeros((len(paths), size, size, 3), np.uint8)
    found = np.zeros(len(paths), bool)
    readable = np.zeros(len(paths), bool)
    temb = np.zeros((len(paths), 128), np.float32) if teacher else None
    results = _run_pool(_process, [((p, size, box),) for p in paths],
                        (detector_kind, detector_model, teacher), workers, progress, cancel,
                        "aligning faces" + (" + teacher" if teacher else ""))
    for i, (crop, emb, hit, ok) in enumerate(results):
        crops[i], found[i], readable[i] = crop, hit, ok
        if temb is not None and emb is not None:
            temb[i] = emb
    out = {"crops": crops, "found": found, "readable": readable}
    if temb is not None:
        out["teacher"] = temb
    return out


ALIGNED_SIDE = 112  # flat folders of faces already aligned are full ArcFace frames at this size


def aligned_files(folder: str | os.PathLike) -> list[Path]:
    """The photos of a flat folder of aligned crops, sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a folder of aligned face crops.")
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)


def read_aligned(files: list[Path], progress: ProgressFn = no_progress, cancel: CancelToken | None = None,
                 cache_dir: str | os.PathLike | None = None) -> np.ndarray:
    """(N,112,112,3) uint8 crops of already aligned faces (UTKFace's in ../shared): square photos,
    resized to 112 when another size. Cached like `build_crops`, keyed by the files."""
    key = hashlib.sha256("\n".join(["aligned-v1", *map(str, files)]).encode()).hexdigest()[:16]
    cache_file = Path(cache_dir) / f"aligned-{key}.npz" if cache_dir else None
    if cache_file is not None and cache_file.is_file():
        with np.load(cache_file) as data:
            return data["crops"]
    import cv2
    crops = np.empty((len(files), ALIGNED_SIDE, ALIGNED_SIDE, 3), np.uint8)
    for i, f in enumerate(files):
        if i % 256 == 0:
            if cancel is not None:
                cancel.raise_if_cancelled()
            progress(i, len(files), "reading aligned faces")
        rgb = load_image(f)
        if rgb.shape[0] != rgb.shape[1]:
            raise DatasetError(f"{f} is not a square aligned face crop ({rgb.shape[1]}x{rgb.shape[0]}).")
        if rgb.shape[0] != ALIGNED_SIDE:
            rgb = cv2.resize(rgb, (ALIGNED_SIDE, ALIGNED_SIDE), interpolation=cv2.INTER_AREA)
        crops[i] = rgb
    progress(len(files), len(files), "reading aligned faces")
    if cache_file is not None:
        with atomic_write(cache_file) as fh:
            np.savez(fh, crops=crops)
    return crops
