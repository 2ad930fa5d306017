"""The validation split of *training* people, for choosing things without looking at DevTest.

DATA.md's rule forbids tuning on DevTest people. The split (`app.training.calibration.validation_people`:
300 DevTrain people with two or more images and 600 with one, fixed seed) is kept out of every
model `train` makes from LFW, the shipped one included, which calibrates its open-set table on
them. This script measures things on them:

    python benchmarks/validation_split.py tree [--half a|b]          # the held-out folder tree(s)
    python benchmarks/validation_split.py train W.pt [--epochs 20] [--config JSON]
    oneshot-face evaluate identification|open-set --folder ~/.cache/oneshot-face/validation-tree --weights W.pt
    python benchmarks/validation_split.py views W.pt                # enrolment-view variants
    python benchmarks/validation_split.py check W.pt [--target F] [--plain]  # open-set rule: calibrate on one half,
                                                                    # measure on the other (needs both trees)

`train` is the shipped command with fewer epochs (bfloat16 where the CPU does it natively, the
same crop and teacher caches), with `--config` changing any `TrainConfig` field, e.g.
'{"distill": 2.0}' (the runs in docs/experiments.md before the default became 4 used
'{"distill": 1.0}'). `views` compares ways to embed the enrolment photo (shifted and scaled
copies averaged) on that split.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import paths  # noqa: E402
from app.training.calibration import validation_people  # noqa: E402


def shared_lfw() -> Path:
    """LFW in ../shared, as a path relative to the working directory where it can be: the
    training caches are keyed by the paths the shipped command used (run from the repository)."""
    shared = paths.shared_dir()
    if shared is None:
        raise SystemExit("../shared (or $ONESHOT_SHARED) with datasets/lfw is needed.")
    return Path(os.path.relpath(shared / "datasets" / "lfw"))


def held_out(lfw: Path) -> tuple[set[str], set[str]]:
    """(people with >= 2 images, people with one): `app.training.calibration.validation_people`, which
    `train` now keeps out of every model trained on LFW."""
    return validation_people(lfw)


def halves(lfw: Path) -> tuple[set[str], set[str]]:
    """The validation people in two halves of 150 + 300 (every other name in sorted order), so a
    table calibrated on one half can be checked on people it has not seen either."""
    multi, single = held_out(lfw)
    a = set(sorted(multi)[0::2]) | set(sorted(single)[0::2])
    return a, (multi | single) - a


def tree_dir(half: str | None = None) -> Path:
    return paths.cache_dir() / ("validation-tree" if half is None else f"validation-tree-{half}")


def cmd_tree(args) -> None:
    lfw = shared_lfw()
    multi, single = held_out(lfw)
    people = multi | single if args.half is None else dict(zip("ab", halves(lfw)))[args.half]
    tree = tree_dir(args.half)
    tree.mkdir(parents=True, exist_ok=True)
    for name in sorted(people):  # links, not copies: nothing of ../shared is duplicated
        if not (tree / name).exists():
            os.symlink((lfw / "images" / name).resolve(), tree / name)
    print(f"{tree}: {len(people & multi)} people to enrol and probe, {len(people & single)} strangers")


def cmd_train(args) -> None:
    import app.training.loop as T

    lfw = shared_lfw()
    cfg = T.TrainConfig(datasets=[str(lfw), str(lfw.parent / "celeba_faces")], out=args.weights,
                        exclude_people=str(lfw / "protocol" / "peopleDevTest.txt"), epochs=args.epochs,
                        precision="auto", **json.loads(args.config))
    res = T.train(cfg, on_epoch=lambda s: print(f"epoch {s.epoch}: loss {s.loss:.4f} {s.seconds:.0f}s", flush=True))
    print(f"Saved {res.path}")


def cmd_check(args) -> None:
    """The open-set rule calibrated on one half of the validation people, measured on the other
    (both ways): strangers named and people found at the default, for a model trained without
    any of them. The shipped table is calibrated on both halves together."""
    from app.evaluation.model import make_embed_paths
    from app.evaluation.protocols import evaluate_open_set
    from app.recognition.encoder import Encoder
    from app.recognition.open_set import OpenSetRule, threshold_for
    from app.training.calibration import calibrate_on_people, validation_images

    lfw = shared_lfw()
    enc = Encoder.load(args.weights, "cpu")
    if args.plain:  # the same rule on plain distances: the card's cohort left out
        enc.card.cohort = {}
        enc = Encoder(enc.net, enc.card, "cpu", enc.path)
    parts = dict(zip("ab", halves(lfw)))
    results = {}
    for cal, test in (("a", "b"), ("b", "a")):
        image_paths, owners = validation_images(lfw, parts[cal])
        section = calibrate_on_people(enc, image_paths, owners, f"validation half {cal}")
        rule = OpenSetRule.from_card(section)
        if args.target is not None:
            rule = OpenSetRule(rule.grid, rule.sizes, rule.rates, args.target, rule.source)
        r = evaluate_open_set(folder=tree_dir(test), embed_paths=make_embed_paths(enc),
                              embed_enrolment_paths=make_embed_paths(enc, enrolment=True),
                              decide_threshold=lambda m, rule=rule: threshold_for(m, rule, enc.tau),
                              scorer=enc.scorer)
        results[f"calibrated_on_{cal}_measured_on_{test}"] = r
        keys = [k for k in r if k.startswith(("tpir", "fpir", "threshold_default"))]
        print(f"calibrated on half {cal}, measured on half {test}: " +
              ", ".join(f"{k} {r[k]:.4f}" for k in keys), flush=True)
    if args.json:
        print(json.dumps(results))


def cmd_views(args) -> None:
    import cv2

    from app.evaluation.datasets import build_crops
    from app.evaluation.protocols import folder_identification_split, one_shot_identification
    from app.recognition.encoder import Encoder

    enc = Encoder.load(args.weights, "cpu")
    split = folder_identification_split(tree_dir())

    def crops(ps):
        return build_crops(list(ps), enc.input_size, "yunet", None, cache_dir=paths.cache_dir(),
                           box=enc.crop_box)["crops"]

    g, p, u = crops(split.gallery_paths), crops(split.probe_paths), crops(split.unknown_paths)
    ep, eu = enc.embed(p), enc.embed(u)

    def view(c, dx, dy, s):
        n = c.shape[0]
        m = cv2.getRotationMatrix2D((n / 2, n / 2), 0, s)
        m[:, 2] += (dx, dy)
        return cv2.warpAffine(c, m, (n, n), borderMode=cv2.BORDER_REPLICATE)

    def mean_of_views(x, views):
        total = sum(enc.embed(np.stack([view(c, *v) for c in x])).astype(np.float64) for v in views)
        return total / np.linalg.norm(total, axis=1, keepdims=True)

    def report(name, views, probes_too=False):
        probes = (mean_of_views(p, views), mean_of_views(u, views)) if probes_too else (ep, eu)
        r = one_shot_identification(mean_of_views(g, views), split.gallery_labels, probes[0], split.probe_labels,
                                    probes[1])
        print(f"{name:28s} rank-1 {r['oneshot_rank1']:.4f}  DIR {r['oneshot_dir_at_far_1e-2']:.4f}", flush=True)

    report("one view (crop only)", [(0, 0, 1.0)])
    for s in (1, 2, 3, 4):
        report(f"5 views: shifts ±{s} px", [(0, 0, 1.0), (s, 0, 1.0), (-s, 0, 1.0), (0, s, 1.0), (0, -s, 1.0)])
        report(f"9 views: 3×3 grid ±{s} px", [(dx, dy, 1.0) for dx in (-s, 0, s) for dy in (-s, 0, s)])
    report("3 views: zoom 0.95, 1.05", [(0, 0, 1.0), (0, 0, 0.95), (0, 0, 1.05)])
    report("5 views ±2 px, probes too", [(0, 0, 1.0), (2, 0, 1.0), (-2, 0, 1.0), (0, 2, 1.0), (0, -2, 1.0)], True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    tr = sub.add_parser("tree")
    tr.add_argument("--half", choices=["a", "b"], default=None)
    c = sub.add_parser("check")
    c.add_argument("weights")
    c.add_argument("--target", type=float, default=None, help="strangers-named target (default: the card's)")
    c.add_argument("--plain", action="store_true", help="plain distances, without the card's cohort")
    c.add_argument("--json", action="store_true")
    t = sub.add_parser("train")
    t.add_argument("weights")
    t.add_argument("--epochs", type=int, default=20)
    t.add_argument("--config", default="{}", help="TrainConfig fields as JSON")
    v = sub.add_parser("views")
    v.add_argument("weights")
    args = ap.parse_args()
    {"tree": cmd_tree, "train": cmd_train, "views": cmd_views, "check": cmd_check}[args.cmd](args)


if __name__ == "__main__":
    main()
