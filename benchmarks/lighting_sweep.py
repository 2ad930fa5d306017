"""Lighting sweep: is a person named while the light moves from frontal to strong side light?

For each of N LFW people with two or more photos (drawn from the validation people, or once from
the DevTest people with `--people-set devtest`), one of their other photos (`_0002`) is played as
a video through the real `Engine` and the live view's `LiveAnalyser`, as `turning_head.py` plays
umist: evenly lit, then the light moves to the right of the image in steps of the open-set work's
side-light rendering (`app.evaluation.shifts.sidelight`, strength 1 is `--shift sidelight`) up
to 1.25 and back in steps of 0.05, the same from the left, then the same lamp turned down on the
whole scene (the dark faces of issue 32 §3: the ramp's dark end everywhere, the grey around the
photo too, as a dark room, which gives the detector's dark-frame retry its chance), each leg
ending evenly lit (151 frames). The steps are small enough that no two frames differ as a scene
cut does (the live view resets its tracks at a cut): a light that moves, not a camera that
switches. The first half of the people (sorted by name) are enrolled from their first photo
(`_0001`), the others are strangers. The ramp runs across the middle of the photo, where LFW's
deep-funnelled faces are; the photo is scaled onto a grey webcam-sized frame, and in side light
the grey around it stays as it is.

Reported as turning_head reports (and `--learn`, `--warm` the same), plus every light step's
shares. A live track keeps the name it was given, so a face named while evenly lit stays named
into the side light, as in the app; `--each-step` asks where the naming itself breaks: each of the
steps 0.25, 0.5, ... 1.25 is its own short video (6 frames, a person who appears already in that
light), so each step's track is named from its own light alone.

    python benchmarks/lighting_sweep.py [--lfw DIR] [--people N] [--people-set validation|devtest]
                                        [--each-step] [--learn | --warm] [--json]

The shipped model was trained without the validation people; nothing is tuned here (the span, the
strengths and the photos were fixed before any run), and the DevTest run measures what ships
(learning on, `--learn`). Figures: docs/learning.md, "Lighting sweep (LFW)".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from turning_head import Seen, Video, add_play_options, as_frame, measure, print_summary  # noqa: E402

from app import paths  # noqa: E402
from app.evaluation.datasets import lfw_image_path  # noqa: E402
from app.evaluation.protocols import read_people_counts  # noqa: E402
from app.evaluation.shifts import sidelight  # noqa: E402
from app.imageio import load_image  # noqa: E402
from app.training.calibration import validation_people  # noqa: E402

ENROL_PHOTO, SWEEP_PHOTO = 1, 2
FACE_SPAN = (0.3, 0.7)   # of the photo's width: LFW's faces lie about 80-175 px of 250
SCALE = 1.4              # 250 px photo -> 350 px of the 360 px frame
STRENGTHS = tuple(round(0.05 * i, 2) for i in range(1, 26))  # 0.05 .. 1.25
EACH_STEP = (0.25, 0.5, 0.75, 1.0, 1.25)                      # the steps of --each-step
LEGS = ("right", "left", "dark")  # lit from the image's right, from its left, the lamp turned down
SEED = 0
HOLD = 6                 # frames of each step's video with --each-step


def steps(strengths: tuple[float, ...] = STRENGTHS) -> list[tuple[str, float]]:
    """(leg, strength) of every frame: evenly lit, then each leg up to the strongest and back."""
    out = [("frontal", 0.0)]
    for leg in LEGS:
        out += [(leg, s) for s in strengths] + [(leg, s) for s in strengths[-2::-1]] + [("frontal", 0.0)]
    return out


def step_name(leg: str, strength: float) -> str:
    return "frontal" if leg == "frontal" else f"{leg} {strength:.2f}"


def lit(photo: np.ndarray, leg: str, strength: float) -> np.ndarray:
    if leg == "frontal":
        return photo
    return sidelight(photo, strength, FACE_SPAN, from_left=leg == "left", even=leg == "dark")


def video(photo_path: str, only: tuple[str, float] | None = None) -> Video:
    """The sweep of the photo, or with `only` that one light step held for HOLD frames."""
    def frames():
        photo = load_image(photo_path)
        for leg, s in steps() if only is None else [only] * HOLD:
            frame = lit(as_frame(photo, SCALE), leg, s) if leg == "dark" else as_frame(lit(photo, leg, s), SCALE)
            yield step_name(leg, s), frame
    return frames


def choose_people(lfw: Path, people_set: str, n: int) -> list[str]:
    """N people with >= 2 photos, drawn with a fixed seed, sorted by name."""
    if people_set == "validation":
        pool = sorted(validation_people(lfw)[0])
        if not pool:
            raise SystemExit(f"no validation people: {lfw / 'protocol' / 'peopleDevTrain.txt'} missing or short")
    elif people_set == "devtest":
        pool = sorted(name for name, c in read_people_counts(lfw / "protocol" / "peopleDevTest.txt") if c >= 2)
    else:
        raise ValueError(f"unknown people set {people_set!r}")
    n = min(n, len(pool))
    return sorted(np.random.default_rng(SEED).choice(pool, n, replace=False).tolist())


def per_step(seen: list[Seen], unknown: str) -> dict[str, dict]:
    """Each light step's frames (in the order first played): enrolled frames named right, as
    someone else, no face; strangers' frames named."""
    out: dict[str, dict] = {}
    for step in dict.fromkeys(s.step for s in seen):
        own = [s for s in seen if s.step == step and s.enrolled]
        strangers = [s for s in seen if s.step == step and not s.enrolled]
        out[step] = {"enrolled_frames": len(own),
                     "right": sum(s.said == s.person for s in own),
                     "named_other": sum(s.said not in (None, unknown, s.person) for s in own),
                     "no_face": sum(s.said is None for s in own),
                     "stranger_frames": len(strangers),
                     "stranger_named": sum(s.said not in (None, unknown) for s in strangers)}
    return out


def run(lfw: Path, people: int = 20, people_set: str = "validation", weights: str | None = None,
        learn: bool = False, warm: bool = False, each_step: bool = False) -> dict:
    from app.recognition.matching import UNKNOWN

    names = choose_people(lfw, people_set, people)
    enrol = {n: Path(lfw_image_path(lfw, n, ENROL_PHOTO)) for n in names[: len(names) // 2]}
    photos = {n: lfw_image_path(lfw, n, SWEEP_PHOTO) for n in names}
    if each_step:
        videos = {f"{n} @ {step_name(*st)}": video(photos[n], st) for n in names for st in dict.fromkeys(steps(EACH_STEP))}
    else:
        videos = {n: video(photos[n]) for n in names}
    out, seen = measure(enrol, videos, weights, learn, warm, owner=lambda key: key.split(" @ ")[0])
    return {"people_set": people_set, "names": names, "each_step": each_step,
            "frames_per_video": HOLD if each_step else len(steps()), **out, "per_step": per_step(seen, UNKNOWN)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lfw", type=Path, default=None, help="default: ../shared/datasets/lfw")
    ap.add_argument("--people", type=int, default=20, help="how many people (half enrolled); default 20")
    ap.add_argument("--people-set", choices=["validation", "devtest"], default="validation",
                    help="devtest: the one final measurement of what ships; never tune on it")
    ap.add_argument("--each-step", action="store_true",
                    help="every light step its own short video: where the naming itself breaks")
    add_play_options(ap)
    args = ap.parse_args(argv)
    lfw = args.lfw or (paths.shared_dir() or Path("../shared")) / "datasets" / "lfw"
    if not (lfw / "protocol").is_dir():
        raise SystemExit(f"LFW not found at {lfw}")
    out = run(lfw, args.people, args.people_set, args.weights, args.learn, args.warm, args.each_step)
    if args.json:
        print(json.dumps(out, indent=1))
        return out
    print(f"{out['people']} {args.people_set} people, {out['enrolled']} enrolled from photo {ENROL_PHOTO}, "
          f"{out['frames_per_video']} frames each; engine {out['engine']}")
    print_summary(out, args.learn)
    print("step           enrolled right  other  no face  strangers named")
    for step, r in out["per_step"].items():
        print(f"{step:<14} {r['enrolled_frames']:>8} {r['right']:>5} {r['named_other']:>6} {r['no_face']:>8} "
              f"{r['stranger_frames']:>10} {r['stranger_named']:>5}")
    return out


if __name__ == "__main__":
    main()
