"""Command line over the core. Errors a user can fix print one line on stderr and exit 2;
Ctrl-C exits 130 (training keeps a checkpoint). The bare command starts the GUI.

Each command is a module here that adds its own sub-parser (`register(sub)`, which sets `func`);
`build_parser` adds them in `COMMAND_MODULES` order, `main` runs the one given.
"""

from __future__ import annotations

import argparse
import sys

from app.cli import bench, calibrate, combine, enrol, evaluate, fetch_models, identify, people, train, watch
from app.cli.common import _common
from app.errors import Cancelled, OneShotError

# The commands in the order `--help` lists them: a new command is a module with `register(sub)` and a line here.
COMMAND_MODULES = (enrol, identify, people, watch, train, evaluate, calibrate, combine, fetch_models, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oneshot-face",
                                     description="One-shot face recognition. Without a command, opens the app.")
    parser.add_argument("--source", default=None, help="for the app: camera index, video, image folder or URL")
    st = parser.add_argument_group("self-test (checks an installation or bundle, headless, then exits)")
    st.add_argument("--self-test", metavar="PHOTO", default=None,
                    help="load the model, detect, embed, enrol and identify the face in PHOTO in a temporary "
                         "gallery, build the main window offscreen; exit 0 only if all of it worked")
    _common(st)
    sub = parser.add_subparsers(dest="command")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.self_test is not None:
        if args.command is not None:
            parser.error("--self-test takes no command")
        from app.selftest import run_self_test
        return run_self_test(args.self_test, args.detector, args.detector_model, args.weights, args.device)
    try:
        if args.command is None:
            from app.gui import run_app  # Qt only here
            return run_app(source=args.source)
        return int(args.func(args) or 0)
    except Cancelled as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    except OneShotError as exc:
        print(f"oneshot-face: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
