"""`oneshot-face train DATASET... --out FILE`: train an encoder on folder-per-person datasets."""

from __future__ import annotations

import argparse
import json
import signal
import sys

from app.cli.common import _common
from app.progress import CancelToken, console_progress


def register(sub: argparse._SubParsersAction) -> None:
    # Options left out take TrainConfig's defaults (cmd_train), written only there.
    p = sub.add_parser("train", help="train an encoder on folder-per-person datasets")
    p.add_argument("datasets", nargs="+", help="folders with one sub-folder per person (LFW root accepted)")
    p.add_argument("--out", required=True, help="where to write the weights (.pt) and model card (.json)")
    p.add_argument("--exclude-people", default=None, help="file of names to leave out (e.g. peopleDevTest.txt)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--loss", choices=["triplet-semihard", "triplet-hard", "contrastive"], default=None)
    p.add_argument("--margin", type=float, default=None)
    p.add_argument("--distill", type=float, default=None,
                   help="weight of the teacher terms against the triplet loss (default 4, as the shipped model; 0 = labels only)")
    p.add_argument("--teacher", action="append", default=None, metavar="NAME[:WEIGHT]",
                   help="distil from this teacher: edgeface, faceplugin (ONNX, every augmented view) or dlib "
                        "(each clean photo once); repeat for several, weighted relative to each other "
                        "(default: the first ONNX teacher found, else dlib)")
    p.add_argument("--teacher-model", action="append", default=None, metavar="NAME=PATH",
                   help="where a teacher's ONNX file is (default: $ONESHOT_TEACHER_<NAME>, the user's model "
                        "folder, ../shared/models)")
    p.add_argument("--unlabelled", action="append", default=None, metavar="DIR",
                   help="a flat folder of faces aligned to the 112 px ArcFace frame (UTKFace's in ../shared): "
                        "learned from the teachers only")
    p.add_argument("--unlabelled-per-batch", type=int, default=None, metavar="N")
    p.add_argument("--augment", choices=["basic", "strong"], default=None,
                   help="strong: also side light and shadows, glasses and masks, blur and low resolution")
    p.add_argument("--projection-views", choices=["clean", "strong"], default=None,
                   help="faces the teacher's 128-d projection is fitted on: clean photos (default), or each "
                        "photo and one turned, side-lit or blurred view of it")
    p.add_argument("--mix", type=int, default=None, metavar="N",
                   help="add N blends of two people's faces to each batch, distilled from the teacher's "
                        "embedding of the same blend (0 = off; needs the teacher)")
    p.add_argument("--rotate", type=float, default=None, metavar="DEG",
                   help="augment: turn each training face by a random angle up to ± DEG degrees (default 0)")
    p.add_argument("--zoom", type=float, default=None, metavar="F",
                   help="augment: scale each training face by a random factor in [1-F, 1+F] (default 0)")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--freeze", type=int, default=None, metavar="N",
                   help="keep the first N layers of the network as they start (with --init)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--members", type=int, default=None, metavar="N",
                   help="train N networks one after another (seeds SEED, SEED+1, ...) and save their mean as "
                        "one model: better faces at N times the training and embedding cost")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default=None,
                   help="fp32 (default); auto: bfloat16 autocast on CPUs that do it natively, about 1.7x "
                        "faster here (the shipped model was trained so; see README)")
    p.add_argument("--max-images", type=int, default=None)
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint next to --out")
    p.add_argument("--init", default=None, metavar="WEIGHTS|edgeface|faceplugin",
                   help="fine-tune from these encoder weights instead of starting afresh, or start from "
                        "a published network, its file found as the teacher's: EdgeFace-XS's EdgeNeXt (the shipped "
                        "model's) or Faceplugin's MobileFaceNet")
    p.add_argument("--input-size", type=int, default=None,
                   help="face crop size in pixels, a multiple of 16 (default 80, as the shipped model; ignored with --init)")
    p.add_argument("--arch", default=None, metavar="JSON",
                   help='architecture keys to change, e.g. \'{"widths": [32, 64, 128, 384], "dropout": 0.0}\' '
                        "(input_size, widths, blocks, dim, dropout, crop_box, head: flatten or gdc; ignored with --init)")
    p.add_argument("--crop-box", default=None, metavar="X0,Y0,SIDE",
                   help="train on this square of the 112 px ArcFace frame, as fractions (default 0,0,1: all of it, "
                        "as the shipped model; ignored with --init)")
    _common(p)
    p.set_defaults(func=cmd_train)


def _check_input_size(size, flag: str) -> None:
    from app.errors import DatasetError
    if not isinstance(size, int) or size < 32 or size % 16:
        raise DatasetError(f"{flag} must be a multiple of 16 and at least 32, not {size}.")


ARCH_KEYS = ("input_size", "widths", "blocks", "dim", "dropout", "crop_box", "head")


def parse_arch(text: str, base: dict) -> dict:
    """`base` with the keys of the JSON object `text` changed; a one-line DatasetError unless the
    result builds a network (so a typo fails before the data is prepared, not after)."""
    from app.errors import DatasetError
    from app.service.training import check_arch
    try:
        change = json.loads(text)
    except ValueError as exc:
        raise DatasetError(f"--arch is not JSON: {exc}.") from None
    if not isinstance(change, dict) or set(change) - set(ARCH_KEYS):
        raise DatasetError(f"--arch takes a JSON object with keys among {', '.join(ARCH_KEYS)}, not {text}.")
    arch = {**base, **change}
    _check_input_size(arch["input_size"], "--arch input_size")
    try:
        check_arch(arch)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise DatasetError(f"--arch {text} does not make a network: {str(exc).splitlines()[0]}.") from None
    return arch


def parse_crop_box(text: str) -> list[float]:
    """"X0,Y0,SIDE" → a square inside the canonical frame, or a one-line DatasetError."""
    from app.errors import DatasetError
    from app.service.training import checked_crop_box
    try:
        return checked_crop_box(text.split(","))
    except ValueError as exc:
        raise DatasetError(f"--crop-box: {exc}.") from None


# `train` options (argparse dests) that set the TrainConfig field of the same name, or of the
# name given; None (not given) leaves TrainConfig's default.
TRAIN_OPTIONS = {"exclude_people": "exclude_people", "epochs": "epochs", "loss": "loss", "margin": "margin",
                 "distill": "distill", "mix": "mix", "lr": "lr", "seed": "seed", "device": "device",
                 "max_images": "max_images", "init": "init_weights", "detector": "detector", "members": "members",
                 "precision": "precision", "rotate": "rotate", "zoom": "zoom", "augment": "augment",
                 "unlabelled": "unlabelled", "unlabelled_per_batch": "unlabelled_per_batch", "freeze": "freeze",
                 "projection_views": "projection_views"}


def train_config(args):
    """The TrainConfig of `train`'s arguments (teachers and architecture not yet applied)."""
    from app.service.training import train_config as config
    given = {field: getattr(args, dest) for dest, field in TRAIN_OPTIONS.items() if getattr(args, dest) is not None}
    return config(datasets=args.datasets, out=args.out, **given)


def cmd_train(args) -> int:
    from app.service.training import available_teachers, parse_teacher_models, parse_teachers, train
    cfg = train_config(args)
    cfg.teachers = [list(t) for t in parse_teachers(args.teacher or (available_teachers()[:1] or ["dlib"]))]
    cfg.teacher_models = parse_teacher_models(args.teacher_model)
    if cfg.unlabelled_per_batch < 0:
        from app.errors import DatasetError
        raise DatasetError("--unlabelled-per-batch must be 0 or more.")
    if not (0 <= cfg.rotate <= 45 and 0 <= cfg.zoom < 0.5):
        from app.errors import DatasetError
        raise DatasetError("--rotate takes 0 to 45 degrees and --zoom 0 to below 0.5.")
    if cfg.mix < 0 or (cfg.mix > 0 and cfg.distill <= 0):
        from app.errors import DatasetError
        raise DatasetError("--mix must be 0 or more, and blends need the teacher (--distill above 0).")
    if cfg.members < 1 or (cfg.members > 1 and args.init):
        from app.errors import DatasetError
        raise DatasetError("--members must be 1 or more, and fine-tuning (--init) takes one network (--members 1).")
    if args.arch is not None:
        cfg.arch = parse_arch(args.arch, cfg.arch)
    if args.input_size is not None:
        _check_input_size(args.input_size, "--input-size")
        cfg.arch["input_size"] = args.input_size
    if args.crop_box is not None:
        cfg.arch["crop_box"] = parse_crop_box(args.crop_box)
    cancel = CancelToken()

    def on_sigint(signum, frame):
        if cancel.cancelled:
            raise KeyboardInterrupt
        print("\nStopping after this step and saving a checkpoint (Ctrl-C again to abort)...", file=sys.stderr)
        cancel.cancel()

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        res = train(cfg, resume=args.resume, progress=console_progress("train "), cancel=cancel,
                    on_epoch=lambda s: print(f"\nepoch {s.epoch}: loss {s.loss:.4f} (metric {s.metric_loss:.4f}, "
                                             f"teacher {s.distill_loss:.4f}) {s.seconds:.0f}s", file=sys.stderr))
    finally:
        signal.signal(signal.SIGINT, old)
    print(f"Saved {res.path} (tau {res.card.tau:.3f}, {len(res.history)} epochs, "
          f"{res.card.training['seconds']:.0f}s).")
    return 0
