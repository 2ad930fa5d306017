"""Training, retraining, combining and calibrating models, as `train`, `combine`, `calibrate` and
the GUI's Retrain pane ask for them.

The Retrain pane and `train` build their TrainConfig here and run it here (with the held-out
check of the new model against the active one), so how the app retrains is written once. The
training modules pull in torch and are imported when a function runs (tests also replace
`app.training.loop.train` and `app.training.heldout.check_after_training` where they live).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.progress import CancelToken, ProgressFn, no_progress

if TYPE_CHECKING:
    from app.recognition.model_card import ModelCard
    from app.service import EngineInfo
    from app.training.loop import EpochStats, TrainConfig, TrainingProgress, TrainResult


def __getattr__(name: str) -> Any:
    """TRAINING and CALIBRATING, the phases of `TrainingProgress.phase`, from app.training.loop
    when first asked for (it pulls in torch)."""
    if name in ("TRAINING", "CALIBRATING"):
        from app.training import loop
        return getattr(loop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def train_config(**fields: Any) -> TrainConfig:
    """A TrainConfig with `fields` set (the others at their defaults)."""
    from app.training.loop import TrainConfig
    return TrainConfig(**fields)


def default_learning_rate() -> float:
    from app.training.loop import TrainConfig
    return TrainConfig.lr


def retrain_config(folders: list[str], epochs: int, members: int, device: str | None, teacher: str | None,
                   fine_tune: bool, active: EngineInfo | None, max_images: int | None,
                   calibrate_lfw: str | None) -> TrainConfig:
    """What the Retrain pane trains: a new model in the user's model folder from their folders,
    with `teacher` (None: the names alone), fine-tuned from the `active` model or afresh, with
    people kept out to compare the new model with the active one."""
    from app import paths
    from app.recognition.model_card import ModelCard
    from app.training.heldout import CHECK_SHARE
    from app.training.loop import DEFAULT_DISTILL, TrainConfig, fine_tune_settings

    out = paths.user_models_dir() / f"encoder-user-{time.strftime('%Y%m%d-%H%M%S')}.pt"
    # a fine-tune keeps the active model's own rate and frozen layers (no disk read: from its card's info)
    info, tune = active, fine_tune
    card = ModelCard(arch=dict(info.arch) if info else {}, training=dict(info.training) if info else {})
    tune_lr, tune_freeze = fine_tune_settings(card)
    return TrainConfig(datasets=folders, out=str(out), epochs=epochs, members=members, device=device,
                       distill=DEFAULT_DISTILL if teacher else 0.0,
                       teachers=[[teacher, 1.0]] if teacher else [],
                       augment="strong" if teacher not in (None, "dlib") else "basic",
                       init_weights=info.model_path if tune and info else None,
                       lr=tune_lr if tune else TrainConfig.lr, freeze=tune_freeze if tune else 0,
                       max_images=max_images, calibrate_lfw=calibrate_lfw,
                       check_share=CHECK_SHARE,  # people kept out to compare the models on
                       workers=1)


def config_from_checkpoint(ckpt: str | os.PathLike) -> TrainConfig:
    """The TrainConfig an interrupted run saved in its checkpoint (`training.loop.train` stores it as
    "config"); fields this version does not know are left out. DatasetError if unreadable."""
    from dataclasses import fields

    import torch

    from app.errors import DatasetError
    from app.training.loop import TrainConfig
    try:
        state = torch.load(ckpt, map_location="cpu", weights_only=False)
        saved = dict(state["config"])
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file: say so, do not crash
        raise DatasetError(f"The interrupted training's checkpoint {ckpt} cannot be read "
                           f"({type(exc).__name__}: {exc}).") from None
    names = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in saved.items() if k in names})


def train(cfg: TrainConfig, resume: bool = False, progress: ProgressFn = no_progress,
          cancel: CancelToken | None = None, on_epoch: Callable[[EpochStats], None] | None = None,
          on_progress: Callable[[TrainingProgress], None] | None = None) -> TrainResult:
    """Train (or resume) a model as `cfg` says; the model and its card are saved (`training.loop.train`)."""
    from app.training import loop
    return loop.train(cfg, resume=resume, progress=progress, cancel=cancel, on_epoch=on_epoch,
                      on_progress=on_progress)


def check_after_training(result: TrainResult, cfg: TrainConfig, active_weights: str | None,
                         progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> None:
    """The held-out check of a new model against the active one on people neither trained on;
    its result goes into the new model's card (`training.heldout`)."""
    from app.training import heldout
    heldout.check_after_training(result.path, result.card, active_weights, device=cfg.device,
                                 detector=cfg.detector, workers=cfg.workers, progress=progress, cancel=cancel)


def checkpoint_path(out: str | os.PathLike) -> Path:
    """Where an interrupted run of the model `out` keeps its checkpoint."""
    from app.training.loop import checkpoint_path as path_of
    return path_of(out)


def use_all_cores() -> None:
    """Training takes every core (the live loop gets its share back with `live.live_threads`)."""
    import torch
    torch.set_num_threads(max(1, os.cpu_count() or 1))


# ---- teachers --------------------------------------------------------------------------------
def available_teachers() -> list[str]:
    """The ONNX teachers found on this computer, best first."""
    from app.training.teachers import available_teachers as found
    return found()


def parse_teachers(specs: list[str]) -> list[tuple[str, float]]:
    from app.training.teachers import parse_teachers as parse
    return parse(specs)


def parse_teacher_models(specs: list[str] | None) -> dict[str, str]:
    from app.training.teachers import parse_teacher_models as parse
    return parse(specs)


# ---- architecture ----------------------------------------------------------------------------
def check_arch(arch: dict) -> None:
    """Raise (TypeError, ValueError or RuntimeError) unless `arch` builds a network and its crop."""
    from app.recognition.model_card import crop_box_of
    from app.recognition.networks import FaceNet
    crop_box_of(arch)
    FaceNet(**arch)


def checked_crop_box(parts: list[str]) -> list[float]:
    """"X0", "Y0", "SIDE" → a square inside the canonical frame (ValueError otherwise)."""
    from app.recognition.alignment import checked_box
    return list(checked_box(parts))


# ---- model cards, combining and calibrating --------------------------------------------------
def model_card(weights: str | os.PathLike | None) -> tuple[Path, ModelCard]:
    """The weights file (None: the shipped model) and its card."""
    from app.recognition.encoder import shipped_weights
    from app.recognition.model_card import ModelCard, card_path_for
    path = Path(weights) if weights else shipped_weights()
    return path, ModelCard.from_file(card_path_for(path))


def trained_without_validation_people(card: ModelCard) -> bool:
    """The model was trained with LFW's validation people held out (so they can calibrate it)."""
    from app.training.calibration import VALIDATION_TAG
    return (card.training.get("data") or {}).get("held_out") == VALIDATION_TAG


def calibrate_card(weights: str | os.PathLike, lfw_dir: str | os.PathLike | None, detector: str,
                   progress: ProgressFn = no_progress, **kwargs: Any) -> ModelCard:
    """Recompute the model's τ and/or open-set table and write them to its card."""
    from app.training.calibration import calibrate_card as calibrate
    return calibrate(weights, lfw_dir, detector, progress=progress, **kwargs)


def combine_models(models: list[str | os.PathLike], out: str | os.PathLike) -> ModelCard:
    """One model averaging several networks of one architecture."""
    from app.training.combine import combine_models as combine
    return combine(models, out)


def model_teacher(training: dict) -> str | None:
    """The ONNX teacher a model was made with (its card's `training` section), else None
    (`training.teachers.model_teacher` says why Retrain starts from it)."""
    from app.training.teachers import model_teacher as teacher_of
    return teacher_of(training)


def forget_checkpoint(model: str | os.PathLike) -> None:
    """A saved model's checkpoint can no longer be resumed, only take room: remove it."""
    try:
        checkpoint_path(model).unlink(missing_ok=True)
    except OSError:
        pass


def phase_label(progress: TrainingProgress) -> str:
    """What a training progress report is doing, in words for a status line."""
    from app.training.loop import CALIBRATING, TRAINING
    if progress.phase == TRAINING:
        return "Training"
    if progress.phase == CALIBRATING:
        return "Calibrating τ and the open-set rule"
    return "Preparing face crops"


def retrain(cfg: TrainConfig | None, resume_from: str | os.PathLike | None, active_weights: str | None,
            on_progress: Callable[[TrainingProgress], None], check_progress: ProgressFn,
            cancel: CancelToken, on_epoch: Callable[[EpochStats], None] | None = None) -> tuple[TrainConfig, TrainResult]:
    """What Retrain runs in its thread: train `cfg` afresh (or continue the run whose checkpoint
    `resume_from` is, with the configuration saved in it) on every core, then check the new model
    against `active_weights` on people neither trained on. Cancelling the check keeps the model
    (the verdict is skipped) and a failed check only skips it; the live loop gets its cores back
    at the end. Raises Cancelled or OneShotError (or any other error) from training itself."""
    import traceback

    from app.service.live import live_threads
    use_all_cores()
    try:
        if resume_from is not None:
            cfg = config_from_checkpoint(resume_from)
        assert cfg is not None
        # build_crops spawns (never forks) its workers, so a threaded process is safe.
        result = train(cfg, resume=resume_from is not None, on_progress=on_progress, cancel=cancel,
                       on_epoch=on_epoch)
        try:
            check_after_training(result, cfg, active_weights, progress=check_progress, cancel=cancel)
        except Exception as exc:  # noqa: BLE001 - the model is saved: a failed check must not lose it
            traceback.print_exc()
            result.card.training["held_out_check"] = {"skipped": f"the check failed ({type(exc).__name__}: {exc})"}
        return cfg, result
    finally:
        live_threads()


def held_out_verdict(check: dict | None) -> tuple[str, str] | None:
    """The held-out check's verdict on a new model (`training.heldout.held_out_verdict`)."""
    from app.training.heldout import held_out_verdict as verdict
    return verdict(check)


def figures_sentence(check: dict) -> str:
    """The held-out check's figures in one sentence (`training.heldout.figures_sentence`)."""
    from app.training.heldout import figures_sentence as sentence
    return sentence(check)
