"""The main window: live view in the centre; People, Recent faces and Settings on the right;
status bar with fps, latency, detector, encoder and device, and Undo after a deletion. It wires
widgets to the worker threads and holds no face logic and no blocking call: camera, model,
gallery and recent-faces work all happen in workers."""

from __future__ import annotations

import copy
import html
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
)

from app.gui.enrol_dialog import EnrolDialog
from app.gui.figures import model_label, model_licences, plural
from app.gui.live_view import FIRST_RUN_TEXT, LiveView
from app.gui.people_panel import PeoplePanel, show_error
from app.gui.person_dialog import PersonDialog
from app.gui.recent_panel import RecentFacesPanel
from app.gui.settings_pane import SettingsPane
from app.gui.workers import CaptureThread, EngineOptions, FrameSlot, InferenceWorker
from app.service import EngineInfo
from app.store import settings as settings_mod
from app.store.backup import SUFFIX


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


class MainWindow(QMainWindow):
    frame_analysed = Signal(object)   # FrameResult, for every analysed frame
    engine_ready = Signal(object)     # EngineInfo (Library.describe), after start and every model change
    source_ended = Signal()           # a finite source was played to its end and analysed
    model_changed = Signal(str)       # the active model's path after activate / roll back
    _io_error = Signal(str)

    def __init__(self, source: str | int | None = None, *, weights: str | os.PathLike | None = None,
                 device: str | None = None, detector: str | None = None,
                 detector_model: str | os.PathLike | None = None, loop: bool = True,
                 process_all_frames: bool = False, retry_interval: float = 2.0,
                 gallery_path: str | os.PathLike | None = None, start_source: bool = True,
                 source_opener=None, recent_clock=None, parent=None):
        """`recent_clock`: the clock of the recent faces (tests make their retention run out)."""
        super().__init__(parent)
        self.setWindowTitle("OneShot Face")
        self.settings = settings_mod.load()
        self._closed = False
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="settings-io")
        self._io_error.connect(self.show_message)
        s = self.settings
        if weights is None:
            weights = os.environ.get("ONESHOT_WEIGHTS") or s.model_path
        # A missing or damaged model file is reported and the shipped model used (Engine.create).
        self.loop = loop
        self.process_all_frames = process_all_frames
        self.retry_interval = retry_interval
        self.source_opener = source_opener  # spec -> FrameSource (tests simulate cameras)
        self.source_spec = str(source if source is not None else (s.source or "0"))
        self.info: EngineInfo | None = None  # None: no engine (yet, or it failed)
        self.engine_error = ""
        self._pending_options = None  # (keep, revert) of a detector/device choice awaiting the engine
        self._source_down = False     # the source failed or is retrying: nothing to show
        self.last_result = None
        self._old_threads: list = []
        self._dialogs: list = []
        self.capture: CaptureThread | None = None
        # what the next engine is created with
        self.options = EngineOptions(detector=detector or s.detector,
                                     detector_model=str(detector_model) if detector_model else None,
                                     weights=str(weights) if weights else None,
                                     device=device or s.device,
                                     gallery_path=str(gallery_path) if gallery_path else None,
                                     tau=s.tau, keep_recent_faces=s.keep_recent_faces,
                                     recent_faces_retention_h=s.recent_faces_retention_h,
                                     recent_clock=recent_clock or time.time)
        self._undoable: list = []       # gallery.DeletedPerson, most recent last
        self._person_dialogs: list[PersonDialog] = []
        self._build_ui()
        self._build_actions()
        self._save_timer = QTimer(self)
        self._save_timer.setSingleShot(True)
        self._save_timer.setInterval(400)
        self._save_timer.timeout.connect(self.save_settings)
        # people deleted with undo are erased when due, old recent faces dropped (the opt-in file too)
        self.purge_timer = QTimer(self)
        self.purge_timer.setInterval(30_000)
        self.purge_timer.timeout.connect(self.purge_due)
        self.purge_timer.start()
        self._undo_timer = QTimer(self)  # the Undo button goes when its ten minutes are over
        self._undo_timer.setInterval(5_000)
        self._undo_timer.timeout.connect(self._show_undo)

        self.slot = FrameSlot()
        self.inference: InferenceWorker  # made by _start_engine, and replaced at each restart
        self._start_engine()
        if start_source:
            self.set_source(self.source_spec, save=False)
        else:
            self.view.set_message("No source playing. Choose one in Settings → Camera & devices.")
        if s.window_geometry:
            try:
                self.restoreGeometry(QByteArray.fromBase64(s.window_geometry.encode("ascii")))
            except Exception:  # noqa: BLE001 - a bad geometry string is not worth a failure
                pass
        else:
            self.resize(1200, 760)

    # ---- layout -----------------------------------------------------------------------------
    def _build_ui(self) -> None:
        self.view = LiveView()
        self.people = PeoplePanel()
        self.people.message.connect(self.show_message)
        self.people.add_photo_requested.connect(lambda name: self.open_enrol_photo_dialog(name=name))
        self.people.open_requested.connect(self.open_person)
        self.people.deleted.connect(self.offer_undo)
        self.recent_panel = RecentFacesPanel()
        self.recent_panel.message.connect(self.show_message)
        self.recent_panel.people_changed.connect(self._people_changed)
        self.recent_panel.keep_changed.connect(self.set_keep_recent_faces)
        self.recent_panel.set_keep(self.settings.keep_recent_faces, self.settings.recent_faces_retention_h)
        self.people.listed.connect(self.recent_panel.set_people)
        self.people.listed.connect(lambda rows: self.view.set_hint("" if rows else FIRST_RUN_TEXT))
        self.settings_pane = SettingsPane()
        self.side = QTabWidget()
        self.side.addTab(self.people, "&People")
        self.side.addTab(self.recent_panel, "Re&cent faces")
        self.side.addTab(self.settings_pane, "&Settings")
        self.side.setMinimumWidth(380)
        split = QSplitter()
        split.addWidget(self.view)
        split.addWidget(self.side)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        self.setCentralWidget(split)

        th = self.settings_pane.threshold
        th.tau_changed.connect(self.set_tau)
        th.reset_button.clicked.connect(self._tau_reset)
        self.people.counted.connect(th.set_enrolled)
        rt = self.settings_pane.retrain
        rt.activate_requested.connect(self.activate_model)
        rt.rollback_requested.connect(self.rollback_model)
        rt.message.connect(self.show_message)
        rt.export_people = self._export_people
        rt.folder_memory = self
        rt.set_inputs(self.settings.retrain_folders, self.settings.retrain_epochs)
        rt.inputs_changed.connect(self._retrain_inputs_changed)
        src = self.settings_pane.source
        src.folder_memory = self
        src.source_requested.connect(self.set_source)
        src.engine_options_changed.connect(self.set_engine_options)
        src.show_current(self.source_spec, self.options.detector, self.options.device)

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

    # ---- remembered folders (file dialogs) --------------------------------------------------
    def start_folder(self, kind: str) -> str:
        """Where a file dialog opens: the folder this kind of dialog used last, else Pictures or home."""
        return str(settings_mod.start_folder(self.settings, kind))

    def remember_folder(self, kind: str, chosen: str, parent: bool = False) -> None:
        settings_mod.remember_folder(self.settings, kind, chosen, parent=parent)
        self._save_timer.start()

    def _retrain_inputs_changed(self) -> None:
        rt = self.settings_pane.retrain
        self.settings.retrain_folders = rt.folder_list()
        self.settings.retrain_epochs = rt.epochs.value()
        self._save_timer.start()

    # ---- engine -----------------------------------------------------------------------------
    def _start_engine(self) -> None:
        """A new inference worker with the current options; an old one is stopped, not awaited."""
        old: InferenceWorker | None = getattr(self, "inference", None)
        if old is not None:
            old.stop()
            self._old_threads.append(old)
            old.finished.connect(lambda o=old: self._forget_thread(o))
            self.slot = FrameSlot()
            if self.capture is not None:
                self.capture.slot = self.slot  # read by the capture thread on its next frame
        self.engine_error = ""
        self.info = None
        self.options.tau = self.settings.tau
        # the recent faces go on with the new engine (None: the new worker opens them)
        w = InferenceWorker(self.options, self.slot, self, recent=old.recent if old is not None else None)
        w.ready.connect(self._engine_ready)
        w.domain_changed.connect(self.settings_pane.threshold.set_domain)
        w.failed.connect(self._engine_failed)
        w.frame_error.connect(self.show_message)
        w.result.connect(self._show_result)
        w.stream_ended.connect(self._stream_ended)
        self.inference = w
        self.people.set_worker(w)
        self.recent_panel.set_worker(w)
        for dlg in self._person_dialogs:
            dlg.worker = w
        w.start()

    def _engine_ready(self, info: EngineInfo) -> None:
        self.info = info
        if self.engine_error:  # the engine is back: its banner goes
            self.engine_error = ""
            if self.view.message.startswith("Recognition is not available"):
                self.view.set_message("")
        if self._pending_options is not None:  # a choice made while the engine was down: it works
            self._pending_options[0]()
            self._pending_options = None
        # Haar says why in words (fallback: the YuNet file's path in full in the tooltip)
        note = info.detector_note
        self.detector_label.setText(f"detector {info.detector}" + (f" – {note.split(' at ')[0]}" if note else ""))
        self.detector_label.setToolTip(note)
        self.encoder_label.setText(f"model: {model_label(info.encoder, info.shipped)}")
        self.encoder_label.setToolTip(f"{info.encoder}\n{info.model_path or ''}".strip())
        self.device_label.setText(f"device {info.device.upper()}")
        self.settings_pane.threshold.set_model(info.calibrated_tau, info.calibration, self.settings.tau,
                                               info.open_set, info.enrolled_samples)
        self.settings_pane.threshold.set_domain(info.domain_delta, info.domain_text)
        self.settings_pane.retrain.set_current_model(info, bool(self.settings.previous_model_path))
        self.people.refresh()
        self.recent_panel.refresh()
        # deletions still undoable (also those made before this window opened) get their Undo
        def offer_undos(gone) -> None:
            for d in reversed(gone):
                self.offer_undo(d)

        self.inference.submit(lambda library, progress: library.deleted_people(), offer_undos)
        if info.warnings:
            self.show_message(" ".join(info.warnings))
        self.engine_ready.emit(info)
        if info.detector == "haar" and self.options.detector is None:  # automatic, and no YuNet file
            if not self.settings.extra.get("yunet_offered"):
                self.settings.extra["yunet_offered"] = True
                self.save_settings()
                self._yunet_offer(self.ask_about_yunet())
        if info.stale_samples:  # enrolled under another model: not matched until re-embedded
            self._run_engine_task(lambda library, progress: library.refresh(progress),
                                  f"Updating {plural(info.stale_samples, 'enrolled face')} for the current model…")

    def _engine_failed(self, message: str) -> None:
        self.engine_error = message
        if self._pending_options is not None:  # that choice failed too: not saved
            self._pending_options[1](message)
            self._pending_options = None
        self.view.set_message(f"Recognition is not available: {message}")
        self.show_message(message)

    @property
    def tau(self) -> float | None:
        if self.settings.tau is not None:
            return self.settings.tau
        return self.info.tau if self.info is not None else None

    def set_tau(self, tau: float) -> None:
        """From the slider (GUI thread): the worker picks it up on its next frame."""
        self.inference.set_tau(tau)
        self.settings.tau = float(tau)
        self._save_timer.start()

    def _tau_reset(self) -> None:
        self.settings.tau = None
        self.inference.set_tau(None)  # the model's open-set rule for the gallery enrolled
        self._save_timer.start()

    def _nudge_tau(self, delta: float) -> None:
        th = self.settings_pane.threshold
        if th.isEnabled():
            th.set_tau(th.tau + delta)

    def set_engine_options(self, detector: str | None, device: str | None) -> None:
        """Switch detector and device; the choice is saved only once it works, so a failed one
        (YuNet without its file, say) never comes back at the next start."""
        previous = (self.options.detector, self.options.device)
        self.options.detector, self.options.device = detector, device
        path = self.info.model_path if self.info is not None else None

        def keep(_value=None) -> None:
            self.settings.detector, self.settings.device = detector, device
            self.save_settings()

        def revert(_message: str = "") -> None:
            self.options.detector, self.options.device = previous
            self.settings_pane.source.show_current(self.source_spec, *previous)

        if self.engine_error:
            self._pending_options = (keep, revert)
            self._start_engine()
            return

        detector_model = self.options.detector_model

        def job(library, progress):
            library.set_detector_and_device(detector, detector_model, path, device, progress)
            return None

        self._run_engine_task(job, "Switching detector and device…", done=keep, on_failure=revert)

    def activate_model(self, path: str, remember_current: bool = True) -> None:
        """Use another encoder; the gallery is re-embedded (progress in the status bar). The model
        active now becomes the one "Roll back" returns to, except when rolling back."""
        current = self.info.model_path if self.info is not None else None
        if not remember_current:
            self.settings.previous_model_path = None
        elif current and os.path.abspath(current) != os.path.abspath(path):
            self.settings.previous_model_path = current
        self.settings.model_path = path
        self.settings.tau = None
        self.options.weights = path
        self.save_settings()
        device = self.options.device
        if self.engine_error:
            self._start_engine()
            self.model_changed.emit(path)
            return

        def job(library, progress):
            return library.switch_model(path, device, progress)

        self._run_engine_task(job, "Loading the model and re-embedding the gallery…",
                              done=lambda n: self.model_changed.emit(path))

    def _export_people(self, on_folder, on_error) -> None:
        """The gallery's stored crops as a folder-per-person dataset (in the cache folder)."""
        self.inference.submit(lambda library, progress: library.export_crops(progress),
                              lambda folder: on_folder(str(folder)), on_error)

    def rollback_model(self) -> None:
        """Back to the model active before the last activation; a second roll back would return to
        the model just left (the broken one, often), so there is none until the next activation."""
        prev = self.settings.previous_model_path
        if prev:
            self.activate_model(prev, remember_current=False)

    def _run_engine_task(self, job, text: str, done=None, on_failure=None) -> None:
        self.show_message(text)
        self.task_progress.setVisible(True)
        self.task_progress.setRange(0, 0)

        def progress(d, t, m):
            if t:
                self.task_progress.setRange(0, t)
                self.task_progress.setValue(d)

        def finished(value):
            self.task_progress.setVisible(False)
            self.inference.set_tau(self.settings.tau)  # None: the new model's calibrated τ
            self.inference.submit(lambda library, p: library.describe(), self._engine_ready)
            if done is not None:
                done(value)

        def failed(message):
            self.task_progress.setVisible(False)
            self.show_message(message)
            if on_failure is not None:
                on_failure(message)
            show_error(self, "OneShot Face", message)

        self.inference.submit(job, finished, failed, progress)

    # ---- backup -----------------------------------------------------------------------------
    def ask_export_path(self) -> str:
        suggested = str(Path(self.start_folder("backup")) / f"oneshot-face-gallery{SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self, "Export gallery", suggested,
                                              "Gallery backups (*.zip);;All files (*)")
        if path:
            self.remember_folder("backup", path)
        return path

    def ask_import_path(self) -> str:
        path, _ = QFileDialog.getOpenFileName(self, "Import gallery", self.start_folder("backup"),
                                              "Gallery backups (*.zip);;All files (*)")
        if path:
            self.remember_folder("backup", path)
        return path

    def confirm_merge(self, names: list[str]) -> bool:
        listed = ", ".join(names[:5]) + (" …" if len(names) > 5 else "")
        answer = QMessageBox.question(
            self, "Import gallery",
            f"{plural(len(names), 'of the people in the backup is', 'of the people in the backup are')} "
            f"already enrolled ({listed}). Add their "
            f"photos to the people already here? (No imports nothing.)",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def export_gallery(self) -> None:
        """Everyone, with crops and embeddings, to one private file (written on the engine thread)."""
        path = self.ask_export_path()
        if not path:
            return

        def done(summary) -> None:
            self.show_message(f"Exported {plural(summary.people, 'person', 'people')} "
                              f"({plural(summary.samples, 'photo')}) to "
                              f"{summary.path}. It holds face data: keep it private.")

        self.inference.submit(lambda library, progress: library.export_gallery(path), done,
                              lambda message: self._backup_failed("Export gallery", message))

    def import_gallery(self) -> None:
        """Add a backup's people; asks before merging into people of the same name."""
        path = self.ask_import_path()
        if not path:
            return

        def clashes(library, progress):
            return library.check_backup(path)  # read and checked once, here, off the GUI thread

        def done(result) -> None:
            report, reembedded = result.report, result.reembedded
            parts = [f"Imported {plural(len(report.people_added), 'person', 'people')}"]
            if report.people_merged:
                parts.append(f"added photos to {plural(len(report.people_merged), 'person', 'people')}")
            text = ", ".join(parts) + f" ({plural(report.samples_added, 'photo')}"
            if report.samples_skipped:
                text += f"; {report.samples_skipped} already there"
            text += ")."
            if reembedded:
                text += f" {reembedded} updated for the current model."
            self.show_message(text)
            self.people.refresh()

        def start(checked) -> None:
            saved, names = checked.backup, checked.clashes
            if names and not self.confirm_merge(names):
                self.show_message("Import cancelled; nothing was changed.")
                return
            self._run_engine_task(lambda library, progress: library.import_gallery(saved, bool(names), progress),
                                  "Importing the gallery…", done=done)

        self.inference.submit(clashes, start, lambda message: self._backup_failed("Import gallery", message))

    def _backup_failed(self, title: str, message: str) -> None:
        self.show_message(message)
        show_error(self, title, message)

    # ---- source -----------------------------------------------------------------------------
    def set_source(self, spec: str | int, save: bool = True) -> None:
        spec = str(spec).strip()
        if not spec:
            return
        old = self.capture
        if old is not None:
            old.stop()
            self._old_threads.append(old)
            old.finished.connect(lambda o=old: self._forget_thread(o))
        self.source_spec = spec
        self._source_down = False
        self.settings_pane.source.show_current(spec, self.options.detector, self.options.device)
        self.view.set_message(f"Opening {spec}…")
        cap = CaptureThread(spec, self.slot, loop=self.loop, process_all=self.process_all_frames,
                            retry_interval=self.retry_interval, opener=self.source_opener,
                            parent=self)
        cap.state.connect(self._source_state)
        cap.failed.connect(self._source_failed)
        cap.ended.connect(lambda n: self.show_message(f"{spec}: end after {n} frames."))
        self.capture = cap
        cap.start()
        if save:
            self.settings.source = spec
            self.save_settings()

    def _forget_thread(self, thread) -> None:
        if thread in self._old_threads:
            self._old_threads.remove(thread)

    def _source_state(self, state, text: str) -> None:
        """What the source is doing (`sources.SourceState`), with its status message."""
        from app.live.sources import SourceState
        if state is SourceState.ENDED:  # said by `ended`, with the frame count
            return
        self.show_message(text)
        if state is SourceState.LIVE:  # frames flow again
            self._source_down = False
            self.view.set_message("")
        else:
            self._camera_unavailable(f"{text}\nRetrying… You can choose another source in Settings → Camera & devices.")

    def _source_failed(self, text: str) -> None:
        self._camera_unavailable(f"{text}\nChoose another source in Settings → Camera & devices.")
        self.show_message(text)

    def _camera_unavailable(self, text: str) -> None:
        """No stale frame with names stays on screen while there are no frames."""
        self._source_down = True
        self.view.clear()
        self.view.set_message(text)
        self.fps_label.setText("no frames")
        self.latency_label.setText("")

    def _stream_ended(self) -> None:
        self.source_ended.emit()

    def _show_result(self, result) -> None:
        if self._source_down:  # a frame analysed before the source went away
            return
        self.last_result = result
        if not self.pause_action.isChecked():
            self.view.show_result(result)
        if self.view.message and not self.view.message.startswith("Recognition"):
            self.view.set_message("")
        self.fps_label.setText(f"{result.fps:.1f} fps")
        self.latency_label.setText(f"{result.latency_ms:.0f} ms")
        self.frame_analysed.emit(result)

    def toggle_pause(self) -> None:
        self.inference.paused = self.pause_action.isChecked()
        self.view.set_paused(self.inference.paused)

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 8000)

    # ---- people: their page, undo, purge ------------------------------------------------------
    def open_person(self, person_id: int) -> PersonDialog:
        """A person's page (their photos, merge, delete), not blocking; one per person."""
        for dlg in self._person_dialogs:
            if dlg.person_id == person_id:
                dlg.raise_()
                dlg.activateWindow()
                return dlg
        dlg = PersonDialog(self.inference, person_id, self)
        dlg.message.connect(self.show_message)
        dlg.changed.connect(lambda d=dlg: self._people_changed(changed_by=d))  # it reloads itself
        dlg.deleted.connect(self.offer_undo)
        dlg.add_photo_requested.connect(lambda name: self.open_enrol_photo_dialog(name=name))
        self._person_dialogs.append(dlg)
        dlg.finished.connect(lambda _=0, d=dlg: self._person_dialogs.remove(d) if d in self._person_dialogs else None)
        dlg.open()
        return dlg

    def _people_changed(self, changed_by=None) -> None:
        """The gallery changed somewhere: the People list, open person pages and recent faces follow."""
        self.people.refresh()
        self.recent_panel.refresh()
        for dlg in self._person_dialogs:
            if dlg is not changed_by and not dlg.busy:
                dlg.reload()

    def offer_undo(self, gone) -> None:
        """After a deletion: Undo in the status bar (and People ▸ Undo delete) while it can be undone."""
        if gone is None or any(d.id == gone.id for d in self._undoable):
            return
        self._undoable.append(gone)
        self._show_undo()

    def _show_undo(self) -> None:
        now = time.time()
        self._undoable = [d for d in self._undoable if d.purge_at > now]
        if not self._undoable:
            self.undo_button.setVisible(False)
            self.undo_action.setEnabled(False)
            self.undo_action.setText("&Undo delete")
            self._undo_timer.stop()
            return
        d = self._undoable[-1]
        more = len(self._undoable) - 1
        minutes = max(1, round((d.purge_at - now) / 60))
        shown = self.undo_button.fontMetrics().elidedText(d.name, Qt.TextElideMode.ElideRight, 180)
        self.undo_button.setText(f"↶ Undo delete of {shown}")
        self.undo_button.setToolTip(f"Bring back {d.name} with every photo (Ctrl+Z); possible for "
                                    f"{minutes} more min, then everything of them is erased."
                                    + (f" {more} other deletion{'s' if more > 1 else ''} can be undone after." if more else ""))
        self.undo_action.setText(f"&Undo delete of {d.name}")
        self.undo_action.setEnabled(True)
        self.undo_button.setVisible(True)
        if not self._undo_timer.isActive():
            self._undo_timer.start()

    def undo_delete(self) -> None:
        """Bring back the person deleted last (the gallery says if it is too late)."""
        if not self._undoable:
            return
        d = self._undoable.pop()
        self._show_undo()

        def failed(message: str) -> None:
            self.show_message(message)
            show_error(self, "Undo delete", message)

        def back(p) -> None:
            self.show_message(f"{p.name} is back, with {plural(p.sample_count, 'photo')}.")
            self._people_changed()

        self.inference.submit(lambda library, progress: library.undo_delete(d.id), back, failed)

    def purge_due(self) -> None:
        """Every 30 s (on the engine thread): erase people whose undo window is over, and the recent
        faces past their retention (in memory and in the opt-in file)."""
        self.inference.submit(lambda library, progress: library.purge_due(), lambda n: self._show_undo(),
                              lambda message: None)

    def set_keep_recent_faces(self, keep: bool, retention_h: float) -> None:
        """The opt-in: keep recent faces after closing (in the private data folder) for
        `retention_h` hours; off deletes that file. Saved, and applied on the engine thread."""
        self.settings.keep_recent_faces = bool(keep)
        self.settings.recent_faces_retention_h = float(retention_h)
        self.options.keep_recent_faces = bool(keep)
        self.options.recent_faces_retention_h = float(retention_h)
        self.save_settings()

        def done(n) -> None:
            self.show_message(f"Recent faces are kept for {retention_h:g} h, also after closing." if keep else
                              "Recent faces are kept in memory only; the stored ones were deleted.")
            self.recent_panel.refresh()

        def failed(message: str) -> None:
            self.show_message(message)
            show_error(self, "Recent faces", message)

        self.inference.submit(self.inference.switch_recent(keep, retention_h), done, failed)

    # ---- enrolment --------------------------------------------------------------------------
    def open_enrol_photo_dialog(self, path: str | os.PathLike | None = None, name: str = "") -> EnrolDialog:
        """Open the enrol-from-photo dialog (window-modal, not blocking); `path` skips the chooser."""
        dlg = EnrolDialog(self.inference, self, title="Enrol from photo", add_to=name, folder_memory=self)
        self._open_dialog(dlg)
        if path is not None:
            dlg.set_path(path)
        return dlg

    def enrol_from_snapshot(self) -> EnrolDialog | None:
        # the frame on screen, not the newest analysed: a result still on its way when Space was
        # pressed arrives after the pause and must not replace what the user is looking at
        res = self.view.last_result or self.last_result
        if res is None:
            self.show_message("No frame to enrol from yet.")
            return None
        dlg = EnrolDialog(self.inference, self, rgb=res.rgb, faces=list(res.faces),
                          title="Enrol from snapshot")
        if len(res.faces) > 1:
            dlg.info.setText(f"{len(res.faces)} faces: click the one to enrol.")
        self._open_dialog(dlg)
        return dlg

    def _open_dialog(self, dlg: EnrolDialog) -> None:
        def enrolled(p) -> None:
            self.show_message(f"Enrolled {getattr(p, 'name', p)}.")
            self._people_changed()

        dlg.enrolled.connect(enrolled)
        self._dialogs.append(dlg)
        dlg.finished.connect(lambda _=0, d=dlg: self._dialogs.remove(d) if d in self._dialogs else None)
        dlg.open()

    # ---- settings and shutdown --------------------------------------------------------------
    def save_settings(self) -> None:
        """Write a copy of the settings on the I/O thread (the GUI thread never waits on disk)."""
        snapshot = copy.deepcopy(self.settings)

        def write() -> None:
            try:
                settings_mod.save(snapshot)
            except OSError as exc:
                self._io_error.emit(f"Settings could not be saved: {exc}")

        try:
            self._io.submit(write)
        except RuntimeError:  # after close: the final write already happened
            pass

    def closeEvent(self, event) -> None:  # noqa: N802
        if self._closed:
            return super().closeEvent(event)
        if self.settings_pane.retrain.running and not self.confirm_quit_training():
            event.ignore()
            return
        self._closed = True
        self._save_timer.stop()
        # QByteArray has the buffer protocol; PySide6's stubs do not say so
        self.settings.window_geometry = bytes(self.saveGeometry().toBase64()).decode("ascii")  # type: ignore[call-overload]
        self.save_settings()
        self.shutdown()
        self._io.shutdown(wait=True)  # the last settings write is finished before we go
        super().closeEvent(event)

    def ask_about_yunet(self) -> str:
        """Once, on an install without YuNet: "download", "locate" or "" (not now)."""
        box = QMessageBox(QMessageBox.Icon.Information, "OneShot Face",
                          "Faces are being found with OpenCV's Haar cascade, because the YuNet detector "
                          "file (230 KB) that comes with the program is missing or damaged. Haar misses "
                          "many faces (turned, small or tightly cropped ones) and sometimes boxes things "
                          "that are not faces.", parent=self)
        download = box.addButton("Download YuNet", QMessageBox.ButtonRole.AcceptRole)
        locate = box.addButton("Locate file…", QMessageBox.ButtonRole.ActionRole)
        box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        choices: dict[QAbstractButton, str] = {download: "download", locate: "locate"}
        return choices.get(box.clickedButton(), "")

    def _yunet_offer(self, choice: str) -> None:
        if choice == "locate":
            path, _ = QFileDialog.getOpenFileName(self, "YuNet model", self.start_folder("model"),
                                                  "ONNX models (*.onnx)")
            if path:
                self.remember_folder("model", path)
                self.install_yunet(path)
        elif choice == "download":
            self.install_yunet(None)

    def install_yunet(self, source: str | None) -> None:
        """Download YuNet (None) or copy a chosen file into the user's model folder (SHA-256
        checked either way), then switch to it; the choice is saved only once it works."""
        def job(library, progress):
            return library.install_yunet(source, progress)

        def done(path) -> None:
            self.options.detector = "yunet"
            self.settings.detector = "yunet"
            self.save_settings()
            self.settings_pane.source.show_current(self.source_spec, "yunet", self.options.device)

        self._run_engine_task(job, "Installing the YuNet face detector…", done=done)

    def confirm_quit_training(self) -> bool:
        """Quitting while Retrain runs stops it (a checkpoint of the finished epochs is kept)."""
        answer = QMessageBox.question(
            self, "OneShot Face", "Training is still running. Stop it and quit?\n\nThe epochs finished so far "
            "are kept in a checkpoint; the active model is not changed.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def shutdown(self) -> None:
        """Stop every thread and wait for them (the only place the GUI thread waits)."""
        threads = [t for t in [self.capture, *self._old_threads] if t is not None]
        for t in threads:
            t.stop()
        self.inference.stop()
        self.settings_pane.retrain.stop_and_wait()
        for t in threads:
            t.wait()
        self.inference.wait()
        self.purge_timer.stop()
        recents = {id(w.recent): w.recent for w in [self.inference, *self._old_threads]
                   if isinstance(w, InferenceWorker) and w.recent is not None}
        for rf in recents.values():  # every thread has stopped: the opt-in file gets its last entries
            try:
                rf.close()
            except Exception:  # noqa: BLE001 - a write failing at exit must not stop the exit
                pass

    def all_threads_stopped(self) -> bool:
        threads = [self.capture, *self._old_threads, self.inference, self.settings_pane.retrain.worker]
        return all(t is None or not t.isRunning() for t in threads)
