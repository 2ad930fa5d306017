"""How far a network names a turned head from one less-turned photo: umist one-shot rank-1 by view.

umist's people turn from full profile (`v000`) to the least-turned view (`00_v018`, the photo
enrolled, as `evaluate identification --folder` does); each later view is a probe. The shipped
encoder (or `--weights`, embedding as that command does) and every ONNX teacher this machine has
see the same aligned faces, so the table says where the encoder loses a turned head that a network of the same input can
still name: the ceiling a training recipe for pose (issue 32 §3) can reach from these teachers. Beside it,
how well each network tells people apart among profile views alone (`profile_pairs_auc`): what
decides whether a profile may be added to someone's photos without naming strangers in profile.
Nothing is trained or tuned here.

    python benchmarks/pose_ceiling.py [--folder ../shared/datasets/umist] [--weights W] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import paths  # noqa: E402
from app.evaluation.datasets import build_crops  # noqa: E402
from app.evaluation.model import make_embed_paths  # noqa: E402
from app.evaluation.protocols import auc, folder_identification_split  # noqa: E402
from app.recognition import scoring  # noqa: E402
from app.recognition.encoder import Encoder  # noqa: E402

GROUPS = (("v000-v005 (profile)", range(0, 6)), ("v006-v011", range(6, 12)), ("v012-v017", range(12, 18)))


def view_of(path: str) -> int:
    """The view number of a umist file name (`v007.png` → 7)."""
    return int(Path(path).stem.rsplit("v", 1)[1])


def rank1_by_view(gallery: np.ndarray, gallery_labels: list[str], probes: np.ndarray,
                  probe_labels: list[str], views: list[int]) -> dict:
    """Nearest enrolled photo by the plain distance between unit embeddings (as `evaluate
    identification` ranks): rank-1 overall and per view group."""
    g, p = scoring.unit_rows(gallery.astype(np.float32)), scoring.unit_rows(probes.astype(np.float32))
    right = np.asarray(gallery_labels)[np.argmin(scoring.distances(p, g), axis=1)] == np.asarray(probe_labels)
    v = np.asarray(views)
    out = {"rank1": float(right.mean()), "probes": int(len(right))}
    for name, group in GROUPS:
        sel = np.isin(v, list(group))
        out[name] = float(right[sel].mean()) if sel.any() else None
    return out


def profile_pairs_auc(embeddings: np.ndarray, labels: list[str], views: list[int],
                      group: range = GROUPS[0][1]) -> float:
    """How well the network tells people apart among turned heads alone: the pair AUC (a
    same-person pair closer than a different-person pair) over every pair of probes whose views
    both lie in `group` (by default the profile views). Where it is low, a profile added to one
    person's photos (a learned view, a capture's) lies near every stranger's profile."""
    v = np.asarray(views)
    sel = np.flatnonzero(np.isin(v, list(group)))
    e = scoring.unit_rows(embeddings[sel].astype(np.float32))
    lab = np.asarray(labels)[sel]
    i, j = np.triu_indices(len(sel), k=1)
    d = scoring.distances(e, e)[i, j]
    return auc(d, lab[i] == lab[j])


def run(folder: str | Path, weights: str | None = None) -> dict:
    encoder = Encoder.load(weights, "cpu")
    split = folder_identification_split(folder)
    paths_all = split.gallery_paths + split.probe_paths
    n = len(split.gallery_paths)
    # As `evaluate identification` embeds them, in its order and batches (bfloat16 rounding depends
    # on what shares a batch): the enrolled photos as the app enrols them, the probes as live faces.
    order = sorted(set(split.probe_paths))
    live, found = make_embed_paths(encoder, "yunet", workers=1)(order)
    enrolled, found_g = make_embed_paths(encoder, "yunet", workers=1, enrolment=True)(list(split.gallery_paths))
    where = np.array([order.index(p) for p in split.probe_paths])
    embedded = {f"ours ({encoder.version})": np.concatenate([np.asarray(enrolled), np.asarray(live)[where]])}
    missed = int((~np.asarray(found, bool)).sum() + (~np.asarray(found_g, bool)).sum())
    from app.training.teachers import OnnxTeacher, available_teachers
    teachers = available_teachers()
    if teachers:  # the teachers' own input: the 112 px ArcFace frame, one view of each photo
        plain = build_crops(paths_all, 112, "yunet", None, workers=1, cache_dir=paths.cache_dir())["crops"]
        embedded.update({name: np.asarray(OnnxTeacher(name).embed_crops(plain)) for name in teachers})
    views = [view_of(p) for p in split.probe_paths]
    rows = {name: {**rank1_by_view(emb[:n], split.gallery_labels, emb[n:], split.probe_labels, views),
                   "profile_pairs_auc": profile_pairs_auc(emb[n:], split.probe_labels, views)}
            for name, emb in embedded.items()}
    return {"folder": str(folder), "enrolled": n, "missed_detections": missed,
            "networks": rows}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", default=None, help="default: ../shared/datasets/umist")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    folder = args.folder
    if folder is None:
        shared = paths.shared_dir()
        if shared is None:
            print("../shared (or $ONESHOT_SHARED) with datasets/umist is needed.", file=sys.stderr)
            return 2
        folder = shared / "datasets" / "umist"
    r = run(folder, args.weights)
    if args.json:
        print(json.dumps(r, indent=1))
        return 0
    print(f"{r['folder']}: {r['enrolled']} people enrolled from their first photo by name; "
          f"{r['missed_detections']} images without a face found (fallback box)\n")
    print("| network | rank-1 | " + " | ".join(name for name, _ in GROUPS) + " | profile pairs AUC |")
    print("|---|---|" + "---|" * (len(GROUPS) + 1))
    for name, row in r["networks"].items():
        print(f"| {name} | {row['rank1']:.3f} | " + " | ".join(
            "-" if row[g] is None else f"{row[g]:.3f}" for g, _ in GROUPS) + f" | {row['profile_pairs_auc']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
