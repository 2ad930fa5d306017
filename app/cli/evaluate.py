"""`oneshot-face evaluate PROTOCOL`: LFW verification / one-shot identification / open-set figures."""

from __future__ import annotations

import argparse
import json

from app.cli.common import _common, _detector, _lfw_dir
from app.progress import CancelToken, console_progress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="LFW verification / one-shot identification / open-set figures")
    p.add_argument("protocol", choices=["verification", "identification", "open-set"])
    p.add_argument("--lfw", default=None, help="LFW root with images/ and protocol/")
    p.add_argument("--folder", default=None, help="identification on any folder-per-person tree")
    p.add_argument("--json", action="store_true")
    p.add_argument("--write-card", action="store_true", help="store the figures in the model card")
    p.add_argument("--tau", type=float, default=None,
                   help="open-set: decide with this fixed τ instead of the model's rule (as the app with a chosen τ)")
    p.add_argument("--draws", type=int, default=None, help="open-set: random galleries per size (default 20)")
    p.add_argument("--shift", default=None, choices=["grey", "lowres", "blur", "sidelight", "jpeg"],
                   help="open-set/identification: the aligned faces rendered as another camera")
    p.add_argument("--seed", type=int, default=None, help="open-set: seed of the gallery draws (default 0)")
    _common(p)
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args) -> int:
    from app.service.evaluation import evaluate
    lfw = None if args.folder else _lfw_dir(args.lfw)
    result = evaluate(args.protocol, _detector(args), lfw=lfw, folder=args.folder, weights=args.weights,
                      device=args.device, detector_model=args.detector_model, tau=args.tau, draws=args.draws,
                      seed=args.seed, write_card=args.write_card, shift=args.shift,
                      progress=console_progress("embedding "), cancel=CancelToken())
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")
    return 0
