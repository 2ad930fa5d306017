"""Shared steps of the GUI tests: they drive the real widgets, as a user would."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

LIN = "Lin-Manuel Miranda"
ALEX = "Alex Lacamoire"


def enrol_from_photo(qtbot, win, path, name: str) -> None:
    """Enrol through the enrol-from-photo dialog: path, typed name, Enrol button."""
    dlg = win.open_enrol_photo_dialog()
    assert dlg.isVisible()
    dlg.set_path(path)  # what the file chooser would do
    qtbot.waitUntil(lambda: dlg.ready or bool(dlg.error), timeout=60_000)
    assert not dlg.error, dlg.error
    assert not dlg.ok_button.isEnabled()  # no name yet
    dlg.name_edit.clear()
    qtbot.keyClicks(dlg.name_edit, name)
    assert dlg.ok_button.isEnabled()
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=60_000)
    assert dlg.result() == QDialog.DialogCode.Accepted, dlg.info.text()


def largest(labels):
    return max(labels, key=lambda lab: lab.box[2] * lab.box[3])
