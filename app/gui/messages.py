"""The GUI's one way to show an error: a warning box that nothing waits on (the People panel, a
person's page, Recent faces and the main window all use it)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox


def show_error(parent, title: str, text: str) -> QMessageBox:
    """A non-blocking warning box (open(), not exec()): nothing waits on it."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.open()
    return box
