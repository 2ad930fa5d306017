"""The enrolled people: thumbnails, rename (onto a name already taken: offered as a merge),
delete (with confirmation; undoable for ten minutes from the window's status bar), add another
photo; a double-click (or Enter, or Open…) opens the person's page with all their photos.

Gallery reads and writes run as jobs on the inference worker (which owns the gallery
connection), through its `app.service.Library`; this widget only shows their results.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.figures import plural
from app.gui.live_view import qimage_from_rgb
from app.gui.messages import show_error
from app.gui.person_dialog import NameTaken
from app.service import PersonRow


class PeoplePanel(QWidget):
    changed = Signal()              # the gallery changed (rename, delete, add)
    counted = Signal(int)           # photos enrolled in all, after each refresh
    add_photo_requested = Signal(str)  # person name: the window opens the enrol dialog
    message = Signal(str)
    selection_changed = Signal(bool)   # someone is selected (Rename, Delete and Add photo apply)
    listed = Signal(object)            # [(id, name)] of everyone, after each refresh
    open_requested = Signal(int)       # person id: the window opens their page
    deleted = Signal(object)           # gallery.DeletedPerson: the window offers Undo

    def __init__(self, worker=None, parent=None):
        super().__init__(parent)
        self.worker = worker
        self.rows: list[PersonRow] = []
        self.loaded = False
        lay = QVBoxLayout(self)
        self.count_label = QLabel("No one enrolled yet.")
        lay.addWidget(self.count_label)
        self.list = QListWidget()
        self.list.setIconSize(QSize(56, 56))
        self.list.setWordWrap(True)  # a long name wraps instead of running off the panel
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        self.list.itemDoubleClicked.connect(lambda _: self.open_selected())
        self.list.itemActivated.connect(lambda _: self.open_selected())  # Enter
        lay.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.rename_button = QPushButton("&Rename…")
        self.delete_button = QPushButton("&Delete…")
        self.add_button = QPushButton("Add &photo…")
        self.open_button = QPushButton("&Open…")
        self.rename_button.clicked.connect(self.rename_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.add_button.clicked.connect(self.add_photo_to_selected)
        self.open_button.clicked.connect(self.open_selected)
        for b in (self.open_button, self.rename_button, self.delete_button, self.add_button):
            row.addWidget(b)
        lay.addLayout(row)
        self.open_button.setToolTip("Their photos: main photo, move, remove, merge (or double-click)")
        self.rename_button.setToolTip("Rename the selected person (F2)")
        self.delete_button.setToolTip("Delete the selected person (Delete); it can be undone for 10 minutes")
        self._update_buttons()

    def set_worker(self, worker) -> None:
        self.worker = worker

    # ---- reading ----------------------------------------------------------------------------
    def refresh(self) -> None:
        if self.worker is None:
            return
        self.worker.submit(lambda library, progress: library.people(), self._show, self.message.emit)

    def _show(self, rows: list[PersonRow]) -> None:
        selected = self.selected_id()
        self.rows = rows
        self.loaded = True
        self.list.clear()
        for r in rows:
            item = QListWidgetItem(f"{r.name}\n{plural(r.samples, 'photo')}")
            item.setData(Qt.ItemDataRole.UserRole, r.id)
            item.setToolTip(f"{r.name}: double-click for their photos")
            if r.thumbnail is not None:
                item.setIcon(QIcon(QPixmap.fromImage(qimage_from_rgb(r.thumbnail))))
            self.list.addItem(item)
            if r.id == selected:
                item.setSelected(True)
        self.count_label.setText(f"{plural(len(rows), 'person', 'people')} enrolled."
                                 if rows else "No one enrolled yet.")
        self.counted.emit(sum(r.samples for r in rows))
        self.listed.emit([(r.id, r.name) for r in rows])
        self._update_buttons()

    def names(self) -> list[str]:
        return [r.name for r in self.rows]

    def row_by_name(self, name: str) -> PersonRow | None:
        return next((r for r in self.rows if r.name == name), None)

    def selected_id(self) -> int | None:
        items = self.list.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def select_id(self, person_id: int) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setSelected(item.data(Qt.ItemDataRole.UserRole) == person_id)

    def _selected_row(self) -> PersonRow | None:
        pid = self.selected_id()
        return next((r for r in self.rows if r.id == pid), None)

    def _update_buttons(self) -> None:
        has = self.selected_id() is not None
        for b in (self.open_button, self.rename_button, self.delete_button, self.add_button):
            b.setEnabled(has)
        self.selection_changed.emit(has)

    # ---- actions ----------------------------------------------------------------------------
    def ask_new_name(self, current: str) -> str | None:
        text, ok = QInputDialog.getText(self, "Rename", "New name:", text=current)
        return text.strip() if ok and text.strip() else None

    def confirm_delete(self, name: str) -> bool:
        answer = QMessageBox.question(
            self, "Delete person",
            f"Delete {name} and all their photos from the gallery? You can undo this for 10 minutes "
            f"(Undo in the status bar); then everything of them is erased.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def confirm_merge(self, name: str, into: str) -> bool:
        answer = QMessageBox.question(
            self, "Rename", f"{into} is already enrolled. Are {name} and {into} the same person? "
            f"Yes merges them: every photo of {name} goes to {into}, and {name} disappears.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def open_selected(self) -> None:
        pid = self.selected_id()
        if pid is not None:
            self.open_requested.emit(int(pid))

    def rename_selected(self) -> None:
        row = self._selected_row()
        if row is None:
            return
        new = self.ask_new_name(row.name)
        if new and new != row.name:
            self.rename(row.id, new)

    def rename(self, person_id: int, new_name: str) -> None:
        """Rename; a name that is someone else's asks whether to merge the two."""
        old = next((r.name for r in self.rows if r.id == person_id), "")

        def job(library, progress):
            from app.errors import NameTakenError
            try:
                return library.rename(person_id, new_name)
            except NameTakenError as exc:
                return NameTaken(exc.person_id, exc.name)

        def done(value) -> None:
            if isinstance(value, NameTaken):
                if self.confirm_merge(old or "this person", value.name):
                    self.merge(person_id, value.person_id, value.name)
                return
            self._after_change(f"Renamed to {new_name}.")

        self.worker.submit(job, done, self._error)

    def merge(self, from_id: int, into_id: int, into_name: str = "") -> None:
        def done(p) -> None:
            self._after_change(f"Merged into {p.name} ({plural(p.sample_count, 'photo')}).")

        self.worker.submit(lambda library, progress: library.merge(from_id, into_id), done, self._error)

    def delete_selected(self) -> None:
        row = self._selected_row()
        if row is None:
            return
        if self.confirm_delete(row.name):
            self.delete(row.id, row.name)

    def delete(self, person_id: int, name: str = "") -> None:
        """Delete, undoably (`deleted` tells the window, which offers Undo); their recent faces go at once."""
        def job(library, progress):
            return library.delete(person_id)

        def done(gone) -> None:
            self._after_change(f"Deleted {name}." if name else "Deleted.")
            if gone is not None:
                self.deleted.emit(gone)

        self.worker.submit(job, done, self._error)

    def add_photo_to_selected(self) -> None:
        row = self._selected_row()
        if row is not None:
            self.add_photo_requested.emit(row.name)

    def _after_change(self, text: str) -> None:
        self.message.emit(text)
        self.changed.emit()
        self.refresh()

    def _error(self, text: str) -> None:
        self.message.emit(text)
        show_error(self, "People", text)
        self.refresh()
