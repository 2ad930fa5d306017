"""The main window: live view in the centre; People, Recent faces and Settings on the right;
status bar with fps, latency, detector, encoder and device, and Undo after a deletion. It wires
widgets to the worker threads and holds no face logic and no blocking call: camera, model,
gallery and recent-faces work all happen in workers. Its menus (`window_menus`), live view wiring
(`window_live`), status bar (`window_status`) and people work (`window_people`) are mixins in
modules of their own."""

from __future__ import annotations

import copy
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from PySide6.QtCore import QByteArray, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractButton,
    QFileDialog,
    QMessageBox,
    QSplitter,
    QTabWidget,
)

from app.gui.capture_dialog import CaptureDialog
from app.gui.figures import model_label, plural
from app.gui.live_view import FIRST_RUN_TEXT, LiveView
from app.gui.messages import show_error
from app.gui.people_panel import PeoplePanel
from app.gui.person_dialog import PersonDialog
from app.gui.recent_panel import RecentFacesPanel
from app.gui.settings_pane import SettingsPane
from app.gui.window_live import LiveWiringMixin
from app.gui.window_menus import MenusMixin
from app.gui.window_people import PeopleMixin
from app.gui.window_status import StatusBarMixin
from app.gui.workers import CaptureThread, EngineOptions, FrameSlot, InferenceWorker
from app.service import EngineInfo
from app.service import settings as settings_mod
from app.service.people import backup_suffix


class MainWindow(MenusMixin, LiveWiringMixin, StatusBarMixin, PeopleMixin):
    """Where to look: menus and Help in `window_menus`, the source and live view in `window_live`,
    the status bar in `window_status`, people, enrolment and backups in `window_people`; the
    engine and settings here."""

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
        self._pending_options: tuple | None = None  # (keep, revert) of a detector/device choice awaiting the engine
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
                                     learn_from_camera=s.learn_from_camera,
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
        th.forget_camera_button.clicked.connect(self.forget_camera)
        th.learn_camera_button.clicked.connect(self.learn_camera)
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

        self._build_status_bar()

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
        for d in self._dialogs:
            if isinstance(d, CaptureDialog):
                d.set_worker(w)

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
        suggested = str(Path(self.start_folder("backup")) / f"oneshot-face-gallery{backup_suffix()}")
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
