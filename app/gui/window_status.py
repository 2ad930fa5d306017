"""The main window's status bar: fps, latency, detector, encoder and device (permanent, so a
message does not hide them), a progress bar for engine tasks, the Undo button after a deletion,
and the messages shown for a few seconds."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QLabel, QMainWindow, QProgressBar, QPushButton


class StatusBarMixin(QMainWindow):
    """MainWindow's status bar."""

    undo_delete: Callable[[], None]  # MainWindow's

    def _build_status_bar(self) -> None:
        sb = self.statusBar()
        self.fps_label = QLabel("– fps")
        self.latency_label = QLabel("– ms")
        self.detector_label = QLabel("detector –")
        self.encoder_label = QLabel("encoder –")
        self.device_label = QLabel("device –")
        self.task_progress = QProgressBar()
        self.task_progress.setMaximumWidth(160)
        self.task_progress.setVisible(False)
        self.undo_button = QPushButton("Undo")
        self.undo_button.clicked.connect(self.undo_delete)
        self.undo_button.setVisible(False)
        # permanent widgets: a status message (e.g. "Deleted X.") does not hide them
        for w in (self.undo_button, self.task_progress, self.fps_label, self.latency_label,
                  self.detector_label, self.encoder_label, self.device_label):
            sb.addPermanentWidget(w)

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)
