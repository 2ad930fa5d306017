"""`oneshot-face enrol NAME PHOTO` (or `enroll`, kept as an alias): enrol a person from one photo;
`enrol NAME --capture SOURCE`: from a few seconds of a camera or video (guided capture)."""

from __future__ import annotations

import argparse
import sys

from app.cli.common import _common, _engine, _plural
from app.errors import OneShotError

CAPTURE_SECONDS = 10.0  # what the issue asks of a guided capture: "several views in ten seconds"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("enrol", aliases=["enroll"],
                       help="enrol a person from one photo, or from a short capture (alias: enroll)")
    p.add_argument("name")
    p.add_argument("photo", nargs="?", default=None)
    p.add_argument("--face", type=int, default=None, help="which face (1 = left-most) when there are several")
    p.add_argument("--add", action="store_true", help="add the photo(s) to an existing person of that name")
    p.add_argument("--capture", metavar="SOURCE", default=None,
                   help="instead of a photo, a camera number or video (as watch --source takes it): follows "
                        "the one face in view while the person looks at the camera, then turns left and "
                        "right, and enrols the best frontal, left and right views")
    p.add_argument("--seconds", type=float, default=CAPTURE_SECONDS,
                   help=f"how long --capture runs at most, in seconds of the source (default {CAPTURE_SECONDS:g})")
    _common(p)
    p.set_defaults(func=cmd_enrol)


def cmd_enrol(args) -> int:
    if (args.photo is None) == (args.capture is None):
        raise OneShotError("Give either a PHOTO or --capture SOURCE (a camera number or a video).")
    if args.capture is not None:
        if args.face is not None:
            raise OneShotError("--face chooses a face in a photo; a capture follows the one face in view.")
        if not args.seconds > 0:
            raise OneShotError("--seconds must be more than 0.")
        return cmd_enrol_capture(args)
    engine = _engine(args)
    try:
        person, cand = engine.enrol_photo(args.name, args.photo, args.face, args.add)
    finally:
        engine.close()
    for w in cand.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if cand.nearest.known and cand.nearest.name != person.name:
        print(f"note: this face is also close to {cand.nearest.name} (distance {cand.nearest.distance:.3f})",
              file=sys.stderr)
    print(f"Enrolled {person.name} ({_plural(person.sample_count, 'photo')}).")
    return 0


def cmd_enrol_capture(args) -> int:
    """Play the source through the live analysis (the service's, as `watch` and the app do)
    into the service's guided capture, then enrol what it kept. Ctrl-C enrols nothing."""
    from app.service import Library
    from app.service import live as service
    source = service.open_source(args.capture)  # a missing file is refused before the model loads
    try:
        engine = _engine(args)
    except BaseException:
        source.close()
        raise
    library = Library(engine)
    try:
        try:
            with source:
                snap, ended = _run_capture(library, service.analyser_for(engine), source, args.seconds)
        except KeyboardInterrupt:
            library.stop_capture()
            print("Capture cancelled: nobody was enrolled.", file=sys.stderr)
            raise
        _check_kept(snap, ended, args.seconds)
        if snap.lost:
            print("note: the face left the view; enrolling the views kept before that.", file=sys.stderr)
        nearest = library.capture_nearest()
        person = library.enrol_capture(args.name, add_to_existing=args.add)
        if nearest is not None and nearest.known and nearest.name != person.name:
            print(f"note: this face is also close to {nearest.name} (distance {nearest.distance:.3f})",
                  file=sys.stderr)
    finally:
        engine.close()
    kept = [b for b, filled in snap.filled.items() if filled]
    print(f"Enrolled {person.name} ({_plural(person.sample_count, 'photo')}; from the capture: "
          f"{', '.join(kept)}).")
    return 0


def _run_capture(library, analyser, source, seconds: float):
    """Feed frames until every view is kept, the face is lost, `seconds` of the source passed or
    it ends; prints each new prompt and kept view. Returns (the last snapshot, whether the
    source ended)."""
    snap = library.start_capture(None)
    print(snap.prompt, flush=True)
    start = None
    while True:
        frame = source.read()
        if frame is None:
            return snap, True
        start = frame.timestamp if start is None else start
        if frame.timestamp - start >= seconds:
            return snap, False
        analysis = analyser(frame.rgb, when=None if source.is_live else frame.timestamp,
                            frame_index=frame.index)
        new = library.feed_capture(frame.rgb, analysis.recognitions, analysis.labels)
        if new.track_id is not None and snap.track_id is None:
            print(f"frame {frame.index}: following the face in view", flush=True)
        for b, filled in new.filled.items():
            if filled and not snap.filled[b]:
                print(f"frame {frame.index}: kept the {b} view", flush=True)
        if new.lost:  # (the prompt says to start again: here what was kept is enrolled)
            print(f"frame {frame.index}: lost the face", flush=True)
        elif new.prompt != snap.prompt:
            print(new.prompt, flush=True)
        snap = new
        if snap.done or snap.lost:
            return snap, False


def _check_kept(snap, ended: bool, seconds: float) -> None:
    """Say in one line why nothing can be enrolled (OneShotError), if so."""
    where = "the source ended" if ended else f"after {seconds:g} s"
    if snap.track_id is None:
        if snap.crowded:
            raise OneShotError(f"Several faces were in view and never one alone ({where}): the capture "
                               "follows the only face in view; ask the others to step aside. Nobody was enrolled.")
        raise OneShotError(f"No face was seen ({where}). Nobody was enrolled.")
    if not snap.enrollable:
        if snap.lost:
            raise OneShotError("The face left the view before any view was kept. Nobody was enrolled.")
        raise OneShotError(f"No view was kept ({where}): the face was too small, blurred or turned too "
                           "far. Come closer, face the camera in good light and try again. Nobody was enrolled.")
