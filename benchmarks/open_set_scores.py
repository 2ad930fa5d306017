"""Which score should the open-set rule threshold? Measured on the validation people only.

For a model trained without LFW's validation people (`app.training.calibration.validation_people`), this
draws galleries of 10 and 100 of them (and all 300) as `evaluate open-set` does and reports, for
each candidate score, the share of enrolled people's faces named right when τ is set so that at
most 1% of strangers are named (`tpir_at_fpir_1e-2`): the part of open-set accuracy a score
change can move (the default τ only picks a point on that curve).

    python benchmarks/open_set_scores.py W.pt [--json]

Scores, smaller = more alike:
- `nearest`: distance to the nearest enrolled face (what the app does);
- `ratio`: nearest distance / second-nearest distance (a face about as near to two people is
  probably neither); with one person enrolled, the nearest distance alone;
- `cohort-q`: nearest distance minus the mean distance of the face to its 20 nearest faces of a
  cohort of training people (a face near everyone is a weak match for anyone);
- `cohort-qg`: the same, also minus the enrolled face's own cohort mean, halved.
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
from app.evaluation.datasets import build_crops, read_people_file, scan_identity_folders  # noqa: E402
from app.evaluation.protocols import threshold_at_far  # noqa: E402
from app.recognition.encoder import Encoder  # noqa: E402
from app.recognition.scoring import distance_from_similarity, normalise  # noqa: E402
from app.training.calibration import validation_images, validation_people  # noqa: E402

COHORT, K, SEED = 2000, 20, 0


def dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return distance_from_similarity(a.astype(np.float64) @ b.astype(np.float64).T)


def cohort_mean(x: np.ndarray, cohort: np.ndarray) -> np.ndarray:
    d = dist(x, cohort)
    return np.sort(d, axis=1)[:, :K].mean(axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    shared = paths.shared_dir()
    lfw = shared / "datasets" / "lfw"
    enc = Encoder.load(args.weights, "cpu")

    def crops(ps):
        d = build_crops(list(ps), enc.input_size, "yunet", cache_dir=paths.cache_dir(), box=enc.crop_box)
        return d["crops"]

    multi, single = validation_people(lfw)
    image_paths, owners = validation_images(lfw)
    owners = np.asarray(owners)
    c = crops(image_paths)
    live = enc.embed(c)
    first = np.array([i for i, o in enumerate(owners) if o in multi and (i == 0 or owners[i - 1] != o)])
    enrol = enc.embed_enrolment(c[first])
    people = owners[first]
    # cohort: training people outside the validation split and DevTest
    out = multi | single | read_people_file(lfw / "protocol" / "peopleDevTest.txt")
    train = scan_identity_folders([lfw], exclude=out)
    pick = np.random.default_rng(SEED).choice(len(train.paths), COHORT, replace=False)
    cohort = enc.embed(crops([train.paths[i] for i in sorted(pick)]))
    mu_live, mu_enrol = cohort_mean(live, cohort), cohort_mean(enrol, cohort)
    d_all = dist(live, enrol)  # every face against every possible enrolment
    rng = np.random.default_rng(SEED)
    results: dict = {}
    for n, draws in ((10, 20), (100, 20), (len(people), 1)):
        scores = {s: [0, 0] for s in ("nearest", "ratio", "cohort-q", "cohort-qg")}
        for _ in range(draws):
            drawn = np.sort(rng.choice(len(people), n, replace=False))
            names = set(people[drawn])
            is_first = np.zeros(len(owners), bool)
            is_first[first] = True
            known = np.array([o in names for o in owners]) & ~is_first
            stranger = np.array([o not in names for o in owners])
            d = d_all[:, drawn]
            order = np.argsort(d, axis=1)
            d1 = d[np.arange(len(d)), order[:, 0]]
            right = people[drawn][order[:, 0]] == owners
            dn = normalise(d, mu_live[:, None], mu_enrol[drawn][None, :], 0.0)
            jn = np.argmin(dn, axis=1)
            variants = {  # score, and whether the person it names is right
                "nearest": (d1, right),
                "ratio": (d1 / d[np.arange(len(d)), order[:, 1]] if n > 1 else d1, right),
                "cohort-q": (d1 - mu_live, right),
                "cohort-qg": (dn[np.arange(len(d)), jn], people[drawn][jn] == owners),
            }
            for s, (v, ok) in variants.items():
                t = threshold_at_far(v[stranger], 0.01)
                scores[s][0] += int(np.sum(ok[known] & (v[known] < t)))
                scores[s][1] += int(known.sum())
        results[n] = {s: a / b for s, (a, b) in scores.items()}
        print(f"N={n}: " + ", ".join(f"{s} {v:.4f}" for s, v in results[n].items()), flush=True)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
