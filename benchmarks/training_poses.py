"""How many turned heads the training data in ../shared holds: YuNet's yaw of each photo's face.

A student learns a teacher's answer on profile views only from profile views (issue 32 §3,
docs/experiments.md "Turned heads"). This counts them in what may be trained on: LFW's photos of
people outside `peopleDevTest.txt`, the CelebA subset and UTKFace (`--utk N`: its first N files
by name, 0 for none). A face is the one nearest the photo's centre (LFW's and CelebA's person is
centred); its yaw is `quality.pose`'s (0.5 frontal; the gate refuses outside `YAW_RANGE`).

    python benchmarks/training_poses.py [--utk 4000] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Iterable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from turning_head import centre_face  # noqa: E402

from app import paths  # noqa: E402
from app.evaluation.datasets import read_people_file  # noqa: E402
from app.recognition.quality import YAW_RANGE, pose  # noqa: E402

TURNED = 0.15  # |yaw - 0.5| beyond this: clearly turned (the guided capture's turned bins start at 0.35 / 0.65)


def count(yaws: Iterable[float | None]) -> dict:
    """`yaws`: one per photo, None where no face or no landmarks were found."""
    all_ = list(yaws)
    y = np.array([v for v in all_ if v is not None], dtype=np.float64)
    off = np.abs(y - 0.5)
    past = (y < YAW_RANGE[0]) | (y > YAW_RANGE[1])
    return {"photos": len(all_), "with_pose": int(len(y)), "turned": int((off > TURNED).sum()),
            "past_the_gate": int(past.sum()), "past_the_gate_share": float(past.mean()) if len(y) else None}


def yaw_of(detector, path: Path) -> float | None:
    from app.imageio import load_image
    try:
        rgb = load_image(path)
    except Exception:  # noqa: BLE001 - an unreadable photo counts as one without a pose
        return None
    face = centre_face(detector.detect(rgb), rgb.shape)
    return None if face is None else pose(face.landmarks)[0]


def training_sets(datasets: Path, utk: int) -> dict[str, list[Path]]:
    lfw = datasets / "lfw"
    test_people = set(read_people_file(lfw / "protocol" / "peopleDevTest.txt"))
    return {"LFW, people outside DevTest": [p for d in sorted((lfw / "images").iterdir())
                                           if d.name not in test_people for p in sorted(d.glob("*.jpg"))],
            "CelebA subset": sorted((datasets / "celeba_faces").glob("*/*.jpg")),
            f"UTKFace, first {utk}": sorted((datasets / "utkface_aligned").glob("*"))[:utk]}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--utk", type=int, default=4000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from app.recognition.detection import create_detector
    shared = paths.shared_dir()
    if shared is None:
        raise SystemExit("../shared (or $ONESHOT_SHARED) with datasets/ is needed")
    detector = create_detector("yunet", paths.shipped_yunet())
    out = {name: count(yaw_of(detector, p) for p in files)
           for name, files in training_sets(shared / "datasets", args.utk).items() if files}
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print("| photos | with a pose | turned (|yaw - 0.5| > 0.15) | past the gate's yaw range |")
        print("|---|---|---|---|")
        for name, r in out.items():
            print(f"| {name}: {r['photos']} | {r['with_pose']} | {r['turned']} | {r['past_the_gate']} "
                  f"({100 * (r['past_the_gate_share'] or 0):.1f}%) |")
    return out


if __name__ == "__main__":
    main()
