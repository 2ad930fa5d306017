"""Turning head: is a person who turns from profile to frontal and back named through the app?

Each umist person's images are played in order as one video (full profile `v000` to the
least-turned view `00_v018` and back to profile, 37 frames), through the real `Engine` and the
live view's `LiveAnalyser` (detection, tracks, pooled templates, the default decision), after
enrolling the first half of the people (sorted by folder name) from their least-turned view. A
frame is the 112x92 image scaled three times onto a grey 640x360 frame, as a webcam at arm's length
shows a head. Reported: the share of the enrolled people's frames named right (and named as
someone else), and the share of the strangers' frames and sequences that were named at all.

With `--learn`, every video is first played once with learning from tracks on (`app.live.learning`,
as the app runs it: each video's track ends with the video), then every video is played again,
learning off, and the second play is measured: is a person named from the side the next time?
Also reported: how many views each person learned, and how many were learned from someone else's
video (a stranger absorbed, or a person into another). `--warm` plays the first round the same
way with learning off: the baseline for `--learn`, since the engine's camera sample (the faces
the live view has seen, which adapt τ) grows during the first play too.

    python benchmarks/turning_head.py [--umist DIR] [--people N] [--learn | --warm] [--json]

umist is no training set of the shipped model and none of its people is in LFW; nothing is tuned here.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import paths  # noqa: E402
from app.imageio import load_image  # noqa: E402

ENROL_VIEW = "00_v018.png"  # umist's least-turned view, named to sort first (DATA.md)
FRAME = (360, 640)
SCALE = 3


def sequence(person: Path) -> list[Path]:
    """Profile to the least-turned view and back: the enrolled view is the turn's middle frame."""
    turn = sorted(p for p in person.glob("v*.png"))
    return turn + [person / ENROL_VIEW] + turn[::-1]


def as_frame(rgb: np.ndarray, scale: float = SCALE) -> np.ndarray:
    """The photo scaled onto the middle of a grey webcam-sized frame."""
    big = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)), interpolation=cv2.INTER_LINEAR)
    frame = np.full((*FRAME, 3), 128, np.uint8)
    y, x = (FRAME[0] - big.shape[0]) // 2, (FRAME[1] - big.shape[1]) // 2
    frame[y:y + big.shape[0], x:x + big.shape[1]] = big
    return frame


@dataclass(frozen=True)
class Seen:
    """One frame of one person's video: who they are, whether enrolled, what the app said."""

    person: str
    enrolled: bool
    said: str | None  # the name shown (Unknown included); None: no face found
    step: str = ""    # the part of the video it was (the lighting sweep's light)


def summarise(seen: list[Seen], unknown: str) -> dict:
    """The shares a user would notice: enrolled people named right or as someone else, strangers named."""
    own = [s for s in seen if s.enrolled]
    strangers = [s for s in seen if not s.enrolled]
    named = [s for s in strangers if s.said not in (None, unknown)]
    stranger_people = sorted({s.person for s in strangers})
    named_people = {s.person for s in named}

    def share(k: int, n: int) -> float | None:
        return k / n if n else None

    return {"enrolled_frames": len(own),
            "enrolled_named_right": share(sum(s.said == s.person for s in own), len(own)),
            "enrolled_named_other": share(sum(s.said not in (None, unknown, s.person) for s in own), len(own)),
            "enrolled_no_face": share(sum(s.said is None for s in own), len(own)),
            "stranger_frames": len(strangers),
            "stranger_frames_named": share(len(named), len(strangers)),
            "stranger_sequences": len(stranger_people),
            "stranger_sequences_named": share(len(named_people), len(stranger_people)),
            "per_person": {p: {"frames": sum(s.person == p for s in seen),
                               "right": sum(s.person == p and s.said == p for s in seen),
                               "named_other": sum(s.person == p and s.said not in (None, unknown, p) for s in seen)}
                           for p in sorted({s.person for s in seen})}}


Video = Callable[[], Iterable[tuple[str, np.ndarray]]]  # (step, RGB frame), played afresh on each call


def _play(engine, videos: dict[str, Video], enrolled: set[str], learner=None,
          owner: Callable[[str], str] = str) -> list[Seen]:
    """Every video through the live view, each its own stream (its track ends with it); `owner`
    names the person a video shows (by default its key). With a learner, `learner.by_video` gets
    each video's track outcomes and `learner.gate` how many of its largest faces pass the quality gate."""
    from app.live.analysis import LiveAnalyser
    from app.live.tracking import LiveLabeller
    from app.recognition.alignment import align
    from app.recognition.quality import assess

    seen: list[Seen] = []
    for key, video in videos.items():
        person = owner(key)
        live = LiveAnalyser(engine, LiveLabeller(engine.identify, learner=learner))
        start = len(learner.outcomes) if learner is not None else 0
        for step, rgb in video():
            analysis = live(rgb)
            labels = analysis.labels
            said = max(labels, key=lambda lab: lab.box[2] * lab.box[3]).name if labels else None
            seen.append(Seen(person, person in enrolled, said, step))
            if learner is not None and analysis.recognitions:
                big = max(analysis.recognitions, key=lambda r: r.face.box[2] * r.face.box[3]).face
                learner.gate[person] = learner.gate.get(person, 0) + assess(
                    big, align(rgb, big, 112), rgb.shape).ok
        if learner is not None:
            learner.end_all()
            new = list(learner.outcomes)[start:]
            into: dict[int, int] = {}
            for o in new:
                if o.added and o.person_id is not None:
                    into[o.person_id] = into.get(o.person_id, 0) + len(o.added)
            learner.by_video[key] = {"outcomes": [o.reason or "learned" for o in new], "added_into": into}
    return seen


def enrol_centre(engine, name: str, photo: Path) -> None:
    """Enrol the photo's face nearest its centre, as the user picks themselves out of a photo
    that shows someone behind them too (LFW's person is the centred face)."""
    rgb = load_image(photo)
    near = centre_face(engine.detector.detect(rgb), rgb.shape)
    engine.enrol(name, engine.enrol_candidate(rgb, faces=[] if near is None else [near], name=str(photo)),
                 source=photo.name)


def centre_face(faces, shape: tuple[int, ...]):
    """The face nearest the centre of an image of `shape` (None when there is none)."""
    h, w = shape[:2]
    return min(faces, key=lambda f: (f.box[0] + f.box[2] / 2 - w / 2) ** 2 + (f.box[1] + f.box[3] / 2 - h / 2) ** 2,
               default=None)


def measure(enrol: dict[str, Any], videos: dict[str, Video], weights: str | None = None,
            learn: bool = False, warm: bool = False, owner: Callable[[str], str] = str,
            enrol_one: Callable[[Any, str, Any], None] = enrol_centre) -> tuple[dict, list[Seen]]:
    """Enrol each of `enrol` (name -> what `enrol_one(engine, name, it)` enrols them from; by
    default a photo's path), play `videos` (of people enrolled or not; `owner` names a video's
    person) as `run` says, and summarise the measured play; also its frames."""
    from app.live.learning import TrackLearner, learned_views
    from app.live.pipeline import Engine
    from app.recognition.matching import UNKNOWN

    enrolled = set(enrol)
    learning: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.create(weights=weights, gallery_path=Path(tmp) / "g.sqlite3")
        try:
            for name, source in enrol.items():
                enrol_one(engine, name, source)
            if learn or warm:
                learner = TrackLearner(engine, enabled=learn)
                learner.by_video, learner.gate = {}, {}  # type: ignore[attr-defined]
                first = _play(engine, videos, enrolled, learner, owner)
                ids = {p.name: p.id for p in engine.gallery.people()}
                learned = {name: len(learned_views(engine.gallery, pid)) for name, pid in ids.items()}
                learning = {"first_play": {k: v for k, v in summarise(first, UNKNOWN).items() if k != "per_person"},
                            "learned": learned,
                            # views added to someone while another person's video played
                            "learned_from_another_video": sum(n for video, v in learner.by_video.items()
                                                              for pid, n in v["added_into"].items()
                                                              if pid != ids.get(owner(video))),
                            "by_video": learner.by_video,
                            "enrolled_faces_passing_gate": sum(learner.gate.get(p, 0) for p in enrolled)}
            seen = _play(engine, videos, enrolled, owner=owner)
            setup = engine.describe()
        finally:
            engine.close()
    return {"people": len({owner(v) for v in videos}), "enrolled": len(enrolled), "engine": setup, "learn": learn,
            "warm": learn or warm, **learning,
            **summarise(seen, UNKNOWN)}, seen


def run(umist: Path, people: int | None = None, weights: str | None = None, learn: bool = False,
        warm: bool = False) -> dict:
    folders = sorted(p for p in umist.iterdir() if (p / ENROL_VIEW).is_file())[:people]

    def video(person: Path) -> Video:
        return lambda: (("", as_frame(load_image(path))) for path in sequence(person))

    out, _ = measure({p.name: p / ENROL_VIEW for p in folders[: len(folders) // 2]},
                     {p.name: video(p) for p in folders}, weights, learn, warm)
    return out


def add_play_options(ap: argparse.ArgumentParser) -> None:
    """The options every played benchmark takes (this one and lighting_sweep.py)."""
    ap.add_argument("--weights", default=None)
    ap.add_argument("--learn", action="store_true",
                    help="play every video once learning from tracks, then measure a second play")
    ap.add_argument("--warm", action="store_true",
                    help="play every video once with learning off, then measure a second play (--learn's baseline)")
    ap.add_argument("--json", action="store_true")


def print_summary(out: dict, learn: bool) -> None:
    """The shares `summarise` gives, and with `learn` what was learned."""
    for key in ("enrolled_named_right", "enrolled_named_other", "enrolled_no_face",
                "stranger_frames_named", "stranger_sequences_named"):
        print(f"{key}: {out[key]:.3f}" if out[key] is not None else f"{key}: -")
    if learn:
        print(f"learned views: {out['learned']}; learned from another's video: "
              f"{out['learned_from_another_video']}")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--umist", type=Path, default=None, help="default: ../shared/datasets/umist")
    ap.add_argument("--people", type=int, default=None, help="only the first N people (sorted)")
    add_play_options(ap)
    args = ap.parse_args(argv)
    umist = args.umist or (paths.shared_dir() or Path("../shared")) / "datasets" / "umist"
    if not umist.is_dir():
        raise SystemExit(f"umist not found at {umist}")
    out = run(umist, args.people, args.weights, args.learn, args.warm)
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print(f"{out['people']} people, {out['enrolled']} enrolled from {ENROL_VIEW}; engine {out['engine']}")
        print_summary(out, args.learn)
    return out

if __name__ == "__main__":
    main()
