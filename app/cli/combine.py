"""`oneshot-face combine MODEL... --out FILE`: several trained networks saved as one averaging model."""

from __future__ import annotations

import argparse

from app.cli.common import _common, _detector, _lfw_dir
from app.errors import OneShotError
from app.progress import console_progress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("combine", help="save trained single-network models (e.g. several seeds) as one averaging "
                                       "model, τ calibrated on LFW pairsDevTrain.txt when LFW is found")
    p.add_argument("models", nargs="+", help="weights files (.pt) of one architecture")
    p.add_argument("--out", required=True)
    p.add_argument("--lfw", default=None, help="LFW root with images/ and protocol/")
    _common(p)
    p.set_defaults(func=cmd_combine)


def cmd_combine(args) -> int:
    from pathlib import Path

    from app.service.training import calibrate_card, combine_models
    try:
        lfw = _lfw_dir(args.lfw)
    except OneShotError as exc:
        lfw, why = None, str(exc)
    if args.lfw and not (Path(args.lfw) / "protocol" / "pairsDevTrain.txt").is_file():  # lfw is args.lfw
        raise OneShotError(f"{lfw} has no protocol/pairsDevTrain.txt to calibrate τ on.")
    card = combine_models(args.models, args.out)
    if lfw is None:
        print(f"Saved {args.out} ({len(args.models)} networks) with the members' mean τ {card.tau:.3f}; "
              f"not calibrated: {why}")
        return 0
    card = calibrate_card(args.out, lfw, _detector(args), progress=console_progress("calibrating "))
    print(f"Saved {args.out} ({len(args.models)} networks), tau {card.tau:.4f} from {lfw}/protocol/pairsDevTrain.txt")
    return 0
