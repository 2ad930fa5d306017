"""The desktop app's settings: a small JSON file in the user's data folder.

Qt-free. Written atomically (temp file + fsync + os.replace), so a crash never leaves half a file;
a file that cannot be read is set aside as `settings.json.corrupt-<timestamp>` and the defaults
are used, so a damaged file never stops the app from starting.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

from app import paths
from app.atomic import atomic_write

FILENAME = "settings.json"
MIN_RETENTION_H = 1.0 / 60   # how long kept recent faces may be stored: a minute …
MAX_RETENTION_H = 24.0 * 30  # … to thirty days
# The Retrain tab's epochs until the user picks others: a quick run on their own folders, most often
# a fine-tune of the active model, not the full run of `oneshot-face train` (TrainConfig.epochs).
RETRAIN_EPOCHS = 10


@dataclass
class Settings:
    tau: float | None = None             # None: the model card's calibrated τ
    source: str | None = None            # camera number, video, folder or stream; None: camera 0
    detector: str | None = None          # "yunet", "haar" or None (auto)
    device: str | None = None            # "cpu", "cuda" or None (auto)
    model_path: str | None = None        # active encoder weights; None: the shipped model
    previous_model_path: str | None = None  # what "roll back" returns to
    window_geometry: str | None = None   # base64 of QWidget.saveGeometry()
    window_state: str | None = None      # base64 of QMainWindow.saveState()
    # the folder each kind of file dialog last used ("photo", "dataset", "video", "backup", "model")
    last_folders: dict[str, str] = field(default_factory=dict)
    retrain_folders: list[str] = field(default_factory=list)  # the Retrain tab's dataset folders
    retrain_epochs: int | None = None    # None: RETRAIN_EPOCHS
    # Recent faces: in memory only unless kept (opt-in), then for this many hours (app.live.recent)
    keep_recent_faces: bool = False
    learn_from_camera: bool = True       # views learned from live tracks surely of someone (docs/learning.md)
    recent_faces_retention_h: float = 24.0
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict) -> "Settings":
        if not isinstance(data, dict):
            raise ValueError("settings must be a JSON object")
        names = {f.name for f in fields(cls)}
        s = cls(**{k: v for k, v in data.items() if k in names})
        if s.tau is not None:
            s.tau = float(s.tau)
        for name in ("source", "detector", "device", "model_path", "previous_model_path",
                     "window_geometry", "window_state"):
            v = getattr(s, name)
            if v is not None and not isinstance(v, str):
                setattr(s, name, str(v))
        if not isinstance(s.extra, dict):
            s.extra = {}
        if not isinstance(s.last_folders, dict):
            s.last_folders = {}
        s.last_folders = {str(k): v for k, v in s.last_folders.items() if isinstance(v, str)}
        if not isinstance(s.retrain_folders, list):
            s.retrain_folders = []
        s.retrain_folders = [f for f in s.retrain_folders if isinstance(f, str) and f]
        if isinstance(s.retrain_epochs, bool) or not isinstance(s.retrain_epochs, int) or s.retrain_epochs < 1:
            s.retrain_epochs = None
        if not isinstance(s.keep_recent_faces, bool):
            s.keep_recent_faces = False  # only an explicit true keeps faces on disk
        if not isinstance(s.learn_from_camera, bool):
            s.learn_from_camera = True
        h = s.recent_faces_retention_h
        if (isinstance(h, bool) or not isinstance(h, (int, float)) or not math.isfinite(h)
                or not MIN_RETENTION_H <= h <= MAX_RETENTION_H):
            s.recent_faces_retention_h = 24.0
        else:
            s.recent_faces_retention_h = float(h)
        return s


def default_folder() -> Path:
    """Where a file dialog opens the first time: the user's Pictures folder, else their home."""
    try:
        pictures = Path(platformdirs.user_pictures_dir())
    except Exception:  # noqa: BLE001 - an odd desktop configuration is no reason to fail
        pictures = None
    if pictures is not None and pictures.is_dir():
        return pictures
    return Path.home()


def start_folder(settings: Settings, kind: str) -> Path:
    """The folder a `kind` file dialog opens in: the one it used last if still there, else
    `default_folder()` (never the program's own folder)."""
    last = settings.last_folders.get(kind)
    if last and Path(last).is_dir():
        return Path(last)
    return default_folder()


def remember_folder(settings: Settings, kind: str, chosen: str | os.PathLike, parent: bool = False) -> None:
    """Note the folder of a file the user chose (or the folder above a chosen folder, `parent`)."""
    p = Path(chosen)
    folder = p.parent if parent or not p.is_dir() else p
    settings.last_folders[kind] = str(folder)


def settings_path() -> Path:
    return paths.data_dir() / FILENAME


def load(path: str | os.PathLike | None = None) -> Settings:
    """The saved settings; defaults when there is no file or it is damaged (then set aside)."""
    p = Path(path) if path else settings_path()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings()
    except OSError:
        return Settings()
    try:
        return Settings.from_dict(json.loads(text))
    except (ValueError, TypeError):
        aside = p.with_name(f"{p.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.replace(p, aside)
        except OSError:
            pass
        return Settings()


def save(settings: Settings, path: str | os.PathLike | None = None) -> Path:
    """Write atomically: a full disk or a crash keeps the previous file (OSError is raised)."""
    p = Path(path) if path else settings_path()
    text = json.dumps(asdict(settings), indent=2, sort_keys=True)
    with atomic_write(p, text=True, mode=0o600) as f:
        f.write(text)
    return p
