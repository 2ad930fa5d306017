"""Distances of Lin-Manuel Miranda's face to his one enrolment photo, scene by scene, in the
sample clip: ours (at our τ) and, when the `teacher` extra is installed, dlib's ResNet (at
face_recognition's 0.6). It shows where the app's acceptance test misses (the profile shot).

    python benchmarks/clip_distances.py [--weights W] [--no-dlib]

Scenes as annotated in tests/gui/test_gui_recognition.py: wide 0-19 (Lin the right-most face),
profile 20-81 (the largest face, if at least 100 px wide), close-up 82-210 (the largest face).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import paths  # noqa: E402
from app.pipeline import Engine  # noqa: E402
from app.imageio import load_image  # noqa: E402


def lin_face(index: int, faces):
    """Lin's face among a frame's detections, or None (same rule as the GUI test)."""
    if not faces:
        return None
    if index <= 19:
        right = max(faces, key=lambda f: f.box[0])
        return right if right.box[0] > 320 else None
    big = max(faces, key=lambda f: f.box[2] * f.box[3])
    if index <= 81:
        return big if big.box[2] >= 100 else None
    return big if index <= 210 else None


def scene(index: int) -> str:
    return "wide" if index <= 19 else "profile" if index <= 81 else "close-up"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--no-dlib", action="store_true")
    args = ap.parse_args()
    shared = paths.shared_dir()
    if shared is None:
        sys.exit("needs ../shared (or $ONESHOT_SHARED)")
    samples = shared / "datasets" / "samples"
    engine = Engine.create("yunet", None, args.weights, "cpu",
                           gallery_path=Path(tempfile.mkdtemp()) / "g.sqlite3")
    enrol = load_image(samples / "lin-manuel-miranda.png")
    ours_ref = engine.enrol_candidate(enrol).embedding
    teacher = None
    if not args.no_dlib:
        try:
            from app.teacher import DlibTeacher
            teacher = DlibTeacher()
            dlib_ref = teacher.embed(enrol, engine.detector.detect(enrol)[0])
        except Exception as exc:  # the teacher extra is optional
            print(f"dlib skipped: {exc}", file=sys.stderr)
            teacher = None
    ours: dict[str, list[float]] = {}
    theirs: dict[str, list[float]] = {}
    cap = cv2.VideoCapture(str(samples / "short_hamilton_clip.mp4"))
    index = 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        face = lin_face(index, engine.detector.detect(rgb))
        if face is not None:
            emb = engine.embed_faces(rgb, [face])[0]
            ours.setdefault(scene(index), []).append(float(np.linalg.norm(emb - ours_ref)))
            if teacher is not None:
                theirs.setdefault(scene(index), []).append(float(np.linalg.norm(teacher.embed(rgb, face) - dlib_ref)))
        index += 1
    for who, table, tau in (("ours", ours, engine.tau), ("dlib", theirs, 0.6)):
        for name in ("wide", "profile", "close-up"):
            d = np.array(table.get(name, []))
            if len(d):
                print(f"{who:5s} {name:9s} frames {len(d):3d}  under tau {tau:.3f}: {int((d < tau).sum()):3d}  "
                      f"min {d.min():.3f}  median {np.median(d):.3f}  max {d.max():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
