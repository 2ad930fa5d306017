"""Acceptance: rename and delete in the People panel persist across a new MainWindow."""

from __future__ import annotations

from gui_helpers import ALEX, LIN, enrol_from_photo, gallery_people
from PySide6.QtCore import Qt


def test_rename_and_delete_persist(qtbot, make_window, samples_dir, monkeypatch):
    win = make_window(samples_dir / "short_hamilton_clip.mp4", start_source=False)
    enrol_from_photo(qtbot, win, samples_dir / "lin-manuel-miranda.png", LIN)
    enrol_from_photo(qtbot, win, samples_dir / "alex-lacamoire.png", ALEX)
    panel = win.people
    qtbot.waitUntil(lambda: sorted(panel.names()) == [ALEX, LIN], timeout=30_000)
    assert panel.list.count() == 2
    assert all(not panel.list.item(i).icon().isNull() for i in range(2))  # thumbnails

    # rename Lin through the button (the name prompt answered by the "user")
    panel.select_id(panel.row_by_name(LIN).id)
    monkeypatch.setattr(panel, "ask_new_name", lambda current: "Lin-Manuel")
    qtbot.mouseClick(panel.rename_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sorted(panel.names()) == [ALEX, "Lin-Manuel"], timeout=30_000)

    # delete: refused at the confirmation, then confirmed
    panel.select_id(panel.row_by_name(ALEX).id)
    asked = []
    monkeypatch.setattr(panel, "confirm_delete", lambda name: asked.append(name) or False)
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert asked == [ALEX] and ALEX in panel.names()
    assert ALEX in [name for name, _ in gallery_people(qtbot, win.inference)]  # no deletion ran
    monkeypatch.setattr(panel, "confirm_delete", lambda name: True)
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.names() == ["Lin-Manuel"], timeout=30_000)

    # another photo of the same person, from the panel
    panel.select_id(panel.row_by_name("Lin-Manuel").id)
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    dlg = win._dialogs[-1]
    assert dlg.name_edit.text() == "Lin-Manuel"
    dlg.set_path(samples_dir / "lin-manuel-miranda.png")
    qtbot.waitUntil(lambda: dlg.ready, timeout=30_000)
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.row_by_name("Lin-Manuel").samples == 2, timeout=30_000)

    win.settings_pane.threshold.slider.setValue(77)  # a setting that must survive too
    win.close()
    assert win.all_threads_stopped()

    again = make_window(samples_dir / "short_hamilton_clip.mp4", start_source=False)
    qtbot.waitUntil(lambda: again.people.loaded, timeout=30_000)
    assert again.people.names() == ["Lin-Manuel"]
    assert again.settings.tau == 0.385
    assert again.settings_pane.threshold.slider.value() == 77
