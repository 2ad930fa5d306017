"""`oneshot-face fetch-models`: download the YuNet detector into the user's model folder. The
program ships its own copy, so this is for updates; offline it fails in one line that says the
copy in use goes on working."""

from __future__ import annotations

import argparse

from app.errors import ModelError
from app.progress import console_progress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fetch-models", help="download the YuNet detector into the user's model folder "
                                            "(an update: the program ships its own copy)")
    p.add_argument("--url", default=None)
    p.set_defaults(func=cmd_fetch_models)


def cmd_fetch_models(args) -> int:
    from app import paths
    from app.fetch import fetch_yunet
    kw = {"url": args.url} if args.url else {}
    try:
        path = fetch_yunet(progress=console_progress("download "), **kw)
    except ModelError as exc:
        in_use = paths.find_yunet()
        if in_use is None or not in_use.is_file():
            raise
        raise ModelError(f"{exc} Nothing changed: the YuNet file at {in_use} is still used.") from None
    print(f"YuNet detector ready at {path}")
    return 0
