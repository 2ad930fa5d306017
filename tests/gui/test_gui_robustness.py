"""The window under faults and for backups: export / import from the File menu (file dialogs
answered by the "user"), garbage frames reported and recovered from, an unusable saved model
replaced by the shipped one with a message."""

from __future__ import annotations

import stat
import time

import numpy as np
import pytest
from gui_helpers import LIN, enrol_from_photo

from app import paths
from app.store import settings as settings_mod
from app.store.backup import read_backup


def test_export_and_import_gallery_from_the_file_menu(qtbot, make_window, samples_dir, tmp_path, monkeypatch):
    from app.gui import main_window

    out = tmp_path / "my backup é.zip"
    monkeypatch.setattr(main_window.QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "")))
    monkeypatch.setattr(main_window.QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(out), "")))

    win = make_window(samples_dir / "short_hamilton_clip.mp4", start_source=False)
    enrol_from_photo(qtbot, win, samples_dir / "lin-manuel-miranda.png", LIN)
    messages = []
    win.statusBar().messageChanged.connect(lambda m: m and messages.append(m))
    win.export_gallery_action.trigger()
    qtbot.waitUntil(lambda: any(m.startswith("Exported 1 person (1 photo)") for m in messages), timeout=30_000)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and read_backup(out).names == [LIN]
    win.close()

    # another machine: an empty gallery elsewhere
    other = make_window(samples_dir / "short_hamilton_clip.mp4", start_source=False,
                        gallery_path=tmp_path / "elsewhere" / "gallery.sqlite3")
    qtbot.waitUntil(lambda: other.people.loaded, timeout=30_000)
    assert other.people.names() == []
    messages = []
    other.statusBar().messageChanged.connect(lambda m: m and messages.append(m))
    other.import_gallery_action.trigger()
    qtbot.waitUntil(lambda: other.people.names() == [LIN], timeout=30_000)
    qtbot.waitUntil(lambda: any(m.startswith("Imported 1 person (1 photo)") for m in messages), timeout=30_000)

    # again: the name is taken, so the user is asked; "No" changes nothing, "Yes" merges
    asked = []
    monkeypatch.setattr(other, "confirm_merge", lambda names: asked.append(list(names)) or False)
    other.import_gallery_action.trigger()
    qtbot.waitUntil(lambda: "Import cancelled; nothing was changed." in messages, timeout=30_000)
    assert asked == [[LIN]] and other.people.row_by_name(LIN).samples == 1
    monkeypatch.setattr(other, "confirm_merge", lambda names: True)
    other.import_gallery_action.trigger()
    qtbot.waitUntil(lambda: any("1 already there" in m for m in messages), timeout=30_000)
    assert other.people.row_by_name(LIN).samples == 1

    # a damaged file: an error, the gallery unchanged
    out.write_bytes(out.read_bytes()[:300])
    other.import_gallery_action.trigger()
    qtbot.waitUntil(lambda: any("damaged or truncated" in m for m in messages), timeout=30_000)
    assert other.people.names() == [LIN]


def test_garbage_frames_are_reported_and_recognition_goes_on(qtbot, make_window, samples_dir):
    from app.imageio import load_image
    from app.live.sources import Frame, FrameSource

    rgb = load_image(samples_dir / "lin-manuel-miranda.png")
    garbage = [None, np.zeros((0, 0, 3), np.uint8), np.zeros((40, 50), np.uint8),
               np.zeros((40, 50, 3), np.float32),
               np.random.default_rng(0).integers(0, 256, (40, 50, 7), dtype=np.uint8)]

    class GarbageCamera(FrameSource):
        """Good frames, then a burst of garbage from a broken driver, then good frames again."""
        description = "camera 0"
        is_live = True

        def __init__(self):
            super().__init__()
            self.i = 0

        def read(self):
            time.sleep(0.02)
            self.i += 1
            if 10 <= self.i < 10 + len(garbage):
                return Frame(self.i, garbage[self.i - 10], time.monotonic())
            return Frame(self.i, rgb, time.monotonic())

    win = make_window("0", source_opener=lambda spec: GarbageCamera(), start_source=False)
    enrol_from_photo(qtbot, win, samples_dir / "lin-manuel-miranda.png", LIN)
    frames, statuses, frame_errors = [], [], []
    win.frame_analysed.connect(frames.append)
    win.inference.frame_error.connect(frame_errors.append)
    win.set_source("0", save=False)
    win.capture.status.connect(statuses.append)
    qtbot.waitUntil(lambda: "camera 0 is back" in statuses, timeout=30_000)
    assert "camera 0 delivered an unreadable frame; skipping it." in statuses
    n = len(frames)
    qtbot.waitUntil(lambda: len(frames) > n + 3, timeout=30_000)
    assert frames[-1].labels and frames[-1].labels[0].name == LIN
    assert win.engine_error == "" and win.capture.isRunning()

    # garbage that reaches the recogniser itself is skipped with a message, not a crash
    win.capture.stop()  # nothing else feeds the slot now
    assert win.capture.wait(10_000)
    for bad in garbage:
        win.slot.put(Frame(0, bad, 0.0), block=True)
    qtbot.waitUntil(lambda: len(frame_errors) == len(garbage), timeout=30_000)
    assert all("could not be used" in m for m in frame_errors)
    win.slot.put(Frame(1, rgb, 0.0), block=True)
    qtbot.waitUntil(lambda: frames[-1].index == 1, timeout=30_000)
    assert win.inference.isRunning() and win.engine_error == ""


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_unusable_saved_model_is_reported_and_the_shipped_model_used(qtbot, make_window, samples_dir,
                                                                    weights, tmp_path, damage):
    import shutil

    from app.recognition.encoder import Encoder, shipped_weights
    from app.recognition.model_card import card_path_for

    if weights != shipped_weights():
        pytest.skip("needs the shipped model to fall back to")
    mine = paths.user_models_dir() / "encoder-user-1.pt"
    if damage == "truncated":
        shutil.copy(weights, mine)
        shutil.copy(card_path_for(weights), card_path_for(mine))
        mine.write_bytes(mine.read_bytes()[:1000])
    settings_mod.save(settings_mod.Settings(model_path=str(mine)))
    win = make_window(samples_dir / "short_hamilton_clip.mp4", start_source=False, weights=None)
    assert win.info.warnings and "Using the shipped model instead." in win.info.warnings[0]
    assert win.info.encoder == Encoder.load(None, "cpu").version
    qtbot.waitUntil(lambda: "shipped model" in win.statusBar().currentMessage(), timeout=10_000)
    enrol_from_photo(qtbot, win, samples_dir / "lin-manuel-miranda.png", LIN)  # and it works
    qtbot.waitUntil(lambda: win.people.names() == [LIN], timeout=30_000)


def test_crops_for_retraining_stay_private_and_go_with_a_deleted_person():
    """Retraining with the enrolled people copies their crops: into the private data folder
    (never the cache folder), and the copies are removed when anyone is deleted."""
    from app.gui.workers import export_gallery_crops
    from app.store.gallery import Gallery

    crop = np.full((112, 112, 3), 90, np.uint8)
    emb = np.eye(128, dtype=np.float32)
    with Gallery() as g:
        ann = g.enrol("Ann", crop, emb[0], "v1")
        g.enrol("Bob", crop, emb[1], "v1")
        root = export_gallery_crops(g)
        assert root.parent == paths.data_dir() and stat.S_IMODE(root.stat().st_mode) == 0o700
        assert len(list(root.rglob("*.png"))) == 2 and not list(paths.cache_dir().rglob("*"))
        cache = paths.training_cache_dir(["/datasets/lfw", str(root)])
        assert cache == paths.data_dir() / paths.GALLERY_TRAIN_CACHE
        assert stat.S_IMODE(cache.stat().st_mode) == 0o700
        assert paths.training_cache_dir(["/datasets/lfw"]) == paths.cache_dir()
        (cache / "crops-yunet-64-x.npz").write_bytes(b"aligned crops of Ann and Bob")
        g.delete(ann.id)
        assert not root.exists() and not cache.exists()
        assert [p.name for p in g.people()] == ["Bob"]


def test_faces_enrolled_under_another_model_are_updated_at_start(qtbot, make_window, samples_dir):
    """An updated app or a saved model that no longer loads: the window starts on another model
    than the gallery's faces were embedded by; they are re-embedded from their crops, not lost."""
    from app.imageio import load_image
    from app.recognition.alignment import align
    from app.recognition.detection import create_detector
    from app.store.gallery import Gallery

    rgb = load_image(samples_dir / "lin-manuel-miranda.png")
    face = create_detector("haar").detect(rgb)[0]
    with Gallery() as g:
        g.enrol(LIN, align(rgb, face, 112), np.ones(128, np.float32) / np.sqrt(128), "an-older-model")
    win = make_window(samples_dir / "short_hamilton_clip.mp4", start_source=False)
    stale = []
    qtbot.waitUntil(lambda: not win.task_progress.isVisible(), timeout=60_000)
    win.inference.submit(lambda library, progress: (library.model_version, library.stale_count()),
                         stale.append)
    qtbot.waitUntil(lambda: bool(stale), timeout=30_000)
    assert stale[0] == (win.info.encoder, 0)
    assert win.people.names() == [LIN]


def test_a_detector_choice_that_fails_is_not_saved(qtbot, make_window, samples_dir, monkeypatch):
    from PySide6.QtCore import Qt

    from app.store import settings as app_settings
    win = make_window(samples_dir / "short_hamilton_clip.mp4", start_source=False, detector="haar",
                      detector_model=None)
    monkeypatch.setattr("app.paths.find_yunet", lambda *a, **k: None)  # YuNet's file is nowhere
    src = win.settings_pane.source
    src.detector.setCurrentIndex(src.detector.findData("yunet"))
    qtbot.mouseClick(src.apply_engine, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "YuNet" in win.statusBar().currentMessage(), timeout=30_000)
    assert "not found" in win.statusBar().currentMessage()
    assert src.detector.currentData() == "haar"                  # the pane tells the truth
    assert win.options.detector == "haar" and win.settings.detector != "yunet"
    assert app_settings.load().detector != "yunet"               # and the next start is not broken
    assert "haar" in win.detector_label.text() and not win.engine_error


def test_without_yunet_the_app_says_so_once_and_installs_it(qtbot, make_window, samples_dir, yunet_path, monkeypatch):
    import shutil
    from pathlib import Path

    import app.fetch
    from app.gui.main_window import MainWindow
    def find_yunet(explicit=None):  # as on an install without ../shared: explicit or the user's folder
        if explicit:
            return Path(explicit)
        user = paths.user_models_dir(create=False) / paths.YUNET_FILENAME
        return user if user.is_file() else None

    monkeypatch.setattr("app.paths.find_yunet", find_yunet)
    asked = []
    monkeypatch.setattr(MainWindow, "ask_about_yunet", lambda self: asked.append(1) or "download")

    def fake_download(progress=None, **kw):  # no network here: the file from ../shared
        dest = paths.user_models_dir() / paths.YUNET_FILENAME
        shutil.copyfile(yunet_path, dest)
        return dest

    monkeypatch.setattr(app.fetch, "fetch_yunet", fake_download)
    win = make_window(samples_dir / "short_hamilton_clip.mp4", start_source=False, detector=None, detector_model=None)
    qtbot.waitUntil(lambda: win.settings.detector == "yunet", timeout=30_000)
    assert asked == [1]
    qtbot.waitUntil(lambda: "yunet" in win.detector_label.text(), timeout=30_000)
    assert win.settings_pane.source.detector.currentData() == "yunet"
    win2 = make_window(samples_dir / "short_hamilton_clip.mp4", start_source=False, detector=None, detector_model=None)
    assert asked == [1]  # offered once only
    win2.close()


def test_a_picked_yunet_file_is_checked_before_it_is_installed(tmp_path, yunet_path):
    from app.errors import ModelError
    from app.fetch import install_yunet_file
    bad = tmp_path / "other.onnx"
    bad.write_bytes(b"not the detector")
    with pytest.raises(ModelError, match="not the YuNet detector"):
        install_yunet_file(bad, tmp_path / "models")
    assert not (tmp_path / "models" / paths.YUNET_FILENAME).exists()
    dest = install_yunet_file(yunet_path, tmp_path / "models")
    assert dest.read_bytes() == yunet_path.read_bytes()
