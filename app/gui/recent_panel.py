"""The "Recent faces" tab: the faces the live view saw in the last minutes, to name in one click.

One row per unknown person (their tracks grouped, "seen N times") or per named track, with its
best frame, when it was seen, the name given or "Unknown", the distance and the nearest person.
The buttons act on the selected row: "This is …" (add the face to someone), "New person…"
(enrol it), "Not …" (a wrong name: remembered, so this face no longer names that person) and
"Ignore"; a right click offers the same. A face that fails the quality gate says why and cannot
be added. At the bottom: keep recent faces after closing (opt-in, for a retention period) and
"Forget all recent faces".

The widget holds no face logic. The recent faces (`app.live.recent.RecentFaces`) belong to the
inference worker, which feeds them from the live loop; this panel reads them and acts on them
only through jobs submitted to that worker (`worker.recent` is touched in the worker thread
alone), so the GUI thread never waits on the model, the lock or the opt-in file.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.gui.figures import plural
from app.gui.live_view import qimage_from_rgb
from app.service.live import UNKNOWN

ADDED = "added"       # app.live.recent.ADDED
REFRESH_MS = 1000     # how often the tab, while shown, asks for the current view
ICON = 64


@dataclass(frozen=True)
class MemberRow:
    """One track of a row: what a test (or a tooltip) needs to tell where it was seen."""
    key: str
    track_id: int
    first_frame: int | None
    last_frame: int | None
    frames: int
    side_px: float
    ok: bool


@dataclass(frozen=True, eq=False)
class RecentRow:
    """One line of the view, copied out of the worker's RecentFaces (no live object crosses)."""
    key: str
    keys: tuple[str, ...]
    crop: np.ndarray
    label: str                 # the name given, the person it was added to, or "Unknown"
    unknown: bool              # still to review
    added: bool                # added to `label` from here
    count: int                 # times (tracks) seen
    frames: int
    first_seen: float
    last_seen: float
    distance: float
    nearest: str | None
    addable: bool              # its best face passes the quality gate
    reason: str                # why not
    quality: float
    rejected: tuple[str, ...]  # people said "Not …" for it
    members: tuple[MemberRow, ...]
    label_id: int | None = None  # who `label` is (gallery id)
    now: str | None = None     # an unknown face the gallery would name now (after "This is …")
    now_id: int | None = None
    now_distance: float = float("inf")

    @property
    def wrong_name(self) -> str | None:
        """The name "Not …" would take back: the one given, else the one it would get now."""
        return self.wrong[1] if self.wrong else None

    @property
    def wrong(self) -> tuple[int, str] | None:
        """(id, name) of whom "Not …" would take back, or None."""
        if self.label != UNKNOWN:
            return None if self.label_id is None else (self.label_id, self.label)
        return None if self.now is None or self.now_id is None else (self.now_id, self.now)


def _id_of(library, name: str) -> int | None:
    """An entry named before ids were kept (an older stored file): who has that name now."""
    person = library.find(name)
    return None if person is None else person.id


def _rows(library) -> list[RecentRow]:
    """The view as rows (runs in the worker thread)."""
    out = []
    now = library.recent_matches_now()
    for g in library.recent_faces().view():
        best = g.best
        match = now.get(g.key)
        q = best.quality
        out.append(RecentRow(
            key=g.key, keys=g.keys, crop=best.crop, label=g.label, unknown=g.unknown,
            added=all(m.status == ADDED for m in g.members), count=g.count, frames=g.frames,
            first_seen=g.first_seen, last_seen=g.last_seen, distance=g.distance, nearest=g.nearest,
            addable=q.ok, reason=q.reason, quality=q.score,
            rejected=tuple(sorted({n for m in g.members for n in m.rejected_names})),
            members=tuple(MemberRow(m.key, m.track_id, m.first_frame, m.last_frame, m.frames,
                                    m.quality.side_px, m.quality.ok) for m in g.members),
            label_id=g.label_id if g.label_id is not None or g.label == UNKNOWN else _id_of(library, g.label),
            now=None if match is None else match.name, now_id=None if match is None else match.person_id,
            now_distance=float("inf") if match is None else match.distance))
    return out


def clock_text(when: float, now: float | None = None) -> str:
    """"14:02:11", or "2 Dec 14:02" when not today."""
    now = time.time() if now is None else now
    t, today = time.localtime(when), time.localtime(now)
    if (t.tm_year, t.tm_yday) == (today.tm_year, today.tm_yday):
        return time.strftime("%H:%M:%S", t)
    return time.strftime("%d %b %H:%M", t).lstrip("0")


def distance_text(d: float) -> str:
    return f"{d:.2f}" if np.isfinite(d) else "–"


def brief_reason(reason: str) -> str:
    """"the face is blurred (sharpness 2; at least 50 needed); the face is turned to the side" →
    "blurred, turned to the side": the list says it short, the details in full."""
    parts = []
    for part in re.sub(r"\s*\([^)]*\)", "", reason).split("; "):
        part = part.strip()
        for lead in ("the face is ", "the head is "):
            if part.startswith(lead):
                part = part[len(lead):]
        if part:
            parts.append(part)
    return ", ".join(parts) or reason


def pulled_in_text(n: int, name: str) -> str:
    """What to say when a face just added makes other recent faces match that person."""
    if n <= 0:
        return ""
    faces = "1 other recent face now matches" if n == 1 else f"{n} other recent faces now match"
    return f" {faces} {name}: check them."


def seen_text(count: int) -> str:
    return "once" if count == 1 else "twice" if count == 2 else f"{count} times"


def row_text(r: RecentRow, now: float | None = None) -> str:
    when = clock_text(r.last_seen, now)
    if r.added:
        head = f"{r.label} ✓ added"
    elif r.unknown:
        head = UNKNOWN + (f" · seen {r.count} times" if r.count > 1 else "")  # "2 times": the count shows
    else:
        head = r.label
    if r.now:
        second = f"{when} · now matches {r.now}, {distance_text(r.now_distance)}"
    elif r.unknown or r.label == UNKNOWN:
        second = f"{when} · nearest {r.nearest}, {distance_text(r.distance)}" if r.nearest else when
    else:
        second = f"{when} · distance {distance_text(r.distance)}"
    lines = [head, second]
    if not r.addable:
        lines.append(f"⚠ Cannot be added: {brief_reason(r.reason)}")
    return "\n".join(lines)


def row_tooltip(r: RecentRow, now: float | None = None) -> str:
    parts = [f"Seen {seen_text(r.count)} ({plural(r.frames, 'frame')}), "
             f"from {clock_text(r.first_seen, now)} to {clock_text(r.last_seen, now)}."]
    if r.added:
        parts.append(f"Added to {r.label}'s photos.")
    elif r.label != UNKNOWN:
        parts.append(f"Named {r.label} (distance {distance_text(r.distance)}).")
    elif r.nearest:
        parts.append(f"Nearest enrolled person: {r.nearest} (distance {distance_text(r.distance)}).")
    if r.now:
        parts.append(f"Would now be named {r.now} (distance {distance_text(r.now_distance)}): "
                     f"if this is someone else, say Not {r.now}.")
    if not r.added:
        parts.append(f"Best face: quality {r.quality:.2f}" + (f"; cannot be added: {r.reason}." if not r.addable
                                                              else ", good enough to add."))
    if r.rejected:
        parts.append("Marked as not: " + ", ".join(r.rejected) + ".")
    return "\n".join(parts)


class RecentFacesPanel(QWidget):
    message = Signal(str)
    people_changed = Signal()             # a face was added or enrolled: the People panel refreshes
    keep_changed = Signal(bool, float)    # keep recent faces after closing, retention in hours
    refreshed = Signal()                  # new rows are shown (tests wait on it)

    def __init__(self, worker=None, parent=None):
        super().__init__(parent)
        self.worker = worker
        self.rows: list[RecentRow] = []
        self.people: list[tuple[int, str]] = []   # (id, name) of everyone enrolled, for "This is …"
        self.loaded = False
        self._in_flight = False
        self._again = False
        self._icons: dict[str, tuple[float, QIcon]] = {}
        lay = QVBoxLayout(self)
        self.count_label = QLabel("No faces seen yet.")
        self.count_label.setWordWrap(True)
        lay.addWidget(self.count_label)
        filters = QHBoxLayout()
        self.unknown_only = QCheckBox("&Unknown faces only")
        self.unknown_only.toggled.connect(lambda _: self._show(self.rows))
        filters.addWidget(self.unknown_only)
        filters.addStretch(1)
        lay.addLayout(filters)
        self.list = QListWidget()
        self.list.setIconSize(QSize(ICON, ICON))
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(False)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._context_menu)
        self.list.itemSelectionChanged.connect(self._update_buttons)
        lay.addWidget(self.list, 1)
        self.detail = QLabel("")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.detail)

        grid = QGridLayout()
        self.this_button = QToolButton()
        self.this_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.this_button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.this_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.this_menu = QMenu(self.this_button)
        self.this_button.setMenu(self.this_menu)
        self.this_button.clicked.connect(self._this_is_suggested)
        self.new_button = QPushButton("&New person…")
        self.new_button.clicked.connect(self.new_person_selected)
        self.not_button = QPushButton("Not …")
        self.not_button.clicked.connect(self.not_selected)
        self.ignore_button = QPushButton("I&gnore")
        self.ignore_button.clicked.connect(self.ignore_selected)
        for b in (self.new_button, self.not_button, self.ignore_button):
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        grid.addWidget(self.this_button, 0, 0)
        grid.addWidget(self.new_button, 0, 1)
        grid.addWidget(self.not_button, 1, 0)
        grid.addWidget(self.ignore_button, 1, 1)
        lay.addLayout(grid)

        privacy = QHBoxLayout()
        self.keep_box = QCheckBox("&Keep after closing, for")
        self.keep_box.setToolTip("Off (the default): recent faces live in memory only, for 10 minutes, and are "
                                 "gone when the program closes. On: they are kept in your private data folder "
                                 "and deleted when older than this.")
        self.retention = QDoubleSpinBox()
        self.retention.setDecimals(0)
        self.retention.setRange(1, 720)
        self.retention.setSuffix(" h")
        self.retention.setValue(24)
        self.retention.setEnabled(False)
        self.retention.setKeyboardTracking(False)
        self.keep_box.toggled.connect(self._keep_toggled)
        self.retention.valueChanged.connect(lambda _: self._emit_keep())
        self.forget_button = QPushButton("&Forget all recent faces")
        self.forget_button.clicked.connect(self.forget_all)
        privacy.addWidget(self.keep_box)
        privacy.addWidget(self.retention)
        privacy.addStretch(1)
        lay.addLayout(privacy)
        lay.addWidget(self.forget_button, 0, Qt.AlignmentFlag.AlignLeft)

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        self._update_buttons()

    def set_worker(self, worker) -> None:
        """A new engine (worker): a view asked of the old one will not come back."""
        self.worker = worker
        self._in_flight = self._again = False

    def set_people(self, people: list[tuple[int, str]]) -> None:
        """Everyone enrolled (from the People panel's list), offered by "This is …"."""
        self.people = list(people)
        self._update_buttons()

    def set_keep(self, keep: bool, retention_h: float) -> None:
        """Show the saved setting (no keep_changed)."""
        self.keep_box.blockSignals(True)
        self.retention.blockSignals(True)
        self.keep_box.setChecked(bool(keep))
        self.retention.setValue(max(self.retention.minimum(), min(self.retention.maximum(), retention_h)))
        self.retention.setEnabled(bool(keep))
        self.keep_box.blockSignals(False)
        self.retention.blockSignals(False)

    # ---- refreshing --------------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.timer.start()
        self.refresh()

    def hideEvent(self, event) -> None:  # noqa: N802
        super().hideEvent(event)
        self.timer.stop()

    def refresh(self) -> None:
        """Ask the worker for the current view; one request at a time (a slow answer is not queued twice)."""
        if self.worker is None:
            return
        if self._in_flight:
            self._again = True
            return
        self._in_flight = True
        self.worker.submit(lambda library, progress: _rows(library), self._answered, self._refresh_failed)

    def _answered(self, rows: list[RecentRow]) -> None:
        self._in_flight = False
        self._show(rows)
        self.refreshed.emit()
        if self._again:
            self._again = False
            self.refresh()

    def _refresh_failed(self, message: str) -> None:
        self._in_flight = False
        self._again = False
        self.count_label.setText(message)

    def _icon(self, r: RecentRow) -> QIcon:
        cached = self._icons.get(r.key)
        if cached is None or cached[0] != r.quality:
            cached = (r.quality, QIcon(QPixmap.fromImage(qimage_from_rgb(r.crop))))
            self._icons[r.key] = cached
        return cached[1]

    def visible_rows(self) -> list[RecentRow]:
        """The rows listed, most recent first, but the faces a new photo now matches before all
        (they need a look) and the faces one can act on before those too poor to add (which only
        say why)."""
        rows = [r for r in self.rows if r.unknown or not self.unknown_only.isChecked()]
        return sorted(rows, key=lambda r: (r.now is None, r.unknown and not r.addable, -r.last_seen, r.key))

    def _show(self, rows: list[RecentRow]) -> None:
        selected = self.selected_key()
        self.rows = rows
        self.loaded = True
        keep = {r.key for r in rows}
        self._icons = {k: v for k, v in self._icons.items() if k in keep}
        shown = self.visible_rows()
        now = time.time()
        same = self.list.count() == len(shown) and all(
            self.list.item(i).data(Qt.ItemDataRole.UserRole) == r.key for i, r in enumerate(shown))
        if not same:
            self.list.blockSignals(True)
            self.list.clear()
            for r in shown:
                item = QListWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, r.key)
                self.list.addItem(item)
            self.list.blockSignals(False)
        for i, r in enumerate(shown):
            item = self.list.item(i)
            item.setText(row_text(r, now))
            item.setToolTip(row_tooltip(r, now))
            item.setIcon(self._icon(r))
            if not same and r.key == selected:
                item.setSelected(True)
        unknown = sum(1 for r in rows if r.unknown)
        if rows:
            self.count_label.setText(f"{plural(len(rows), 'face')} seen recently, {unknown} unknown. "
                                     f"Select one to name it.")
        else:
            self.count_label.setText("No faces seen yet. The faces the camera sees appear here for "
                                     "you to name.")
        self._update_buttons()

    # ---- selection ---------------------------------------------------------------------------
    def selected_key(self) -> str | None:
        items = self.list.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def selected_row(self) -> RecentRow | None:
        key = self.selected_key()
        return next((r for r in self.rows if r.key == key), None)

    def select_key(self, key: str) -> None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            item.setSelected(item.data(Qt.ItemDataRole.UserRole) == key)
            if item.isSelected():
                self.list.scrollToItem(item)

    def row_for(self, key: str) -> RecentRow | None:
        return next((r for r in self.rows if key == r.key or key in r.keys), None)

    def suggestion(self, r: RecentRow) -> str | None:
        """Who "This is …" proposes in one click: the name given, else the nearest person."""
        names = {n for _, n in self.people}
        for name in (None if r.label == UNKNOWN else r.label, r.nearest):
            if name and name in names and name not in r.rejected:
                return name
        return None

    def _update_buttons(self) -> None:
        r = self.selected_row()
        has = r is not None
        can_add = r is not None and r.addable and not r.added
        why = "" if r is None or r.addable else f"Cannot be added: {r.reason}."
        suggested = self.suggestion(r) if r is not None else None
        self.this_button.setText(f"This is {suggested}" if suggested else "This is …")
        self.this_button.setEnabled(can_add and bool(self.people))
        self.this_button.setToolTip(why or ("Already added." if r is not None and r.added else
                                            "Add this face to someone enrolled (the arrow: choose who)."))
        self.this_menu.clear()
        for pid, name in self.people:
            a = self.this_menu.addAction(f"This is {name}")
            a.triggered.connect(lambda _=False, p=pid, n=name: self.this_is_selected(p, n))
        self.new_button.setEnabled(can_add)
        self.new_button.setToolTip(why or "Enrol this face as someone new.")
        label = (r.wrong_name if r is not None else None) or UNKNOWN
        named = label != UNKNOWN
        self.not_button.setText(f"Not {label}" if named else "Not …")
        self.not_button.setEnabled(named)
        self.not_button.setToolTip(f"{label} is wrong for this face: it will no longer be named so."
                                   if named else "For a face given the wrong name.")
        self.ignore_button.setEnabled(has)
        if r is not None:
            self.detail.setText(row_tooltip(r).replace("\n", " "))
        else:
            self.detail.setText("")

    def _context_menu(self, pos) -> None:
        item = self.list.itemAt(pos)
        if item is None:
            return
        item.setSelected(True)
        menu = QMenu(self)
        if self.this_button.isEnabled():
            for a in self.this_menu.actions():
                menu.addAction(a)
        for b in (self.new_button, self.not_button, self.ignore_button):
            a = QAction(b.text().replace("&", ""), menu)
            a.setEnabled(b.isEnabled())
            a.triggered.connect(b.click)
            menu.addAction(a)
        menu.popup(self.list.viewport().mapToGlobal(pos))

    # ---- actions -----------------------------------------------------------------------------
    def ask_name(self) -> str | None:
        text, ok = QInputDialog.getText(self, "New person", "Name of this person:")
        return text.strip() if ok and text.strip() else None

    def confirm_add_to_existing(self, name: str) -> bool:
        answer = QMessageBox.question(
            self, "New person", f"{name} is already enrolled. Add this face to {name} instead?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes

    def confirm_forget_all(self) -> bool:
        answer = QMessageBox.question(
            self, "Forget all recent faces", "Forget every recent face, in memory and on disk? "
            "People already enrolled are not changed.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _submit(self, job, done, what: str) -> None:
        w = self.worker
        if w is None:
            return
        w.submit(lambda library, progress: job(library), done, lambda m: self._failed(what, m))

    def _failed(self, what: str, message: str) -> None:
        from app.gui.messages import show_error
        self.message.emit(message)
        show_error(self, what, message)
        self.refresh()

    def _this_is_suggested(self) -> None:
        r = self.selected_row()
        name = self.suggestion(r) if r is not None else None
        pid = next((p for p, n in self.people if n == name), None)
        if pid is None or name is None:
            self.this_button.showMenu()  # nobody to suggest: choose
            return
        self.this_is_selected(pid, name)

    def this_is_selected(self, person_id: int, name: str) -> None:
        r = self.selected_row()
        if r is None:
            return
        keys = r.keys
        def job(library) -> int:
            library.recent_this_is(keys, person_id)
            return library.recent_pulled_in(person_id)

        self._submit(job, lambda n: self._changed(f"Added this face to {name}'s photos." + pulled_in_text(n, name)),
                     "This is …")

    def new_person_selected(self) -> None:
        r = self.selected_row()
        if r is None:
            return
        name = self.ask_name()
        if not name:
            return
        keys = r.keys

        def job(library):
            from app.errors import NameTakenError
            try:
                person = library.recent_new_person(keys, name)
                return person, library.recent_pulled_in(person.id)
            except NameTakenError as exc:
                return exc  # answered here, on the GUI thread: add to them instead?

        def done(value) -> None:
            from app.errors import NameTakenError
            if isinstance(value, NameTakenError):
                if self.confirm_add_to_existing(value.name):
                    self._submit(lambda library: library.recent_this_is(keys, value.person_id),
                                 lambda _: self._changed(f"Added this face to {value.name}'s photos."),
                                 "New person")
                return
            person, pulled = value
            self._changed(f"Enrolled {person.name}." + pulled_in_text(pulled, person.name))

        self._submit(job, done, "New person")

    def not_selected(self) -> None:
        r = self.selected_row()
        if r is None or r.wrong is None:
            return
        keys, (person_id, name) = r.keys, r.wrong

        self._submit(lambda library: library.recent_not(keys, person_id),
                     lambda n: self._changed(f"{name} will no longer be named for this face.", people=False),
                     "Not …")

    def ignore_selected(self) -> None:
        r = self.selected_row()
        if r is None:
            return
        keys = r.keys
        self._submit(lambda library: library.recent_faces().ignore(keys), lambda _: self._changed("", people=False), "Ignore")

    def forget_all(self) -> None:
        if not self.confirm_forget_all():
            return
        self._submit(lambda library: library.recent_faces().forget_all(),
                     lambda n: self._changed(f"Forgot {plural(n, 'recent face')}.", people=False),
                     "Forget all recent faces")

    def _changed(self, text: str, people: bool = True) -> None:
        if text:
            self.message.emit(text)
        if people:
            self.people_changed.emit()
        self.refresh()

    # ---- privacy setting ---------------------------------------------------------------------
    def _keep_toggled(self, on: bool) -> None:
        self.retention.setEnabled(on)
        self._emit_keep()

    def _emit_keep(self) -> None:
        self.keep_changed.emit(self.keep_box.isChecked(), float(self.retention.value()))
