"""The app's threads. The GUI thread never waits on the camera, a model or the disk:

* `CaptureThread` reads the source and keeps only the newest frame in a `FrameSlot` (older
  frames are dropped), or, in `process_all` mode (finite files, used by tests), hands over every
  frame, waiting for the consumer.
* `InferenceWorker` owns the `Engine` (created in its own thread: detector, encoder and the
  gallery connection all live there), analyses the newest frame, names and steadies faces with a
  `LiveLabeller` (tracks, pooled templates, majority) and emits `FrameResult`s with fps and
  latency. Other work needing the engine (enrolment, people list, rename, delete, model change
  with re-embedding) is queued to it with `submit(fn, on_done, on_error)`; fn runs in the worker
  thread with the worker's `app.service.Library` (the named operations on the engine; widgets
  never touch the engine's parts), the callbacks run in the GUI thread. It also owns the recent faces
  (`recent.RecentFaces`, fed by the labeller; read and acted on only by jobs, so the GUI thread
  never waits on their lock or their opt-in file), handed on to the next worker when the engine
  is restarted.
* `TrainingWorker` runs `service.training.retrain` (training, then the held-out check of the new
  model against the active one) with progress signals, cancellable through a CancelToken.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from PySide6.QtCore import QThread, QTimer, Signal

from app.errors import Cancelled, OneShotError
from app.progress import CancelToken
from app.service import EngineInfo, Library
from app.service import export_gallery_crops as export_gallery_crops  # where the GUI tests import it
from app.service import live as live_service
from app.service.live import Labelled

if TYPE_CHECKING:
    from app.service.live import Engine, LiveAnalyser, LiveLabeller

END = object()  # put in the slot when a finite source ends


class FrameSlot:
    """A one-place mailbox between the capture and inference threads."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = None
        self._full = False
        self.dropped = 0
        self._closed = False

    def put(self, item: Any, block: bool = False, stop: threading.Event | None = None) -> None:
        """Store `item`; without `block` it replaces (drops) an unconsumed older frame; with
        `block` it waits until the previous item was taken (or `stop` is set)."""
        with self._cond:
            if block:
                while self._full and not self._closed and not (stop is not None and stop.is_set()):
                    self._cond.wait(0.1)
            if self._full and item is not END:
                self.dropped += 1
            if self._full and self._item is END:
                return
            self._item, self._full = item, True
            self._cond.notify_all()

    def take(self, timeout: float) -> Any:
        """The newest item, or None after `timeout` seconds without one."""
        with self._cond:
            if not self._full:
                self._cond.wait(timeout)
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            self._cond.notify_all()
            return item

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class CaptureThread(QThread):
    """Reads a source (through RetryingSource for live ones) into a FrameSlot."""

    status = Signal(str)        # "camera 0 unavailable... retrying", "video x connected"...
    state = Signal(object, str)  # sources.SourceState and its message, just before each status
    failed = Signal(str)        # gave up: the source cannot be used
    ended = Signal(int)         # a finite source ended; frames read

    def __init__(self, spec: str | int, slot: FrameSlot, loop: bool = True,
                 process_all: bool = False, retry_interval: float = 2.0,
                 max_retries: int | None = None, pace: bool = True, opener=None, parent=None):
        super().__init__(parent)
        self.spec, self.slot, self.loop = spec, slot, loop
        self.opener = opener  # spec -> FrameSource; None: sources.open_source (tests inject fakes)
        self.process_all = process_all
        self.retry_interval = retry_interval
        self.max_retries = max_retries
        self.pace = pace and not process_all
        self.cancel = CancelToken()
        self._stop = threading.Event()
        self.frames_read = 0

    def stop(self) -> None:
        self.cancel.cancel()
        self._stop.set()

    def run(self) -> None:
        from app.errors import SourceError

        src = None
        try:
            src = live_service.retrying_source(self.spec, loop=self.loop, retry_interval=self.retry_interval,
                                 on_status=self.status.emit, on_state=self.state.emit, cancel=self.cancel,
                                 max_retries=self.max_retries, opener=self.opener)
            t0: float | None = None  # when the first frame of the file (or a jump in its clock) was read
            first_ts = 0.0           # and its timestamp; set with t0
            while not self._stop.is_set():
                frame = src.read()
                if frame is None:
                    break
                self.frames_read += 1
                if self.pace and not src.is_live and src.fps:
                    # play files at their own speed, like a camera would deliver them
                    now = time.monotonic()
                    if t0 is None or frame.timestamp < first_ts:
                        t0, first_ts = now, frame.timestamp
                    delay = (frame.timestamp - first_ts) - (now - t0)
                    if delay > 1.0:  # a jump in the file's clock: restart the pacing here
                        t0, first_ts, delay = now, frame.timestamp, 0.0
                    if delay > 0:
                        self._stop.wait(delay)
                self.slot.put(frame, block=self.process_all, stop=self._stop)
            if not self._stop.is_set():
                self.slot.put(END, block=self.process_all, stop=self._stop)
                self.ended.emit(self.frames_read)
        except SourceError as exc:
            self.failed.emit(str(exc))
        except OneShotError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug must not kill the app silently
            traceback.print_exc()
            self.failed.emit(f"The source stopped: {type(exc).__name__}: {exc}")
        finally:
            if src is not None:
                src.close()


@dataclass
class FrameResult:
    index: int
    rgb: np.ndarray
    labels: list[Labelled]
    fps: float
    latency_ms: float
    timestamp: float = 0.0
    faces: list = field(default_factory=list)  # app.recognition.detection.Face, same order as labels
    tau: float = float("nan")                    # the threshold this frame's tracks were named with


@dataclass
class EngineOptions:
    detector: str | None = None
    detector_model: str | None = None
    weights: str | None = None
    device: str | None = None
    gallery_path: str | None = None
    tau: float | None = None
    keep_recent_faces: bool = False         # Settings.keep_recent_faces (opt-in store)
    recent_faces_retention_h: float = 24.0
    learn_from_camera: bool = True          # Settings.learn_from_camera (app.live.learning)
    recent_clock: Callable[[], float] = time.time  # tests pass a clock to make retention due


class InferenceWorker(QThread):
    ready = Signal(object)          # EngineInfo: the engine's and the model card's facts
    failed = Signal(str)            # the engine could not be created
    frame_error = Signal(str)       # one frame could not be analysed (skipped; the loop goes on)
    result = Signal(object)         # FrameResult
    stream_ended = Signal()         # every frame of a finite source was analysed
    job_done = Signal(int, object)
    job_failed = Signal(int, str)
    job_progress = Signal(int, int, int, str)  # job id, done, total, message
    domain_changed = Signal(float, str)  # the camera sample changed the automatic τ: delta, in words
    capture = Signal(object)        # GuidedProgress after each frame while a guided capture runs

    def __init__(self, options: EngineOptions, slot: FrameSlot, parent=None, recent=None):
        """`recent`: the previous worker's RecentFaces to carry on with; None: opened in the
        worker thread as the options say."""
        super().__init__(parent)
        self.options = options
        self.slot = slot
        self.labeller: LiveLabeller | None = None  # made with the engine, in the worker thread
        self.analyser: LiveAnalyser | None = None
        self.recent = recent  # app.live.recent.RecentFaces; only used in the worker thread (jobs)
        self._recent_model: str | None = None
        self._stop = threading.Event()
        self._jobs: queue.Queue = queue.Queue()
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[Callable | None, Callable | None, Callable | None]] = {}
        self._lock = threading.Lock()
        self._tau: float | None = options.tau
        self._tau_dirty = False
        self.paused = False
        self.engine: Engine | None = None  # only touched in the worker thread
        self.library: Library | None = None  # the named operations on it, what jobs are given
        self.error_message = ""  # set when the engine could not be created
        self.frames_analysed = 0
        self.frames_skipped = 0
        self.job_done.connect(self._on_job_done)
        self.job_failed.connect(self._on_job_failed)
        self.job_progress.connect(self._on_job_progress)

    # ---- called from the GUI thread ---------------------------------------------------------
    def set_tau(self, tau: float | None) -> None:
        """Thread-safe: the next analysed frame uses it; the label history is cleared so the
        change shows at once."""
        with self._lock:
            self._tau = tau
            self._tau_dirty = True

    def stop(self) -> None:
        self._stop.set()
        self.slot.close()

    def submit(self, fn: Callable[[Any, Callable], Any], on_done: Callable[[Any], object] | None = None,
               on_error: Callable[[str], object] | None = None,
               on_progress: Callable[[int, int, str], object] | None = None) -> int:
        """Run fn(library, progress) in the worker thread (`library`: an `app.service.Library` on
        the worker's engine and recent faces); callbacks come back on the GUI thread."""
        job_id = next(self._ids)
        self._callbacks[job_id] = (on_done, on_error, on_progress)
        if self.error_message or self._stop.is_set():
            # no engine will ever run it: fail it from the event loop, like a worker answer
            msg = self.error_message or "The recognition engine was stopped."
            QTimer.singleShot(0, lambda: self._on_job_failed(job_id, msg))
            return job_id
        self._jobs.put((job_id, fn))
        return job_id

    def _on_job_done(self, job_id: int, value: object) -> None:
        on_done, _, _ = self._callbacks.pop(job_id, (None, None, None))
        if on_done is not None:
            on_done(value)

    def _on_job_failed(self, job_id: int, message: str) -> None:
        _, on_error, _ = self._callbacks.pop(job_id, (None, None, None))
        if on_error is not None:
            on_error(message)

    def _on_job_progress(self, job_id: int, done: int, total: int, message: str) -> None:
        cbs = self._callbacks.get(job_id)
        if cbs and cbs[2] is not None:
            cbs[2](done, total, message)

    # ---- worker thread ----------------------------------------------------------------------
    def _create_engine(self) -> Engine:
        o = self.options
        return live_service.create_engine(o.detector, o.detector_model, o.weights, o.device, o.gallery_path, o.tau)

    def describe(self) -> EngineInfo:
        """The engine's and the model card's facts (worker thread)."""
        assert self.library is not None
        return self.library.describe()

    def _run_jobs(self) -> None:
        while True:
            try:
                job_id, fn = self._jobs.get_nowait()
            except queue.Empty:
                return
            if self.library is None:
                self.job_failed.emit(job_id, "The recognition engine is not available.")
                continue

            def progress(done: int, total: int, message: str = "", _id=job_id) -> None:
                self.job_progress.emit(_id, int(done), int(total), str(message))

            try:
                value = fn(self.library, progress)
            except OneShotError as exc:
                self.job_failed.emit(job_id, str(exc))
            except Exception as exc:  # noqa: BLE001
                traceback.print_exc()
                self.job_failed.emit(job_id, f"Unexpected error: {type(exc).__name__}: {exc}")
            else:
                self.job_done.emit(job_id, value)

    def run(self) -> None:
        try:
            engine = self.engine = self._create_engine()
            self.library = Library(engine, lambda: self.recent, lambda: live_service.learner_of(self.analyser))
        except Exception as exc:  # noqa: BLE001
            if isinstance(exc, OneShotError):
                message = str(exc)
            else:
                traceback.print_exc()
                message = f"The recognition engine could not start: {type(exc).__name__}: {exc}"
            self.error_message = message
            self.failed.emit(message)
            self._drain_jobs_failing(message)
            return
        try:
            self._open_recent()
            # settled faces carry their name over between re-embeddings (app.live.analysis)
            self.analyser = live_service.analyser_for(engine, self.recent, learn=self.options.learn_from_camera)
            self.labeller = self.analyser.labeller
            self.ready.emit(self.describe())
            domain_seen = self.library.camera_state()
            last_done: float | None = None
            fps = 0.0
            while not self._stop.is_set():
                self._run_jobs()
                item = self.slot.take(0.05)
                if item is None:
                    continue
                if item is END:
                    self.recent.end_all()  # every track ended: their entries are final (and stored)
                    live_service.end_tracks(self.analyser)  # and may add views (app.live.learning)
                    self.stream_ended.emit()
                    continue
                if self.paused:
                    continue
                with self._lock:
                    self.library.set_threshold(self._tau)
                    if self._tau_dirty:
                        self.analyser.reset()
                        self._tau_dirty = False
                        self._recent_model = None  # grouping follows the new τ
                if self._recent_model != live_service.model_version(engine):  # a new model or τ
                    self.recent.configure_from(engine)
                    self._recent_model = live_service.model_version(engine)
                t0 = time.perf_counter()
                try:
                    analysis = self.analyser(item.rgb, frame_index=item.index)  # SourceError for a garbage frame
                except OneShotError as exc:
                    self.frames_skipped += 1
                    self.frame_error.emit(str(exc))
                    continue
                recs, labels = analysis.recognitions, analysis.labels
                now = time.perf_counter()
                if last_done is not None:
                    dt = now - last_done
                    fps = 1.0 / dt if fps == 0.0 else 0.9 * fps + 0.1 / max(dt, 1e-6)
                last_done = now
                self.frames_analysed += 1
                self.result.emit(FrameResult(item.index, item.rgb, labels, fps, (now - t0) * 1000.0,
                                             item.timestamp, [r.face for r in recs],
                                             float(engine.track_threshold)))
                progress = self.library.feed_capture(item.rgb, recs, labels)
                if progress is not None:
                    self.capture.emit(progress)
                if self.library.camera_state() != domain_seen:  # the Threshold pane follows
                    domain_seen = self.library.camera_state()
                    self.domain_changed.emit(self.library.domain_delta(), self.library.camera_text())
        finally:
            try:
                engine.close()
            except Exception:  # noqa: BLE001
                pass

    def _open_recent(self) -> None:
        """The recent faces this worker feeds: the previous worker's, or opened as the settings
        say (reading the opt-in file here, never on the GUI thread)."""
        assert self.engine is not None  # called by run, once the engine is made
        if self.recent is None:
            o = self.options
            self.recent, warning = live_service.open_recent(o.keep_recent_faces, o.recent_faces_retention_h,
                                                            clock=o.recent_clock)
            if warning:  # an unusable file: recent faces in memory only
                self.frame_error.emit(warning)
        self.recent.configure_from(self.engine)
        self._recent_model = live_service.model_version(self.engine)

    def switch_recent(self, keep: bool, retention_h: float):
        """A job (for `submit`): keep recent faces on disk or not, for how long. The faces seen
        so far are carried over (within the new retention); turning it off deletes the file."""
        def job(library, progress):
            assert self.engine is not None  # jobs run only once it is
            new = live_service.reopen_recent(self.recent, keep, retention_h, self.engine,
                                             clock=self.options.recent_clock)
            self.recent = new
            if self.labeller is not None:
                self.labeller.recent = new
            return len(new.entries())
        return job

    def _drain_jobs_failing(self, message: str) -> None:
        while True:
            try:
                job_id, _ = self._jobs.get_nowait()
            except queue.Empty:
                return
            self.job_failed.emit(job_id, message)


class TrainingWorker(QThread):
    progress = Signal(int, int, str)
    loss = Signal(int, float)        # step, running loss (for the live curve)
    epoch = Signal(object)           # EpochStats
    finished_ok = Signal(object)     # TrainResult
    cancelled = Signal(str)
    failed = Signal(str)

    def __init__(self, config, parent=None, resume_from: str | None = None,
                 active_weights: str | None = None):
        """`config` to train afresh, or None and `resume_from`: continue the run whose checkpoint
        that is, with the configuration saved in it. With `active_weights` (the active model),
        the new model is then checked against it on people neither trained on (app.training.heldout)."""
        super().__init__(parent)
        self.config = config
        self.resume_from = resume_from
        self.active_weights = active_weights
        self.cancel_token = CancelToken()

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def run(self) -> None:
        from app.service import training

        def progress(p) -> None:  # a training.loop.TrainingProgress
            if p.phase == training.TRAINING and p.loss is not None:
                self.loss.emit(int(p.done), float(p.loss))
            stage = training.phase_label(p)
            self.progress.emit(int(p.done), int(p.total), f"{stage}: {p.message}" if p.message else stage)

        def check_progress(done: int, total: int, message: str = "") -> None:
            self.progress.emit(int(done), int(total), message[:1].upper() + message[1:])

        try:
            self.config, result = training.retrain(self.config, self.resume_from, self.active_weights,
                                                   on_progress=progress, check_progress=check_progress,
                                                   cancel=self.cancel_token, on_epoch=self.epoch.emit)
        except Cancelled as exc:
            self.cancelled.emit(str(exc))
        except OneShotError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            self.failed.emit(f"Training failed: {type(exc).__name__}: {exc}")
        else:
            self.finished_ok.emit(result)
