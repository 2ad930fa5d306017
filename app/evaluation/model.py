"""Wires an encoder into the evaluation protocols: image paths → (embeddings, detector hits).

Kept apart from `protocols.py` so the metrics stay pure numpy. Crops go through the same
`datasets.build_crops` (detection, central face, alignment; misses use the fallback box) as
training, and are cached, so evaluating several models costs one detection pass.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from app import paths
from app.evaluation.datasets import build_crops
from app.progress import ProgressFn, no_progress
from app.recognition.detection import DEFAULT_DETECTOR
from app.recognition.encoder import Encoder


def make_embed_paths(encoder: Encoder, detector: str = DEFAULT_DETECTOR, detector_model: str | None = None,
                     progress: ProgressFn = no_progress, workers: int = 2, enrolment: bool = False,
                     shift: str | None = None) -> Callable[[list[str]], tuple[np.ndarray, np.ndarray]]:
    """Live embedding (`Encoder.embed`), or with `enrolment` the gallery's (`embed_enrolment`);
    with `shift`, the crops rendered as another camera first (`evaluation.shifts`)."""
    embed = encoder.embed_enrolment if enrolment else encoder.embed

    def embed_paths(image_paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
        data = build_crops(list(image_paths), encoder.input_size, detector, detector_model,
                           workers=workers, progress=progress, cache_dir=paths.cache_dir(),
                           box=encoder.crop_box)
        crops = data["crops"]
        if shift is not None:
            from app.evaluation.shifts import render
            crops = render(crops, shift)
        return embed(crops), data["found"]
    return embed_paths
