"""Enrol a person from a photo file or from a frozen frame of the live view.

The dialog holds no face logic: detection, the candidate (crop, embedding, quality warnings,
nearest match) and the enrolment itself run as jobs on the inference worker's engine (calls to
its `app.service.Library`).
Tests drive it through `set_path(path)` (or Browse with the file chooser patched), the name
field and the Enrol button.

What the user sees: once a photo is loaded the Name field has the focus; Enter in the Photo
field loads only a path that changed; a photo that cannot be read clears the picture and says
why in plain words; a face that already matches someone offers to add the photo to them (no
name to type); a name that is already taken asks before adding the photo to that person.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, cast

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.live_view import KNOWN_COLOUR, UNKNOWN_COLOUR, ImageWithBoxes

if TYPE_CHECKING:
    from app.service.live import EnrolCandidate

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff)"
NO_PICTURE = "Choose a photo with Browse…, or type its path above and press Enter."
ERROR_STYLE = "color: #c0392b;"
CAPTURE_TIP = ("Enrol from a few seconds of live video instead: the person looks at the camera, then turns "
               "left and right, and a view of each pose is kept, so they are named from the side too.")


@dataclass(frozen=True)
class NameTaken:
    """The enrol job's answer when the typed name belongs to someone already enrolled."""

    name: str   # as the gallery spells it


def plain_load_error(path: str, message: str) -> str:
    """What went wrong with a photo, in the user's words (the library's message is for logs)."""
    p = Path(path)
    name = p.name or str(p)
    try:
        if p.is_dir():
            return f"“{name}” is a folder, not a picture. Choose a photo file."
        if not p.exists():
            return f"There is no file “{name}” there. Check the path, or choose the photo with Browse…"
        if p.stat().st_size == 0:
            return f"“{name}” is empty (0 bytes): it is not a picture."
    except OSError:
        pass
    if "cannot be read" in message:
        return f"“{name}” cannot be opened: you may not have permission to read it."
    if "too large" in message:
        return f"“{name}” is too large a picture to open safely. Use a smaller copy of it."
    if "too small" in message:
        return f"“{name}” is too small a picture to hold a face."
    return f"This file is not a picture (or it is damaged): “{name}”."


class _PathEdit(QLineEdit):
    """Enter here means "load this path", never "Enrol" (the dialog's default button)."""

    def keyPressEvent(self, event) -> None:  # noqa: N802
        super().keyPressEvent(event)
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            event.accept()


class _ClickLabel(QLabel):
    clicked = Signal()

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        super().mouseReleaseEvent(event)


class EnrolDialog(QDialog):
    enrolled = Signal(object)   # the gallery Person
    # a snapshot's "Capture several views…": the picked face's live track id (None: unknown) and
    # the name typed so far; the window opens the capture dialog (app.gui.capture_dialog)
    capture_requested = Signal(object, str)

    def __init__(self, worker, parent=None, rgb: np.ndarray | None = None, faces=None,
                 title: str = "Enrol a person", add_to: str = "", folder_memory=None,
                 track_ids: list[int] | None = None):
        """`add_to`: the person the photo is for (People ▸ Add photo): enrolled without asking.
        `track_ids`: a snapshot's live track per face (FrameResult.labels), for a short capture
        of the face picked."""
        super().__init__(parent)
        self.worker = worker
        self.folder_memory = folder_memory  # start_folder(kind) / remember_folder(kind, path)
        self.setWindowTitle(title)
        self.setMinimumSize(560, 520)
        self.rgb: np.ndarray | None = None
        self.faces: list = []
        self.source_name: str | None = None
        self.loaded_path: str | None = None  # the path loading or loaded (Enter reloads only a new one)
        self.candidate: EnrolCandidate | None = None
        self.busy = False
        self.error = ""
        self.add_to = add_to.strip()
        self.name_question: QMessageBox | None = None  # open while asking about a taken name
        self._typed_name = ""
        self._generation = 0

        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        self.path_edit = _PathEdit()
        self.path_edit.setPlaceholderText("Photo file…")
        self.path_edit.returnPressed.connect(self._path_entered)
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
        self.preview.set_message(NO_PICTURE)
        lay.addWidget(self.preview, 1)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        lay.addWidget(self.info)
        self.warnings = QLabel("")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #c06000;")
        lay.addWidget(self.warnings)

        # "this face already matches X": a tick box beside a label that wraps (a QCheckBox's own
        # text does not, and was cut off)
        self.match_box = QWidget()
        mrow = QHBoxLayout(self.match_box)
        mrow.setContentsMargins(0, 0, 0, 0)
        self.add_existing = QCheckBox("")
        self.add_existing.toggled.connect(self._add_existing_toggled)
        self.add_existing_label = _ClickLabel("")
        self.add_existing_label.setWordWrap(True)
        self.add_existing_label.setTextFormat(Qt.TextFormat.PlainText)
        self.add_existing_label.clicked.connect(self.add_existing.toggle)
        mrow.addWidget(self.add_existing, 0, Qt.AlignmentFlag.AlignTop)
        mrow.addWidget(self.add_existing_label, 1)
        self.match_box.setVisible(False)
        self._offer_existing = False
        lay.addWidget(self.match_box)

        nrow = QHBoxLayout()
        name_label = QLabel("&Name:")
        nrow.addWidget(name_label)
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("Type the person's name")
        name_label.setBuddy(self.name_edit)
        nrow.addWidget(self.name_edit, 1)
        lay.addLayout(nrow)
        if self.add_to:
            self.name_edit.setText(self.add_to)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok |
                                        QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("&Enrol")
        self.buttons.accepted.connect(self.enrol)
        self.buttons.rejected.connect(self.reject)
        # a snapshot only (a live track to follow): a few seconds of the face, several views
        self.track_ids = list(track_ids) if track_ids is not None else None
        self.capture_button = QPushButton("&Capture several views…")
        self.capture_button.clicked.connect(self.request_capture)
        self.buttons.addButton(self.capture_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.capture_button.setVisible(rgb is not None)  # after addButton, which shows it
        lay.addWidget(self.buttons)
        self.name_edit.textChanged.connect(self._update_ok)
        self._update_ok()

        if rgb is not None:
            for i in range(row.count()):
                item = row.itemAt(i)
                w = item.widget() if item is not None else None
                if w is not None:
                    w.setVisible(False)
            self.source_name = "snapshot"
            self._show_image(rgb, list(faces or []))
        else:
            self.browse_button.setFocus()

    # ---- choosing the photo -----------------------------------------------------------------
    def browse(self) -> None:
        from app.service.settings import default_folder
        start = self.folder_memory.start_folder("photo") if self.folder_memory else default_folder()
        path, _ = QFileDialog.getOpenFileName(self, "Choose a photo", str(start), IMAGE_FILTER)
        if path:
            if self.folder_memory:
                self.folder_memory.remember_folder("photo", path)
            self.set_path(path)

    def _path_entered(self) -> None:
        """Enter in the Photo field: load the path typed, unless it is the one already shown
        (reloading would drop the face picked and the check made)."""
        path = self.path_edit.text().strip()
        if not path:
            return
        if path == self.loaded_path and (self.busy or self.rgb is not None):
            return
        self.set_path(path)

    def set_path(self, path: str | os.PathLike) -> None:
        """Load and detect the faces of a photo (the file chooser's result, or a test's path)."""
        path = str(path)
        self.path_edit.setText(path)
        self.loaded_path = path
        self.source_name = Path(path).name
        self._reset("Looking for faces…")
        gen = self._generation

        def job(library, progress):
            from app.errors import ImageError
            try:
                photo = library.open_photo(path)
            except ImageError as exc:
                raise ImageError(plain_load_error(path, str(exc))) from None
            return photo.rgb, photo.faces

        def loaded(v) -> None:
            if gen == self._generation:
                self._show_image(*v)

        def failed(m: str) -> None:
            if gen == self._generation:
                self._load_failed(m)

        self.busy = True
        self.worker.submit(job, loaded, failed)

    def _reset(self, info: str) -> None:
        self._generation += 1
        self.candidate = None
        self.error = ""
        self._set_info(info)
        self.warnings.setText("")
        self._show_match(None)
        self._update_ok()

    def _set_info(self, text: str, error: bool = False) -> None:
        self.info.setText(text)
        self.info.setStyleSheet(ERROR_STYLE if error else "")

    def _fail(self, message: str) -> None:
        self.busy = False
        self.error = message
        self._set_info(message, error=True)
        self._update_ok()

    def _load_failed(self, message: str) -> None:
        """The photo could not be read: no old picture stays on screen as if it were this one."""
        self.rgb, self.faces = None, []
        self.preview.set_image(None)
        self.preview.selected = None
        self.preview.set_boxes([])
        self.preview.set_message(NO_PICTURE)
        self._fail(message)

    def _show_image(self, rgb: np.ndarray, faces: list) -> None:
        self.busy = False
        self.rgb, self.faces = rgb, faces
        self.preview.set_message("")
        self.preview.set_image(rgb)
        self.preview.selected = None
        self.preview.set_boxes([(f.box, str(i + 1), UNKNOWN_COLOUR) for i, f in enumerate(faces)])
        if self.name_edit.isEnabled():
            self.name_edit.setFocus()  # not the Browse button: Space there would reopen the chooser
        if not faces:
            self._fail("No face found in this photo. Use one where the face is clearly visible.")
        elif len(faces) == 1:
            self.choose_face(0)
        else:
            self._set_info(f"{len(faces)} faces found: click the one to enrol.")
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

        def job(library, progress):
            return library.candidate(rgb, face_index=index + 1, faces=faces, name=name)

        def checked(c) -> None:
            if gen == self._generation:
                self._show_candidate(c)

        def failed(m: str) -> None:
            if gen == self._generation:
                self._fail(m)

        self.busy = True
        self.worker.submit(job, checked, failed)

    def _show_candidate(self, cand) -> None:
        self.busy = False
        self.candidate = cand
        i = self.preview.selected if self.preview.selected is not None else 0
        boxes = [(f.box, str(j + 1), KNOWN_COLOUR if j == i else UNKNOWN_COLOUR)
                 for j, f in enumerate(self.faces)]
        self.preview.set_boxes(boxes)
        self._set_info("Face ready. Type a name and press Enrol.")
        self.warnings.setText("\n".join(f"⚠ {w}" for w in cand.warnings))
        self._show_match(cand.nearest if cand.nearest.known else None)
        self._update_ok()

    def _show_match(self, nearest) -> None:
        """Offer to add the photo to the person the face already matches (not ticked: a new
        person unless the user says so)."""
        if self.add_existing.isChecked():
            self.add_existing.setChecked(False)
        self._offer_existing = nearest is not None
        if nearest is not None:
            self.add_existing_label.setText(
                f"This face already matches {nearest.name} (distance {nearest.distance:.2f}). "
                f"Tick to add this photo to them instead of enrolling a new person: no name needed.")
            self.add_existing.setAccessibleName(f"Add this photo to {nearest.name}")
            self._set_info("Face ready. Type a name and press Enrol, or tick the box below.")
        self.match_box.setVisible(nearest is not None)

    def _add_existing_toggled(self, checked: bool) -> None:
        cand = self.candidate
        if checked and cand is not None:
            self._typed_name = self.name_edit.text()
            self.name_edit.setText(cand.nearest.name)
            self.name_edit.setEnabled(False)
            # a long name is shortened on the button (the text above has it in full)
            shown = self.ok_button.fontMetrics().elidedText(cand.nearest.name, Qt.TextElideMode.ElideRight, 240)
            self.ok_button.setText(f"&Add to {shown}")
        else:
            if not self.name_edit.isEnabled():
                self.name_edit.setText(self._typed_name)
            self.name_edit.setEnabled(True)
            self.ok_button.setText("&Enrol")
        self._update_ok()

    @property
    def to_existing(self) -> bool:
        """The photo goes to the person the face matches (the box is offered and ticked)."""
        return self._offer_existing and self.add_existing.isChecked() and self.candidate is not None

    @property
    def ready(self) -> bool:
        return self.candidate is not None and not self.busy

    def _update_ok(self) -> None:
        self.ok_button.setEnabled(self.candidate is not None and not self.busy
                                  and (self.to_existing or bool(self.name_edit.text().strip())))
        # several faces and none picked yet: which one to capture is not known
        picked = self.preview.selected is not None or len(self.faces) <= 1
        self.capture_button.setEnabled(picked)
        self.capture_button.setToolTip(CAPTURE_TIP if picked else "Click the face to capture first.")

    def picked_track(self) -> int | None:
        """The live track of the face picked (or of the only face); None when not known."""
        i = self.preview.selected
        if i is None and len(self.faces) == 1:
            i = 0
        if i is None or self.track_ids is None or not 0 <= i < len(self.track_ids):
            return None
        return int(self.track_ids[i])

    def request_capture(self) -> None:
        """"Capture several views…": this dialog gives way to the capture dialog (the window
        opens it for the face picked, with the name typed so far)."""
        name = "" if self.to_existing else self.name_edit.text().strip()
        if self.to_existing and self.candidate is not None:
            name = self.candidate.nearest.name
        self.capture_requested.emit(self.picked_track(), name)
        self.reject()

    # ---- enrolling --------------------------------------------------------------------------
    def enrol(self) -> None:
        cand = self.candidate
        if cand is None or not self.ready:
            return
        if self.to_existing:
            self._submit(cand.nearest.name, add=True)
            return
        name = self.name_edit.text().strip()
        if not name:
            return
        # People ▸ Add photo named the person: no question; any other taken name is asked about
        self._submit(name, add=bool(self.add_to) and name == self.add_to)

    def _submit(self, name: str, add: bool) -> None:
        cand, source = self.candidate, self.source_name

        def job(library, progress):
            return name_taken(library, name, add) or library.enrol(name, cand, source=source, add_to_existing=add)

        self.busy = True
        self._update_ok()
        self._set_info("Enrolling…")
        self.worker.submit(job, self._done, self._fail)

    def _done(self, value) -> None:
        self.busy = False
        if isinstance(value, NameTaken):
            self._ask_name_taken(value.name)
            return
        self.enrolled.emit(value)
        self.accept()

    def _ask_name_taken(self, existing: str) -> None:
        self._update_ok()
        ask_name_taken(self, existing, "this photo", self._set_info)


def name_taken(library, name: str, add: bool) -> NameTaken | None:
    """On the engine thread, before enrolling a new person: the enrolled person `name` already
    is, so the dialog asks first (None: free, or adding was chosen)."""
    taken = None if add else library.find(name)
    return NameTaken(taken.name) if taken is not None else None


class NameDialog(Protocol):
    """What `ask_name_taken` needs of an enrol dialog."""

    name_edit: QLineEdit
    name_question: QMessageBox | None

    def _submit(self, name: str, add: bool) -> None: ...


def ask_name_taken(dialog: NameDialog, existing: str, what: str, say: Callable[[str, bool], None]) -> None:
    """"X is already enrolled. Add `what` to X, or choose another name?", window-modal and not
    blocking (`dialog.name_question` while it is open): Add submits again under X, Choose another
    puts the focus back in the name field (the enrol dialogs' shared question). `say` shows a line."""
    parent = cast(QWidget, dialog)
    box = QMessageBox(QMessageBox.Icon.Question, "Name already enrolled",
                      f"{existing} is already enrolled. Add {what} to {existing}, "
                      f"or choose another name?", QMessageBox.StandardButton.NoButton, parent)
    shown = parent.fontMetrics().elidedText(existing, Qt.TextElideMode.ElideRight, 240)
    add = box.addButton(f"Add to {shown}", QMessageBox.ButtonRole.AcceptRole)
    other = box.addButton("Choose another name", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(other)
    box.setEscapeButton(other)

    def answered(_result: int = 0) -> None:
        dialog.name_question = None
        if box.clickedButton() is add:
            dialog._submit(existing, add=True)
        else:
            say(f"{existing} is already enrolled: type another name.", True)
            dialog.name_edit.setFocus()
            dialog.name_edit.selectAll()
        box.deleteLater()

    box.finished.connect(answered)
    dialog.name_question = box
    box.open()
    say(f"{existing} is already enrolled.", False)
