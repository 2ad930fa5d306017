"""A training checkpoint as a calibrated model, to measure a run while it goes on.

    python benchmarks/checkpoint_model.py RUN.ckpt OUT.pt [--lfw ../shared/datasets/lfw]
    oneshot-face evaluate identification|open-set --folder ~/.cache/oneshot-face/validation-tree --weights OUT.pt

The checkpoint's network is saved with a card of the run's architecture, then calibrated as
`train` calibrates a finished model (cohort, τ on pairsDevTrain.txt, the open-set table on the
validation people, whom the run held out). Run it from the folder the training ran in, so the
relative dataset paths hit the same crop caches.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.recognition.encoder import save_model  # noqa: E402
from app.recognition.model_card import ModelCard  # noqa: E402
from app.recognition.networks import PUBLISHED_NETS, build_net  # noqa: E402
from app.training.calibration import VALIDATION_TAG  # noqa: E402
from app.training.loop import PRETRAINED, PUBLISHED_ARCH, calibrate_card  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--lfw", default="../shared/datasets/lfw")
    args = ap.parse_args(argv)
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    config = state["config"]
    arch = dict(PUBLISHED_ARCH[config["init_weights"]]) if config.get("init_weights") in PRETRAINED else dict(config["arch"])
    net = build_net(arch)
    net.load_state_dict(state["net"])
    card = ModelCard(arch=arch, version=f"{Path(args.out).stem}-epoch{state['epoch']}")
    if arch.get("net") in PUBLISHED_NETS:
        card.inference["flip_tta"] = False
    card.training = {"config": config, "data": {"held_out": VALIDATION_TAG}, "epochs_run": state["epoch"]}
    save_model(net.eval(), card, args.out)
    calibrate_card(args.out, args.lfw, background="validation")
    print(f"{args.out}: epoch {state['epoch']} of {config['epochs']}, calibrated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
