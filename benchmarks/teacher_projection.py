"""How much of an ONNX teacher's geometry its 128-d projection keeps (docs/experiments.md).

One-shot rank-1 among LFW's validation people (first photo of each enrolled, the others probes,
the one-photo people as distractors), with the teacher's full embeddings and with them projected
on the top principal directions of 4,096 training faces, as `training.loop.Projection` does:

    python benchmarks/teacher_projection.py [--teacher edgeface] [--dims 128 256]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import paths  # noqa: E402
from app.evaluation.datasets import build_crops, read_people_file, scan_identity_folders  # noqa: E402
from app.training.calibration import validation_people  # noqa: E402
from app.training.loop import PROJECTION_SAMPLE, Projection  # noqa: E402
from app.training.teachers import FRAME, OnnxTeacher  # noqa: E402


def rank1(emb: np.ndarray, labels: np.ndarray) -> float:
    first: dict[int, int] = {}
    for i, lab in enumerate(labels):
        first.setdefault(int(lab), i)
    gallery = np.array(sorted(first.values()))
    probes = np.setdiff1d(np.arange(len(labels)), gallery)
    best = (emb[probes] @ emb[gallery].T).argmax(1)
    return float((labels[gallery][best] == labels[probes]).mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--teacher", default="edgeface")
    ap.add_argument("--dims", type=int, nargs="+", default=[128, 256])
    args = ap.parse_args()
    shared = paths.shared_dir()
    if shared is None:
        raise SystemExit("../shared (or $ONESHOT_SHARED) is needed.")
    lfw = os.path.relpath(shared / "datasets" / "lfw")  # the training cache is keyed by these paths
    roots = [lfw, os.path.relpath(shared / "datasets" / "celeba_faces")]
    images = scan_identity_folders(roots, exclude=read_people_file(Path(lfw) / "protocol" / "peopleDevTest.txt"))
    data = build_crops(images.paths, FRAME, "yunet", cache_dir=paths.training_cache_dir(roots))
    owner = np.asarray(images.names)[images.labels]
    multi, single = validation_people(lfw)
    held = np.isin(owner, sorted(multi | single))
    val, train = held & data["found"], ~held & data["found"]
    teacher = OnnxTeacher(args.teacher)
    pick = np.random.default_rng(0).choice(np.flatnonzero(train), PROJECTION_SAMPLE, replace=False)
    fit = teacher.embed_crops(data["crops"][np.sort(pick)])
    emb = teacher.embed_crops(data["crops"][val])
    labels = images.labels[val]
    print(f"{args.teacher}, {len(labels)} validation images: rank-1 {rank1(emb, labels):.4f} unprojected")
    for dim in args.dims:
        import torch
        projected = Projection(fit, dim)(torch.from_numpy(emb)).numpy()
        print(f"  projected to {dim}: rank-1 {rank1(projected, labels):.4f}")


if __name__ == "__main__":
    main()
