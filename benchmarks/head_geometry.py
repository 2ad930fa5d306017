"""Which 128-d space to put Faceplugin's network in, judged on the validation people only.

The model shipped before fitted the published network's 128-d head onto EdgeFace's projected
embeddings and then distilled it from EdgeFace; the one shipped now keeps Faceplugin's own
geometry (its embeddings projected on their top 128 principal directions). This script measures
the heads side by side, without any training step, on the 900 validation people of
`app.training.calibration.validation_people` (300 enrolled from their first photo, their other
1,213 photos as probes, 600 one-photo strangers) — never on DevTest:

    python benchmarks/head_geometry.py [--sample N] [MODEL.pt ...]

Rows: the two teachers' own embeddings; Faceplugin's 512-d features projected on their principal
directions (what `train --init faceplugin --teacher faceplugin` starts from); the least-squares
head onto EdgeFace's projection (what `--teacher edgeface` starts from) at three ridges; and any
model files given (embedded through the app's encoder). Columns: one-shot rank-1 and DIR at 1%
false alarms (plain distances, no cohort), the AUC of same/different pairs among the enrolled
people, and pair accuracy with τ chosen on the other half of the people. The principal
directions and heads are fitted on UTKFace's aligned faces (`--sample` of them, all by default:
about 20 minutes on two cores, most of it Faceplugin in torch).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import paths  # noqa: E402
from app.evaluation.datasets import aligned_files, build_crops, read_aligned  # noqa: E402
from app.evaluation.protocols import accuracy, auc, best_threshold, one_shot_identification  # noqa: E402
from app.recognition.encoder import Encoder, to_tensor  # noqa: E402
from app.training.calibration import validation_images, validation_people  # noqa: E402
from app.training.pretrained import mobilefacenet_from_faceplugin  # noqa: E402
from app.training.teachers import OnnxTeacher, find_teacher_model  # noqa: E402


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def principal(sample: np.ndarray, dim: int = 128):
    mean = sample.mean(0)
    _, _, vt = np.linalg.svd(sample - mean, full_matrices=False)
    return lambda x: unit((x - mean) @ vt[:dim].T)


def least_squares(x: np.ndarray, t: np.ndarray, ridge: float):
    """As `app.training.pretrained.fit_head`: ridge relative to the features' scale."""
    m, tm = x.mean(0), t.mean(0)
    f = x - m
    g = f.T @ f
    g += ridge * np.trace(g) / len(g) * np.eye(len(g))
    w = np.linalg.solve(g, f.T @ (t - tm))
    return lambda y: unit((y - m) @ w + tm)


def pair_halves(owners: np.ndarray, multi: set[str], rng: np.random.Generator) -> dict[int, np.ndarray]:
    """Same-person pairs of the enrolled people (all of them) and as many random different-person
    pairs (at least 3,000), in two halves by person."""
    people = sorted(multi)
    half = {p: k % 2 for k, p in enumerate(rng.permutation(people))}
    by: dict[str, list[int]] = {}
    for i, o in enumerate(owners):
        if o in multi:
            by.setdefault(str(o), []).append(i)
    out = {}
    for h in (0, 1):
        ps = [p for p in people if half[p] == h]
        rows = [(ix[a], ix[b], 1) for p in ps for ix in [by[p]] for a in range(len(ix)) for b in range(a + 1, len(ix))]
        for _ in range(max(len(rows), 3000)):
            a, b = rng.choice(len(ps), 2, replace=False)
            rows.append((rng.choice(by[ps[a]]), rng.choice(by[ps[b]]), 0))
        out[h] = np.array(rows)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help="model files to measure beside the heads")
    ap.add_argument("--sample", type=int, default=None, help="UTKFace faces to fit on (default: all)")
    args = ap.parse_args()
    shared = paths.shared_dir()
    if shared is None:
        raise SystemExit("needs ../shared (or $ONESHOT_SHARED)")
    torch.set_num_threads(2)
    lfw = shared / "datasets" / "lfw"
    image_paths, owner_list = validation_images(lfw)
    owners = np.array(owner_list)
    multi, _ = validation_people(lfw)
    crops = build_crops(image_paths, 112, "yunet", None, workers=2, cache_dir=paths.cache_dir())["crops"]
    files = aligned_files(shared / "datasets" / "utkface_aligned")
    rng = np.random.default_rng(0)
    if args.sample is not None:
        files = [files[i] for i in sorted(rng.choice(len(files), min(args.sample, len(files)), replace=False))]
    utk = read_aligned(files, cache_dir=paths.cache_dir())
    print(f"{len(crops)} validation faces, {len(utk)} UTKFace faces to fit on", file=sys.stderr)
    net = mobilefacenet_from_faceplugin(find_teacher_model("faceplugin")).eval()

    def features(c: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return torch.cat([net.features(to_tensor(c[i:i + 128])) for i in range(0, len(c), 128)]).double().numpy()

    fv, fu = features(crops), features(utk)
    edge = OnnxTeacher("edgeface")
    ev, eu = edge.embed_crops(crops).astype(np.float64), edge.embed_crops(utk).astype(np.float64)
    edge128 = principal(eu)
    rows = {"Faceplugin, its 512-d": unit(fv), "EdgeFace-XS, its 512-d": unit(ev),
            "EdgeFace-XS projected to 128-d": edge128(ev),
            "Faceplugin projected to 128-d (its own geometry)": principal(fu)(fv)}
    for ridge in (1e-3, 1e-2, 1e-1):
        rows[f"Faceplugin, least squares onto EdgeFace's 128-d, ridge {ridge:g}"] = least_squares(fu, edge128(eu), ridge)(fv)
    for m in args.models:
        enc = Encoder.load(m, "cpu")
        rows[m] = enc.embed(build_crops(image_paths, enc.input_size, "yunet", None, workers=2,
                                        cache_dir=paths.cache_dir(), box=enc.crop_box)["crops"])
    first: dict[str, int] = {}
    for i, o in enumerate(owners):
        if o in multi and o not in first:
            first[o] = i
    g = np.array(sorted(first.values()))
    p = np.array([i for i, o in enumerate(owners) if o in multi and i not in set(g.tolist())])
    u = np.array([i for i, o in enumerate(owners) if o not in multi])
    halves = pair_halves(owners, multi, np.random.default_rng(0))
    print("| embedding (validation people) | rank-1 | DIR @ FAR 1e-2 | pair AUC | pair accuracy |")
    print("|---|---|---|---|---|")
    for name, e in rows.items():
        r = one_shot_identification(e[g], owners[g], e[p], owners[p], e[u])
        d = {h: (np.linalg.norm(e[P[:, 0]] - e[P[:, 1]], axis=1), P[:, 2].astype(bool)) for h, P in halves.items()}
        acc = np.mean([accuracy(*d[h], best_threshold(*d[1 - h])) for h in (0, 1)])
        print(f"| {name} | {r['oneshot_rank1']:.3f} | {r['oneshot_dir_at_far_1e-2']:.3f} | "
              f"{np.mean([auc(*d[h]) for h in (0, 1)]):.4f} | {acc:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
