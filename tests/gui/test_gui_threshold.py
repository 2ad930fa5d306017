"""The Threshold pane speaks in open-set terms for the gallery enrolled now."""

from __future__ import annotations

from gui_helpers import enrol_from_photo
from PySide6.QtCore import Qt

# strangers named at τ 0.4 / 0.6 / 0.8: with 1 photo 0 / 1% / 3%, with 100 photos 0 / 5% / 20%
OPEN_SET = {"grid": [0.4, 0.6, 0.8], "sizes": [1, 100], "rates": [[0.0, 0.01, 0.03], [0.0, 0.05, 0.2]],
            "target": 0.01, "source": "hand-made faces"}
CALIBRATION = {"same_distances_sorted": [0.3, 0.5, 0.7, 0.9], "diff_distances_sorted": [1.0, 1.2],
               "source": "hand-made pairs"}


def test_pane_estimates_follow_the_gallery_and_the_slider(qtbot):
    from app.gui.settings_pane import ThresholdSection

    pane = ThresholdSection()
    qtbot.addWidget(pane)
    pane.set_model(1.0, CALIBRATION, None, OPEN_SET, enrolled=1)
    assert pane.automatic and abs(pane.tau - 0.6) < 0.006         # 1% of strangers with one photo
    one = pane.rates_label.text()
    assert "1 enrolled photo," in one and "1.0% of strangers" in one and "hand-made faces" in one and "measured on" in one
    assert "50% of enrolled people's faces would be missed" in one  # 0.7 and 0.9 are not under 0.6
    pane.set_enrolled(100)                                        # the automatic τ tightens
    assert abs(pane.tau - 0.44) < 0.006
    hundred = pane.rates_label.text()
    assert "100 enrolled photos" in hundred and hundred != one
    assert not pane.reset_button.isEnabled() and "Automatic" in pane.mode_label.text()
    # the user moves the slider: a fixed τ, and the estimate for this gallery at that τ
    moved = []
    pane.tau_changed.connect(moved.append)
    pane.slider.setValue(160)  # τ 0.8
    assert moved == [0.8] and not pane.automatic and "20% of strangers" in pane.rates_label.text()
    assert pane.reset_button.isEnabled() and "Fixed" in pane.mode_label.text()
    pane.set_enrolled(1)       # a fixed τ stays; only the estimate changes
    assert pane.tau == 0.8 and "3.0% of strangers" in pane.rates_label.text()
    qtbot.mouseClick(pane.reset_button, Qt.MouseButton.LeftButton)
    assert pane.automatic and abs(pane.tau - 0.6) < 0.006 and moved == [0.8]


def test_pane_says_what_the_live_view_names_tracks_with(qtbot):
    from app.gui.settings_pane import ThresholdSection

    # strangers' tracks named at τ 0.4 / 0.6 / 0.8 with 1 photo: 0 / 2% / 5% → 1% at τ 0.5
    tracks = {**OPEN_SET, "track_rates": [[0.0, 0.02, 0.05], [0.01, 0.1, 0.3]]}
    pane = ThresholdSection()
    qtbot.addWidget(pane)
    pane.set_model(1.0, CALIBRATION, None, tracks, enrolled=1)
    text = pane.rates_label.text()
    assert abs(pane.tau - 0.6) < 0.006                             # the slider shows the faces' τ
    assert "tracked face under τ 0.500: about 1.0% of strangers' tracks" in text
    pane.set_domain(0.05, "stricter")  # the camera makes tracks' τ as much stricter as the faces'
    assert "tracked face under τ 0.450" in pane.rates_label.text()
    pane.set_domain(0.0, "")
    pane.slider.setValue(160)  # a fixed τ 0.8 holds for tracks too: 5% of strangers' tracks
    assert "tracked face under τ 0.800: about 5.0% of strangers' tracks" in pane.rates_label.text()
    pane.set_model(1.0, CALIBRATION, None, OPEN_SET, enrolled=1)  # a card without tracks says nothing of them
    assert "tracks" not in pane.rates_label.text()


def test_pane_without_an_open_set_table_says_so(qtbot):
    from app.gui.settings_pane import ThresholdSection

    pane = ThresholdSection()
    qtbot.addWidget(pane)
    pane.set_model(0.9, CALIBRATION, None, {}, enrolled=3)
    assert pane.tau == 0.9 and "no open-set calibration" in pane.rates_label.text()


def test_window_pane_counts_the_people_enrolled(qtbot, make_window, samples_dir):
    win = make_window(samples_dir / "obama.jpg", start_source=False)
    pane = win.settings_pane.threshold
    qtbot.waitUntil(lambda: pane.isEnabled(), timeout=30_000)
    assert "the first person enrolled" in pane.rates_label.text()
    enrol_from_photo(qtbot, win, samples_dir / "obama.jpg", "Barack Obama")
    qtbot.waitUntil(lambda: pane.enrolled == 1, timeout=30_000)
    assert "1 enrolled photo," in pane.rates_label.text()
    enrol_from_photo(qtbot, win, samples_dir / "biden.jpg", "Joe Biden")
    qtbot.waitUntil(lambda: pane.enrolled == 2, timeout=30_000)
    assert "2 enrolled photos" in pane.rates_label.text()


def test_pane_says_when_the_camera_made_the_automatic_tau_stricter(qtbot):
    """`set_domain` (from EngineInfo, then the worker's domain_changed): the automatic τ is the
    table's less the camera's shift, said in the engine's sentence; a fixed τ hides it."""
    from app.gui.settings_pane import ThresholdSection

    pane = ThresholdSection()
    qtbot.addWidget(pane)
    pane.set_model(1.0, CALIBRATION, None, OPEN_SET, enrolled=1)
    assert abs(pane.tau - 0.6) < 0.006 and pane.domain_label.isHidden()
    text = "faces from this camera look more alike than the photos it was set on: τ 0.60 → 0.50"
    pane.set_domain(0.1, text)
    assert abs(pane.tau - 0.5) < 0.006 and pane.domain_label.text() == "F" + text[1:]
    assert not pane.domain_label.isHidden() and not pane.forget_camera_button.isHidden()
    assert "faces this camera has seen" in pane.mode_label.text()
    pane.set_enrolled(100)  # still the table's τ for the gallery, less the shift
    assert abs(pane.tau - 0.34) < 0.006
    pane.slider.setValue(160)  # a fixed τ: the camera does not move it, and the sentence goes
    assert pane.tau == 0.8 and pane.domain_label.isHidden() and pane.forget_camera_button.isHidden()
    pane.set_domain(0.2, text)
    assert pane.tau == 0.8 and pane.domain_label.isHidden()
    qtbot.mouseClick(pane.reset_button, Qt.MouseButton.LeftButton)
    assert abs(pane.tau - 0.24) < 0.006 and not pane.domain_label.isHidden()
    pane.set_domain(0.0, "")  # forgotten: the table's τ again
    assert abs(pane.tau - 0.44) < 0.006 and pane.domain_label.isHidden()


def test_the_pane_follows_the_camera_sample_as_the_live_view_feeds_it(qtbot, make_window, samples_dir):
    """Through the real window and worker: with someone enrolled, playing the clip feeds the
    engine's camera sample and the Threshold pane shows the engine's sentence (domain_changed)."""
    import re

    from gui_helpers import LIN
    clip = samples_dir / "short_hamilton_clip.mp4"
    win = make_window(clip, loop=True, start_source=False)
    pane = win.settings_pane.threshold
    enrol_from_photo(qtbot, win, samples_dir / "lin-manuel-miranda.png", LIN)
    win.set_source(str(clip), save=False)

    def seen() -> int:
        m = re.search(r"checked against (\d+) faces? seen by this camera", pane.domain_label.text())
        return int(m.group(1)) if m else 0
    qtbot.waitUntil(lambda: seen() > 0, timeout=120_000)
    assert "your 1 enrolled person" in pane.domain_label.text()
    # "Forget this camera's faces" (paused, so nothing is learned meanwhile): the sample is gone
    win.pause_action.trigger()
    assert not pane.forget_camera_button.isHidden()
    qtbot.mouseClick(pane.forget_camera_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Forgot" in win.statusBar().currentMessage(), timeout=30_000)
    assert re.search(r"Forgot [1-9]\d* faces? seen by this camera", win.statusBar().currentMessage())
    assert seen() == 0 and "no stricter τ needed" in pane.domain_label.text()
    assert abs(pane.tau - pane.rule.threshold(1)) < 0.006  # the table's τ for one photo again


def test_learn_from_this_cameras_photos_through_the_window(qtbot, make_window, samples_dir, tmp_path, monkeypatch):
    """The pane's "Learn from this camera's photos…": the folder chosen in the dialog feeds the
    camera sample on the worker (progress dialog, then closed), and the pane and status bar say so."""
    import re
    import shutil

    from gui_helpers import LIN
    folder = tmp_path / "camera"
    folder.mkdir()
    for name in ("biden.jpg", "two_people.jpg", "alex-lacamoire.png"):
        shutil.copy(samples_dir / name, folder / name)
    (folder / "notes.jpg").write_bytes(b"not a photo")
    win = make_window(samples_dir / "short_hamilton_clip.mp4", loop=False, start_source=False)
    pane = win.settings_pane.threshold
    monkeypatch.setattr(win, "ask_camera_folder", lambda: str(folder))
    qtbot.waitUntil(pane.isEnabled, timeout=60_000)
    qtbot.mouseClick(pane.learn_camera_button, Qt.MouseButton.LeftButton)  # nobody enrolled yet: said why
    qtbot.waitUntil(lambda: "Enrol someone first" in win.statusBar().currentMessage(), timeout=30_000)
    from PySide6.QtWidgets import QMessageBox
    (box,) = [b for b in win.findChildren(QMessageBox) if b.isVisible()]
    assert "Enrol someone first" in box.text()
    box.close()
    enrol_from_photo(qtbot, win, samples_dir / "lin-manuel-miranda.png", LIN)
    qtbot.mouseClick(pane.learn_camera_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Learned" in win.statusBar().currentMessage(), timeout=60_000)
    assert win.statusBar().currentMessage() == "Learned 4 faces from 3 photos; 1 file could not be read."
    assert re.search(r"checked against 4 faces seen by this camera", pane.domain_label.text())
    assert not win._dialogs  # the progress dialog is gone
