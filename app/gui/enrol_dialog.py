"""Enrol a person from a photo file or from a frozen frame of the live view.

The dialog holds no face logic: detection, the candidate (crop, embedding, quality warnings,
nearest match) and the enrolment itself run as jobs on the inference worker's engine.
Tests drive it through `set_path(path)`, the name field and the OK button, with no native file
chooser.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from app.gui.live_view import KNOWN_COLOUR, UNKNOWN_COLOUR, ImageWithBoxes

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff)"


class EnrolDialog(QDialog):
    enrolled = Signal(object)   # the gallery Person

    def __init__(self, worker, parent=None, rgb: np.ndarray | None = None, faces=None,
                 title: str = "Enrol a person"):
        super().__init__(parent)
        self.worker = worker
        self.setWindowTitle(title)
        self.setMinimumSize(560, 520)
        self.rgb: np.ndarray | None = None
        self.faces: list = []
        self.source_name: str | None = None
        self.candidate = None
        self.busy = False
        self.error = ""
        self._generation = 0

        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("Photo file…")
        self.path_edit.returnPressed.connect(lambda: self.set_path(self.path_edit.text()))
        self.browse_button = QPushButton("&Browse…")
        self.browse_button.clicked.connect(self.browse)
        row.addWidget(QLabel("Photo:"))
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_button)
        self.path_row = row
        lay.addLayout(row)

        self.preview = ImageWithBoxes()
        self.preview.clickable = True
        self.preview.face_clicked.connect(self.choose_face)
        lay.addWidget(self.preview, 1)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        lay.addWidget(self.info)
        self.warnings = QLabel("")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #c06000;")
        lay.addWidget(self.warnings)

        nrow = QHBoxLayout()
        nrow.addWidget(QLabel("&Name:"))
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Type the person's name")
        nrow.itemAt(0).widget().setBuddy(self.name_edit)
        nrow.addWidget(self.name_edit, 1)
        lay.addLayout(nrow)
        self.add_existing = QCheckBox("")
        self.add_existing.setVisible(False)
        lay.addWidget(self.add_existing)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok |
                                        QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("&Enrol")
        self.buttons.accepted.connect(self.enrol)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.name_edit.textChanged.connect(self._update_ok)
        self._update_ok()

        if rgb is not None:
            for i in range(row.count()):
                w = row.itemAt(i).widget()
                if w is not None:
                    w.setVisible(False)
            self.source_name = "snapshot"
            self._show_image(rgb, list(faces or []))

    # ---- choosing the photo -----------------------------------------------------------------
    def browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a photo", "", IMAGE_FILTER)
        if path:
            self.set_path(path)

    def set_path(self, path: str | Path) -> None:
        """Load and detect the faces of a photo (the file chooser's result, or a test's path)."""
        path = str(path)
        self.path_edit.setText(path)
        self.source_name = Path(path).name
        self._reset("Looking for faces…")
        gen = self._generation

        def job(engine, progress):
            from app.imageio import load_image
            rgb = load_image(path)
            return rgb, engine.detector.detect(rgb)

        self.busy = True
        self.worker.submit(job, lambda v: gen == self._generation and self._show_image(*v),
                           lambda m: gen == self._generation and self._fail(m))

    def _reset(self, info: str) -> None:
        self._generation += 1
        self.candidate = None
        self.error = ""
        self.info.setText(info)
        self.warnings.setText("")
        self.add_existing.setVisible(False)
        self._update_ok()

    def _fail(self, message: str) -> None:
        self.busy = False
        self.error = message
        self.info.setText(message)
        self._update_ok()

    def _show_image(self, rgb: np.ndarray, faces: list) -> None:
        self.busy = False
        self.rgb, self.faces = rgb, faces
        self.preview.set_image(rgb)
        self.preview.selected = None
        self.preview.set_boxes([(f.box, str(i + 1), UNKNOWN_COLOUR) for i, f in enumerate(faces)])
        if not faces:
            self._fail("No face found in this photo. Use one where the face is clearly visible.")
        elif len(faces) == 1:
            self.choose_face(0)
        else:
            self.info.setText(f"{len(faces)} faces found: click the one to enrol.")
            self._update_ok()

    def choose_face(self, index: int) -> None:
        if self.rgb is None or not 0 <= index < len(self.faces):
            return
        if self.preview.selected != index:
            self.preview.selected = index
            self.preview.update()
        self._reset("Checking the face…")
        gen = self._generation
        rgb, faces, name = self.rgb, self.faces, self.source_name or "the photo"

        def job(engine, progress):
            return engine.enrol_candidate(rgb, face_index=index + 1, faces=faces, name=name)

        self.busy = True
        self.worker.submit(job, lambda c: gen == self._generation and self._show_candidate(c),
                           lambda m: gen == self._generation and self._fail(m))

    def _show_candidate(self, cand) -> None:
        self.busy = False
        self.candidate = cand
        i = self.preview.selected if self.preview.selected is not None else 0
        boxes = [(f.box, str(j + 1), KNOWN_COLOUR if j == i else UNKNOWN_COLOUR)
                 for j, f in enumerate(self.faces)]
        self.preview.set_boxes(boxes)
        self.info.setText("Face ready. Type a name and press Enrol.")
        self.warnings.setText("\n".join(f"⚠ {w}" for w in cand.warnings))
        if cand.nearest.known:
            self.add_existing.setText(f"This face already matches {cand.nearest.name} "
                                      f"(distance {cand.nearest.distance:.2f}): add the photo to "
                                      f"{cand.nearest.name} instead of creating a new person")
            self.add_existing.setChecked(False)  # a new person unless the user says so
            self.add_existing.setVisible(True)
        self._update_ok()

    @property
    def ready(self) -> bool:
        return self.candidate is not None and not self.busy

    def _update_ok(self) -> None:
        self.ok_button.setEnabled(self.candidate is not None and not self.busy
                                  and bool(self.name_edit.text().strip()))

    # ---- enrolling --------------------------------------------------------------------------
    def enrol(self) -> None:
        if not self.ready:
            return
        cand = self.candidate
        name = self.name_edit.text().strip()
        if not name:
            return
        to_existing = self.add_existing.isVisible() and self.add_existing.isChecked()
        if to_existing:
            name = cand.nearest.name
        source = self.source_name

        def job(engine, progress):
            existing = engine.gallery.find(name)
            return engine.enroll(name, cand, source=source,
                                 add_to_existing=to_existing or existing is not None)

        self.busy = True
        self._update_ok()
        self.info.setText("Enrolling…")
        self.worker.submit(job, self._done, self._fail)

    def _done(self, person) -> None:
        self.busy = False
        self.enrolled.emit(person)
        self.accept()
