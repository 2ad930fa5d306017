"""`oneshot-face evaluate PROTOCOL`: LFW verification / one-shot identification / open-set figures."""

from __future__ import annotations

import argparse
import json

from app.cli.common import _common, _detector, _lfw_dir
from app.errors import OneShotError
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
    from app.evaluation.model import make_embed_paths
    from app.evaluation.protocols import evaluate_identification, evaluate_verification
    from app.recognition.encoder import Encoder
    from app.recognition.model_card import card_path_for
    lfw = None if args.folder else _lfw_dir(args.lfw)
    encoder = Encoder.load(args.weights, args.device)
    embed_paths = make_embed_paths(encoder, _detector(args), args.detector_model,
                                   progress=console_progress("embedding "), shift=args.shift)
    cancel = CancelToken()
    if args.protocol == "verification":
        if lfw is None:
            raise OneShotError("Verification is on LFW's pairs (--lfw); --folder is for identification and open-set.")
        result = evaluate_verification(lfw, embed_paths, cancel=cancel)
    elif args.protocol == "open-set":
        from app.evaluation.protocols import OPEN_SET_DRAWS, OPEN_SET_SEED, evaluate_open_set
        from app.recognition.open_set import threshold_for
        enrol_paths = make_embed_paths(encoder, _detector(args), args.detector_model, enrolment=True,
                                       shift=args.shift)
        rule = encoder.open_set_rule
        adapt = None
        if rule is not None and args.tau is None:
            import numpy as np

            from app.recognition.open_set import domain_shift, impostor_distances, seen_threshold, strictest

            def adapt(tau: float, enrolled: np.ndarray, seen: np.ndarray | None) -> float:
                ids = np.arange(len(enrolled))
                shifts = [domain_shift(rule, impostor_distances(enrolled, ids, None, None, encoder.scorer))]
                if seen is not None:
                    shifts.append(domain_shift(rule, impostor_distances(enrolled, ids, seen, None, encoder.scorer)))
                shifted = tau - strictest(shifts).delta
                direct = None if seen is None else seen_threshold(seen, enrolled, encoder.scorer)
                return shifted if direct is None else min(shifted, direct)
        result = evaluate_open_set(lfw_dir=None if args.folder else lfw, folder=args.folder,
                                   embed_paths=embed_paths, embed_enrolment_paths=enrol_paths,
                                   decide_threshold=lambda m: threshold_for(m, rule, encoder.tau, args.tau),
                                   cancel=cancel, draws=args.draws or OPEN_SET_DRAWS,
                                   seed=OPEN_SET_SEED if args.seed is None else args.seed, scorer=encoder.scorer,
                                   adapt=adapt)
        result["rule"] = (f"fixed tau {args.tau}" if args.tau is not None else
                          "open-set table" if rule is not None else f"one-to-one tau {encoder.tau:.4f}")
        result["scoring"] = "cohort-normalised" if encoder.scorer is not None else "plain distance"
    else:  # enrolment images embedded as the app enrols them, probes as live faces
        enrol_paths = make_embed_paths(encoder, _detector(args), args.detector_model, enrolment=True,
                                       shift=args.shift)
        result = evaluate_identification(lfw_dir=None if args.folder else lfw, folder=args.folder,
                                         embed_paths=embed_paths, cancel=cancel,
                                         embed_enrolment_paths=enrol_paths)
    result = {"model": encoder.version, "detector": _detector(args), **result}
    if args.shift is not None:
        result["shift"] = args.shift
    if args.write_card and encoder.path is not None:
        from app.recognition.model_card import ModelCard, write_card
        card = ModelCard.from_file(card_path_for(encoder.path))
        card.metrics[f"{args.protocol.replace('-', '_')}_{result['detector']}"] = result
        write_card(card, encoder.path)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")
    return 0
