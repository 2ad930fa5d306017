"""Does an enrolled photo's pose or sharpness make it name more strangers?

Every validation face (training people only, never DevTest:
`app.training.calibration.validation_people`) is taken in turn as a one-photo gallery, embedded
as enrolment embeds photos; every face of another validation person is a stranger, embedded as
the live view embeds faces. For each photo, the share of strangers under τ (cohort-normalised,
τ from the open-set rule for 3 and for 100 photos enrolled), averaged by how turned the photo is
(|yaw − 0.5| from `quality.pose`, 0 frontal) and by its sharpness (`quality.sharpness` of the
112 px crop). A flat table means a turned or soft photo added from a video (Recent faces →
"This is …") is no more of a hub than a frontal one, so the rule needs no pose or sharpness term.

    python benchmarks/photo_hubness.py [--weights W]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import paths  # noqa: E402
from app.imageio import load_image  # noqa: E402
from app.recognition.alignment import align, align_many  # noqa: E402
from app.recognition.detection import create_detector  # noqa: E402
from app.recognition.encoder import Encoder  # noqa: E402
from app.recognition.quality import pose, sharpness  # noqa: E402
from app.recognition.scoring import scores  # noqa: E402
from app.training.calibration import validation_images  # noqa: E402

YAW_BINS = ((0.0, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4), (0.4, float("inf")))
SHARPNESS_BINS = ((0.0, 40.0), (40.0, 80.0), (80.0, 160.0), (160.0, float("inf")))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None)
    args = ap.parse_args()
    lfw = paths.shared_dir() / "datasets" / "lfw"
    enc = Encoder.load(args.weights, "cpu")
    rule, scorer = enc.open_set_rule, enc.scorer
    if rule is None or scorer is None:
        sys.exit("this model has no open-set rule or cohort")
    det = create_detector("yunet")
    image_paths, names = validation_images(lfw)
    crops, turn, sharp, owners = [], [], [], []
    for p, o in zip(image_paths, names):
        rgb = load_image(p)
        f = det.detect_central(rgb)
        if f is None:
            continue
        crops.append(align_many(rgb, [f], enc.input_size, enc.crop_box)[0])
        yaw, _ = pose(f.landmarks)
        turn.append(abs((0.5 if yaw is None else yaw) - 0.5))
        sharp.append(sharpness(align(rgb, f, 112)))
        owners.append(o)
    x = np.stack(crops)
    own, turn_a, sharp_a = np.asarray(owners), np.asarray(turn), np.asarray(sharp)
    live, photo = enc.embed(x), enc.embed_enrolment(x)
    d = scores(live, photo, scorer)
    same = own[:, None] == own[None, :]
    d[same] = np.inf
    strangers = (~same).sum(axis=0)
    print(f"model {enc.version}: {len(own)} validation faces, each a one-photo gallery\n")
    for n in (3, 100):
        tau = rule.threshold(n)
        rate = (d < tau).sum(axis=0) / strangers  # per photo: the share of strangers it names
        print(f"τ for {n} photos ({tau:.3f}): strangers named by one photo, mean {100 * rate.mean():.4f}%\n"
              "| photo | photos | strangers it names |\n|---|---|---|")
        for label, values, bins in (("|yaw − 0.5|", turn_a, YAW_BINS), ("sharpness", sharp_a, SHARPNESS_BINS)):
            for lo, hi in bins:
                sel = (values >= lo) & (values < hi)
                span = f"{lo:g}-{hi:g}" if np.isfinite(hi) else f"{lo:g}+"
                share = f"{100 * rate[sel].mean():.4f}%" if sel.any() else "-"
                print(f"| {label} {span} | {int(sel.sum())} | {share} |")
        print()


if __name__ == "__main__":
    main()
