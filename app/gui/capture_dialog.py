"""Enrol from a short capture: a few seconds of one live face, a view kept per pose.

One photo is usually frontal, and a person turning to the screen beside them is then "Unknown".
This dialog runs a guided capture (`app.live.guided`, through `Library.start_capture` and the
inference worker's `capture` signal) and shows what it asks for and what it has: the prompt,
three tiles (the person's own left, facing the camera, their right) that fill with the view
kept for each pose, and the live picture with the followed face boxed. Enrol is possible once
any view is kept (`GuidedProgress.enrollable`, the rule `enrol --capture` follows too); a missing
frontal or turned view is said but allowed. The capture, the choice
of views and the enrolment all run on the engine thread; this dialog only shows their answers.

Tests drive it through the real widgets: the Name field, Enrol, Start again, Cancel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
)

from app.gui.enrol_dialog import ERROR_STYLE, NameTaken, ask_name_taken, name_taken
from app.gui.live_view import SELECTED_COLOUR, ImageWithBoxes, qimage_from_rgb

if TYPE_CHECKING:
    from app.service.live import GuidedProgress

# The capture's pose bins (`app.live.guided.BINS`: "left" and "right" are the person's own), as
# laid out for the person facing the screen: their left is the screen's left.
TILES = (("left", "←", "Your left"), ("frontal", "●", "Facing the camera"), ("right", "→", "Your right"))
WORDS = {"left": "your left", "frontal": "facing the camera", "right": "your right"}  # said to the person
VIEW_WORDS = {"left": "turned left", "frontal": "frontal", "right": "turned right"}  # said of the views
THUMB_PX = 96
OTHER_FACE = QColor(150, 150, 150)  # faces the capture ignores
FILLED_STYLE = "QFrame#tile { border: 3px solid #28c85a; border-radius: 8px; background: #eefaf1; }"
EMPTY_STYLE = "QFrame#tile { border: 2px dashed #9aa0a6; border-radius: 8px; }"
WAITING_STYLE = "QFrame#tile { border: 3px solid #3c96ff; border-radius: 8px; }"  # the pose asked for now


def pixmap_from_rgb(rgb: np.ndarray, side: int) -> QPixmap:
    return QPixmap.fromImage(qimage_from_rgb(rgb)).scaled(
        side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


class PoseTile(QFrame):
    """One pose: an arrow until its view is kept, then the view itself, with a tick."""

    def __init__(self, key: str, arrow: str, caption: str, parent=None):
        super().__init__(parent)
        self.key, self.arrow, self.caption = key, arrow, caption
        self.filled = False
        self.setObjectName("tile")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 6)
        self.picture = QLabel(arrow)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setFixedSize(THUMB_PX, THUMB_PX)
        font = QFont(self.font())
        font.setPointSize(30)
        self.picture.setFont(font)
        self.picture.setStyleSheet("color: #9aa0a6;")
        self.label = QLabel(caption)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay.addWidget(self.picture, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(self.label)
        self.set_view(None, asked=False)

    def set_view(self, crop: np.ndarray | None, asked: bool) -> None:
        """`crop`: the view kept for this pose (None: not yet); `asked`: the pose the prompt asks for."""
        self.filled = crop is not None
        if crop is not None:
            self.picture.setPixmap(pixmap_from_rgb(crop, THUMB_PX))
            self.label.setText(f"✓ {self.caption}")
            self.setStyleSheet(FILLED_STYLE)
        else:
            self.picture.setPixmap(QPixmap())
            self.picture.setText(self.arrow)
            self.label.setText(self.caption)
            self.setStyleSheet(WAITING_STYLE if asked else EMPTY_STYLE)
        self.setAccessibleName(f"{self.caption}: {'kept' if self.filled else 'not yet'}")


class CaptureDialog(QDialog):
    enrolled = Signal(object)   # the gallery Person

    def __init__(self, worker, parent=None, track_id: int | None = None, name: str = ""):
        """`track_id`: the live track to follow (the face picked in a snapshot); None: the first
        frame with exactly one face."""
        super().__init__(parent)
        self.worker = worker
        self.setWindowTitle("Enrol with a short capture")
        self.setMinimumWidth(520)
        self.progress: GuidedProgress | None = None
        self.running = False   # a capture of this dialog's runs: its `capture` signals are ours
        self.busy = False      # starting or enrolling
        self.error = ""
        self.name_question: QMessageBox | None = None
        self._closed = False
        self._asked_track = track_id
        self._labels: list = []  # the live picture's faces (FrameResult.labels)
        self._added = False      # the views went to someone already enrolled
        self._note = ""          # said before the summary while the capture starts over

        lay = QVBoxLayout(self)
        self.prompt = QLabel("Starting the capture…")
        font = QFont(self.font())
        font.setPointSize(font.pointSize() + 5)
        font.setBold(True)
        self.prompt.setFont(font)
        self.prompt.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.prompt.setWordWrap(True)
        lay.addWidget(self.prompt)

        self.preview = ImageWithBoxes()
        self.preview.setMinimumSize(360, 200)
        lay.addWidget(self.preview, 1)

        tiles = QHBoxLayout()
        tiles.addStretch(1)
        self.tiles: dict[str, PoseTile] = {}
        for key, arrow, caption in TILES:
            tile = PoseTile(key, arrow, caption)
            self.tiles[key] = tile
            tiles.addWidget(tile)
        tiles.addStretch(1)
        lay.addLayout(tiles)

        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        lay.addWidget(self.summary)

        nrow = QHBoxLayout()
        name_label = QLabel("&Name:")
        nrow.addWidget(name_label)
        self.name_edit = QLineEdit(name)
        self.name_edit.setPlaceholderText("Type the person's name")
        name_label.setBuddy(self.name_edit)
        nrow.addWidget(self.name_edit, 1)
        lay.addLayout(nrow)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok |
                                        QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("&Enrol")
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.restart_button = QPushButton("&Start again")
        self.restart_button.setToolTip("Drop the views kept so far and capture again")
        self.restart_button.clicked.connect(self.start_again)
        self.buttons.addButton(self.restart_button, QDialogButtonBox.ButtonRole.ResetRole)
        self.buttons.accepted.connect(self.enrol)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.name_edit.textChanged.connect(self._update_buttons)

        worker.capture.connect(self._on_progress)
        worker.result.connect(self._on_frame)
        self.start(track_id)
        self.name_edit.setFocus()

    # ---- the capture ----------------------------------------------------------------------
    def start(self, track_id: int | None) -> None:
        """(Re)start the capture on the engine thread; its frames count from the answer on (the
        worker answers after the frames of any earlier capture, in order)."""
        self.running = False
        self.busy = True
        self.progress = None
        for tile in self.tiles.values():  # the old views go at once, not when the engine answers
            tile.set_view(None, asked=False)
        self.prompt.setText("Starting the capture…")
        self.prompt.setStyleSheet("")
        self._set_summary("")
        self._update_buttons()

        def started(p) -> None:
            if self._closed:
                return
            self.busy = False
            self.running = True
            self._show(p)

        self.worker.submit(lambda library, progress: library.start_capture(track_id), started, self._fail)

    def set_worker(self, worker) -> None:
        """The engine restarted (another detector, device or model): its new worker has no
        capture and its tracks are new, so the capture starts again there, on the first face
        alone in the picture, saying why the views kept so far are gone."""
        if self._closed or worker is self.worker:
            return
        self._disconnect()
        self.worker = worker
        worker.capture.connect(self._on_progress)
        worker.result.connect(self._on_frame)
        self._asked_track = None
        self._note = "The recognition engine restarted, so the capture started again. "
        self.start(None)
        self._set_summary(self._note.strip())

    def _disconnect(self) -> None:
        try:
            self.worker.capture.disconnect(self._on_progress)
            self.worker.result.disconnect(self._on_frame)
        except (RuntimeError, TypeError):
            pass

    def start_again(self) -> None:
        """Drop the views kept and capture again: the same face while it is still followed; once
        lost, the next face alone in the picture (the old track is gone for good)."""
        self._note = ""
        p = self.progress
        if p is not None and not p.lost and p.track_id is not None:
            track: int | None = p.track_id
        elif p is None:
            track = self._asked_track
        else:
            track = None
        self._asked_track = track
        self.start(track)

    def _on_progress(self, p) -> None:
        if self.running and not self._closed:
            self._show(p)

    def _on_frame(self, result) -> None:
        """The live picture, the followed face boxed: the dialog covers the main view."""
        if self._closed or not self.isVisible():
            return
        self.preview.set_image(result.rgb)
        self._labels = list(result.labels)
        self._draw_boxes()

    def _draw_boxes(self) -> None:
        """The followed face in blue, the others grey (again when the capture locks on a face:
        a frame's progress comes after the frame)."""
        track = self.progress.track_id if self.progress is not None else None
        self.preview.set_boxes([(lab.box, "capturing" if lab.track_id == track else "",
                                 SELECTED_COLOUR if lab.track_id == track else OTHER_FACE)
                                for lab in self._labels])

    def _show(self, p) -> None:
        locked = self.progress is None or self.progress.track_id != p.track_id
        self.progress = p
        if locked:
            self._draw_boxes()
        self.prompt.setText(p.prompt)
        self.prompt.setStyleSheet(ERROR_STYLE if p.lost else "")
        asked = next((k for k, kept in p.filled.items() if not kept), None)
        for key, tile in self.tiles.items():
            tile.set_view(p.crops.get(key) if p.filled.get(key) else None, asked=key == asked and not p.lost)
        kept = [WORDS[k] for k, _a, _c in TILES if p.filled.get(k)]
        missing = [WORDS[k] for k, _a, _c in TILES if not p.filled.get(k)]
        if p.lost:
            text = ("The face left the picture or was hidden, so the capture stopped: a face that comes "
                    "back could be someone else's. Press Start again")
            text += ", or enrol the views kept so far." if p.enrollable else "."
            self._set_summary(text, error=True)
        elif p.track_id is None:  # what the live picture shows now (its frame came just before)
            if len(self._labels) > 1:
                self._set_summary(f"{len(self._labels)} faces in the picture: the capture starts when one face "
                                  f"is alone in it.")
            else:
                self._set_summary("Waiting for one face alone in the picture: look at the camera.")
        elif p.done:
            self._set_summary("Every view is kept. Type the name and press Enrol.")
        elif p.filled.get("frontal"):
            self._set_summary(f"Kept: {_join(kept)}. Still missing: {_join(missing)}. You can enrol now, "
                              f"or keep turning slowly to add {'it' if len(missing) == 1 else 'them'}.")
        elif p.enrollable:
            self._set_summary(f"Kept: {_join(kept)}. No view facing the camera yet: look straight at the "
                              f"camera until the middle box fills, or enrol now.")
        else:
            self._set_summary("Look straight at the camera until the middle box fills.")
        self._update_buttons()

    # ---- enrolling ------------------------------------------------------------------------
    @property
    def can_enrol(self) -> bool:
        p = self.progress
        return p is not None and p.enrollable and not self.busy and self.running

    def _update_buttons(self) -> None:
        self.ok_button.setEnabled(self.can_enrol and bool(self.name_edit.text().strip()))
        self.restart_button.setEnabled(not self.busy)
        # Enter: Start again once the face is lost with nothing to enrol, else Enrol
        restart = self.progress is not None and self.progress.lost and not self.can_enrol
        (self.restart_button if restart else self.ok_button).setDefault(True)

    def _set_summary(self, text: str, error: bool = False) -> None:
        if self._note and self.progress is not None and any(self.progress.filled.values()):
            self._note = ""  # said until the new capture keeps its first view
        self.summary.setText(text if not text or text.startswith(self._note) else self._note + text)
        self.summary.setStyleSheet(ERROR_STYLE if error else "")

    def _fail(self, message: str) -> None:
        self.busy = False
        self.error = message
        self._set_summary(message, error=True)
        self._update_buttons()

    def enrol(self) -> None:
        name = self.name_edit.text().strip()
        if name and self.can_enrol:
            self._submit(name, add=False)

    def _submit(self, name: str, add: bool) -> None:
        def job(library, progress):
            return name_taken(library, name, add) or library.enrol_capture(name, add_to_existing=add)

        self.busy = True
        self.error = ""
        self._added = add
        self._update_buttons()
        self._set_summary("Enrolling…")
        self.worker.submit(job, self._done, self._fail)

    def _done(self, value) -> None:
        self.busy = False
        if isinstance(value, NameTaken):
            self._ask_name_taken(value.name)
            return
        self.running = False  # the enrolment ended the capture
        self.enrolled.emit(value)
        self.accept()

    def enrolled_text(self, person) -> str:
        """The status bar's words once enrolled: which views went to whom."""
        p = self.progress
        kept = [VIEW_WORDS[k] for k, _a, _c in TILES if p is not None and p.filled.get(k)]
        views = f"{len(kept)} view{'s' if len(kept) != 1 else ''} ({_join(kept)})" if kept else "the views"
        if self._added:
            return f"Added {views} from a short capture to {person.name}."
        return f"Enrolled {person.name} from a short capture: {views}."

    def _ask_name_taken(self, existing: str) -> None:
        self._update_buttons()
        ask_name_taken(self, existing, "these views", self._set_summary)

    # ---- closing --------------------------------------------------------------------------
    def done(self, result: int) -> None:
        """Closed in any way: a capture still running is stopped (Cancel enrols nothing)."""
        if not self._closed:
            self._closed = True
            self._disconnect()
            if result != QDialog.DialogCode.Accepted:
                self.worker.submit(lambda library, progress: library.stop_capture())
        super().done(result)
