"""How should a person with several photos be scored? Measured on the validation people only.

For a model trained without LFW's validation people (`app.training.calibration.validation_people`), the
people with at least four images are enrolled with their first 1, 2 or 3 images (embedded as
enrolment photos, as the app embeds them); their images from the fourth on are the probes, the
same for every k; every image of the validation people not drawn is a stranger. Galleries of 20
and of 50 of them are drawn (20 draws each, seed 0), and each scoring is decided as the app
decides, with the model's cohort normalisation and its open-set rule τ(N):

- `nearest`: the nearest enrolled photo, τ for N = the photos enrolled (what the app does);
- `mean`: one template per person, the re-normalised mean of their photos, τ for N = people;
- `mean, τ(photos)`: the same templates, τ for N = the photos enrolled;
- `trimmed`: as `mean` without the photo farthest from the person's mean (k = 3 only).

Reported per k: strangers named at the default τ (the promise is 1%), enrolled probes named
right at the default τ, and named right when τ is set so that 1% of strangers are named.

    python benchmarks/multi_photo_scores.py [W.pt] [--json]
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
from app.evaluation.protocols import threshold_at_far  # noqa: E402
from app.recognition.encoder import Encoder  # noqa: E402
from app.recognition.matching import Matcher  # noqa: E402
from app.training.calibration import validation_images, validation_people  # noqa: E402

SEED, DRAWS, MIN_IMAGES, KS = 0, 20, 4, (1, 2, 3)


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("weights", nargs="?", default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    lfw = paths.shared_dir() / "datasets" / "lfw"
    enc = Encoder.load(args.weights, "cpu")
    rule, scorer = enc.open_set_rule, enc.scorer
    if rule is None:
        sys.exit("this model has no open-set rule")
    multi, _ = validation_people(lfw)
    image_paths, owners = validation_images(lfw)
    owners = np.asarray(owners)
    crops = build_crops(list(image_paths), enc.input_size, "yunet", cache_dir=paths.cache_dir(),
                        box=enc.crop_box)["crops"]
    live = enc.embed(crops)
    index = {}
    for i, o in enumerate(owners):
        index.setdefault(o, []).append(i)
    eligible = sorted(o for o in multi if len(index[o]) >= MIN_IMAGES)
    enrol_rows = sorted(i for o in eligible for i in index[o][:max(KS)])
    enrol = dict(zip(enrol_rows, enc.embed_enrolment(crops[enrol_rows])))
    print(f"model {enc.version}: {len(eligible)} people with {MIN_IMAGES}+ images, "
          f"{len(owners)} validation images", flush=True)
    rng = np.random.default_rng(SEED)
    results: dict = {}
    for g in (20, 50):
        g = min(g, len(eligible))
        acc: dict = {}
        for _ in range(DRAWS):
            drawn = [eligible[j] for j in sorted(rng.choice(len(eligible), g, replace=False))]
            probes = np.array([i for o in drawn for i in index[o][max(KS):]])
            chosen = set(drawn)
            strangers = np.array([i for i, o in enumerate(owners) if o not in chosen])
            ids = {o: n for n, o in enumerate(drawn)}
            truth = np.array([ids[o] for o in owners[probes]])
            for k in KS:
                photos = np.stack([enrol[i] for o in drawn for i in index[o][:k]])
                owner = np.repeat(np.arange(g), k)
                by = photos.reshape(g, k, -1)
                mean = unit(by.mean(axis=1))
                if k >= 3:
                    far = np.argmax(np.linalg.norm(by - mean[:, None], axis=2), axis=1)
                    keep = np.ones((g, k), bool)
                    keep[np.arange(g), far] = False
                    trimmed = unit(np.stack([by[p][keep[p]].mean(axis=0) for p in range(g)]))
                variants = {"nearest": (photos, owner, g * k), "mean": (mean, np.arange(g), g),
                            "mean, τ(photos)": (mean, np.arange(g), g * k)}
                if k >= 3:
                    variants["trimmed"] = (trimmed, np.arange(g), g)
                for name, (emb, who, n) in variants.items():
                    m = Matcher(emb, who, {p: str(p) for p in range(g)}, scorer)
                    tau = rule.threshold(n)
                    ms = m.match(live[strangers], tau)
                    mp = m.match(live[probes], tau)
                    d_s = np.array([x.distance for x in ms])
                    d_p = np.array([x.distance for x in mp])
                    right = np.array([x.nearest == str(t) for x, t in zip(mp, truth)])
                    t1 = threshold_at_far(d_s, 0.01)
                    a = acc.setdefault((k, name), [0, 0, 0, 0, 0])
                    a[0] += int((d_s < tau).sum())
                    a[1] += len(d_s)
                    a[2] += int((right & (d_p < tau)).sum())
                    a[3] += len(d_p)
                    a[4] += int((right & (d_p < t1)).sum())
        for (k, name), (sn, st, rn, pt, r1) in sorted(acc.items()):
            row = {"strangers_named": sn / st, "named_right": rn / pt, "named_right_at_1pct": r1 / pt}
            results[f"G={g} k={k} {name}"] = row
            print(f"G={g} k={k} {name:16s} strangers named {100 * row['strangers_named']:.2f}%  "
                  f"named right {row['named_right']:.3f}  at 1% strangers {row['named_right_at_1pct']:.3f}",
                  flush=True)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
