"""`oneshot-face enrol NAME PHOTO` (or `enroll`, kept as an alias): enrol a person from one photo."""

from __future__ import annotations

import argparse
import sys

from app.cli.common import _common, _engine


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("enrol", aliases=["enroll"], help="enrol a person from one photo (alias: enroll)")
    p.add_argument("name")
    p.add_argument("photo")
    p.add_argument("--face", type=int, default=None, help="which face (1 = left-most) when there are several")
    p.add_argument("--add", action="store_true", help="add the photo to an existing person of that name")
    _common(p)
    p.set_defaults(func=cmd_enrol)


def cmd_enrol(args) -> int:
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
    print(f"Enrolled {person.name} ({person.sample_count} photo{'s' if person.sample_count != 1 else ''}).")
    return 0
