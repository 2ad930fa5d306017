"""Does blur make strangers more likely to be named? Strangers and enrolled people, by how sharp
the live face is.

The open-set rule (`app.recognition.open_set`) promises that about 1% of strangers' faces get a
name, and it was measured on faces as sharp as LFW's. This script blurs the validation people's
photos (training people, never DevTest: `app.training.calibration.validation_people`) with a
Gaussian of growing sigma, as an out-of-focus camera would, and matches each face, as the live
view does, against 20 random galleries of 100 people enrolled from their first photo (sharp, then
blurred too, as a video frame added from Recent faces may be; only people whose photo passes the
add gate). Faces are binned by `quality.sharpness` of their 112 px crop, the measure of the naming
gate (`quality.MIN_NAMING_SHARPNESS`), so the table says whether blurred strangers escape the
rule's promise and what share of enrolled people a blurred face still names rightly.

    python benchmarks/blur_naming.py [--weights W] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import paths  # noqa: E402
from app.imageio import load_image  # noqa: E402
from app.recognition.alignment import (
    align,  # noqa: E402
    align_many,  # noqa: E402
)
from app.recognition.detection import create_detector  # noqa: E402
from app.recognition.encoder import Encoder  # noqa: E402
from app.recognition.matching import Matcher  # noqa: E402
from app.recognition.quality import MIN_NAMING_SHARPNESS, MIN_SHARPNESS, sharpness  # noqa: E402
from app.training.calibration import validation_images, validation_people  # noqa: E402

SIGMAS = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0)   # Gaussian blur of the whole photo, in its pixels
BINS = (0, 10, 20, 30, 40, 60, 100, 200, float("inf"))
GALLERY, DRAWS, SEED = 100, 20, 0
GALLERY_SIGMAS = (0.0, 1.0)  # blur of the enrolment photos (most still pass the add gate)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    lfw = paths.shared_dir() / "datasets" / "lfw"
    enc = Encoder.load(args.weights, "cpu")
    rule, scorer = enc.open_set_rule, enc.scorer
    if rule is None:
        sys.exit("this model has no open-set rule")
    det = create_detector("yunet")
    multi, _ = validation_people(lfw)
    image_paths, names = validation_images(lfw)
    photos, faces, owners = [], [], []
    for p, o in zip(image_paths, names):
        rgb = load_image(p)
        f = det.detect_central(rgb)  # found on the sharp photo: blur stands for focus, not for detection
        if f is not None:
            photos.append(rgb)
            faces.append(f)
            owners.append(o)
    owners_a = np.asarray(owners)
    index: dict[str, list[int]] = {}
    for i, o in enumerate(owners):
        index.setdefault(o, []).append(i)
    eligible = sorted(o for o in multi if o in index and len(index[o]) >= 2)
    first = {o: index[o][0] for o in eligible}
    enrolled_at, addable_at = {}, {}
    for sigma in GALLERY_SIGMAS:  # the enrolment photo blurred too: a video frame added as a photo
        shots = [cv2.GaussianBlur(photos[i], (0, 0), sigma) if sigma > 0 else photos[i] for i in first.values()]
        crops = np.stack([align_many(b, [faces[i]], enc.input_size, enc.crop_box)[0]
                          for b, i in zip(shots, first.values())])
        enrolled_at[sigma] = dict(zip(first, enc.embed_enrolment(crops)))
        addable_at[sigma] = [o for o, b, i in zip(first, shots, first.values())
                             if sharpness(align(b, faces[i], 112)) >= MIN_SHARPNESS]
    tau = rule.threshold(GALLERY)
    print(f"model {enc.version}: {len(owners)} validation faces, {len(eligible)} people with 2+; "
          f"galleries of {GALLERY}, τ {tau:.3f}", flush=True)

    live, sharpness_of = {}, {}
    for sigma in SIGMAS:
        blurred = [cv2.GaussianBlur(rgb, (0, 0), sigma) if sigma > 0 else rgb for rgb in photos]
        crops = np.stack([align_many(b, [f], enc.input_size, enc.crop_box)[0] for b, f in zip(blurred, faces)])
        live[sigma] = enc.embed(crops)
        sharpness_of[sigma] = np.array([sharpness(align(b, f, 112)) for b, f in zip(blurred, faces)])
        print(f"σ {sigma:g}: median sharpness {np.median(sharpness_of[sigma]):.1f}", flush=True)

    rng = np.random.default_rng(SEED)
    nb = len(BINS) - 1
    report = []
    for gsigma in GALLERY_SIGMAS:
        pool = addable_at[gsigma]
        s_named, s_all, g_right, g_all = (np.zeros(nb) for _ in range(4))
        for _ in range(DRAWS):
            drawn = [pool[j] for j in sorted(rng.choice(len(pool), GALLERY, replace=False))]
            chosen = {o: k for k, o in enumerate(drawn)}
            m = Matcher(np.stack([enrolled_at[gsigma][o] for o in drawn]), np.arange(GALLERY),
                        {k: o for o, k in chosen.items()}, scorer)
            strangers = np.array([i for i, o in enumerate(owners) if o not in chosen])
            genuine = np.array([i for o in drawn for i in index[o][1:]])
            for sigma in SIGMAS:
                for rows, is_stranger in ((strangers, True), (genuine, False)):
                    bins = np.digitize(sharpness_of[sigma][rows], BINS[1:-1])
                    for b, match, who in zip(bins, m.match(live[sigma][rows], tau), owners_a[rows]):
                        if is_stranger:
                            s_all[b] += 1
                            s_named[b] += match.known
                        else:
                            g_all[b] += 1
                            g_right[b] += match.known and match.name == who
        print(f"\nenrolment photos blurred with σ {gsigma:g} ({len(pool)} of {len(first)} people pass the add gate)\n"
              f"| live face's sharpness | strangers' faces | strangers named | enrolled people's faces | named right |\n"
              f"|---|---|---|---|---|")
        for b in range(nb):
            hi = BINS[b + 1]
            row = {"gallery_sigma": gsigma, "sharpness": [BINS[b], hi if np.isfinite(hi) else None],
                   "strangers": int(s_all[b]), "strangers_named": s_named[b] / s_all[b] if s_all[b] else None,
                   "genuine": int(g_all[b]), "named_right": g_right[b] / g_all[b] if g_all[b] else None}
            report.append(row)
            span = f"{BINS[b]:g}-{hi:g}" if np.isfinite(hi) else f"{BINS[b]:g}+"
            sn = "-" if row["strangers_named"] is None else f"{100 * row['strangers_named']:.2f}%"
            nr = "-" if row["named_right"] is None else f"{row['named_right']:.3f}"
            print(f"| {span} | {int(s_all[b])} | {sn} | {int(g_all[b])} | {nr} |", flush=True)
    print(f"\n(the naming gate: faces under {MIN_NAMING_SHARPNESS:g} are never named; the rule\'s target {100 * rule.target:g}%)")
    if args.json:
        print(json.dumps({"model": enc.version, "tau": tau, "gallery": GALLERY, "draws": DRAWS,
                          "sigmas": list(SIGMAS), "bins": report}))


if __name__ == "__main__":
    main()
