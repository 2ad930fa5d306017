"""Qt-free figures and words for the window: error rates at a threshold from a model card's
calibration, the before/after summary of a retrained model, a model's readable name and the
licences its card names, and counts with the right singular or plural."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from app.service import EngineInfo, OpenSetRule
from app.text import plural  # noqa: F401 (re-exported: the panes import it from here)

if TYPE_CHECKING:  # the encoder pulls in torch
    from app.service.training import ModelCard


def rates_at(calibration: dict, tau: float) -> tuple[float, float] | None:
    """(false-accept rate, false-reject rate) at τ from the card's validation distances.

    A pair is accepted as "same person" when its distance is at most τ (as the matcher does).
    None when the card carries no calibration data.
    """
    same = calibration.get("same_distances_sorted") if calibration else None
    diff = calibration.get("diff_distances_sorted") if calibration else None
    if not same or not diff:
        return None
    same = np.asarray(same, dtype=np.float64)
    diff = np.asarray(diff, dtype=np.float64)
    far = np.searchsorted(diff, tau, side="right") / len(diff)
    frr = 1.0 - np.searchsorted(same, tau, side="right") / len(same)
    return float(far), float(frr)


def open_set_rule(open_set: dict | None) -> OpenSetRule | None:
    """The rule of a card's `open_set` section (`EngineInfo.open_set`); None if absent or damaged
    (the engine already refused a damaged card, so the pane only has to stay quiet)."""
    try:
        return OpenSetRule.from_card(open_set)
    except ValueError:
        return None


def open_set_text(calibration: dict, rule: OpenSetRule | None, tau: float, enrolled: int,
                  automatic: bool = False, domain_delta: float = 0.0) -> str:
    """What τ means for the gallery enrolled now, in the pane's words: strangers named (from the
    card's open-set table, measured on faces the model never trained on), strangers' live tracks
    named where the card measured them (`automatic`: the rule's own τ for tracks, else `tau`), and
    enrolled people's faces missed (from the calibration pairs). Empty parts are said to be unknown."""
    n = max(1, int(enrolled))
    who = f"{enrolled} enrolled photo{'s' if enrolled != 1 else ''}" if enrolled else "the first person enrolled"
    if rule is not None:
        named = rule.strangers_named(tau, n)
        strangers = (f"With {who}, about {_percent(named)} of strangers' faces would be given a name "
                     f"(measured on {rule.source or 'faces this model never trained on'}).")
        # automatic: the rule's τ for tracks, made as much stricter as the camera made the faces'
        live = rule.track_threshold(n) - domain_delta if automatic else tau
        tracks = rule.tracks_named(live, n)
        if tracks is not None:
            strangers += (f" The live view matches a face again on every frame, so it names a tracked face "
                          f"under τ {live:.3f}: about {_percent(tracks)} of strangers' tracks.")
    else:
        strangers = ("This model has no open-set calibration: how many strangers get a name is "
                     "unknown, and grows with the number of people enrolled.")
    rates = rates_at(calibration, tau)
    if rates:
        missed = (f" About {_percent(rates[1])} of enrolled people's faces would be missed "
                  f"(from the model's calibration pairs, of people it may have trained on: expect "
                  f"more misses in use).")
    else:
        missed = ""
    return strangers + missed


def _percent(x: float) -> str:
    p = 100.0 * float(x)
    if p == 0:
        return "0%"
    if p < 0.1:
        return "under 0.1%"
    return f"{p:.1f}%" if p < 10 else f"{p:.0f}%"


def model_figures(model: EngineInfo | ModelCard | None) -> dict:
    """Headline validation figures of a model: the active one (`Library.describe`) or a card
    (a model just trained); None (no model loaded yet) gives only empty version and τ."""
    if model is None:
        return {"version": None, "tau": None}
    if isinstance(model, EngineInfo):
        version, tau, shipped = model.encoder, model.calibrated_tau, model.shipped
    else:
        version, tau, shipped = model.version, model.tau, False
    calib = model.calibration or {}
    out: dict = {"version": version or None, "tau": tau}
    if version:
        out["name"] = model_label(version, shipped)
    rates = rates_at(calib, float(tau)) if tau is not None else None
    if rates:
        far, frr = rates
        n_same = len(calib["same_distances_sorted"])
        n_diff = len(calib["diff_distances_sorted"])
        out["far"], out["frr"] = far, frr
        out["accuracy"] = 1.0 - (far * n_diff + frr * n_same) / (n_same + n_diff)
    metrics = model.metrics or {}
    for key, value in metrics.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[f"metric:{key}"] = value
    final_loss = (model.training or {}).get("final_loss")
    if final_loss is not None:
        out["final_loss"] = final_loss
    return out


BROKEN_ACCURACY = 0.75  # below this on its own calibration pairs a model is no face recogniser
MARGIN = 0.005          # half a point of pair accuracy: less is no difference


def verdict(before: dict, after: dict, check: dict | None = None) -> tuple[str, str]:
    """("better" | "no better" | "worse" | "uncalibrated" | "skipped", a sentence) for a retrained
    model against the active one, from the figures of `model_figures` and the new card's
    `held_out_check` (`app.training.heldout`).

    In order: a new model without calibration pairs is "uncalibrated" (its τ is a guess; the
    held-out figures are added when there are some); one below BROKEN_ACCURACY on its own
    calibration pairs is "worse"; then the held-out check decides (`heldout.held_out_verdict`:
    rank-1 on people neither model trained on, against a margin from the number of probes); a
    cancelled check is "skipped"; without a check, both models' accuracy on LFW's
    pairsDevTrain.txt with their own τ decides, and the sentence says those pairs are not held
    out (either model may have trained on their people)."""
    from app.service.training import figures_sentence, held_out_verdict
    held = held_out_verdict(check)
    if "accuracy" not in after:
        extra = f" {figures_sentence(check)}" if held is not None and check is not None else ""
        return "uncalibrated", ("The new model was not calibrated (no LFW pairs): its threshold is a default "
                                "guess." + (extra or " It cannot be compared with the active model."))
    if after["accuracy"] < BROKEN_ACCURACY:
        return "worse", (f"The new model tells faces apart badly ({100 * after['accuracy']:.0f}% of its "
                         "calibration pairs right): do not use it.")
    if held is not None:
        return held
    if check and check.get("cancelled"):
        return "skipped", ("The check on people neither model trained on was cancelled, so there is no verdict: "
                           "the new model is kept but was not compared with the active model.")
    why = f" ({check['skipped']})" if check and check.get("skipped") else ""
    if "accuracy" not in before:
        return "no better", (f"No check on people neither model trained on{why}, and the active model has no "
                             "calibration pairs to compare with.")
    diff = after["accuracy"] - before["accuracy"]
    word = "better" if diff >= MARGIN else "worse" if diff <= -MARGIN else "no better"
    return word, (f"{word.capitalize()} than the active model on the same LFW training pairs: "
                  f"{100 * after['accuracy']:.1f}% against {100 * before['accuracy']:.1f}%. Not a held-out "
                  f"check{why}: either model may have trained on these pairs' people.")


def format_figures(fig: dict) -> str:
    lines = [fig.get("name") or f"model {fig.get('version') or '?'}"]
    if fig.get("tau") is not None:
        calibrated = "accuracy" in fig
        lines.append(f"τ {float(fig['tau']):.3f}" + ("" if calibrated else " (a default: not calibrated)"))
    if "accuracy" in fig:
        lines.append(f"accuracy on its calibration pairs {100 * fig['accuracy']:.1f}% "
                     f"(FAR {100 * fig['far']:.1f}%, FRR {100 * fig['frr']:.1f}%)")
    else:
        lines.append("no validation pairs in its model card")
    for k, v in fig.items():
        if k.startswith("metric:"):
            lines.append(f"{k[7:]}: {v:.4g}")
    if "final_loss" in fig:
        lines.append(f"final training loss {fig['final_loss']:.4f}")
    return "\n".join(lines)




_VERSION_TIME = re.compile(r"-(\d{9,11})$")


def model_time(version: str | None) -> float | None:
    """When a model was made, from its card's version ("<file stem>-<unix time>"); None if it
    carries no time."""
    m = _VERSION_TIME.search(version or "")
    return float(m.group(1)) if m else None


def _date(t: float, with_time: bool) -> str:
    lt = time.localtime(t)
    text = f"{lt.tm_mday} {time.strftime('%b %Y', lt)}"
    return text + time.strftime(" %H:%M", lt) if with_time else text


def model_label(version: str | None, shipped: bool = False) -> str:
    """A model as people name it: "Shipped model (2 Dec 2026)", "Retrained 2 Dec 2026 14:05";
    from its card's version and whether it is the shipped model (`EngineInfo.shipped`)."""
    version = version or ""
    t = model_time(version)
    if shipped:
        return f"Shipped model ({_date(t, False)})" if t is not None else "Shipped model"
    if t is not None:
        return f"Retrained {_date(t, True)}"
    return f"Model {version}" if version else "Unknown model"


def model_licences(training: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(what, licence) of every network a model card names with a licence (its teachers, the
    networks it was fine-tuned from or started from), found anywhere in its `training` section
    (`EngineInfo.training`); each pair once, in the card's order."""
    out: list[tuple[str, str]] = []

    def walk(node) -> None:
        if isinstance(node, dict):
            licence = node.get("licence") or node.get("license")
            if isinstance(licence, str) and licence.strip():
                what = str(node.get("model") or node.get("name") or node.get("file") or "a network")
                if (what, licence) not in out:
                    out.append((what, licence))
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    walk(training or {})
    return out
