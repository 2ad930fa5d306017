"""Look-alike faces for the camera-sample tests: pairs of *different* tracks whose
cohort-normalised distance lies above the table's duplicate floor (τ for its largest gallery, so
they count as domain evidence) and well under its one-to-one 1% quantile (so they tighten τ)."""

from __future__ import annotations

import numpy as np

from app.recognition import scoring


def lookalike_pairs(encoder, e: np.ndarray, n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    rule = encoder.open_set_rule
    floor = rule.threshold(int(rule.sizes[-1]))
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=(2 * n, len(e))).astype(np.float32)
    for scale in np.linspace(0.02, 1.5, 150):
        x = e + scale * noise
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        d = scoring.pair_scores(x[::2], x[1::2], encoder.scorer)
        if d.min() >= floor + 0.01:
            return list(zip(x[::2], x[1::2]))
    raise AssertionError("no look-alike scale found")
