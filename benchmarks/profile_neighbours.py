"""Who lies near Alex Lacamoire's profile once it is one of his photos: his own frames, or the
audience? For our encoder and for each ONNX teacher this install can run.

The acceptance test of the face library (tests/gui/test_gui_recent_faces.py) plays the Hamilton
clip, adds Alex's profile from Recent faces as the app does ("This is Alex Lacamoire": the
track's best frame), and plays it again. This script repeats those steps without the GUI, then
measures, with each network's own plain L2 distance between unit embeddings, how far that added
frame lies from the other frames of his profile shot (20-81, the face of 100 px or more), from
his enrolment photo, and from every face of the audience (frames 211-274, strangers). Where
audience faces lie nearer the added frame than his own frames do, no threshold on that network's
distance names his profile and nobody else.

With `--tracks`, the clip is then played once more for each τ the live view could use (the faces'
τ for 3 photos, and the card's τ for tracks, `OpenSetRule.track_threshold`), as the app plays it,
and every track of the audience whose pooled template comes near Alex is listed frame by frame:
its pooled distance and the name shown.

    python benchmarks/profile_neighbours.py [--weights W] [--tracks]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import paths  # noqa: E402
from app.imageio import load_image  # noqa: E402
from app.live import recent_actions  # noqa: E402
from app.live.analysis import LiveAnalyser  # noqa: E402
from app.live.pipeline import Engine  # noqa: E402
from app.live.recent import RecentFaces  # noqa: E402
from app.live.tracking import LiveLabeller  # noqa: E402
from app.recognition.alignment import align, recrop  # noqa: E402
from app.recognition.quality import MIN_NAMING_SHARPNESS, sharpness  # noqa: E402

LIN, ALEX = "Lin-Manuel Miranda", "Alex Lacamoire"


def frames(clip: Path):
    cap = cv2.VideoCapture(str(clip))
    i = 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            return
        yield i, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        i += 1


def audience_tracks(engine, clip: Path, tau: float, alex_id: int, margin: float = 0.03) -> dict[int, list]:
    """One play of the clip with τ fixed at `tau`: for each audience track (frames 211 on) whose
    pooled template was ever within `margin` over τ of Alex, (frame, pooled distance, name shown)
    per analysed frame where it was embedded."""
    engine.tau = tau
    analyser = LiveAnalyser(engine, LiveLabeller(engine.identify))
    seen: dict[int, list] = {}
    near: set[int] = set()
    for i, rgb in frames(clip):
        for lab in analyser(rgb, frame_index=i).labels:
            if i < 211:
                continue
            seen.setdefault(lab.track_id, []).append((i, lab.distance, lab.name))
            if lab.nearest == ALEX and lab.distance < tau + margin or lab.person_id == alex_id:
                near.add(lab.track_id)
    engine.tau = None
    return {t: [row for row in seen[t] if np.isfinite(row[1])] for t in sorted(near)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None)
    ap.add_argument("--tracks", action="store_true", help="also replay the clip and list the audience tracks near Alex")
    args = ap.parse_args()
    shared = paths.shared_dir()
    if shared is None:
        sys.exit("needs ../shared (or $ONESHOT_SHARED)")
    samples = shared / "datasets" / "samples"
    clip = samples / "short_hamilton_clip.mp4"
    engine = Engine.create("yunet", None, args.weights, "cpu", gallery_path=Path(tempfile.mkdtemp()) / "g.sqlite3")
    alex_photo = load_image(samples / "alex-lacamoire.png")
    engine.enrol(LIN, engine.enrol_candidate(load_image(samples / "lin-manuel-miranda.png")))
    alex = engine.enrol(ALEX, engine.enrol_candidate(alex_photo))

    # The first play with Recent faces, and "This is Alex" on the group of his profile.
    recent = RecentFaces()
    recent.configure_from(engine)
    analyser = LiveAnalyser(engine, LiveLabeller(engine.identify, recent=recent))
    now = time.time()
    for i, rgb in frames(clip):
        analyser(rgb, when=now + i / 30, frame_index=i)
    recent.end_all()
    group = next(g for g in recent.view() if g.best.quality.ok and any(
        m.first_frame is not None and m.first_frame >= 20 and (m.last_frame or 0) <= 81 and m.quality.side_px >= 100
        for m in g.members))
    added = recent_actions.best_addable(group.members)
    recent_actions.this_is(recent, engine, group.keys, alex.id)
    tau = engine.threshold
    print(f"model {engine.encoder.version}; added: the best frame of frames {added.first_frame}-{added.last_frame} "
          f"({added.quality.side_px:.0f} px, sharpness {added.quality.sharpness:.0f}); τ with 3 photos {tau:.3f} "
          "(on the cohort-normalised distance)\n")

    profile, audience = [], []
    for i, rgb in frames(clip):
        for f in engine.detect(rgb, analyser.detect_side):  # found as the live view finds them
            if 20 <= i <= 81 and f.box[2] >= 100:
                profile.append(align(rgb, f, 112))
            elif i >= 211:
                crop = align(rgb, f, 112)
                if sharpness(crop) >= MIN_NAMING_SHARPNESS:  # the others are never named (nor embedded)
                    audience.append((i, crop))
    photo = align(alex_photo, engine.detector.detect(alex_photo)[0], 112)

    enc = engine.encoder
    # ours: the added frame as the gallery embeds its photos, the other faces as the live view does
    networks = {"ours": (engine.embed_stored_crops, lambda crops: enc.embed(recrop(crops, enc.input_size, enc.crop_box)))}
    scorer = engine.encoder.scorer
    try:
        from app.training.teachers import OnnxTeacher, available_teachers
        for name in available_teachers():
            teacher = OnnxTeacher(name)
            networks[name] = (teacher.embed_crops, teacher.embed_crops)
    except Exception as exc:  # noqa: BLE001 - a teacher that cannot run is left out, saying why
        print(f"(teachers left out: {exc})")
    print("| network | his profile frames: median / farthest | his photo | nearest audience face (frame) "
          "| audience faces nearer than his farthest frame |\n|---|---|---|---|---|")
    for name, (embed_photo, embed) in networks.items():
        e_added = embed_photo(added.crop[None])[0]
        d_prof = np.linalg.norm(embed(np.stack(profile)) - e_added, axis=1)
        d_photo = float(np.linalg.norm(embed_photo(photo[None])[0] - e_added))
        d_aud = np.linalg.norm(embed(np.stack([c for _, c in audience])) - e_added, axis=1)
        j = int(np.argmin(d_aud))
        if name == "ours" and scorer is not None:
            e_prof, e_aud = embed(np.stack(profile)), embed(np.stack([c for _, c in audience]))
            crowd_added = scorer.crowd(e_added[None])
            n_prof = scorer.adjust(d_prof[:, None], scorer.crowd(e_prof), crowd_added)[:, 0]
            n_aud = scorer.adjust(d_aud[:, None], scorer.crowd(e_aud), crowd_added)[:, 0]
            k = int(np.argmin(n_aud))
            print(f"| ours, normalised | {np.median(n_prof):.3f} / {n_prof.max():.3f} | | {n_aud[k]:.3f} "
                  f"({audience[k][0]}) | {int((n_aud < n_prof.max()).sum())} of {len(n_aud)}; under τ: "
                  f"his {int((n_prof < tau).sum())} of {len(n_prof)}, audience {int((n_aud < tau).sum())} |")
        print(f"| {name} | {np.median(d_prof):.3f} / {d_prof.max():.3f} | {d_photo:.3f} | {d_aud[j]:.3f} "
              f"({audience[j][0]}) | {int((d_aud < d_prof.max()).sum())} of {len(d_aud)} |")
    print("\nplain L2 distances between each network's unit embeddings; ours without its cohort normalisation")
    if args.tracks:
        for what, t in (("the faces' τ for 3 photos", tau), ("the τ for tracks", engine.track_threshold)):
            near = audience_tracks(engine, clip, t, alex.id)
            print(f"\nreplayed under {what} ({t:.3f}): {len(near)} audience track(s) near {ALEX}")
            for track, rows in near.items():
                named = [i for i, _, name in rows if name == ALEX]
                print(f"track {track}: frames {rows[0][0]}-{rows[-1][0]}, shown as {ALEX} on {len(named)} frame(s) "
                      f"{named}; pooled distances " + " ".join(f"{i}:{d:.3f}" for i, d, _ in rows))


if __name__ == "__main__":
    main()
