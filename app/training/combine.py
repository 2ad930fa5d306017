"""Combining models: several trained single-network models of one architecture (say, runs of one
command with different seeds) saved as one `FaceEnsemble` model (`oneshot-face combine`).

A training-side operation: it loads finished models and writes a new one, which is then
calibrated like any freshly trained model (app.training.calibration.calibrate_card).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import ModelError
from app.recognition.encoder import Encoder, save_model
from app.recognition.model_card import ModelCard
from app.recognition.networks import FaceEnsemble, FaceNet


def combine_models(weights: list[str | os.PathLike], out: str | os.PathLike) -> ModelCard:
    """Save one `FaceEnsemble` made of already trained single-network models of one architecture
    (say, runs of one command with different seeds), so it can be evaluated and used like any
    model. τ starts as the members' mean; calibrate it (`training.calibration.calibrate_card`) before use."""
    if len(weights) < 2:
        raise ModelError("Combining needs two or more models.")
    encs = [Encoder.load(w, "cpu") for w in weights]
    arch = encs[0].card.arch

    def shape(a: dict[str, Any]) -> dict[str, Any]:  # dropout changes training only, not the weights
        return {**a, "dropout": None}

    for e in encs:
        if not isinstance(e.net, FaceNet):
            raise ModelError(f"{e.path} is already an ensemble; combine single-network models.")
        if shape(e.card.arch) != shape(arch):
            raise ModelError(f"{e.path} has another architecture ({e.card.arch}) than {encs[0].path} ({arch}).")
    net = FaceEnsemble(len(encs), **arch)
    for member, e in zip(net.members, encs):
        member.load_state_dict(e.net.state_dict())
    card = ModelCard(arch={**arch, "members": len(encs)}, version=f"{Path(out).stem}-{int(time.time())}",
                     tau=float(np.mean([e.tau for e in encs])),
                     inference={**ModelCard().inference, **encs[0].card.inference})
    card.training = {"combined_from": [{"path": str(e.path), "version": e.version,
                                        "weights_sha256": e.card.weights_sha256} for e in encs],
                     "signals": list(encs[0].card.training.get("signals", []))
                                + [f"mean of {len(encs)} networks trained separately"]}
    save_model(net.eval(), card, out)
    return card
