"""The review folder `watch --keep-unknown` writes: each unknown person's best faces and an
index.json, in a new or empty private folder."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from app.live.recent_grouping import RecentGroup


def check_review_folder(folder: str | os.PathLike) -> Path:
    """The folder `watch --keep-unknown` writes into: new or empty (so no earlier review is
    mixed in or overwritten); created now, private (0700). OneShotError otherwise."""
    from app.errors import OneShotError
    p = Path(folder)
    if p.exists() and not p.is_dir():
        raise OneShotError(f"{p} is a file; give a new or empty folder for the unknown faces.")
    if p.is_dir() and any(p.iterdir()):
        raise OneShotError(f"{p} is not empty; give a new or empty folder for the unknown faces.")
    try:
        p.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(p, 0o700)
    except OSError as exc:
        raise OneShotError(f"The folder {p} cannot be created: {exc.strerror or exc}.") from None
    return p


def write_review_folder(groups: Sequence[RecentGroup], folder: str | os.PathLike, info: dict | None = None) -> dict:
    """Each unknown group's faces (every track's best crop, best first) as PNG files in
    `folder`/group-NN/face-NN.png, groups in the order first seen, and `folder`/index.json
    describing them (with `info` added); files are 0600. Returns the index."""
    from app.atomic import atomic_write
    root = Path(folder)
    ordered = sorted(groups, key=lambda g: (g.first_seen, g.key))
    index: dict = {**(info or {}), "groups": []}

    def num(v):
        return None if v is None or not np.isfinite(v) else round(float(v), 4)
    for gi, g in enumerate(ordered, 1):
        sub = root / f"group-{gi:02d}"
        sub.mkdir(mode=0o700, exist_ok=True)
        faces = []
        for fi, f in enumerate(g.members, 1):
            ok, png = cv2.imencode(".png", cv2.cvtColor(f.crop, cv2.COLOR_RGB2BGR))
            if not ok:
                raise ValueError("could not encode a face crop as PNG")
            name = f"face-{fi:02d}.png"
            with atomic_write(sub / name, mode=0o600) as out:
                out.write(png.tobytes())
            faces.append({"file": f"{sub.name}/{name}", "track": f.track_id, "frames": f.frames,
                          "first_frame": f.first_frame, "last_frame": f.last_frame,
                          "first_seen": num(f.first_seen), "last_seen": num(f.last_seen),
                          "nearest": f.nearest, "distance": num(f.distance),
                          "quality": round(f.quality.score, 3), "addable": f.quality.ok,
                          "reason": f.quality.reason or None})
        index["groups"].append({"group": sub.name, "sightings": g.count, "frames": g.frames,
                                "first_seen": num(g.first_seen), "last_seen": num(g.last_seen),
                                "nearest": g.nearest, "distance": num(g.distance), "faces": faces})
    with atomic_write(root / "index.json", text=True, mode=0o600) as out:
        out.write(json.dumps(index, ensure_ascii=False, indent=1))
    return index
