"""A person's page (double-click someone in the People panel): all their photos, with where and
when each was added and how good it is; make one the main photo, move one to someone else,
remove one; rename (onto someone else's name: offered as a merge), merge into someone else,
add a photo, delete (undoable for ten minutes, from the status bar's Undo).

No face logic here: every read and write is a job on the inference worker, which owns the
gallery connection (an `app.service.Library` call); the dialog shows the answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
)

from app.gui.figures import plural
from app.gui.live_view import qimage_from_rgb
from app.service import PersonPage, PhotoRow

THUMB = 96


@dataclass(frozen=True)
class NameTaken:
    """A rename's answer when the name is someone else's: offer to merge into them."""
    person_id: int
    name: str


def when_text(t: float) -> str:
    if not t:
        return "date not recorded"
    return time.strftime("%d %b %Y, %H:%M", time.localtime(t)).lstrip("0")


def photo_text(r: PhotoRow) -> str:
    q = ("quality not measured" if r.quality is None else
         f"quality {r.quality:.2f}" + (f" ⚠ {r.quality_note}" if r.quality_note and r.quality_note != "good" else ""))
    source = (f"learned from the camera, {time.strftime('%H:%M', time.localtime(r.created))}" if r.learned
              else f"from {r.source}" if r.source else "source not recorded")
    return "\n".join([f"Photo {r.number}" + (" ★ main" if r.is_main else ""), when_text(r.created), source, q])


class PersonDialog(QDialog):
    changed = Signal()                # the gallery changed: the People panel refreshes
    deleted = Signal(object)          # gallery.DeletedPerson: the window offers Undo
    add_photo_requested = Signal(str)  # the person's name: the window opens the enrol dialog
    message = Signal(str)
    loaded = Signal()

    def __init__(self, worker, person_id: int, parent=None):
        super().__init__(parent)
        self.worker = worker
        self.person_id = int(person_id)
        self.page: PersonPage | None = None
        self.busy = False
        self.setWindowTitle("Person")
        self.setMinimumSize(520, 460)
        self.resize(640, 560)
        lay = QVBoxLayout(self)
        self.title = QLabel("Loading…")
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        f = self.title.font()
        f.setPointSizeF(f.pointSizeF() * 1.3)
        f.setBold(True)
        self.title.setFont(f)
        lay.addWidget(self.title)
        self.info = QLabel("")
        self.info.setWordWrap(True)
        lay.addWidget(self.info)
        self.photos = QListWidget()
        self.photos.setViewMode(QListView.ViewMode.IconMode)
        self.photos.setIconSize(QSize(THUMB, THUMB))
        self.photos.setGridSize(QSize(THUMB + 74, THUMB + 78))
        self.photos.setResizeMode(QListView.ResizeMode.Adjust)
        self.photos.setMovement(QListView.Movement.Static)
        self.photos.setWordWrap(True)
        self.photos.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.photos.itemSelectionChanged.connect(self._update_buttons)
        lay.addWidget(self.photos, 1)

        photo_row = QHBoxLayout()
        photo_row.addWidget(QLabel("Photo:"))
        self.main_button = QPushButton("Make &main photo")
        self.move_button = QPushButton("&Move to…")
        self.remove_button = QPushButton("&Remove…")
        self.main_button.clicked.connect(self.make_main_selected)
        self.move_button.clicked.connect(self.move_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        for b in (self.main_button, self.move_button, self.remove_button):
            photo_row.addWidget(b)
        photo_row.addStretch(1)
        lay.addLayout(photo_row)

        person = QGridLayout()
        self.add_button = QPushButton("&Add a photo…")
        self.rename_button = QPushButton("Re&name…")
        self.merge_button = QPushButton("Mer&ge into…")
        self.delete_button = QPushButton("&Delete person…")
        self.add_button.clicked.connect(self._add_photo)
        self.rename_button.clicked.connect(self.rename)
        self.merge_button.clicked.connect(self.merge)
        self.delete_button.clicked.connect(self.delete)
        person.addWidget(QLabel("Person:"), 0, 0)
        for i, b in enumerate((self.add_button, self.rename_button, self.merge_button, self.delete_button)):
            person.addWidget(b, 0, i + 1)
        person.setColumnStretch(5, 1)
        lay.addLayout(person)

        # the "Not …" answers and the views learned from the camera: a sentence and its Forget button
        row, self.rejections_label, self.clear_rejections_button = _sentence_row("Forget them", self.clear_rejections)
        lay.addLayout(row)
        row, self.learned_label, self.forget_learned_button = _sentence_row("Forget learned views",
                                                                            self.forget_learned)
        lay.addLayout(row)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self._update_buttons()
        self.reload()

    # ---- reading -----------------------------------------------------------------------------
    def reload(self) -> None:
        pid = self.person_id
        self.busy = True
        self._update_buttons()
        self.worker.submit(lambda library, progress: library.person_page(pid), self._show, self._load_failed)

    def _load_failed(self, message: str) -> None:
        self.busy = False
        self.page = None
        self.title.setText("This person is no longer enrolled.")
        self.info.setText(message)
        self.photos.clear()
        self._update_buttons()
        self.loaded.emit()

    def _show(self, page: PersonPage) -> None:
        selected = self.selected_photo()
        self.busy = False
        self.page = page
        self.setWindowTitle(page.name)
        self.title.setText(page.name)
        n = len(page.photos)
        self.info.setText(f"{plural(n, 'photo')}. The main photo is their thumbnail. A person keeps at "
                          f"least one photo: to remove the last, delete the person.")
        self.photos.clear()
        for r in page.photos:
            item = QListWidgetItem(QIcon(QPixmap.fromImage(qimage_from_rgb(r.crop))), photo_text(r))
            item.setData(Qt.ItemDataRole.UserRole, r.id)
            item.setToolTip(photo_text(r).replace("\n", " · "))
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self.photos.addItem(item)
            if selected is not None and r.id == selected.id:
                item.setSelected(True)
        if page.rejections:
            self.rejections_label.setText(f"{plural(page.rejections, 'face')} marked “Not {page.name}” "
                                          f"in Recent faces: {page.name} is not named for faces like them.")
        else:
            self.rejections_label.setText("")
        self.clear_rejections_button.setVisible(bool(page.rejections))
        n_learned = sum(r.learned for r in page.photos)
        self.learned_label.setText(f"{plural(n_learned, 'view')} learned from the camera (turned, other light), "
                                   f"so {page.name} is named from more angles. Remove one with Remove…, or all:"
                                   if n_learned else "")
        self.forget_learned_button.setVisible(bool(n_learned))
        self._update_buttons()
        self.loaded.emit()

    def selected_photo(self) -> PhotoRow | None:
        items = self.photos.selectedItems()
        if not items or self.page is None:
            return None
        sid = items[0].data(Qt.ItemDataRole.UserRole)
        return next((r for r in self.page.photos if r.id == sid), None)

    def select_photo(self, number: int) -> None:
        """Select photo N (1-based, as listed)."""
        for i in range(self.photos.count()):
            self.photos.item(i).setSelected(i == number - 1)

    def _update_buttons(self) -> None:
        page = self.page if not self.busy else None
        ready = page is not None
        photo = self.selected_photo() if ready else None
        several = page is not None and len(page.photos) > 1
        has_others = page is not None and bool(page.others)
        self.main_button.setEnabled(photo is not None and not photo.is_main)
        self.move_button.setEnabled(photo is not None and several and has_others)
        self.remove_button.setEnabled(photo is not None)
        self.remove_button.setToolTip("" if several or not ready else
                                      "A person keeps at least one photo: delete the person instead.")
        self.move_button.setToolTip("" if several or not ready else
                                    "Their only photo: merge them into the other person instead.")
        for b in (self.add_button, self.rename_button, self.delete_button):
            b.setEnabled(ready)
        self.merge_button.setEnabled(ready and has_others)

    # ---- questions (tests answer them) --------------------------------------------------------
    def ask_person(self, title: str, label: str) -> tuple[int, str] | None:
        others = list(self.page.others) if self.page else []
        if not others:
            return None
        names = [n for _, n in others]
        name, ok = QInputDialog.getItem(self, title, label, names, 0, False)
        return next(((p, n) for p, n in others if n == name), None) if ok else None

    def ask_new_name(self, current: str) -> str | None:
        text, ok = QInputDialog.getText(self, "Rename", "New name:", text=current)
        return text.strip() if ok and text.strip() else None

    def _yes(self, title: str, text: str, default_yes: bool = False) -> bool:
        b = QMessageBox.StandardButton
        return QMessageBox.question(self, title, text, b.Yes | b.No, b.Yes if default_yes else b.No) == b.Yes

    def confirm_remove(self, number: int, name: str) -> bool:
        return self._yes("Remove photo", f"Remove photo {number} of {name}? It is erased from the gallery.")

    def confirm_forget_learned(self, n: int, name: str) -> bool:
        return self._yes("Forget learned views", f"Remove the {plural(n, 'view')} of {name} learned from the "
                         f"camera? {name} is then named as before they were learned.")

    def confirm_merge(self, name: str, into: str) -> bool:
        return self._yes("Merge", f"Make {name} and {into} one person, {into}? Every photo of {name} "
                         f"goes to {into}, and {name} disappears.")

    def confirm_delete(self, name: str) -> bool:
        return self._yes("Delete person", f"Delete {name} and all their photos? You can undo this "
                         f"for 10 minutes (Undo in the status bar).")

    # ---- actions -----------------------------------------------------------------------------
    def _run(self, job, done, title: str) -> None:
        self.busy = True
        self._update_buttons()

        def ok(value) -> None:
            self.busy = False
            done(value)

        def failed(message: str) -> None:
            from app.gui.messages import show_error
            self.busy = False
            self.message.emit(message)
            show_error(self, title, message)
            self.reload()

        self.worker.submit(job, ok, failed)

    def _after(self, text: str) -> None:
        self.message.emit(text)
        self.changed.emit()
        self.reload()

    def make_main_selected(self) -> None:
        photo = self.selected_photo()
        if photo is None:
            return
        sid = photo.id
        self._run(lambda library, progress: library.set_main_photo(sid),
                  lambda _: self._after(f"Photo {photo.number} is now the main photo."), "Main photo")

    def move_selected(self) -> None:
        photo = self.selected_photo()
        if photo is None or self.page is None:
            return
        target = self.ask_person("Move photo", f"Photo {photo.number} is of:")
        if target is None:
            return
        sid, (tid, tname) = photo.id, target
        self._run(lambda library, progress: library.move_photo(sid, tid),
                  lambda _: self._after(f"Moved photo {photo.number} to {tname}."), "Move photo")

    def remove_selected(self) -> None:
        photo = self.selected_photo()
        if photo is None or self.page is None:
            return
        if len(self.page.photos) <= 1:
            # said at once, without asking first: the gallery refuses it anyway
            self._run(lambda library, progress: library.remove_photo(photo.id), lambda _: self.reload(),
                      "Remove photo")
            return
        if not self.confirm_remove(photo.number, self.page.name):
            return
        sid = photo.id
        self._run(lambda library, progress: library.remove_photo(sid),
                  lambda _: self._after(f"Removed photo {photo.number}."), "Remove photo")

    def rename(self) -> None:
        if self.page is None:
            return
        old = self.page.name
        new = self.ask_new_name(old)
        if not new or new == old:
            return
        pid = self.person_id

        def job(library, progress):
            from app.errors import NameTakenError
            try:
                return library.rename(pid, new)
            except NameTakenError as exc:
                return NameTaken(exc.person_id, exc.name)

        def done(value) -> None:
            if isinstance(value, NameTaken):
                if self.confirm_merge(old, value.name):
                    self._merge_into(value.person_id, value.name)
                return
            self._after(f"Renamed {old} to {value.name}.")

        self._run(job, done, "Rename")

    def merge(self) -> None:
        if self.page is None:
            return
        target = self.ask_person("Merge", f"Merge {self.page.name} into:")
        if target is None or not self.confirm_merge(self.page.name, target[1]):
            return
        self._merge_into(*target)

    def _merge_into(self, into_id: int, into_name: str) -> None:
        assert self.page is not None  # merge() and rename() call it with a page shown
        src, name = self.person_id, self.page.name

        def job(library, progress):
            return library.merge(src, into_id)

        def done(person) -> None:
            self.person_id = person.id  # the page now shows who they became
            self._after(f"Merged {name} into {person.name} ({plural(person.sample_count, 'photo')}).")

        self._run(job, done, "Merge")

    def delete(self) -> None:
        if self.page is None or not self.confirm_delete(self.page.name):
            return
        pid = self.person_id

        def job(library, progress):
            return library.delete(pid)

        def done(gone) -> None:
            self.message.emit(f"Deleted {gone.name}.")
            self.changed.emit()
            self.deleted.emit(gone)
            self.accept()

        self._run(job, done, "Delete person")

    def clear_rejections(self) -> None:
        pid = self.person_id
        self._run(lambda library, progress: library.clear_rejections(pid),
                  lambda n: self._after(f"Forgot {plural(n, '“Not …” answer')}."), "Forget")

    def forget_learned(self) -> None:
        """Remove every view learned from the camera (after asking)."""
        page = self.page
        n = sum(r.learned for r in page.photos) if page is not None else 0
        if page is None or not n or not self.confirm_forget_learned(n, page.name):
            return
        pid = self.person_id
        self._run(lambda library, progress: library.forget_learned(pid),
                  lambda k: self._after(f"Removed {plural(k, 'view')} of {page.name} learned from the camera."),
                  "Forget learned views")

    def _add_photo(self) -> None:
        if self.page is not None:
            self.add_photo_requested.emit(self.page.name)


def _sentence_row(button_text: str, slot) -> tuple[QHBoxLayout, QLabel, QPushButton]:
    """A wrapping sentence with a button beside it."""
    row = QHBoxLayout()
    label = QLabel("")
    label.setWordWrap(True)
    button = QPushButton(button_text)
    button.clicked.connect(slot)
    row.addWidget(label, 1)
    row.addWidget(button)
    return row, label, button
