"""Where things live: the user's data folder, model folder, shipped models and ../shared.

Environment variables override every default so tests and users can redirect them:
`ONESHOT_DATA_DIR` (gallery, settings, downloaded models), `ONESHOT_SHARED` (datasets and
YuNet for development), `ONESHOT_YUNET` (the detector file; the program ships its own copy in
`models/`, see `find_yunet`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "oneshot-face"
YUNET_FILENAME = "face_detection_yunet_2026may.onnx"
YUNET_SHA256 = "ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0"
# Copies of enrolled faces made for retraining live in the private data folder, never in the
# cache folder, and are removed whenever someone is deleted (remove_derived_copies).
GALLERY_TRAIN = "gallery-train"              # exported crops, one folder per person
GALLERY_TRAIN_CACHE = "gallery-train-cache"  # aligned-crop cache of training runs that use them


def data_dir(create: bool = True) -> Path:
    """The user's private data folder, created readable by its owner only."""
    env = os.environ.get("ONESHOT_DATA_DIR")
    path = Path(env) if env else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    if create:
        old = os.umask(0o077)
        try:
            path.mkdir(parents=True, exist_ok=True)
        finally:
            os.umask(old)
        try:
            os.chmod(path, 0o700)
        except OSError:
            pass
    return path


def user_models_dir(create: bool = True) -> Path:
    path = data_dir(create) / "models"
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def training_cache_dir(datasets: list[str]) -> Path:
    """Where training caches aligned crops: the cache folder, except for a run that uses the
    enrolled people's exported crops, whose cache stays private beside them (and is removed
    with them when someone is deleted)."""
    for d in datasets:
        p = Path(d)
        if p.name == GALLERY_TRAIN:
            private = p.parent / GALLERY_TRAIN_CACHE
            private.mkdir(mode=0o700, exist_ok=True)
            return private
    return cache_dir()


def remove_derived_copies(folder: str | os.PathLike) -> None:
    """Delete the copies of gallery crops made for retraining beside the gallery (exported crops
    and their aligned-crop cache), so a deleted person leaves nothing behind; they are rebuilt
    from the gallery the next time someone retrains with the enrolled people."""
    import shutil
    for name in (GALLERY_TRAIN, GALLERY_TRAIN_CACHE):
        target = Path(folder) / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target, ignore_errors=True)


def cache_dir(create: bool = True) -> Path:
    """Recomputable files (aligned training crops, teacher embeddings)."""
    env = os.environ.get("ONESHOT_CACHE_DIR")
    path = Path(env) if env else Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def resource_root() -> Path:
    """Root holding `models/` and `resources/`: the repository, or the PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle)
    return Path(__file__).resolve().parent.parent


def shipped_models_dir() -> Path:
    return resource_root() / "models"


def shared_dir() -> Path | None:
    """`$ONESHOT_SHARED` when set (only it: pointing it at a missing folder hides ../shared, as
    on a fresh install), else `../shared` beside the repository; None when absent."""
    env = os.environ.get("ONESHOT_SHARED")
    cand = Path(env) if env else resource_root().parent / "shared"
    return cand if cand.is_dir() else None


def lfw_dir(given: str | os.PathLike | None = None, *, must_exist: bool = False) -> str | None:
    """The LFW root (images/ and protocol/): `given` as it is, else ../shared/datasets/lfw; None
    when there is no ../shared, or with `must_exist` when that one lacks protocol/pairsDevTrain.txt."""
    if given:
        return str(given)
    shared = shared_dir()
    if shared is None:
        return None
    found = shared / "datasets" / "lfw"
    if must_exist and not (found / "protocol" / "pairsDevTrain.txt").is_file():
        return None
    return str(found)


def shipped_yunet() -> Path:
    """Where the YuNet file shipped with the program lives (models/ in the repository or bundle)."""
    return shipped_models_dir() / YUNET_FILENAME


def find_yunet(explicit: str | os.PathLike | None = None) -> Path | None:
    """The YuNet ONNX file to use, first found of: the explicit path, `$ONESHOT_YUNET` (both as
    given, even if missing, so a wrong path is reported rather than passed over), the user's
    model folder (a newer copy from `fetch-models` or Settings' Locate), the copy shipped in
    `models/`, then ../shared (development). None when there is none: Haar is the last resort."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("ONESHOT_YUNET")
    if env:
        return Path(env)
    user = user_models_dir(create=False) / YUNET_FILENAME
    if user.is_file():
        return user
    if shipped_yunet().is_file():
        return shipped_yunet()
    shared = shared_dir()
    if shared is not None and (shared / "models" / YUNET_FILENAME).is_file():
        return shared / "models" / YUNET_FILENAME
    return None


def check_shipped_yunet(path: str | os.PathLike) -> None:
    """Refuse a damaged shipped YuNet copy (its SHA-256 is not YUNET_SHA256) in one clear line,
    so a broken install is named instead of failing later inside OpenCV. Other copies were
    checked when they were fetched or installed (app.fetch)."""
    import hashlib

    from app.errors import ModelError
    p = Path(path)
    try:
        if p.resolve() != shipped_yunet().resolve():
            return
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
    except OSError:
        return  # unreadable: the detector's own loading reports it
    if digest != YUNET_SHA256:
        raise ModelError(f"YuNet file damaged at {p} (its SHA-256 is not the expected one); "
                         "reinstall the program or run `oneshot-face fetch-models`.")
