"""What the command modules share: the options every model-using command takes, the engine and
detector they run with, how a face is printed as JSON, LFW's folder."""

from __future__ import annotations

import argparse
import math
import sys

from app.errors import OneShotError
from app.progress import console_progress
from app.text import plural as _plural  # noqa: F401 (people and watch import it from here)


def _common(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--detector", choices=["yunet", "haar"], default=None,
                   help="face detector (default: YuNet when its model is found, else Haar)")
    p.add_argument("--detector-model", default=None, help="path to the YuNet .onnx file")
    p.add_argument("--device", choices=["cpu", "cuda"], default=None,
                   help="where the encoder runs (default: CUDA when present, else CPU)")
    p.add_argument("--weights", default=None, help="encoder weights (default: the shipped model)")


def _detector(args) -> str:
    """The detector a command that needs one by name uses: --detector, else the default one."""
    from app.service.live import default_detector
    return args.detector or default_detector()


def _engine(args, tau: float | None = None):
    from app.service import Library
    from app.service.live import create_engine
    engine = create_engine(args.detector, args.detector_model, args.weights, args.device, tau=tau)
    for w in engine.warnings:  # e.g. unusable --weights: the shipped model is used instead
        print(f"warning: {w}", file=sys.stderr)
    # Faces enrolled under another model (another --weights, an updated app, a fallback to the
    # shipped model) are not comparable until re-embedded from their stored crops.
    library = Library(engine)
    stale = library.stale_count()
    if stale:
        print(f"Updating {stale} enrolled face(s) for model {library.model_version}.", file=sys.stderr)
        library.refresh(console_progress("re-embedding "))
    return engine


def _face_json(box, name: str, distance: float, track: int | None = None, nearest: str | None = None,
               threshold: float | None = None, raw_distance: float | None = None) -> dict:
    """One face as `identify --json` and `watch --json` print it (`track` only when tracked): the
    decision (`name`, `accepted`), how far the nearest enrolled person (`nearest`) is, and the τ
    it was decided with. With a cohort-normalised model, `distance` is the plain L2 distance and
    `score` the normalised one that τ is compared with; otherwise, and for a tracked face (whose
    figures are its pooled template's), the two are the same number."""
    from app.service.live import UNKNOWN
    x, y, w, h = box
    def num(v):
        return None if v is None or not math.isfinite(v) else round(float(v), 4)
    out = {"box": [round(x), round(y), round(w), round(h)], "name": name,
           "distance": num(distance if raw_distance is None else raw_distance), "score": num(distance),
           "nearest": nearest, "accepted": name != UNKNOWN,
           "threshold": None if threshold is None else round(float(threshold), 4)}
    if track is not None:
        out["track"] = track
    return out




def _lfw_dir(given: str | None) -> str:
    from app import paths
    found = paths.lfw_dir(given)
    if found is None:
        raise OneShotError("Give --lfw DIR (LFW with images/ and protocol/).")
    return found
