"""Resume in the Retrain tab: a run cancelled after its first epoch leaves a checkpoint; after a
restart the tab offers Resume, which trains only the epochs left, with the run's own settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

CLIP = "short_hamilton_clip.mp4"


def test_resume_continues_a_cancelled_retrain_after_a_restart(qtbot, make_window, samples_dir, shared):
    win = make_window(samples_dir / CLIP, start_source=False)
    rt = win.settings_pane.retrain
    assert rt.checkpoint is None and not rt.resume_box.isVisibleTo(rt)  # nothing to resume yet
    rt.add_folder(shared / "datasets" / "celeba_faces")
    rt.epochs.setValue(2)
    rt.max_images.setValue(40)
    rt.teacher.setCurrentIndex(rt.teacher.findData(None))
    rt.fine_tune.setChecked(False)
    rt.calibrate.setChecked(False)
    rt.device.setCurrentIndex(0)  # CPU
    qtbot.mouseClick(rt.start_button, Qt.MouseButton.LeftButton)
    worker = rt.worker
    # cancel as soon as epoch 1 is saved, in the training thread itself (no race with epoch 2)
    worker.epoch.connect(lambda stats: worker.cancel(), Qt.ConnectionType.DirectConnection)
    qtbot.waitUntil(lambda: rt.last_outcome != "", timeout=600_000)
    assert rt.last_outcome == "cancelled", rt.status.text()
    qtbot.waitUntil(lambda: not rt.running, timeout=60_000)
    # the thread has returned; its `finished` signal (which offers Resume) arrives through the event loop
    qtbot.waitUntil(rt.resume_button.isEnabled, timeout=10_000)
    ckpt = rt.checkpoint
    assert ckpt is not None and ckpt.suffix == ".ckpt" and not ckpt.with_suffix(".pt").exists()
    assert rt.resume_box.isVisibleTo(rt) and rt.resume_button.isEnabled()
    assert "Resume" in rt.status.text() and "--resume" not in rt.status.text()
    win.close()

    again = make_window(samples_dir / CLIP, start_source=False)
    rt = again.settings_pane.retrain
    assert rt.checkpoint == ckpt and rt.resume_box.isVisibleTo(rt) and rt.resume_button.isEnabled()
    assert "interrupted" in rt.resume_label.text()
    rt.epochs.setValue(7)  # the form is not what resumes: the run's saved settings are
    progress = []
    qtbot.mouseClick(rt.resume_button, Qt.MouseButton.LeftButton)
    assert rt.running and not rt.start_button.isEnabled() and not rt.resume_button.isEnabled()
    rt.worker.progress.connect(lambda d, t, m: progress.append(m))
    qtbot.waitUntil(lambda: rt.last_outcome != "", timeout=600_000)
    assert rt.last_outcome == "done", rt.status.text()
    assert Path(rt.result.path) == ckpt.with_suffix(".pt")
    assert [h.epoch for h in rt.result.history] == [1, 2]  # epoch 1 from the checkpoint
    training = [m for m in progress if m.startswith("Training")]
    assert training and all("epoch 2/2" in m for m in training), training[:3]
    assert rt.result.card.training["config"]["max_images"] == 40
    qtbot.waitUntil(lambda: not rt.running, timeout=60_000)
    assert not ckpt.exists() and rt.checkpoint is None and not rt.resume_box.isVisibleTo(rt)
    assert rt.activate_button.isEnabled()
