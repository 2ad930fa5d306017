"""Where dlib's face chip (what the distillation teacher embeds) sits in our ArcFace frame.

For LFW images of training people (names starting with A, DevTest people left out), YuNet's five
landmarks are mapped into dlib's 150x150 chip (`get_face_chip_details`, padding 0.25, as
face_recognition computes it) and the median positions are compared with our template. Prints the
similarity from our 112 frame to dlib's chip, and the square of our frame dlib's chip covers: the
basis of `train --crop-box`. Needs the teacher extra (dlib-bin, face_recognition_models).

With `--fit WEIGHTS` it also measures how closely a student model reproduces the teacher: the
training loss's distillation term (squared distance to the centred teacher embedding) on training
images and on DevTest images (measured only, never trained on). A gap between the two is a
student that generalises worse than it fits.

    python benchmarks/teacher_view.py [--images 60] [--fit models/encoder.pt [--fit-images 1500]]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import paths  # noqa: E402
from app.evaluation.datasets import build_crops, read_people_file, scan_identity_folders  # noqa: E402
from app.imageio import load_image  # noqa: E402
from app.recognition.alignment import TEMPLATE_112, similarity_transform  # noqa: E402
from app.recognition.detection import create_detector  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=60)
    ap.add_argument("--fit", default=None, metavar="WEIGHTS", help="also measure this student's fit")
    ap.add_argument("--fit-images", type=int, default=1500, help="images of each set for --fit")
    args = ap.parse_args()
    import dlib
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import face_recognition_models as frm

    shared = paths.shared_dir()
    if shared is None:
        print("../shared (or $ONESHOT_SHARED) with datasets/lfw is needed.", file=sys.stderr)
        return 2
    lfw = shared / "datasets" / "lfw"
    test_people = read_people_file(lfw / "protocol" / "peopleDevTest.txt")
    images = [p for d in sorted((lfw / "images").glob("A*")) if d.name not in test_people
              for p in sorted(d.glob("*.jpg"))][:args.images]
    detector = create_detector("yunet")
    shape_model = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    in_chip = []
    for path in images:
        rgb = load_image(path)
        face = detector.detect_central(rgb)
        if face is None or face.landmarks is None:
            continue
        x, y, w, h = face.box
        shape = shape_model(rgb, dlib.rectangle(int(x), int(y), int(x + w), int(y + h)))
        chip = dlib.get_face_chip_details(shape, 150, 0.25)
        r = chip.rect
        centre = np.array([(r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2])
        c, s = np.cos(-chip.angle), np.sin(-chip.angle)
        pts = (np.asarray(face.landmarks, float) - centre) @ np.array([[c, -s], [s, c]]).T
        in_chip.append((pts * 150 / r.width() + 75) / 150)
    dlib_pts = np.median(np.array(in_chip), 0)
    ours = TEMPLATE_112 / 112
    m = similarity_transform(ours, dlib_pts)
    scale = float(np.hypot(*m[:, 0]))
    x0, y0 = -m[:, 2] / scale  # dlib's chip corner in our frame
    print(f"{len(in_chip)} faces; landmarks as fractions of the crop (eyes, nose, mouth corners)")
    print("  dlib chip:", np.round(dlib_pts, 3).tolist())
    print("  ours     :", np.round(ours, 3).tolist())
    print(f"dlib's chip is our frame scaled {scale:.3f}x: the square x0={x0:.3f}, y0={y0:.3f}, "
          f"side={1 / scale:.3f} of our frame (bottom edge at {y0 + 1 / scale:.3f})")
    if args.fit:
        fit(args.fit, shared / "datasets", test_people, args.fit_images)
    return 0


def fit(weights: str, datasets: Path, test_people: set[str], n: int) -> None:
    """Distillation term of a student on n training and n DevTest images (random, seed 0); the
    teacher is centred on the training images' mean, as in training."""
    from app.recognition.encoder import Encoder
    from app.training.loop import centre_teacher

    enc = Encoder.load(weights, "cpu")
    rng = np.random.default_rng(0)
    train_set = scan_identity_folders([datasets / "lfw", datasets / "celeba_faces"], exclude=test_people)
    every = scan_identity_folders([datasets / "lfw"])
    test_paths = [p for p, lab in zip(every.paths, every.labels) if every.names[lab] in test_people]
    sets = {"training": sorted(rng.choice(train_set.paths, n, replace=False)),
            "DevTest": sorted(rng.choice(test_paths, n, replace=False))}
    data = {name: build_crops(list(p), enc.input_size, "yunet", teacher=True, box=enc.crop_box,
                              cache_dir=paths.cache_dir()) for name, p in sets.items()}
    mean = data["training"]["teacher"].mean(0)
    for name, d in data.items():
        teacher = centre_teacher(d["teacher"], mean)
        student = enc.embed(d["crops"])
        loss = float(((student - teacher) ** 2).sum(1).mean())
        print(f"{enc.version}: distillation term on {len(student)} {name} images {loss:.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
