"""The window's plumbing: a missing source is reported in the view and the app keeps working,
only the newest frame is kept, faces are chosen by clicking, threads stop on close."""

from __future__ import annotations

import dataclasses
import threading

from gui_helpers import ask_worker
from PySide6.QtCore import QPoint, Qt

from app.gui.workers import END, FrameSlot


def test_frame_slot_keeps_only_the_newest():
    slot = FrameSlot()
    for i in range(5):
        slot.put(i)
    assert slot.take(0.01) == 4 and slot.dropped == 4
    assert slot.take(0.01) is None


def test_frame_slot_blocking_hands_over_everything():
    slot = FrameSlot()
    got = []

    def consume():
        while True:
            item = slot.take(1.0)
            if item is END:
                return
            got.append(item)

    t = threading.Thread(target=consume)
    t.start()
    for i in range(50):
        slot.put(i, block=True)
    slot.put(END, block=True)
    t.join(5)
    assert got == list(range(50)) and slot.dropped == 0


def test_missing_source_message_then_another_source(qtbot, make_window, samples_dir):
    win = make_window("/nonexistent/camera.mp4", retry_interval=0.2)
    qtbot.waitUntil(lambda: "does not exist" in win.view.message, timeout=20_000)
    assert "another source" in win.view.message
    qtbot.waitUntil(lambda: win.people.loaded, timeout=20_000)  # the rest keeps working
    frames = []
    win.frame_analysed.connect(frames.append)
    win.settings_pane.source.source_edit.setText(str(samples_dir / "short_hamilton_clip.mp4"))
    qtbot.mouseClick(win.settings_pane.source.apply_source, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(frames) >= 3, timeout=60_000)
    assert win.view.message == ""
    assert win.settings.source == str(samples_dir / "short_hamilton_clip.mp4")
    assert "fps" in win.fps_label.text() and "yunet" in win.detector_label.text()
    assert "CPU" in win.device_label.text()
    win.close()
    assert win.all_threads_stopped()


def test_enrol_dialog_several_faces_click_one(qtbot, make_window, samples_dir):
    win = make_window("/nonexistent/camera.mp4", start_source=False)
    dlg = win.open_enrol_photo_dialog(samples_dir / "two_people.jpg")
    qtbot.waitUntil(lambda: len(dlg.faces) == 2, timeout=30_000)
    assert not dlg.ready and "click" in dlg.info.text()
    # click the centre of the second face in the preview
    s, ox, oy = dlg.preview._geometry()
    x, y, w, h = dlg.faces[1].box
    qtbot.mouseClick(dlg.preview, Qt.MouseButton.LeftButton,
                     pos=QPoint(int(ox + (x + w / 2) * s), int(oy + (y + h / 2) * s)))
    qtbot.waitUntil(lambda: dlg.ready, timeout=30_000)
    assert dlg.preview.selected == 1
    qtbot.keyClicks(dlg.name_edit, "Right person")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.people.names() == ["Right person"], timeout=30_000)


def test_export_gallery_crops_for_retraining(tmp_path):
    import numpy as np
    import pytest

    from app.errors import DatasetError
    from app.gui.workers import export_gallery_crops
    from app.store.gallery import Gallery

    g = Gallery(tmp_path / "g.sqlite3")
    with pytest.raises(DatasetError):
        export_gallery_crops(g)
    emb = np.zeros(128, np.float32)
    emb[0] = 1
    crop = np.full((112, 112, 3), 100, np.uint8)
    p = g.enrol("A", crop, emb, "v1")
    g.add_sample(p.id, crop, emb, "v1")
    g.enrol("B", crop, emb, "v1")
    root = export_gallery_crops(g)
    files = sorted(f.relative_to(root).parts[0] for f in root.rglob("*.png"))
    assert files == [f"person-{p.id}"] * 2 + [f"person-{g.find('B').id}"]
    g.close()


def test_figures_from_calibration():
    from app.gui.figures import model_figures, rates_at

    cal = {"same_distances_sorted": [0.2, 0.4, 0.6, 0.8], "diff_distances_sorted": [0.5, 1.0, 1.2, 1.4]}
    assert rates_at(cal, 0.45) == (0.0, 0.5)
    assert rates_at(cal, 1.0) == (0.5, 0.0)
    assert rates_at({}, 0.5) is None
    from app.recognition.encoder import ModelCard
    fig = model_figures(ModelCard(version="v", tau=0.7, calibration=cal))
    assert fig["far"] == 0.25 and fig["frr"] == 0.25 and fig["accuracy"] == 0.75


def test_verdict_on_a_retrained_model():
    from app.gui.figures import format_figures, verdict
    assert verdict({"accuracy": 0.9}, {"tau": 0.6})[0] == "uncalibrated"
    assert "not calibrated" in format_figures({"tau": 0.6})
    assert verdict({"accuracy": 0.9}, {"accuracy": 0.62})[0] == "worse"      # broken, whatever the old one
    assert verdict({}, {"accuracy": 0.62})[0] == "worse"
    assert verdict({"accuracy": 0.90}, {"accuracy": 0.93})[0] == "better"
    assert verdict({"accuracy": 0.90}, {"accuracy": 0.902})[0] == "no better"
    word, text = verdict({"accuracy": 0.93}, {"accuracy": 0.90})
    assert word == "worse" and "90.0% against 93.0%" in text


def test_shortcuts_pause_and_enrol_from_snapshot(qtbot, make_window, samples_dir):
    win = make_window(samples_dir / "short_hamilton_clip.mp4", loop=True)
    win.activateWindow()
    qtbot.waitUntil(lambda: win.isActiveWindow(), timeout=5_000)
    # wait for the close-up (one face), then Space pauses: the snapshot is that frame
    qtbot.waitUntil(lambda: win.last_result is not None and len(win.last_result.faces) == 1
                    and win.last_result.faces[0].box[2] > 70, timeout=60_000)
    qtbot.keyClick(win.view, Qt.Key.Key_Space)
    assert win.pause_action.isChecked() and win.inference.paused and win.view.paused  # and it shows
    on_screen = win.view.last_result
    ask_worker(qtbot, win.inference, lambda library: None)  # the result on its way arrives, the screen keeps its frame
    analysed, read = win.inference.frames_analysed, win.capture.frames_read
    qtbot.waitUntil(lambda: win.capture.frames_read >= read + 10, timeout=30_000)  # the video plays on
    ask_worker(qtbot, win.inference, lambda library: None)  # and the worker has taken its frames since
    assert win.inference.frames_analysed == analysed  # nothing is analysed while paused
    # a result that was on its way when Space was pressed must not become the snapshot
    late = dataclasses.replace(win.last_result, rgb=win.last_result.rgb[::-1].copy())
    win._show_result(late)
    assert win.view.last_result is on_screen
    qtbot.keyClick(win.view, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert win._dialogs, "Ctrl+E did not open the snapshot dialog"
    dlg = win._dialogs[-1]
    assert dlg.rgb is on_screen.rgb  # exactly the frame on screen
    if len(dlg.faces) > 1:
        dlg.preview.select(0)
    qtbot.waitUntil(lambda: dlg.ready or bool(dlg.error), timeout=30_000)
    assert dlg.preview.selected == 0 and not dlg.error
    qtbot.keyClicks(dlg.name_edit, "Snapshot person")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.people.names() == ["Snapshot person"], timeout=30_000)
    win.activateWindow()
    qtbot.waitUntil(lambda: win.isActiveWindow(), timeout=5_000)
    qtbot.keyClick(win.view, Qt.Key.Key_Space)
    assert not win.inference.paused and not win.view.paused


def test_unplugged_camera_is_reported_and_comes_back(qtbot, make_window, samples_dir):
    """A camera that stops mid-stream, is missing once, then returns: the view says so and the
    app recovers by itself."""
    import time

    from app.errors import SourceError
    from app.imageio import load_image
    from app.live.sources import Frame, FrameSource

    rgb = load_image(samples_dir / "lin-manuel-miranda.png")
    opens = []

    class FakeCamera(FrameSource):
        description = "camera 0"
        is_live = True

        def __init__(self, frames_before_unplug):
            super().__init__()
            self.left = frames_before_unplug
            self.i = 0

        def read(self):
            time.sleep(0.02)
            if self.left == 0:
                raise SourceError("camera 0 was unplugged.")
            self.left -= 1
            self.i += 1
            return Frame(self.i, rgb, time.monotonic())

    def opener(spec):
        opens.append(spec)
        if len(opens) == 2:
            raise SourceError("camera 0 is not connected.")
        return FakeCamera(10 if len(opens) == 1 else 10_000)

    win = make_window("0", retry_interval=0.3, source_opener=opener, start_source=False)
    frames, messages = [], []
    win.frame_analysed.connect(frames.append)
    win.set_source("0", save=False)
    # (status, what the view says, whether it still shows a picture), as the status arrives
    win.capture.status.connect(lambda m: messages.append((m, win.view.message, win.view._image is not None)))
    qtbot.waitUntil(lambda: any("not connected" in m for m, _, _ in messages), timeout=30_000)
    shown, picture = next((v, pic) for m, v, pic in messages if "not connected" in m)
    assert "camera 0 is not connected" in shown and "another source" in shown
    assert not picture  # no stale frame with names while the camera is missing
    qtbot.waitUntil(lambda: any("is back" in m for m, _, _ in messages), timeout=30_000)
    n = len(frames)
    qtbot.waitUntil(lambda: len(frames) > n + 3, timeout=30_000)
    assert win.view.message == ""
    assert len(opens) == 3


def test_window_fits_a_small_laptop_screen_with_every_control_reachable(qtbot, make_window, samples_dir):
    from PySide6.QtWidgets import QAbstractButton, QScrollArea
    win = make_window(samples_dir / "short_hamilton_clip.mp4", start_source=False)
    win.resize(1024, 700)
    qtbot.waitUntil(lambda: win.width() <= 1024 and win.height() <= 700, timeout=5_000)
    pane = win.settings_pane
    win.side.setCurrentWidget(pane)
    for i in range(pane.count()):
        pane.setCurrentIndex(i)
        scroll = pane.widget(i)
        assert isinstance(scroll, QScrollArea)
        for button in scroll.widget().findChildren(QAbstractButton):
            if not button.isVisibleTo(scroll.widget()):
                continue
            scroll.ensureWidgetVisible(button)
            qtbot.wait(1)
            assert not button.visibleRegion().isEmpty(), f"{button.text()!r} on tab {pane.tabText(i)!r}"
