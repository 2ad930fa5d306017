"""service.training: the Retrain pane's config and its run (training, then the held-out check)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from app.errors import Cancelled, DatasetError
from app.progress import CancelToken
from app.service import training


def info(**kw):
    base = dict(arch={}, training={}, model_path=None)
    base.update(kw)
    return SimpleNamespace(**base)


def test_retrain_config_with_a_teacher_and_afresh(tmp_path, monkeypatch):
    monkeypatch.setenv("ONESHOT_DATA_DIR", str(tmp_path))
    cfg = training.retrain_config(["/a", "/b"], epochs=3, members=2, device="cpu", teacher="edgeface",
                                  fine_tune=False, active=info(model_path="/m.pt"), max_images=None,
                                  calibrate_lfw=None)
    assert cfg.datasets == ["/a", "/b"] and (cfg.epochs, cfg.members) == (3, 2)
    assert cfg.teachers == [["edgeface", 1.0]] and cfg.distill > 0 and cfg.augment == "strong"
    assert cfg.init_weights is None and cfg.lr == training.default_learning_rate() and cfg.freeze == 0
    assert Path(cfg.out).name.startswith("encoder-user-") and cfg.check_share > 0


def test_retrain_config_without_a_teacher_fine_tunes_the_active_model(tmp_path, monkeypatch):
    monkeypatch.setenv("ONESHOT_DATA_DIR", str(tmp_path))
    cfg = training.retrain_config(["/a"], epochs=1, members=1, device=None, teacher=None, fine_tune=True,
                                  active=info(model_path="/m.pt"), max_images=50, calibrate_lfw="/lfw")
    assert cfg.teachers == [] and cfg.distill == 0.0 and cfg.augment == "basic"
    assert cfg.init_weights == "/m.pt" and (cfg.max_images, cfg.calibrate_lfw) == (50, "/lfw")


def fake_result(tmp_path):
    return SimpleNamespace(path=tmp_path / "m.pt", card=SimpleNamespace(training={}), history=[])


def test_retrain_trains_then_checks_and_a_failed_check_keeps_the_model(tmp_path, monkeypatch):
    import app.training.heldout
    import app.training.loop
    seen = []
    monkeypatch.setattr(app.training.loop, "train", lambda cfg, **kw: seen.append(("train", cfg)) or fake_result(tmp_path))

    def broken_check(*a, **kw):
        seen.append("check")
        raise RuntimeError("no people left")
    monkeypatch.setattr(app.training.heldout, "check_after_training", broken_check)
    cfg = training.train_config(datasets=["/a"], out=str(tmp_path / "m.pt"))
    got_cfg, result = training.retrain(cfg, None, "/active.pt", on_progress=lambda p: None,
                                       check_progress=lambda d, t, m="": None, cancel=CancelToken())
    assert got_cfg is cfg and seen == [("train", cfg), "check"]
    assert result.card.training["held_out_check"] == {"skipped": "the check failed (RuntimeError: no people left)"}


def test_retrain_lets_a_cancel_through_and_skips_the_check(tmp_path, monkeypatch):
    import app.training.heldout
    import app.training.loop
    checked = []

    def cancelled(cfg, **kw):
        raise Cancelled("Training cancelled.")
    monkeypatch.setattr(app.training.loop, "train", cancelled)
    monkeypatch.setattr(app.training.heldout, "check_after_training", lambda *a, **k: checked.append(1))
    cfg = training.train_config(datasets=["/a"], out=str(tmp_path / "m.pt"))
    with pytest.raises(Cancelled):
        training.retrain(cfg, None, None, on_progress=lambda p: None, check_progress=lambda d, t, m="": None,
                         cancel=CancelToken())
    assert checked == []


def test_a_damaged_checkpoint_is_one_line(tmp_path):
    bad = tmp_path / "m.ckpt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(DatasetError, match="cannot be read"):
        training.config_from_checkpoint(bad)


def test_forget_checkpoint_removes_it_and_minds_no_absence(tmp_path):
    model = tmp_path / "m.pt"
    ckpt = training.checkpoint_path(model)
    ckpt.write_bytes(b"x")
    training.forget_checkpoint(model)
    assert not ckpt.exists()
    training.forget_checkpoint(model)  # nothing there: no error


def test_phase_labels():
    from app.training.loop import CALIBRATING, TRAINING, TrainingProgress
    assert training.phase_label(TrainingProgress(1, 2, "", TRAINING)) == "Training"
    assert training.phase_label(TrainingProgress(1, 2, "", CALIBRATING)) == "Calibrating τ and the open-set rule"
    assert training.phase_label(TrainingProgress(1, 2, "", "preparing")) == "Preparing face crops"


def test_model_teacher_reads_the_card():
    assert training.model_teacher({"teachers": [{"name": "faceplugin", "weight": 1.0}]}) == "faceplugin"
    assert training.model_teacher({"teachers": []}) is None
