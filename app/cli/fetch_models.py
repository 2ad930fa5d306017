"""`oneshot-face fetch-models`: download the YuNet detector into the user's model folder."""

from __future__ import annotations

import argparse

from app.progress import console_progress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fetch-models", help="download the YuNet detector into the user's model folder")
    p.add_argument("--url", default=None)
    p.set_defaults(func=cmd_fetch_models)


def cmd_fetch_models(args) -> int:
    from app.fetch import fetch_yunet
    kw = {"url": args.url} if args.url else {}
    path = fetch_yunet(progress=console_progress("download "), **kw)
    print(f"YuNet detector ready at {path}")
    return 0
