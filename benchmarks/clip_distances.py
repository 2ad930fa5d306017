"""Who the sample clip's faces are nearest to, scene by scene: each face's distance to the one
enrolment photo of the person in that scene and of the other person, ours (at our τ) and, when
the `teacher` extra is installed, dlib's ResNet (at face_recognition's 0.6); then how often the
app's labelling (tracks with pooled templates, `app.live.tracking.LiveLabeller`) and frame-by-frame
matching name each person.

    python benchmarks/clip_distances.py [--weights W] [--no-dlib]

Scenes as annotated in tests/gui/test_gui_recognition.py: wide 0-19 (Lin-Manuel the right-most
face), profile 20-81 (Alex Lacamoire at the piano, the largest face if at least 100 px wide),
close-up 82-210 (Lin-Manuel, the largest face).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import paths  # noqa: E402
from app.imageio import load_image  # noqa: E402
from app.live.pipeline import Engine  # noqa: E402
from app.live.tracking import LiveLabeller  # noqa: E402

LIN, ALEX = "Lin-Manuel Miranda", "Alex Lacamoire"
PHOTOS = {LIN: "lin-manuel-miranda.png", ALEX: "alex-lacamoire.png"}


def annotated_face(index: int, boxes: list) -> tuple[str | None, int | None]:
    """(who, index of their box) in a frame, or (None, None) (same rule as the GUI test)."""
    if not boxes:
        return None, None
    if index <= 19:
        right = max(range(len(boxes)), key=lambda i: boxes[i][0])
        return (LIN, right) if boxes[right][0] > 320 else (None, None)
    big = max(range(len(boxes)), key=lambda i: boxes[i][2] * boxes[i][3])
    if index <= 81:
        return (ALEX, big) if boxes[big][2] >= 100 else (None, None)
    return (LIN, big) if index <= 210 else (None, None)


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
    teacher = None
    if not args.no_dlib:
        try:
            from app.recognition.dlib_teacher import DlibTeacher
            teacher = DlibTeacher()
        except Exception as exc:  # the teacher extra is optional
            print(f"dlib skipped: {exc}", file=sys.stderr)
    ours_ref, dlib_ref = {}, {}
    for who, photo in PHOTOS.items():
        rgb = load_image(samples / photo)
        cand = engine.enrol_candidate(rgb)
        engine.enrol(who, cand)
        ours_ref[who] = cand.embedding
        if teacher is not None:
            dlib_ref[who] = teacher.embed(rgb, cand.face)
    labeller = LiveLabeller(engine.identify)
    dist: dict[tuple[str, str], list[tuple[float, float]]] = {}  # (model, scene) -> (own, other)
    named: dict[tuple[str, str], Counter] = {}                    # (way, scene) -> names
    cap = cv2.VideoCapture(str(samples / "short_hamilton_clip.mp4"))
    index = 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        recs = engine.analyse(rgb)
        labels = labeller(rgb, recs, engine.encoder.version)
        who, i = annotated_face(index, [r.face.box for r in recs])
        if who is not None:
            other = ALEX if who == LIN else LIN
            sc = scene(index)
            emb = recs[i].embedding
            dist.setdefault(("ours", sc), []).append(
                (float(np.linalg.norm(emb - ours_ref[who])), float(np.linalg.norm(emb - ours_ref[other]))))
            if teacher is not None:
                t = teacher.embed(rgb, recs[i].face)
                dist.setdefault(("dlib", sc), []).append(
                    (float(np.linalg.norm(t - dlib_ref[who])), float(np.linalg.norm(t - dlib_ref[other]))))
            named.setdefault(("per frame", f"{sc} ({who})"), Counter())[recs[i].match.name] += 1
            named.setdefault(("app", f"{sc} ({who})"), Counter())[labels[i].name] += 1
        index += 1
    print("distance of each annotated face to its own person's photo (and to the other's):")
    for (model, sc), rows in dist.items():
        d = np.array(rows)
        tau = engine.threshold if model == "ours" else 0.6
        print(f"  {model:5s} {sc:9s} frames {len(d):3d}  own: under tau {tau:.3f} {int((d[:, 0] < tau).sum()):3d}, "
              f"min {d[:, 0].min():.3f} median {np.median(d[:, 0]):.3f} max {d[:, 0].max():.3f};  "
              f"other's: under tau {int((d[:, 1] < tau).sum()):3d}, min {d[:, 1].min():.3f} "
              f"median {np.median(d[:, 1]):.3f} max {d[:, 1].max():.3f};  nearer own {int((d[:, 0] < d[:, 1]).sum())}")
    print("names given (app = tracks with pooled templates, steadied; per frame = each frame alone):")
    for (way, sc), counts in sorted(named.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        print(f"  {way:9s} {sc:27s} {dict(counts)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
