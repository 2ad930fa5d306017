"""Guided capture against one photo: is a person enrolled from a few seconds of turning their
head named more often from the side than one enrolled from a single photo?

umist's people turn one way, from full profile (`v000`) to the least-turned view (`00_v018`).
Each person's views are split in two, so nobody is measured on a frame they were enrolled from:
the capture sees the least-turned view and the even views (`00_v018`, then `v016` down to `v000`
and back up: "look at the camera, now turn"), the measured video the odd views (`v001` to `v017`
and back, 18 frames), both scaled onto a webcam-sized frame as `turning_head.py` does. The first
half of the people (sorted) are enrolled, either

- *photo*: from `00_v018` alone, as `turning_head.py` enrols them, or
- *capture*: by the app's guided capture (`Library.start_capture` / `feed_capture` /
  `enrol_capture` fed by the live view's analysis, as `enrol --capture` and the capture dialog
  run it) over their capture video;

then every person's measured video is played through the live view, as `turning_head.py` plays
it, and the same shares are reported, with the capture's kept views (pose bins) per person.

    python benchmarks/guided_capture.py [--umist DIR] [--people N] [--json]

umist is no training set of the shipped model; the split, the order and the bins were fixed
before any run and nothing is tuned here. Figures: docs/learning.md, "Guided capture".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from turning_head import ENROL_VIEW, Video, as_frame, enrol_centre, measure, print_summary  # noqa: E402

from app import paths  # noqa: E402
from app.imageio import load_image  # noqa: E402


def turn_views(person: Path) -> list[Path]:
    """The person's turn, full profile first (`v000` ...), without the least-turned view."""
    return sorted(person.glob("v*.png"))


def capture_sequence(person: Path) -> list[Path]:
    """What the capture sees: the least-turned view, then the even views turning away and back."""
    even = turn_views(person)[0::2]
    return [person / ENROL_VIEW] + even[::-1] + even


def probe_sequence(person: Path) -> list[Path]:
    """What is measured: the odd views, profile to the least-turned of them and back."""
    odd = turn_views(person)[1::2]
    return odd + odd[::-1]


def _video(frames: list[Path]) -> Video:
    return lambda: (("", as_frame(load_image(path))) for path in frames)


def enrol_by_capture(kept: dict[str, list[str]], photo_of: dict[str, Path]):
    """An `enrol_one` for `turning_head.measure`: play the person's capture video into the
    service's guided capture and enrol what it kept; `kept` gets each person's filled bins. A
    capture that kept no view (every frame turned past its bins) is refused by the app, and the
    user enrols one snapshot instead: here `photo_of[name]`, as the photo run enrols them."""
    def enrol(engine, name: str, video: Video) -> None:
        from app.service import Library
        from app.service import live as service
        library = Library(engine)
        analyser = service.analyser_for(engine)
        snap = library.start_capture(None)
        for _, rgb in video():
            analysis = analyser(rgb)
            fed = library.feed_capture(rgb, analysis.recognitions, analysis.labels)
            snap = snap if fed is None else fed
            if snap.done or snap.lost:
                break
        kept[name] = [b for b, filled in snap.filled.items() if filled]
        if kept[name]:
            library.enrol_capture(name)
        else:  # "The capture kept no view": the user takes the one snapshot instead
            library.stop_capture()
            enrol_centre(engine, name, photo_of[name])
    return enrol


def run(umist: Path, people: int | None = None, weights: str | None = None) -> dict:
    folders = sorted(p for p in umist.iterdir() if (p / ENROL_VIEW).is_file())[:people]
    enrolled = folders[: len(folders) // 2]
    videos = {p.name: _video(probe_sequence(p)) for p in folders}
    photo, _ = measure({p.name: p / ENROL_VIEW for p in enrolled}, videos, weights)
    kept: dict[str, list[str]] = {}
    capture, _ = measure({p.name: _video(capture_sequence(p)) for p in enrolled}, videos, weights,
                         enrol_one=enrol_by_capture(kept, {p.name: p / ENROL_VIEW for p in enrolled}))
    capture["kept_views"] = kept
    capture["fell_back_to_the_photo"] = sorted(name for name, bins in kept.items() if not bins)
    return {"photo": photo, "capture": capture}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--umist", type=Path, default=None, help="default: ../shared/datasets/umist")
    ap.add_argument("--people", type=int, default=None, help="only the first N people (sorted)")
    ap.add_argument("--weights", default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    umist = args.umist or (paths.shared_dir() or Path("../shared")) / "datasets" / "umist"
    if not umist.is_dir():
        raise SystemExit(f"umist not found at {umist}")
    out = run(umist, args.people, args.weights)
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        p = out["photo"]
        print(f"{p['people']} people, {p['enrolled']} enrolled; engine {p['engine']}")
        for how in ("photo", "capture"):
            print(f"\nenrolled by {how}:")
            print_summary(out[how], learn=False)
        print(f"\nviews kept by the capture: {out['capture']['kept_views']}")
    return out


if __name__ == "__main__":
    main()
