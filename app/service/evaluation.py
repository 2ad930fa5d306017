"""The figures `evaluate` and `bench` print: LFW verification, one-shot identification, open-set
identification, speed and memory. Written here once so that a front end only chooses and prints."""

from __future__ import annotations

import os
from typing import Any

from app.progress import CancelToken, ProgressFn, no_progress


def evaluate(protocol: str, detector: str, lfw: str | None = None, folder: str | None = None,
             weights: str | os.PathLike | None = None, device: str | None = None,
             detector_model: str | None = None, tau: float | None = None,
             draws: int | None = None, seed: int | None = None, write_card: bool = False,
             shift: str | None = None, progress: ProgressFn = no_progress,
             cancel: CancelToken | None = None) -> dict[str, Any]:
    """The figures of `protocol` ("verification", "identification", "open-set") for a model on LFW
    (`lfw`) or on a folder-per-person tree (`folder`), its images seen through the rendered camera
    `shift` if given; with `write_card`, stored in its card. Open-set without a fixed `tau` adapts
    the threshold to each gallery's domain as the live view does (`open_set.domain_shift`)."""
    from app.errors import OneShotError
    from app.evaluation.model import make_embed_paths
    from app.evaluation.protocols import evaluate_identification, evaluate_verification
    from app.recognition.encoder import Encoder

    encoder = Encoder.load(weights, device)
    embed_paths = make_embed_paths(encoder, detector, detector_model, progress=progress, shift=shift)
    cancel = cancel if cancel is not None else CancelToken()
    if protocol == "verification":
        if lfw is None:
            raise OneShotError("Verification is on LFW's pairs (--lfw); --folder is for identification and open-set.")
        result = evaluate_verification(lfw, embed_paths, cancel=cancel)
    elif protocol == "open-set":
        from app.evaluation.protocols import OPEN_SET_DRAWS, OPEN_SET_SEED, evaluate_open_set
        from app.recognition.open_set import threshold_for
        enrol_paths = make_embed_paths(encoder, detector, detector_model, enrolment=True, shift=shift)
        rule = encoder.open_set_rule
        adapt = None
        if rule is not None and tau is None:
            import numpy as np

            from app.recognition.open_set import domain_shift, impostor_distances, seen_threshold, strictest

            def adapt(t: float, enrolled: np.ndarray, seen: np.ndarray | None) -> float:
                ids = np.arange(len(enrolled))
                shifts = [domain_shift(rule, impostor_distances(enrolled, ids, None, None, encoder.scorer))]
                if seen is not None:
                    shifts.append(domain_shift(rule, impostor_distances(enrolled, ids, seen, None, encoder.scorer)))
                shifted = t - strictest(shifts).delta
                direct = None if seen is None else seen_threshold(seen, enrolled, encoder.scorer)
                return shifted if direct is None else min(shifted, direct)
        result = evaluate_open_set(lfw_dir=None if folder else lfw, folder=folder,
                                   embed_paths=embed_paths, embed_enrolment_paths=enrol_paths,
                                   decide_threshold=lambda m: threshold_for(m, rule, encoder.tau, tau),
                                   cancel=cancel, draws=draws or OPEN_SET_DRAWS,
                                   seed=OPEN_SET_SEED if seed is None else seed, scorer=encoder.scorer,
                                   adapt=adapt)
        result["rule"] = (f"fixed tau {tau}" if tau is not None else
                          "open-set table" if rule is not None else f"one-to-one tau {encoder.tau:.4f}")
        result["scoring"] = "cohort-normalised" if encoder.scorer is not None else "plain distance"
    else:  # enrolment images embedded as the app enrols them, probes as live faces
        enrol_paths = make_embed_paths(encoder, detector, detector_model, enrolment=True, shift=shift)
        result = evaluate_identification(lfw_dir=None if folder else lfw, folder=folder,
                                         embed_paths=embed_paths, cancel=cancel,
                                         embed_enrolment_paths=enrol_paths)
    result = {"model": encoder.version, "detector": detector, **result}
    if shift is not None:
        result["shift"] = shift
    if write_card and encoder.path is not None:
        from app.recognition.model_card import ModelCard, card_path_for
        from app.recognition.model_card import write_card as write
        card = ModelCard.from_file(card_path_for(encoder.path))
        card.metrics[f"{protocol.replace('-', '_')}_{result['detector']}"] = result
        write(card, encoder.path)
    return result


def bench(args: Any) -> dict[str, Any]:
    """Speed and memory figures (`evaluation.bench.run_bench`, which reads `bench`'s options)."""
    from app.evaluation.bench import run_bench
    return run_bench(args)
