"""The desktop app's settings: a small JSON file in the user's data folder.

Qt-free. Written atomically (temp file + fsync + os.replace), so a crash never leaves half a file;
a file that cannot be read is set aside as `settings.json.corrupt-<timestamp>` and the defaults
are used, so a damaged file never stops the app from starting.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from app import paths
from app.atomic import atomic_write

FILENAME = "settings.json"


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
        return s


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
