"""How often is a stranger's *track* named, not just one face? The live view's `Tracker` over
pseudo-tracks of the validation people, for each `min_frames`.

The open-set rule (`app.recognition.open_set`) promises that about 1% of strangers' faces get a
name. The live view decides again on every analysed frame of a track (its pooled template,
steadied by a vote), so a stranger seen for a while gets many chances; `Tracker.min_frames` is how
many analysed frames a track must pool before it may be named at all. This script measures the
share of strangers' tracks that are ever named, with the real `Tracker` and `Matcher`, on
validation people only (training people, never DevTest: `app.training.calibration.
validation_people`): galleries of N people drawn at random and enrolled from their first photo,
τ(N) as the app sets it. A pseudo-track is FRAMES photos of one person in a random order, one per
analysed frame: a stranger (not in the gallery) or an enrolled person (their other photos).

Different photos of a person vary more from one to the next than a video's consecutive frames, so
these tracks are the extreme where every analysed frame is a new look at the face; the other
extreme, a track of one frame repeated, is a single face, which the rule's 1% already covers and
which `min_frames` cannot change. Real video lies between.

`--people devtest` runs the same on LFW's DevTest people instead: the measurement, once, of the
rule shipped (the card's τ for tracks was chosen on the validation people; never tune on this).

    python benchmarks/track_naming.py [--weights W] [--people validation|devtest] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import paths  # noqa: E402
from app.evaluation.datasets import build_crops, lfw_image_path  # noqa: E402
from app.live.pipeline import SURE_FACTOR  # noqa: E402
from app.live.tracking import Detection, Tracker  # noqa: E402
from app.recognition.encoder import Encoder  # noqa: E402
from app.recognition.matching import Match, Matcher  # noqa: E402
from app.training.calibration import validation_images, validation_people  # noqa: E402

FRAMES = 8                  # analysed frames per pseudo-track (the vote's history is 5)
MIN_PHOTOS = 4              # a pseudo-track shows each of 4+ photos of a person and its mirror image
MIN_FRAMES = (1, 2, 3, 4, 5)
GALLERIES = (3, 100)        # people enrolled, one photo each
DRAWS, SEED = 20, 0
TAU_OFFSETS = (-0.01, -0.02)  # the shipped min_frames with a stricter τ: what a per-track promise would cost
TRACKS = "tracks"             # the shipped min_frames under the card's τ for tracks (`OpenSetRule.track_threshold`)
SURE = "tracks, sure frames"  # the same, each frame also matched alone; a sure one restarts an Unknown template
BOX = (0.0, 0.0, 100.0, 100.0)  # one place, so each pseudo-track is one track


def devtest_people(lfw: Path) -> tuple[set[str], list[str], list[str]]:
    """(people with two or more images, image paths, owners) of LFW's DevTest people."""
    multi, image_paths, owners = set(), [], []
    for line in (lfw / "protocol" / "peopleDevTest.txt").read_text(encoding="utf-8").splitlines()[1:]:
        parts = line.strip().split("\t")
        if len(parts) == 2 and parts[1].isdigit():
            count = int(parts[1])
            if count >= 2:
                multi.add(parts[0])
            image_paths += [lfw_image_path(lfw, parts[0], i) for i in range(1, count + 1)]
            owners += [parts[0]] * count
    return multi, image_paths, owners


def run_track(embeddings: np.ndarray, identify, min_frames: int, own=None,
              sure: float | None = None) -> list[int | None]:
    """The steadied person id shown on each frame of one pseudo-track (None: Unknown). With
    `own` (a frame's own match, under the photo τ) and `sure`, each frame is matched alone and
    marked sure as `LiveLabeller` marks it (its own match under `sure`), so a sure frame restarts
    an Unknown track's template as in the live view; without, no frame has a match of its own."""
    tracker = Tracker(min_frames=min_frames)
    shown = []
    for e in embeddings:
        if own is None:
            det = Detection(BOX, Match("Unknown", None, float("inf")), e)
        else:
            (m,) = own(e[None])
            det = Detection(BOX, m, e, sure is not None and m.person_id is not None and float(m.distance) < sure)
        (label,) = tracker.update([det], identify)
        shown.append(label.person_id)
    return shown


@dataclass
class Tally:
    """What the pseudo-tracks of one setting showed."""

    frames: int
    strangers: int = 0         # strangers' tracks
    strangers_named: int = 0   # ... that were named on at least one frame
    stranger_frames: int = 0
    stranger_frames_named: int = 0
    enrolled: int = 0          # enrolled people's tracks
    wrong_frames: int = 0      # enrolled people's frames given someone else's name
    right_by_frame: np.ndarray = field(init=False)  # enrolled people's tracks named rightly, per frame

    def __post_init__(self) -> None:
        self.right_by_frame = np.zeros(self.frames)

    def add(self, who: int | None, shown: list[int | None]) -> None:
        """One track's shown ids; `who`: its person's id in the gallery, None for a stranger."""
        if who is None:
            self.strangers += 1
            self.strangers_named += any(s is not None for s in shown)
            self.stranger_frames += len(shown)
            self.stranger_frames_named += sum(s is not None for s in shown)
        else:
            self.enrolled += 1
            self.right_by_frame[:len(shown)] += [s == who for s in shown]
            self.wrong_frames += sum(s is not None and s != who for s in shown)

    def row(self) -> dict:
        by_frame = self.right_by_frame / max(self.enrolled, 1)
        return {"strangers_tracks": self.strangers,
                "strangers_tracks_named": self.strangers_named / max(self.strangers, 1),
                "strangers_frames_named": self.stranger_frames_named / max(self.stranger_frames, 1),
                "enrolled_tracks": self.enrolled, "named_rightly_by_frame": by_frame.tolist(),
                "named_rightly": float(by_frame.mean()),
                "named_wrongly": self.wrong_frames / max(self.enrolled * self.frames, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--people", choices=["validation", "devtest"], default="validation",
                    help="whose photos: the validation people (choose on these) or DevTest's (measure once)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    lfw = paths.shared_dir() / "datasets" / "lfw"
    enc = Encoder.load(args.weights, "cpu")
    rule, scorer = enc.open_set_rule, enc.scorer
    if rule is None:
        sys.exit("this model has no open-set rule")
    if args.people == "devtest":
        multi, image_paths, names = devtest_people(lfw)
    else:
        multi, _ = validation_people(lfw)
        image_paths, names = validation_images(lfw)
    built = build_crops(list(image_paths), enc.input_size, "yunet", cache_dir=paths.cache_dir(), box=enc.crop_box)
    found = built["found"].astype(bool)  # the face nearest the centre; photos without one are left out
    stack = built["crops"][found]
    owners = [o for o, f in zip(names, found) if f]
    live, enrolment = enc.embed(stack), enc.embed_enrolment(stack)
    mirrored = enc.embed(np.ascontiguousarray(stack[:, :, ::-1]))  # the other half-turn of the head
    n_faces = len(owners)
    views = np.concatenate([live, mirrored])
    index: dict[str, list[int]] = {}
    for i, o in enumerate(owners):
        index.setdefault(o, []).append(i)
    eligible = sorted(o for o in multi if o in index and len(index[o]) >= 2)
    trackable = sorted(o for o in index if len(index[o]) >= MIN_PHOTOS)
    print(f"model {enc.version}: {len(owners)} {args.people} faces; {len(eligible)} people can be enrolled, "
          f"{len(trackable)} have {MIN_PHOTOS}+ photos for a track", flush=True)

    rng = np.random.default_rng(SEED)
    report = []
    shipped = Tracker().min_frames
    settings: list[tuple[int, float | str]] = [(k, 0.0) for k in MIN_FRAMES] + [(shipped, off) for off in TAU_OFFSETS]
    if rule.track_rates is not None:
        settings += [(shipped, TRACKS), (shipped, SURE)]

    def tau_of(n: int, off: float | str) -> float:
        return rule.track_threshold(n) if off in (TRACKS, SURE) else rule.threshold(n) + float(off)

    for n in GALLERIES:
        tally = {s: Tally(FRAMES) for s in settings}
        for _ in range(DRAWS):
            drawn = [eligible[j] for j in sorted(rng.choice(len(eligible), n, replace=False))]
            ids = {o: k for k, o in enumerate(drawn)}
            m = Matcher(np.stack([enrolment[index[o][0]] for o in drawn]), np.arange(n),
                        {k: o for o, k in ids.items()}, scorer)

            def track(rows: list[int]) -> np.ndarray:
                both = np.array(rows + [r + n_faces for r in rows])
                return rng.permutation(both)[:FRAMES]

            tracks = [(None, track(index[o])) for o in trackable if o not in ids]
            tracks += [(ids[o], track(index[o][1:])) for o in drawn if len(index[o]) > MIN_PHOTOS]
            for k, off in settings:
                tau = tau_of(n, off)

                def identify(e: np.ndarray, m=m, tau=tau) -> list[Match]:
                    return m.match(e, tau)

                def own(e: np.ndarray, m=m, tau=rule.threshold(n)) -> list[Match]:
                    return m.match(e, tau)

                # Engine.sure_threshold without a camera shift: τ(N) less the gap to τ(N) at a tenth of the target
                sure = rule.threshold(n, rule.target / SURE_FACTOR) if off == SURE else None
                for who, rows in tracks:
                    tally[(k, off)].add(who, run_track(views[rows], identify, k, own if off == SURE else None, sure))
        first = tally[settings[0]]
        print(f"\ngalleries of {n} people (τ(N) {rule.threshold(n):.3f}), {DRAWS} draws; {first.strangers} strangers' "
              f"tracks, {first.enrolled} enrolled people's tracks, {FRAMES} frames each\n"
              "| min_frames | τ | strangers' tracks ever named | strangers' frames named | enrolled: frames named "
              "rightly, 1st..last | enrolled: all frames | enrolled: named as someone else |\n|---|---|---|---|---|---|---|")
        for (k, off), t in tally.items():
            row = {"gallery": n, "tau": tau_of(n, off), "tau_offset": off if off in (TRACKS, SURE) else float(off),
                   "min_frames": k, **t.row()}
            report.append(row)
            tau_text = ("τ(N)" if off == 0 else f"τ for tracks {row['tau']:.3f}" if off == TRACKS
                        else f"τ for tracks {row['tau']:.3f}, sure frames" if off == SURE
                        else f"τ(N) {float(off):+.2f}")
            print(f"| {k} | {tau_text} | {100 * row['strangers_tracks_named']:.2f}% | "
                  f"{100 * row['strangers_frames_named']:.2f}% | "
                  f"{' '.join(f'{v:.2f}' for v in row['named_rightly_by_frame'])} | {row['named_rightly']:.3f} | "
                  f"{100 * row['named_wrongly']:.2f}% |", flush=True)
    print(f"\n(the rule's per-face target {100 * rule.target:g}%)")
    if args.json:
        print(json.dumps({"model": enc.version, "people": args.people, "frames": FRAMES, "draws": DRAWS,
                          "rows": report}))


if __name__ == "__main__":
    main()
