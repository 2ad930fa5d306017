"""The main window's menus (File, View, People, Help) with their keys, and the Help dialogs: About
(version, the active model and its licences) and Keyboard shortcuts (read from the menus). A new
command goes in `_build_actions`; what it does lives in the MainWindow method it calls."""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QMainWindow, QMenu, QVBoxLayout

from app.gui.figures import model_label, model_licences
from app.service import EngineInfo

if TYPE_CHECKING:
    from PySide6.QtWidgets import QTabWidget

    from app.gui.people_panel import PeoplePanel
    from app.gui.recent_panel import RecentFacesPanel
    from app.gui.settings_pane import SettingsPane
    from app.service.settings import Settings


def app_version() -> str:
    """The installed package's version (its metadata), else the source's `app.__version__`."""
    try:
        from importlib.metadata import PackageNotFoundError, version
        try:
            return version("oneshot-face")
        except PackageNotFoundError:
            pass
    except ImportError:
        pass
    from app import __version__
    return __version__


def readme_path() -> Path | None:
    """The README beside the program (the source tree), if it is there."""
    from app import paths
    p = paths.resource_root() / "README.md"
    return p if p.is_file() else None


class TextDialog(QDialog):
    """A dialog showing one rich-text label (About, Keyboard shortcuts)."""

    label: QLabel


class MenusMixin(QMainWindow):
    """MainWindow's menu bar and Help dialogs (the slots they call are MainWindow's)."""

    info: EngineInfo | None
    people: PeoplePanel
    recent_panel: RecentFacesPanel
    settings_pane: SettingsPane
    settings: Settings
    side: QTabWidget
    # the slots the commands call (MainWindow's and the other mixins')
    enrol_from_snapshot: Callable[..., Any]
    open_enrol_photo_dialog: Callable[..., Any]
    open_capture_dialog: Callable[..., Any]
    export_gallery: Callable[[], None]
    import_gallery: Callable[[], None]
    toggle_pause: Callable[[], None]
    _nudge_tau: Callable[[float], None]
    undo_delete: Callable[[], None]
    set_learn_from_camera: Callable[[bool], None]

    def _build_actions(self) -> None:
        def act(text, shortcut, slot, menu):
            a = QAction(text, self)
            a.setShortcut(QKeySequence(shortcut))
            a.triggered.connect(slot)
            menu.addAction(a)
            self.addAction(a)
            return a

        m = self.menuBar().addMenu("&File")
        self.enrol_snapshot_action = act("Enrol from &snapshot…", "Ctrl+E", self.enrol_from_snapshot, m)
        self.enrol_photo_action = act("Enrol from &photo…", "Ctrl+O", lambda: self.open_enrol_photo_dialog(), m)
        self.enrol_capture_action = act("Enrol with a short &capture…", "Ctrl+Shift+E",
                                        lambda: self.open_capture_dialog(), m)
        m.addSeparator()
        self.export_gallery_action = act("E&xport gallery…", "", self.export_gallery, m)
        self.import_gallery_action = act("&Import gallery…", "", self.import_gallery, m)
        m.addSeparator()
        act("&Quit", QKeySequence.StandardKey.Quit, self.close, m)
        v = self.menuBar().addMenu("&View")
        self.pause_action = act("&Pause", "Space", self.toggle_pause, v)
        self.pause_action.setCheckable(True)
        act("Show &people", "Ctrl+1", lambda: self.side.setCurrentWidget(self.people), v)
        act("Show &settings", "Ctrl+2", lambda: self.side.setCurrentWidget(self.settings_pane), v)
        act("Show &recent faces", "Ctrl+3", lambda: self.side.setCurrentWidget(self.recent_panel), v)
        act("Raise τ", "Ctrl+Up", lambda: self._nudge_tau(+0.01), v)
        act("Lower τ", "Ctrl+Down", lambda: self._nudge_tau(-0.01), v)
        act("&Full screen", "F11", lambda: self.showNormal() if self.isFullScreen() else self.showFullScreen(), v)
        pm = self.menuBar().addMenu("P&eople")
        self.rename_action = act("&Rename…", "F2", self.people.rename_selected, pm)
        self.delete_action = act("&Delete…", "Delete", self.people.delete_selected, pm)
        self.add_photo_action = act("&Add a photo…", "", self.people.add_photo_to_selected, pm)
        self.open_person_action = act("&Open (photos, merge)…", "Ctrl+P", self.people.open_selected, pm)
        pm.addSeparator()
        learn = self.learn_action = QAction("&Learn from the camera", self)
        learn.setCheckable(True)
        learn.setChecked(self.settings.learn_from_camera)
        learn.toggled.connect(lambda on: self.set_learn_from_camera(on))
        pm.addAction(learn)
        self.learn_action.setToolTip("Add a few views (turned, other light) from tracks surely of someone; "
                                     "each person's page lists and removes them")
        pm.addSeparator()
        self.undo_action = act("&Undo delete", QKeySequence.StandardKey.Undo, self.undo_delete, pm)
        self.undo_action.setEnabled(False)
        self.people.selection_changed.connect(self._selection_changed)
        self._selection_changed(self.people.selected_id() is not None)
        hm = self.menuBar().addMenu("&Help")
        self.shortcuts_action = act("&Keyboard shortcuts", QKeySequence.StandardKey.HelpContents,
                                    self.show_shortcuts, hm)
        hm.addSeparator()
        self.about_action = act("&About OneShot Face", "", self.show_about, hm)
        self.about_dialog: TextDialog | None = None
        self.shortcuts_dialog: TextDialog | None = None

    def _selection_changed(self, selected: bool) -> None:
        """Rename, Delete and Add a photo need someone selected in the People panel."""
        for a in (self.rename_action, self.delete_action, self.add_photo_action, self.open_person_action):
            a.setEnabled(selected)

    # ---- help -------------------------------------------------------------------------------
    def about_text(self) -> str:
        """The About box: the program and its version, the active model, what it was made from
        and under which licences (from the model's card), and where the README is."""
        info = self.info
        parts = [f"<h3>OneShot Face {html.escape(app_version())}</h3>",
                 "<p>Desktop face recognition from a single photo per person.</p>"]
        if info is not None:
            parts.append(f"<p><b>Model:</b> {html.escape(model_label(info.encoder, info.shipped))}<br>"
                         f"<small>{html.escape(info.encoder)}"
                         f"{' — ' + html.escape(info.model_path) if info.model_path else ''}"
                         f"</small></p>")
            licences = model_licences(info.training)
            if licences:
                parts.append("<p><b>Made from these networks and data, whose licences it carries:</b></p><ul>")
                parts += [f"<li>{html.escape(what)}: {html.escape(licence)}</li>" for what, licence in licences]
                parts.append("</ul>")
            else:
                parts.append("<p>The model's card names no teacher or starting network with a licence.</p>")
        else:
            parts.append("<p><b>Model:</b> not loaded yet.</p>")
        readme = readme_path()
        if readme is not None:
            parts.append(f'<p>How it works, its figures and its limits: '
                         f'<a href="{QUrl.fromLocalFile(str(readme)).toString()}">README</a></p>')
        else:
            parts.append("<p>How it works, its figures and its limits: see README.md in the source.</p>")
        return "".join(parts)

    def shortcuts_text(self) -> str:
        """Every menu command with a key, read from the menus themselves (never out of date)."""
        rows = []
        for menu_action in self.menuBar().actions():
            menu = menu_action.menu()
            if not isinstance(menu, QMenu):  # None for an action without a menu
                continue
            for a in menu.actions():
                key = a.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
                if key and not a.isSeparator():
                    rows.append((key, f"{menu.title()} ▸ {a.text()}".replace("&", "")))
        rows += [("Click a face", "choose it (enrol dialogs)"), ("Enter", "Enrol (in an enrol dialog)")]
        body = "".join(f"<tr><td><b>{html.escape(k)}</b>&nbsp;&nbsp;</td><td>{html.escape(v)}</td></tr>"
                       for k, v in rows)
        return f"<h3>Keyboard shortcuts</h3><table>{body}</table>"

    def _text_dialog(self, title: str, text: str) -> TextDialog:
        dlg = TextDialog(self)
        dlg.setWindowTitle(title)
        dlg.setMinimumWidth(460)
        lay = QVBoxLayout(dlg)
        label = QLabel(text)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setWordWrap(True)
        label.setOpenExternalLinks(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        lay.addWidget(label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dlg.reject)
        lay.addWidget(buttons)
        dlg.label = label
        dlg.open()
        return dlg

    def show_about(self) -> TextDialog:
        self.about_dialog = self._text_dialog("About OneShot Face", self.about_text())
        return self.about_dialog

    def show_shortcuts(self) -> TextDialog:
        self.shortcuts_dialog = self._text_dialog("Keyboard shortcuts", self.shortcuts_text())
        return self.shortcuts_dialog
