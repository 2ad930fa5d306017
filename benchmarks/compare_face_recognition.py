#!/usr/bin/env python3
"""OneShot Face and face_recognition (dlib) side by side, on the same inputs, in one run.

Both systems go through the same LFW protocols as `oneshot-face evaluate`:
- verification: τ chosen on pairsDevTrain.txt and applied to pairsDevTest.txt (accuracy), the
  threshold-free AUC and TAR at FAR 1e-2 on DevTest, and View 2's 10-fold accuracy;
- one-shot identification among the peopleDevTest.txt people (image 1 enrolled, the others
  probe, people with a single image are strangers): rank-1 and DIR at FAR 1e-2;
and both label every frame of `short_hamilton_clip.mp4` with its two people enrolled from one
photo each, timed from decoding to the label (frames per second).

face_recognition runs its own pipeline: HOG detector (`face_locations`, upsampled once, the
default), `face_encodings` (dlib's 5-point alignment and ResNet), Euclidean distance, tolerance
0.6 on the clip. On LFW the face nearest the image centre is embedded, and where HOG finds no
face both systems embed the same fallback box (`app.evaluation.datasets.fallback_face`), so a miss is
handled identically; the counts are reported as `missed_detections`. Its descriptors are not
normalised (its 0.6 tolerance is on raw descriptors); the protocol sets τ on DevTrain anyway.

Needs the `bench` extra and face_recognition installed without its dependencies:
`make compare`, or
    pip install -e '.[bench]' && pip install --no-deps face_recognition==1.3.0
    python benchmarks/compare_face_recognition.py --json --out-md benchmarks/results.md

Prints one JSON object (--json) or the markdown table; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import math
import multiprocessing as mp
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app import paths  # noqa: E402  (needs ROOT on sys.path when run as a script)

CACHE_VERSION = "fr-hog-v1"
CLIP_TOLERANCE = 0.6  # face_recognition's documented default
PEOPLE = [("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Alex Lacamoire", "alex-lacamoire.png")]
METRICS = ["devtest_accuracy", "devtest_auc", "devtest_tar_at_far_1e-2", "view2_accuracy_mean",
           "view2_accuracy_std", "oneshot_rank1", "oneshot_dir_at_far_1e-2"]


def log(msg: str) -> None:
    print(f"[compare {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def import_face_recognition():
    """face_recognition, quietly (face_recognition_models warns about pkg_resources)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import face_recognition
    return face_recognition


# ---- face_recognition on image paths (worker processes) ---------------------------------------

_fr = None


def _fr_init() -> None:
    global _fr
    _fr = import_face_recognition()


def _fr_embed_one(path: str) -> tuple[np.ndarray, bool]:
    """HOG, the face nearest the centre (else the shared fallback box), one 128-d descriptor."""
    from app.evaluation.datasets import fallback_face
    img = _fr.load_image_file(path)
    h, w = img.shape[:2]
    locs = _fr.face_locations(img)  # HOG, number_of_times_to_upsample=1: its defaults
    found = bool(locs)
    if found:
        cy, cx = h / 2, w / 2
        loc = min(locs, key=lambda l: ((l[0] + l[2]) / 2 - cy) ** 2 + ((l[1] + l[3]) / 2 - cx) ** 2)
    else:
        x, y, bw, bh = fallback_face(img.shape).box
        loc = (int(round(y)), int(round(x + bw)), int(round(y + bh)), int(round(x)))
    enc = _fr.face_encodings(img, known_face_locations=[loc])
    return np.asarray(enc[0], dtype=np.float32), found


class FaceRecognitionEmbedder:
    """`embed_paths` for app.evaluation.protocols: (N,128) float32 raw dlib descriptors, (N,) found.

    Each distinct image is embedded once per run (verification and identification share
    images) and each call's results are cached on disk under app.paths.cache_dir(), keyed by
    the path list, so a rerun skips the slow HOG pass."""

    def __init__(self, workers: int):
        self.workers = max(1, int(workers))
        self.memo: dict[str, tuple[np.ndarray, bool]] = {}
        self.seconds = 0.0
        self._pool = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def _cache_file(self, image_paths: list[str]) -> Path:
        key = hashlib.sha256("\n".join([CACHE_VERSION, *image_paths]).encode()).hexdigest()[:16]
        return paths.cache_dir() / f"face_recognition-hog-{key}.npz"

    def __call__(self, image_paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
        image_paths = [str(p) for p in image_paths]
        cache = self._cache_file(image_paths)
        if cache.is_file():
            with np.load(cache) as data:
                emb, found = data["embeddings"], data["found"]
            if emb.shape == (len(image_paths), 128):
                log(f"face_recognition: {len(image_paths)} embeddings from cache {cache.name}")
                for p, e, f in zip(image_paths, emb, found):
                    self.memo[p] = (e, bool(f))
                return emb, found
        todo = sorted({p for p in image_paths if p not in self.memo})
        if todo:
            log(f"face_recognition: HOG + face_encodings on {len(todo)} images, "
                f"{self.workers} worker(s)")
            t0 = time.perf_counter()
            if self._pool is None:
                ctx = mp.get_context("spawn")  # no fork after torch has started its threads
                self._pool = ctx.Pool(self.workers, initializer=_fr_init)
            for i, (p, res) in enumerate(
                    zip(todo, self._pool.imap(_fr_embed_one, todo, chunksize=8))):
                self.memo[p] = res
                if (i + 1) % 500 == 0:
                    log(f"face_recognition: {i + 1}/{len(todo)}")
            self.seconds += time.perf_counter() - t0
        emb = np.stack([self.memo[p][0] for p in image_paths]).astype(np.float32)
        found = np.array([self.memo[p][1] for p in image_paths], dtype=bool)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, embeddings=emb, found=found)
        os.replace(tmp, cache)
        return emb, found


# ---- --limit: a small copy of the LFW protocol ------------------------------------------------

def _pairs_lines(path: Path) -> tuple[list[int], list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [int(x) for x in lines[0].split()], [l for l in lines[1:] if l.strip()]


def limited_lfw(lfw_dir: Path, limit: int) -> Path:
    """An LFW folder (images/ linked to the real one) whose protocol files keep only the first
    pairs and people: DevTrain and DevTest keep their first k same and first k different pairs
    (k = limit // 2), View 2 its first two folds of limit // 4 + limit // 4, peopleDevTest its
    first limit // 2 people with two or more images (at most 4 images each) and its first
    limit // 2 with one image, so every metric stays defined. Kept under the cache folder at a
    fixed name so the crop caches of both systems are reused by a rerun."""
    src = lfw_dir / "protocol"
    tag = hashlib.sha256(str(lfw_dir.resolve()).encode()).hexdigest()[:8]
    out = paths.cache_dir() / "compare_lfw_subsets" / f"limit{limit}-{tag}"
    (out / "protocol").mkdir(parents=True, exist_ok=True)
    images = out / "images"
    if images.is_symlink() and not images.exists():
        images.unlink()  # left by a run against an LFW folder that has moved since
    if not images.exists():
        images.symlink_to((lfw_dir / "images").resolve(), target_is_directory=True)
    k = max(1, limit // 2)
    for name in ("pairsDevTrain.txt", "pairsDevTest.txt"):
        (n,), lines = _pairs_lines(src / name)
        same, diff = lines[:n], lines[n:2 * n]
        kk = min(k, n)
        (out / "protocol" / name).write_text("\n".join([str(kk), *same[:kk], *diff[:kk]]) + "\n",
                                             encoding="utf-8")
    (folds, n), lines = _pairs_lines(src / "pairs.txt")
    m = min(n, max(1, limit // 4))
    keep: list[str] = []
    for f in range(min(2, folds)):
        chunk = lines[f * 2 * n:(f + 1) * 2 * n]
        keep += chunk[:m] + chunk[n:n + m]
    (out / "protocol" / "pairs.txt").write_text("\n".join([f"{min(2, folds)}\t{m}", *keep]) + "\n",
                                                encoding="utf-8")
    people = [l.split("\t") for l in (src / "peopleDevTest.txt").read_text(encoding="utf-8")
              .splitlines()[1:] if l.strip()]
    multi = [(p, min(int(c), 4)) for p, c in people if int(c) >= 2][:max(1, limit // 2)]
    single = [(p, 1) for p, c in people if int(c) == 1][:max(1, limit // 2)]
    chosen = set(multi) | set(single)
    rows = [(p, min(int(c), 4)) for p, c in people if (p, min(int(c), 4)) in chosen]
    (out / "protocol" / "peopleDevTest.txt").write_text(
        "\n".join([str(len(rows)), *(f"{p}\t{c}" for p, c in rows)]) + "\n", encoding="utf-8")
    return out


# ---- the clip -----------------------------------------------------------------------------------

def _frames(clip: Path, max_frames: int | None):
    """Decoded RGB frames one at a time (decoding stays inside the timed loop)."""
    import cv2
    cap = cv2.VideoCapture(str(clip))
    if not cap.isOpened():
        raise SystemExit(f"Cannot open the clip {clip}.")
    try:
        n = 0
        while max_frames is None or n < max_frames:
            ok, bgr = cap.read()
            if not ok:
                break
            n += 1
            yield cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()


def _first_frame(clip: Path):
    return next(iter(_frames(clip, 1)))


def clip_ours(clip: Path, weights: str | None, max_frames: int | None, recheck_every: int | None = None,
              detect_side: int | None | str = "live") -> dict:
    """The app's own live path (`app.live.analysis.LiveAnalyser`: detection every frame on the
    frame shrunk to `detect_side` (None: as it is), names steadied by tracks, a settled face
    re-embedded every `recheck_every` frames; 1: every face of every frame), counting the names
    the app shows."""
    from app.live.analysis import LIVE_DETECT_SIDE, RECHECK_EVERY, LiveAnalyser
    from app.live.pipeline import Engine
    side = LIVE_DETECT_SIDE if detect_side == "live" else detect_side
    samples = clip.parent
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.create("yunet", device="cpu", weights=weights,
                               gallery_path=Path(tmp) / "gallery.sqlite3")
        try:
            for name, photo in PEOPLE:
                engine.enrol_photo(name, samples / photo)
            engine.analyse(_first_frame(clip))  # warm-up, untimed, as for theirs
            live = LiveAnalyser(engine, recheck_every=RECHECK_EVERY if recheck_every is None else recheck_every,
                                detect_side=side if isinstance(side, int) else None)
            frames = faces = named = embedded = 0
            per_person: dict[str, int] = {}
            t0 = time.perf_counter()
            for rgb in _frames(clip, max_frames):
                result = live(rgb)
                frames += 1
                faces += len(result.labels)
                embedded += result.embedded
                for lab in result.labels:
                    if lab.known:
                        named += 1
                        per_person[lab.name] = per_person.get(lab.name, 0) + 1
            elapsed = time.perf_counter() - t0
            tau = engine.threshold
        finally:
            engine.close()
    return {"clip_fps": frames / elapsed if elapsed > 0 else None, "clip_frames": frames,
            "clip_seconds": elapsed, "clip_faces": faces, "clip_named_faces": named,
            "clip_named_per_person": per_person, "clip_threshold": tau, "clip_faces_embedded": embedded,
            "clip_recheck_every": live.recheck_every, "clip_detect_side": live.detect_side}


def _largest(locs):
    return max(locs, key=lambda l: (l[2] - l[0]) * (l[1] - l[3]))


def clip_theirs(clip: Path, max_frames: int | None) -> dict:
    fr = import_face_recognition()
    samples = clip.parent
    known, names = [], []
    for name, photo in PEOPLE:
        img = fr.load_image_file(str(samples / photo))
        locs = fr.face_locations(img)
        if not locs:
            raise SystemExit(f"face_recognition finds no face in {samples / photo}.")
        known.append(fr.face_encodings(img, known_face_locations=[_largest(locs)])[0])
        names.append(name)
    known = np.asarray(known)

    def label(rgb):
        locs = fr.face_locations(rgb)
        encs = fr.face_encodings(rgb, known_face_locations=locs)
        out = []
        for enc in encs:
            d = fr.face_distance(known, enc)
            j = int(np.argmin(d))
            out.append(names[j] if d[j] < CLIP_TOLERANCE else None)
        return out

    label(_first_frame(clip))  # warm-up, untimed
    frames = faces = named = 0
    per_person: dict[str, int] = {}
    t0 = time.perf_counter()
    for rgb in _frames(clip, max_frames):
        labels = label(rgb)
        frames += 1
        faces += len(labels)
        for lab in labels:
            if lab is not None:
                named += 1
                per_person[lab] = per_person.get(lab, 0) + 1
    elapsed = time.perf_counter() - t0
    return {"clip_fps": frames / elapsed if elapsed > 0 else None, "clip_frames": frames,
            "clip_seconds": elapsed, "clip_faces": faces, "clip_named_faces": named,
            "clip_named_per_person": per_person, "clip_threshold": CLIP_TOLERANCE}


# ---- both systems on the protocols --------------------------------------------------------------

def protocols(lfw_dir: Path, embed_paths, who: str, enrol_paths=None) -> dict:
    from app.evaluation.protocols import evaluate_identification, evaluate_verification
    log(f"{who}: LFW verification")
    ver = evaluate_verification(lfw_dir, embed_paths)
    log(f"{who}: LFW one-shot identification")
    ident = evaluate_identification(lfw_dir=lfw_dir, embed_paths=embed_paths,
                                    embed_enrolment_paths=enrol_paths)
    out = {k: ver[k] for k in ("devtest_accuracy", "devtest_auc", "devtest_tar_at_far_1e-2",
                               "view2_accuracy_mean", "view2_accuracy_std")}
    out.update({k: ident[k] for k in ("oneshot_rank1", "oneshot_dir_at_far_1e-2")})
    out["missed_detections"] = {"verification": ver["missed_detections"],
                                "identification": ident["missed_detections"]}
    out["verification_images"] = ver["images"]
    out["identification_images"] = ident["images"]
    out["tau_devtrain"] = ver["tau_devtrain"]
    out["dir_threshold"] = ident["dir_threshold"]
    out["view2_accuracy_per_fold"] = ver["view2_accuracy_per_fold"]
    out["pairs"] = {"devtrain": ver["devtrain_pairs"], "devtest": ver["devtest_pairs"],
                    "view2": ver["view2_pairs"]}
    out["identification"] = {"enrolled": ident["enrolled"], "known_probes": ident["known_probes"],
                             "unknown_probes": ident["unknown_probes"]}
    return out


def machine() -> dict:
    """`oneshot-face bench`'s machine description, plus the versions of the other system."""
    from app.evaluation.bench import machine as app_machine
    info = app_machine()
    try:
        import dlib
        info["dlib"] = dlib.__version__
    except ImportError:
        pass
    try:
        from importlib.metadata import version
        info["face_recognition"] = version("face_recognition")
    except Exception:  # noqa: BLE001 - informational only
        pass
    return info


def _ratio(a, b):
    if a is None or b is None or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return None
    if b == 0:
        return None
    return a / b


def run(args) -> dict:
    t_start = time.perf_counter()
    shared = paths.shared_dir()
    lfw = Path(args.lfw) if args.lfw else (shared / "datasets" / "lfw" if shared else None)
    clip = Path(args.clip) if args.clip else (
        shared / "datasets" / "samples" / "short_hamilton_clip.mp4" if shared else None)
    if not args.clip_only and (lfw is None or not (lfw / "protocol").is_dir()):
        raise SystemExit(f"No LFW folder with protocol/ at {lfw}; give --lfw DIR.")
    if clip is None or not clip.is_file():
        raise SystemExit(f"No clip at {clip}; give --clip PATH.")
    for _, photo in PEOPLE:
        if not (clip.parent / photo).is_file():
            raise SystemExit(f"The enrolment photo {clip.parent / photo} is missing "
                             "(it is looked for beside the clip).")
    try:
        import_face_recognition()
    except ImportError as exc:
        raise SystemExit(f"face_recognition is not installed ({exc}); run `make compare`, or "
                         "pip install -e '.[bench]' && pip install --no-deps face_recognition==1.3.0")

    import torch

    from app.evaluation.model import make_embed_paths
    from app.recognition.encoder import Encoder
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    if args.clip_only:
        return run_clip_only(args, clip, t_start)

    lfw_used = limited_lfw(lfw, args.limit) if args.limit else lfw
    encoder = Encoder.load(args.weights, "cpu")
    ours_embed = make_embed_paths(encoder, "yunet", workers=args.workers)
    theirs_embed = FaceRecognitionEmbedder(args.workers)

    ours = protocols(lfw_used, ours_embed, "ours",
                     make_embed_paths(encoder, "yunet", workers=args.workers, enrolment=True))
    try:
        theirs = protocols(lfw_used, theirs_embed, "face_recognition")
    finally:
        theirs_embed.close()
    theirs["embed_seconds"] = theirs_embed.seconds  # HOG + encodings actually run (0 if cached)
    log("face_recognition: clip")
    theirs.update(clip_theirs(clip, args.max_frames))
    log("ours: clip")
    ours.update(clip_ours(clip, args.weights, args.max_frames))
    ours["encoder"] = {"version": encoder.version, "weights": str(encoder_path(args.weights)),
                       "input_size": encoder.input_size, "detector": "yunet"}
    theirs["encoder"] = {"version": "face_recognition 1.3.0 (dlib ResNet, 128-d)",
                         "detector": "hog (upsample 1)"}
    return {
        "fps_ratio": _ratio(ours["clip_fps"], theirs["clip_fps"]),
        "ours": ours,
        "theirs": theirs,
        "machine": machine(),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "lfw": str(lfw),
        "clip": str(clip),
        "limit": args.limit,
        "max_frames": args.max_frames,
        "workers": args.workers,
        "torch_threads": torch.get_num_threads(),
        "elapsed_s": time.perf_counter() - t_start,
    }


def run_clip_only(args, clip: Path, t_start: float) -> dict:
    """The clip alone, in a few minutes: face_recognition, then ours as the app runs (detection
    on the shrunk frame, settled faces carried over), ours with detection on the whole frame, and
    ours detecting on the whole frame and embedding every face of every frame (the reference whose
    names the app's must match)."""
    from app.recognition.encoder import Encoder
    log("face_recognition: clip")
    theirs = clip_theirs(clip, args.max_frames)
    log("ours: clip, as the app runs")
    ours = clip_ours(clip, args.weights, args.max_frames)
    log("ours: clip, detection on the whole frame")
    full = clip_ours(clip, args.weights, args.max_frames, detect_side=None)
    log("ours: clip, detection on the whole frame, every face of every frame embedded")
    every = clip_ours(clip, args.weights, args.max_frames, recheck_every=1, detect_side=None)
    encoder = Encoder.load(args.weights, "cpu")
    ours["encoder"] = {"version": encoder.version, "weights": str(encoder_path(args.weights)),
                       "input_size": encoder.input_size, "detector": "yunet"}
    return {"fps_ratio": _ratio(ours["clip_fps"], theirs["clip_fps"]),
            "fps_ratio_every_frame_embedded": _ratio(every["clip_fps"], theirs["clip_fps"]),
            "fps_ratio_full_frame_detection": _ratio(full["clip_fps"], theirs["clip_fps"]),
            "ours": ours, "ours_full_frame_detection": full,
            "ours_every_frame_embedded": every, "theirs": theirs, "machine": machine(),
            "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "clip": str(clip),
            "max_frames": args.max_frames, "clip_only": True, "elapsed_s": time.perf_counter() - t_start}


def clip_markdown(result: dict) -> str:
    m, ours, every, theirs = result["machine"], result["ours"], result["ours_every_frame_embedded"], result["theirs"]

    def people(r: dict) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(r["clip_named_per_person"].items())) or "nobody"

    full = result.get("ours_full_frame_detection")
    side = ours.get("clip_detect_side")
    rows = [(f"ours, as the app runs ({f'detection at {side} px' if side else 'detection on the whole frame'}, "
             f"settled faces re-embedded every {ours['clip_recheck_every']} frames)", ours)]
    if full:
        rows.append(("ours, detection on the whole frame, settled faces carried over", full))
    rows += [("ours, detection on the whole frame, every face of every frame embedded", every),
             ("face_recognition (HOG, dlib ResNet, tolerance 0.6)", theirs)]
    lines = ["# The clip, side by side with face_recognition", "",
             f"Measured {result['date']} on {m['cpu']}, {m['cores']} cores, in one run of "
             "`benchmarks/compare_face_recognition.py --clip-only`"
             + (f", first {result['max_frames']} frames" if result["max_frames"] else "") + ".", "",
             "| system | frames/s | faces seen | faces named | named per person |", "|---|---:|---:|---:|---|"]
    lines += [f"| {name} | {r['clip_fps']:.1f} | {r['clip_faces']} | {r['clip_named_faces']} | {people(r)} |"
              for name, r in rows]
    lines += ["", f"Ours / face_recognition: {_fmt('{:.1f}', result['fps_ratio'])}× as the app runs, "
              + (f"{_fmt('{:.1f}', result.get('fps_ratio_full_frame_detection'))}× detecting on the whole frame, "
                 if full else "")
              + f"{_fmt('{:.1f}', result['fps_ratio_every_frame_embedded'])}× embedding every face. Ours embedded "
              f"{ours['clip_faces_embedded']} of {ours['clip_faces']} faces as the app runs. Decoding included, "
              "one untimed warm-up frame, ours on one torch thread (the app's live setting).", ""]
    return "\n".join(lines)


def encoder_path(weights: str | None) -> Path:
    from app.recognition.encoder import shipped_weights
    return Path(weights) if weights else shipped_weights()


# ---- report ---------------------------------------------------------------------------------------

ROWS = [
    ("DevTest accuracy (τ from DevTrain)", "devtest_accuracy", "{:.4f}"),
    ("DevTest AUC", "devtest_auc", "{:.4f}"),
    ("DevTest TAR @ FAR 1e-2", "devtest_tar_at_far_1e-2", "{:.4f}"),
    ("View 2 accuracy (10-fold mean)", "view2_accuracy_mean", "{:.4f}"),
    ("View 2 accuracy std over folds", "view2_accuracy_std", "{:.4f}"),
    ("One-shot rank-1 (DevTest people)", "oneshot_rank1", "{:.4f}"),
    ("One-shot DIR @ FAR 1e-2", "oneshot_dir_at_far_1e-2", "{:.4f}"),
    ("Missed detections, verification images", ("missed_detections", "verification"), "{:d}"),
    ("Missed detections, identification images", ("missed_detections", "identification"), "{:d}"),
    ("Clip frames per second (decode → label)", "clip_fps", "{:.2f}"),
    ("Clip faces found", "clip_faces", "{:d}"),
    ("Clip faces named", "clip_named_faces", "{:d}"),
]


def _get(d: dict, key):
    if isinstance(key, tuple):
        for k in key:
            d = d.get(k) if isinstance(d, dict) else None
        return d
    return d.get(key)


def _fmt(fmt: str, v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    return fmt.format(v)


def markdown(result: dict) -> str:
    m = result["machine"]
    ours, theirs = result["ours"], result["theirs"]
    lines = [
        "# OneShot Face vs face_recognition (dlib), side by side",
        "",
        f"Measured {result['date']} on {m['cpu']}, {m['cores']} cores"
        f" (Python {m['python']}, torch {m.get('torch', '?')}, dlib {m.get('dlib', '?')},"
        f" face_recognition {m.get('face_recognition', '?')}), in one run of"
        " `benchmarks/compare_face_recognition.py`"
        + (f" with --limit {result['limit']} (a smoke run, not comparable)" if result["limit"] else "")
        + (f", first {result['max_frames']} clip frames" if result["max_frames"] else "") + ".",
        "",
        f"Ours: encoder `{ours['encoder']['version']}`, YuNet detector, τ = {ours['clip_threshold']:.3f}"
        " on the clip. face_recognition: HOG detector, `face_encodings`, tolerance 0.6 on the clip.",
        "",
        "| metric | ours | face_recognition | ratio (ours / theirs) |",
        "|---|---:|---:|---:|",
    ]
    for label, key, fmt in ROWS:
        a, b = _get(ours, key), _get(theirs, key)
        r = _ratio(a, b)
        lines.append(f"| {label} | {_fmt(fmt, a)} | {_fmt(fmt, b)} | {_fmt('{:.2f}', r)} |")
    lines += [
        "",
        f"Images embedded: {ours['verification_images']} for verification "
        f"({ours['pairs']['devtrain']} DevTrain, {ours['pairs']['devtest']} DevTest, "
        f"{ours['pairs']['view2']} View 2 pairs), {ours['identification_images']} for identification "
        f"({ours['identification']['enrolled']} enrolled, {ours['identification']['known_probes']} "
        f"known and {ours['identification']['unknown_probes']} unknown probes). "
        "The verification τ is chosen on DevTrain; View 2 picks each fold's τ on the other nine; "
        "TAR and DIR are read at FAR 1e-2. Where a detector misses an LFW face, both systems embed "
        "the same fallback box over the image centre. The clip: "
        f"{ours['clip_frames']} frames of `short_hamilton_clip.mp4` (640x360), both people enrolled "
        "from one photo each, decoding included, one untimed warm-up frame, "
        f"ours on CPU (torch intra-op threads: {m.get('torch_threads', '?')}), face_recognition "
        "single-threaded as dlib runs it.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lfw", help="LFW folder with images/ and protocol/ "
                    "(default: ../shared/datasets/lfw)")
    ap.add_argument("--clip", help="video to label (default: ../shared/datasets/samples/"
                    "short_hamilton_clip.mp4; the enrolment photos are looked for beside it)")
    ap.add_argument("--limit", type=int, default=None,
                    help="only the first N pairs / people per protocol (smoke runs)")
    ap.add_argument("--max-frames", type=int, default=None,
                    help="only the first N frames of the clip (smoke runs)")
    ap.add_argument("--workers", type=int, default=2, help="processes for embedding LFW images")
    ap.add_argument("--weights", help="our encoder weights (default: the shipped models/encoder.pt)")
    ap.add_argument("--torch-threads", type=int, default=None,
                    help="torch intra-op threads for ours (default: torch's own, one per core)")
    ap.add_argument("--clip-only", action="store_true",
                    help="only the clip (a few minutes): face_recognition, ours as the app runs, ours embedding every face")
    ap.add_argument("--json", action="store_true", help="print the JSON object (else the table)")
    ap.add_argument("--out-md", help="also write the markdown table here")
    ap.add_argument("--out-json", help="also write the JSON object here")
    args = ap.parse_args(argv)
    if args.limit is not None and args.limit < 2:
        ap.error("--limit must be at least 2")
    if args.torch_threads is not None and args.torch_threads < 1:
        ap.error("--torch-threads must be at least 1")
    if args.max_frames is not None and args.max_frames < 1:
        ap.error("--max-frames must be at least 1")
    result = run(args)
    text = json.dumps(result, indent=2, sort_keys=False)
    md = clip_markdown(result) if args.clip_only else markdown(result)
    if args.out_md:
        Path(args.out_md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out_md).write_text(md, encoding="utf-8")
    if args.out_json:
        Path(args.out_json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out_json).write_text(text + "\n", encoding="utf-8")
    print(text if args.json else md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
