"""The main window's live view wiring: the capture thread of the chosen source, what the view
shows while the source opens, drops out or ends, each analysed frame on screen (with fps and
latency in the status bar), and pause. The inference worker itself is started in MainWindow's
engine section."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QMainWindow

from app.gui.workers import CaptureThread

if TYPE_CHECKING:
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QLabel

    from app.gui.live_view import LiveView
    from app.gui.settings_pane import SettingsPane
    from app.gui.workers import EngineOptions, FrameSlot, InferenceWorker
    from app.service.settings import Settings


class LiveWiringMixin(QMainWindow):
    """MainWindow's source and live view."""

    frame_analysed: Signal
    source_ended: Signal
    view: LiveView
    settings_pane: SettingsPane
    settings: Settings
    options: EngineOptions
    slot: FrameSlot
    inference: InferenceWorker
    capture: CaptureThread | None
    pause_action: QAction
    fps_label: QLabel
    latency_label: QLabel
    source_spec: str
    source_opener: Callable | None
    loop: bool
    process_all_frames: bool
    retry_interval: float
    last_result: Any  # a workers.FrameResult, or None before the first
    _source_down: bool
    _old_threads: list
    show_message: Callable[[str], None]  # the status bar's
    save_settings: Callable[[], None]    # MainWindow's

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
        from app.service.live import source_states
        SourceState = source_states()
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
