"""`oneshot-face identify PHOTO`: name the faces in a photo."""

from __future__ import annotations

import argparse
import json

from app.cli.common import _common, _engine, _face_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("identify", help="name the faces in a photo")
    p.add_argument("photo")
    p.add_argument("--json", action="store_true")
    p.add_argument("--tau", type=float, default=None, help="distance threshold (default: the model's)")
    _common(p)
    p.set_defaults(func=cmd_identify)


def cmd_identify(args) -> int:
    engine = _engine(args, args.tau)
    try:
        recs = engine.identify_photo(args.photo)
        info = engine.describe()
    finally:
        engine.close()
    faces = [_face_json(r.face.box, r.match.name, r.match.distance, nearest=r.match.nearest,
                        threshold=r.match.threshold, raw_distance=r.match.raw_distance) for r in recs]
    if args.json:
        print(json.dumps({"photo": str(args.photo), "faces": faces, **info}, ensure_ascii=False))
    elif not recs:
        print("No face found.")
    else:
        for i, d in enumerate(faces, 1):
            near = "" if d["accepted"] or not d["nearest"] else f", nearest: {d['nearest']}"
            print(f"face {i} at {d['box']}: {d['name']} (distance {d['score']}{near})")
    return 0
