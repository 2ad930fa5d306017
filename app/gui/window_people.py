"""The main window's people work: a person's page, Undo after a deletion, the purge of what is
due, the recent-faces opt-in, the enrol dialogs, and exporting and importing the gallery. Every
change runs as a job on the inference worker (`InferenceWorker.submit`); this only asks and tells."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QProgressDialog

from app.gui.capture_dialog import CaptureDialog
from app.gui.enrol_dialog import EnrolDialog
from app.gui.figures import plural
from app.gui.messages import show_error
from app.gui.person_dialog import PersonDialog
from app.progress import CancelToken

if TYPE_CHECKING:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QPushButton

    from app.gui.live_view import LiveView
    from app.gui.people_panel import PeoplePanel
    from app.gui.recent_panel import RecentFacesPanel
    from app.gui.settings_pane import SettingsPane
    from app.gui.workers import EngineOptions, InferenceWorker
    from app.service.settings import Settings


class PeopleMixin(QMainWindow):
    """MainWindow's people, enrolment and backup commands."""

    inference: InferenceWorker
    settings: Settings
    options: EngineOptions
    people: PeoplePanel
    recent_panel: RecentFacesPanel
    settings_pane: SettingsPane
    view: LiveView
    last_result: Any
    undo_button: QPushButton
    undo_action: QAction
    _undo_timer: QTimer
    _undoable: list
    _person_dialogs: list[PersonDialog]
    _dialogs: list
    pause_action: QAction
    toggle_pause: Callable[[], None]        # the live view's
    show_message: Callable[[str], None]     # the status bar's
    save_settings: Callable[[], None]       # MainWindow's
    ask_export_path: Callable[[], str]      # MainWindow's (tests replace its file dialogs)
    ask_import_path: Callable[[], str]
    start_folder: Callable[[str], str]      # MainWindow's
    remember_folder: Callable[..., None]
    _run_engine_task: Callable[..., None]

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

    def set_learn_from_camera(self, on: bool) -> None:
        """The switch for learning views from the camera's tracks (docs/learning.md): saved, and
        applied on the engine thread."""
        self.settings.learn_from_camera = bool(on)
        self.options.learn_from_camera = bool(on)
        self.save_settings()
        self.inference.submit(lambda library, progress: library.set_learning(on), lambda _: self.show_message(
            "Learning from the camera is on." if on else "Learning from the camera is off."), lambda message: None)

    def forget_camera(self) -> None:
        """The Threshold pane's "Forget this camera's faces": the automatic τ is the table's again
        (a new camera, or a room that changed); what the pane says follows at once."""
        threshold = self.settings_pane.threshold

        def done(answer) -> None:
            n, delta, text = answer
            threshold.set_domain(delta, text)
            self.show_message(f"Forgot {plural(n, 'face')} seen by this camera; the automatic τ "
                              f"rests on the validation people and your enrolled photos again.")

        def failed(message: str) -> None:
            self.show_message(message)
            show_error(self, "Forget this camera's faces", message)

        self.inference.submit(lambda library, progress: (library.forget_camera(), library.domain_delta(),
                                                        library.camera_text()), done, failed)

    def ask_camera_folder(self) -> str:
        """The folder of photos taken with this camera ("" when the user cancels)."""
        return QFileDialog.getExistingDirectory(self, "Learn this camera from a folder of its photos",
                                                self.start_folder("camera"))

    def learn_camera(self) -> None:
        """The Threshold pane's "Learn from this camera's photos…": a folder of photos from the
        camera feeds the camera sample (`Library.learn_camera`), with progress and Cancel (what
        was read by then is kept); the pane says what it did to τ."""
        folder = self.ask_camera_folder()
        if not folder:
            return
        self.remember_folder("camera", folder)
        threshold = self.settings_pane.threshold
        token = CancelToken()
        dlg = QProgressDialog("Learning this camera from its photos…", "Cancel", 0, 0, self)
        dlg.setWindowTitle("Learn this camera")
        dlg.setWindowModality(Qt.WindowModality.WindowModal)
        dlg.setMinimumDuration(0)
        dlg.canceled.connect(token.cancel)
        self._dialogs.append(dlg)

        def progress(done: int, total: int, message: str) -> None:
            dlg.setRange(0, total)
            dlg.setValue(done)
            dlg.setLabelText(message)

        def finish() -> None:
            dlg.canceled.disconnect(token.cancel)
            dlg.close()
            if dlg in self._dialogs:
                self._dialogs.remove(dlg)

        def done(answer) -> None:
            finish()
            (read, faces, unreadable), delta, text = answer
            threshold.set_domain(delta, text)
            stopped = " (cancelled)" if token.cancelled else ""
            skipped = f"; {plural(unreadable, 'file')} could not be read" if unreadable else ""
            self.show_message(f"Learned {plural(faces, 'face')} from {plural(read, 'photo')}{stopped}{skipped}.")

        def failed(message: str) -> None:
            finish()
            self.show_message(message)
            show_error(self, "Learn this camera", message)

        self.inference.submit(lambda library, p: (library.learn_camera(folder, p, token), library.domain_delta(),
                                                  library.camera_text()), done, failed, progress)

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
                          title="Enrol from snapshot", track_ids=[lab.track_id for lab in res.labels])
        if len(res.faces) > 1:
            dlg.info.setText(f"{len(res.faces)} faces: click the one to enrol.")
        dlg.capture_requested.connect(self.open_capture_dialog)
        self._open_dialog(dlg)
        return dlg

    def open_capture_dialog(self, track_id: int | None = None, name: str = "") -> CaptureDialog:
        """Enrol with a short capture (app.gui.capture_dialog): of the live track `track_id` (a
        face picked in a snapshot), else of the first face alone in the picture. The video plays
        while it runs; one capture at a time."""
        for d in self._dialogs:
            if isinstance(d, CaptureDialog):
                d.raise_()
                d.activateWindow()
                return d
        if self.pause_action.isChecked():  # a snapshot paused the video: the capture needs it live
            self.pause_action.setChecked(False)
            self.toggle_pause()
        dlg = CaptureDialog(self.inference, self, track_id=track_id, name=name)
        self._open_dialog(dlg)
        return dlg

    def _open_dialog(self, dlg: EnrolDialog | CaptureDialog) -> None:
        def enrolled(p) -> None:
            said = dlg.enrolled_text(p) if isinstance(dlg, CaptureDialog) else f"Enrolled {getattr(p, 'name', p)}."
            self.show_message(said)
            self._people_changed()

        dlg.enrolled.connect(enrolled)
        self._dialogs.append(dlg)
        dlg.finished.connect(lambda _=0, d=dlg: self._dialogs.remove(d) if d in self._dialogs else None)
        dlg.open()

    # ---- backup (the file dialogs that choose the paths are MainWindow's) -------------------
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
