"""`oneshot-face calibrate`: recompute a model's τ and its open-set table."""

from __future__ import annotations

import argparse

from app.cli.common import _common, _detector, _lfw_dir
from app.errors import OneShotError
from app.progress import CancelToken, console_progress


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("calibrate", help="recompute a model's τ on LFW pairsDevTrain.txt (training people) "
                                         "and its open-set table on background faces it never trained on")
    p.add_argument("--lfw", default=None, help="LFW root with images/ and protocol/")
    p.add_argument("--background", default=None,
                   help="photos of people the model never trained on, a folder per person (or a flat folder "
                        "of aligned 112 px crops), for the open-set table (default: LFW's validation people, "
                        "for a model trained without them)")
    p.add_argument("--only", choices=["tau", "open-set", "tracks"], default=None,
                   help="recompute only one of the two; tracks: only add the live-track table, measured on "
                        "LFW's validation people, to a model calibrated on them before it existed")
    _common(p)
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args) -> int:
    from app.service import OpenSetRule
    from app.service import training as service
    path, card = service.model_card(args.weights)
    weights = args.weights or path
    do_tau, do_open = args.only not in ("open-set", "tracks"), args.only != "tau"
    background = None
    held_out = service.trained_without_validation_people(card)
    if args.only == "tracks":
        if not held_out or args.background:
            raise OneShotError("--only tracks measures the live-track table on LFW's validation people: it needs "
                               "a model trained without them (and no --background).")
        background = "validation-tracks"
    elif do_open:
        if args.background:
            background = args.background
        elif held_out:
            background = "validation"  # the LFW training people this model was trained without
        else:
            raise OneShotError("This model was not trained with LFW's validation people held out, so "
                               "nothing tells which faces it has never seen: give --background DIR "
                               "(photos of people it never trained on, a folder per person) or --only tau.")
    do_tau = do_tau or background == "validation"  # a new cohort changes the distances τ is set on
    lfw = _lfw_dir(args.lfw) if do_tau or background == "validation-tracks" else None
    card = service.calibrate_card(weights, lfw, _detector(args), progress=console_progress("calibrating "),
                          background=background, cancel=CancelToken(), tau=do_tau)
    if do_tau:
        print(f"tau = {card.tau:.4f} written to the model card of {weights}")
    if do_open:
        rule = OpenSetRule.from_card(card.open_set)
        assert rule is not None  # calibrate_card has just written the table
        taus = ", ".join(f"{n}: {rule.threshold(n):.3f}" for n in (1, 10, 100, 1000))
        print(f"open-set table from {rule.source} written to the model card; τ for "
              f"{100 * rule.target:g}% of strangers named, by photos enrolled: {taus}")
        if rule.track_rates is not None:
            taus = ", ".join(f"{n}: {rule.track_threshold(n):.3f}" for n in (1, 10, 100, 1000))
            print(f"live tracks (named from analysed frame {card.open_set['tracks']['first_named']} on): τ for "
                  f"{100 * rule.target:g}% of strangers' tracks named: {taus}")
    return 0
