"""`oneshot-face watch --source SOURCE`: live recognition over a camera, video, folder or stream, headless."""

from __future__ import annotations

import argparse
import json
import sys

from app.cli.common import _common, _engine, _face_json, _plural
from app.errors import OneShotError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("watch", help="live recognition over a camera, video, folder or stream, headless")
    p.add_argument("--source", required=True)
    p.add_argument("--json", action="store_true")
    p.add_argument("--tau", type=float, default=None)
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--per-frame", action="store_true",
                   help="name each frame on its own (default: like the app, track faces, pool each "
                        "track's recent frames and steady its name)")
    p.add_argument("--keep-unknown", metavar="DIR", default=None,
                   help="write the best face of each unknown track, grouped by person (DIR/group-NN/face-NN.png, "
                        "DIR/index.json), for review; DIR must be new or empty. They are face data: keep them private")
    p.add_argument("--learn", action="store_true",
                   help="learn from the camera: a track surely of an enrolled person adds a few of their "
                        "views unlike their photos (turned, other light), as the app does; people show "
                        "lists them, people forget-learned removes them (default: off)")
    _common(p)
    p.set_defaults(func=cmd_watch)


def _end(service, analyser, engine) -> int:
    """The source stopped: the last tracks end (with `analyser`, they may add views), then the
    engine closes; returns how many views were learned."""
    try:
        return service.end_tracks(analyser)
    finally:
        engine.close()


def cmd_watch(args) -> int:
    import time

    from app.service import live as service
    review = None
    if args.learn and args.per_frame:
        raise OneShotError("--learn learns from tracked faces; leave out --per-frame.")
    if args.keep_unknown is not None:
        if args.per_frame:
            raise OneShotError("--keep-unknown groups tracked faces; leave out --per-frame.")
        review = service.check_review_folder(args.keep_unknown)  # refused before any model is loaded
    engine = _engine(args, args.tau)
    info = engine.describe()
    print(f"detector: {info['detector']}, encoder: {info['encoder']}, device: {info['device']}, "
          f"rule: {info['rule']}" + (f" ({info['detector_note']})" if info["detector_note"] else "")
          + (f"; {info['domain']['text']}" if info["domain"]["text"] else ""),
          file=sys.stderr)
    recent, clock = None, {"t": 0.0}
    analyser = None
    n = 0
    interrupted = False
    try:
        # A camera or stream that drops out is re-opened until it returns (Ctrl-C stops);
        # files and folders end when they end.
        live = service.retrying_source(args.source, on_status=lambda m: print(m, file=sys.stderr, flush=True))
        if review is not None:
            # Every track of the run is kept (up to MAX_ENTRIES), timed by the source: a video's
            # position, a camera's wall clock.
            recent = service.review_recent_faces(engine, clock=time.time if live.is_live else lambda: clock["t"])
        analyser = None if args.per_frame else service.analyser_for(engine, recent, learn=args.learn)
        source_cm = live if live.is_live else service.open_source(args.source)
        with source_cm as source:
            while args.max_frames is None or n < args.max_frames:
                frame = source.read()
                if frame is None:
                    break
                clock["t"] = frame.timestamp
                t0 = time.perf_counter()
                faces: list[tuple]  # _face_json's arguments
                if analyser is None:
                    recs = engine.analyse(frame.rgb)
                    tau = engine.threshold
                    faces = [(r.face.box, r.match.name, r.match.distance, None, r.match.nearest, tau,
                              r.match.raw_distance) for r in recs]
                else:  # as the app's live view: settled faces carry their name over (app.live.analysis)
                    labels = analyser(frame.rgb, when=None if live.is_live else frame.timestamp,
                                      frame_index=frame.index).labels
                    tau = engine.track_threshold
                    faces = [(lab.box, lab.name, lab.distance, lab.track_id, lab.nearest, tau) for lab in labels]
                ms = (time.perf_counter() - t0) * 1000
                if args.json:
                    print(json.dumps({"frame": frame.index, "faces": [_face_json(*f) for f in faces]},
                                     ensure_ascii=False), flush=True)
                else:
                    names = ", ".join(f"{f[1]} ({f[2]:.2f})" for f in faces) or "no face"
                    print(f"frame {frame.index}: {names}  [{ms:.1f} ms]", flush=True)
                n += 1
    except KeyboardInterrupt:
        interrupted = True  # how a camera watch ends: the unknown faces are still written
    finally:
        learned = _end(service, analyser if args.learn else None, engine)
    if args.learn:
        print(f"Learned {_plural(learned, 'view')} from the camera"
              + (" (oneshot-face people show NAME lists them)." if learned else "."), file=sys.stderr)
    if recent is not None and review is not None:  # (recent is made only with a review folder)
        recent.end_all()
        groups = recent.groups()
        service.write_review_folder(groups, review, {
            "source": service.describe_source(args.source), "model": info["encoder"],
            "time": "seconds into the video" if not live.is_live else "seconds since 1970 (UTC)",
            "frames": n})
        tracks = sum(g.count for g in groups)
        print(f"Kept {_plural(len(groups), 'unknown face')} ({_plural(tracks, 'track')}) in {review} for "
              f"review (index.json); they are face data: keep them private.", file=sys.stderr)
    if interrupted:
        raise KeyboardInterrupt
    print(f"{n} frames processed; source ended.", file=sys.stderr)
    return 0
