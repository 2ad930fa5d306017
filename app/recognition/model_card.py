"""The model card: the JSON file beside a weights file saying what the weights are (architecture,
input size, crop box), how they were trained, how good they are, and how to decide with them
(calibrated τ, open-set table, cohort normalisation, inference options), with their SHA-256.

Its own module because training, evaluation, calibration and the settings pane read and rewrite
cards without loading any network; app.recognition.encoder checks a card when it loads its weights.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.atomic import atomic_write
from app.errors import ModelError
from app.recognition.alignment import FULL_BOX, checked_box
from app.recognition.matching import CohortScorer
from app.recognition.networks import DEFAULT_ARCH

ARCH_NAME = "oneshot-resnet-v1"
ENROL_SHIFT = 0.025  # 2 px of an 80-pixel crop: chosen on held-out training people (README)


def crop_box_of(arch: dict[str, Any]) -> tuple[float, float, float]:
    """The arch's crop box (ValueError if malformed); the full frame when it has none."""
    box = arch.get("crop_box")
    return FULL_BOX if box is None else checked_box(box)


@dataclass
class ModelCard:
    """What a weights file is and how good it is; stored as JSON next to the weights."""

    arch: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_ARCH))
    architecture: str = ARCH_NAME
    tau: float = 0.6
    version: str = "untrained"
    weights_sha256: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)  # distance histograms for the UI
    # The open-set table (app.recognition.open_set): strangers named per τ and gallery size, measured on
    # background faces the model never trained on; empty: decide with the one-to-one `tau`.
    open_set: dict[str, Any] = field(default_factory=dict)
    # Cohort normalisation (app.recognition.matching.CohortScorer): this model's embeddings of a fixed set of
    # training people's faces ("embeddings": float16 little-endian, base64), "k" and "offset";
    # empty: plain distances.
    cohort: dict[str, Any] = field(default_factory=dict)
    # flip_tta: embed each crop and its mirror image and average them (+2.3 points of DevTest
    # accuracy for the 48-epoch single model, at twice the embedding cost).
    # bf16_cpu: on CPUs with native bfloat16 (see `bf16_native`), embed under bfloat16 autocast:
    # 516 against 290 faces/s here (`bench`, the weights shipped before), the same LFW figures but
    # rank-1 0.773 against 0.771.
    # enrol_shift: an enrolment photo is embedded as the mean of its crop and four copies shifted
    # by this fraction of the crop side (see `Encoder.embed_enrolment`); 0 or absent: off.
    inference: dict[str, Any] = field(default_factory=lambda: {"flip_tta": True, "bf16_cpu": True,
                                                               "enrol_shift": ENROL_SHIFT})

    @property
    def input_size(self) -> int:
        return int(self.arch["input_size"])

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "ModelCard":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(**data)
        except FileNotFoundError:
            raise ModelError(f"Model card {path} is missing.") from None
        except (ValueError, TypeError) as exc:
            raise ModelError(f"Model card {path} is damaged: {exc}") from None


def cohort_section(embeddings: np.ndarray, k: int, offset: float, source: str) -> dict[str, Any]:
    """A card's `cohort` section for these unit embeddings (stored as float16: 256 bytes a face)."""
    import base64
    e = np.asarray(embeddings, dtype="<f2")
    return {"faces": int(e.shape[0]), "dim": int(e.shape[1]), "k": int(k), "offset": round(float(offset), 6),
            "source": source, "embeddings": base64.b64encode(e.tobytes()).decode("ascii")}


def scorer_from_card(card: "ModelCard") -> CohortScorer | None:
    """The CohortScorer of a card's `cohort` section; ValueError if it is damaged."""
    import base64
    import binascii
    c = card.cohort
    if not c:
        return None
    try:
        raw = base64.b64decode(c["embeddings"], validate=True)
        faces, dim = int(c["faces"]), int(c["dim"])
        emb = np.frombuffer(raw, dtype="<f2").astype(np.float32).reshape(faces, dim)
        scorer = CohortScorer(emb, int(c["k"]), float(c["offset"]))
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise ValueError(f"cohort section is damaged: {exc}") from None
    if dim != int(card.arch.get("dim", 128)) or not np.all(np.isfinite(emb)) or not np.isfinite(scorer.offset):
        raise ValueError("cohort section is damaged: wrong size or non-finite values")
    return scorer


def card_path_for(weights: str | os.PathLike) -> Path:
    return Path(weights).with_suffix(".json")


def write_card(card: ModelCard, weights: str | os.PathLike) -> Path:
    """Rewrite the card beside `weights` atomically (metrics, τ); the weights are untouched."""
    path = card_path_for(weights)
    text = card.to_json()
    with atomic_write(path, text=True) as f:
        f.write(text)
    return path
