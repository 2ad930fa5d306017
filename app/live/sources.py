"""Where frames come from: a camera, a video file, a folder of photos or a network stream.

Every source yields `Frame`s holding HxWx3 uint8 RGB pixels. Problems become `SourceError`s with
a message fit for a person (which source, what went wrong, what to try), never an OpenCV
traceback. Frames that come back empty or with an impossible shape are skipped and counted in
`garbage_frames`; a live source that fails `max_failures` reads in a row raises SourceError.

Cameras and streams take an injectable `capture_factory` (a callable returning an object with
OpenCV's `isOpened() / read() / get() / release()`), so tests can simulate unplugged cameras.
Not thread-safe: one reader thread per source.
"""

from __future__ import annotations

import math
import re
import sys
import time
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from app.errors import OneShotError, SourceError
from app.imageio import IMAGE_EXTENSIONS  # one list of photo types for every command
from app.progress import CancelToken

_load_image: Callable[[Path], np.ndarray] | None
try:  # the project's photo reader (EXIF rotation, odd modes); OpenCV when it is not there
    from app.imageio import load_image as _load_image
except ImportError:  # pragma: no cover - app.imageio ships with the app
    _load_image = None

DEFAULT_MAX_FAILURES = 30
# Pause between failed reads of a live source, so 30 failures span about a second.
FAILURE_DELAY = 0.03
# Opening and reading timeouts for network streams (milliseconds).
STREAM_OPEN_TIMEOUT_MS = 10_000
STREAM_READ_TIMEOUT_MS = 5_000


@dataclass(frozen=True, eq=False)
class Frame:
    index: int  # 0, 1, 2... in the order this source delivered them
    rgb: np.ndarray  # HxWx3 uint8 RGB
    timestamp: float  # seconds: position in the file for videos, time.monotonic() for live sources
    path: Path | None = None  # the photo a folder frame came from


class Capture(Protocol):
    """The part of cv2.VideoCapture the sources use (and fakes implement)."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, Any]: ...
    def get(self, prop: int) -> float: ...
    def release(self) -> None: ...


CaptureFactory = Callable[[], Capture]


# --------------------------------------------------------------------------- helpers


def to_rgb(frame: Any) -> np.ndarray | None:
    """An OpenCV BGR/BGRA/grey frame as contiguous HxWx3 uint8 RGB; None when it is garbage."""
    if not isinstance(frame, np.ndarray) or frame.size == 0 or frame.dtype != np.uint8:
        return None
    if frame.ndim == 2:
        if min(frame.shape) < 1:
            return None
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    if frame.ndim != 3 or min(frame.shape[:2]) < 1:
        return None
    channels = frame.shape[2]
    if channels == 3:
        return np.ascontiguousarray(frame[:, :, ::-1])
    if channels == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2RGB)
    if channels == 1:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
    return None


def is_rgb_frame(rgb: Any) -> bool:
    """True for what every consumer of frames expects: a non-empty HxWx3 uint8 array."""
    return (isinstance(rgb, np.ndarray) and rgb.dtype == np.uint8 and rgb.ndim == 3
            and rgb.shape[2] == 3 and rgb.shape[0] > 0 and rgb.shape[1] > 0)


def _sane_fps(value: float) -> float | None:
    try:
        fps = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(fps) or fps <= 0 or fps > 1000:
        return None
    return fps


def redact_url(url: str) -> str:
    """`url` without a password, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else host
    return urlunsplit(parts._replace(netloc=netloc))


def parse_source(spec: str | int) -> str | int:
    """A command-line source spec: "0" -> camera 0; paths and URLs are kept as given.

    A string of digits always means a camera; write "./0" for a file named 0.
    """
    if isinstance(spec, bool):
        raise SourceError(f"{spec!r} is not a camera number, file, folder or stream address.")
    if isinstance(spec, int):
        if spec < 0:
            raise SourceError(f"Camera numbers start at 0; {spec} is not one.")
        return spec
    text = str(spec).strip()
    if re.fullmatch(r"\d+", text):
        return int(text)
    return text


class SourceKind(Enum):
    """What a source spec names, as `source_kind` decides it (the one place that does)."""
    CAMERA = "camera"    # a camera number
    FOLDER = "folder"    # a folder of photos
    FILE = "file"        # a video file
    STREAM = "stream"    # a stream address (rtsp://, http://...) that is not a path on disk
    OTHER = "other"      # on disk, but neither a file nor a folder
    MISSING = "missing"  # nothing of that name
    EMPTY = "empty"      # no source given


def source_kind(spec: str | int) -> SourceKind:
    """Whether `spec` (as `parse_source` reads it) is a camera, a folder, a video file, a stream
    address or none of them. A path on disk wins over an address: "a://b" may be a folder."""
    spec = parse_source(spec)
    if isinstance(spec, int):
        return SourceKind.CAMERA
    if not spec:
        return SourceKind.EMPTY
    path = Path(spec).expanduser()
    try:
        is_dir, is_file = path.is_dir(), path.is_file()
        exists = is_dir or is_file or path.exists()
    except OSError:
        is_dir = is_file = exists = False
    if is_dir:
        return SourceKind.FOLDER
    if is_file:
        return SourceKind.FILE
    if "://" in spec:
        return SourceKind.STREAM
    return SourceKind.OTHER if exists else SourceKind.MISSING


def is_live_source(spec: str | int) -> bool:
    """A camera or a stream: frames come in real time and may stop coming (re-opened, not ended)."""
    return source_kind(spec) in (SourceKind.CAMERA, SourceKind.STREAM)


def describe_source(spec: str | int) -> str:
    """How a source is named in messages before (or without) opening it."""
    spec = parse_source(spec)
    kind = source_kind(spec)
    if isinstance(spec, int):
        return f"camera {spec}"
    if kind is SourceKind.STREAM:
        return f"stream {redact_url(spec)}"
    if kind is SourceKind.EMPTY:
        return "no source"
    p = Path(spec).expanduser()
    if kind is SourceKind.FOLDER:
        return f"folder {p.name or p}/"
    return f"video {p.name or p}"


def _default_camera_backend() -> int:
    """The native backend, which fails at once for a missing camera (CAP_ANY tries them all)."""
    if sys.platform.startswith("linux"):
        return cv2.CAP_V4L2
    if sys.platform == "win32":
        return cv2.CAP_DSHOW
    if sys.platform == "darwin":
        return cv2.CAP_AVFOUNDATION
    return cv2.CAP_ANY


def _release(cap: Capture | None) -> None:
    if cap is None:
        return
    try:
        cap.release()
    except Exception:  # noqa: BLE001 - a failing release must not hide the real problem
        pass


# --------------------------------------------------------------------------- base


class FrameSource:
    """Base class: a context manager and an iterator over Frames."""

    description: str = "source"
    is_live: bool = False
    fps: float | None = None

    def __init__(self) -> None:
        self.garbage_frames = 0
        self._closed = False

    def read(self) -> Frame | None:
        """The next frame; None when the source ended normally (end of file or folder).

        Raises SourceError when a live source stops delivering or a file can no longer be read.
        """
        raise NotImplementedError

    def close(self) -> None:
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "FrameSource":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[Frame]:
        while True:
            frame = self.read()
            if frame is None:
                return
            yield frame

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.description}>"

    def _check_open(self) -> None:
        if self._closed:
            raise SourceError(f"{self.description} was closed.")


# --------------------------------------------------------------------------- captures


class _CaptureSource(FrameSource):
    """Shared logic of the OpenCV-backed sources."""

    def __init__(self, description: str, factory: CaptureFactory, *, max_failures: int,
                 failure_delay: float, open_hint: str) -> None:
        super().__init__()
        if max_failures < 1:
            raise ValueError("max_failures must be at least 1")
        self.description = description
        self.max_failures = max_failures
        self.failure_delay = failure_delay
        self._index = 0
        try:
            cap = factory()
        except OneShotError:
            raise
        except Exception as exc:  # noqa: BLE001 - OpenCV raises cv2.error and friends
            raise SourceError(f"{description} cannot be opened ({exc}). {open_hint}") from None
        if cap is None or not cap.isOpened():
            _release(cap)
            raise SourceError(f"{description} cannot be opened. {open_hint}")
        self._cap: Capture | None = cap
        try:
            self.fps = _sane_fps(cap.get(cv2.CAP_PROP_FPS))
        except Exception:  # noqa: BLE001
            self.fps = None

    def _grab(self) -> tuple[bool, np.ndarray | None]:
        """One read: (False, None) when the capture returned nothing; (True, None) for garbage."""
        assert self._cap is not None
        try:
            ok, raw = self._cap.read()
        except Exception:  # noqa: BLE001 - a driver error is a failed read
            return False, None
        if not ok or raw is None:
            return False, None
        rgb = to_rgb(raw)
        if rgb is None:
            self.garbage_frames += 1
            return True, None
        return True, rgb

    def close(self) -> None:
        _release(getattr(self, "_cap", None))
        self._cap = None
        super().close()


class _LiveSource(_CaptureSource):
    is_live = True
    _stopped_hint = "stopped delivering frames"

    def read(self) -> Frame | None:
        self._check_open()
        failures = 0
        while True:
            delivered, rgb = self._grab()
            if rgb is not None:
                frame = Frame(self._index, rgb, time.monotonic())
                self._index += 1
                return frame
            failures += 1
            if failures >= self.max_failures:
                what = "only unreadable frames" if delivered else "no frames"
                raise SourceError(
                    f"{self.description} {self._stopped_hint} "
                    f"({self.max_failures} reads in a row gave {what})."
                )
            if self.failure_delay > 0:
                time.sleep(self.failure_delay)


class CameraSource(_LiveSource):
    """A local camera by index (0 is usually the built-in webcam)."""

    _stopped_hint = "stopped delivering frames (unplugged?)"

    def __init__(self, index: int, *, backend: int | None = None,
                 capture_factory: CaptureFactory | None = None,
                 max_failures: int = DEFAULT_MAX_FAILURES,
                 failure_delay: float = FAILURE_DELAY) -> None:
        self.index = index
        if capture_factory is None:
            api = _default_camera_backend() if backend is None else backend

            def capture_factory() -> Capture:
                cap = cv2.VideoCapture(index, api)
                if cap.isOpened():
                    cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # keep frames fresh where supported
                return cap

        super().__init__(
            f"camera {index}", capture_factory, max_failures=max_failures,
            failure_delay=failure_delay,
            open_hint="Check that it is plugged in and not used by another program, or try "
                      "another camera number (0, 1, 2...).",
        )


class StreamSource(_LiveSource):
    """A network stream (rtsp://, http://...) read through OpenCV's FFmpeg backend."""

    _stopped_hint = "stopped delivering frames (network or camera down?)"

    def __init__(self, url: str, *, capture_factory: CaptureFactory | None = None,
                 max_failures: int = DEFAULT_MAX_FAILURES,
                 failure_delay: float = FAILURE_DELAY) -> None:
        self.url = url
        if capture_factory is None:

            def capture_factory() -> Capture:
                params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_OPEN_TIMEOUT_MS,
                          cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_READ_TIMEOUT_MS]
                cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
                if cap.isOpened():
                    cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
                return cap

        super().__init__(
            f"stream {redact_url(url)}", capture_factory, max_failures=max_failures,
            failure_delay=failure_delay,
            open_hint="Check the address, user name and password, and that the camera or "
                      "server is reachable from this computer.",
        )


class VideoFileSource(_CaptureSource):
    """A video file; with loop=True it restarts at the end (a demo "camera")."""

    is_live = False

    def __init__(self, path: str | Path, *, loop: bool = False,
                 capture_factory: CaptureFactory | None = None,
                 max_failures: int = DEFAULT_MAX_FAILURES) -> None:
        self.path = Path(path)
        self.loop = loop
        self.loops = 0  # how many times the video restarted
        if capture_factory is None:
            def capture_factory() -> Capture:
                return cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
        self._factory = capture_factory
        name = self.path.name or str(self.path)
        hint = "Try converting it to MP4 (H.264), or check that it is a video file."
        super().__init__(f"video {name}", capture_factory, max_failures=max_failures,
                         failure_delay=0.0,
                         open_hint=f"It may be damaged, empty or not a video. {hint}")
        self._loop_offset = 0.0  # seconds of video before the current pass (loop mode)
        self._last_ts = 0.0
        self._pass_frames = 0
        # Read the first frame now, so a file OpenCV "opens" but cannot decode fails here.
        try:
            first = self._next_rgb()
        except BaseException:
            self.close()
            raise
        if first is None:
            self.close()
            raise SourceError(f"video {name} holds no frame this program can decode (damaged, "
                              f"empty, or not a video). {hint}")
        self._pending: tuple[np.ndarray, float] | None = first

    def _position(self) -> float:
        assert self._cap is not None
        try:
            ms = float(self._cap.get(cv2.CAP_PROP_POS_MSEC))
        except Exception:  # noqa: BLE001
            ms = float("nan")
        if math.isfinite(ms) and (ms > 0 or self._pass_frames == 0):
            return ms / 1000.0
        if self.fps:
            return self._pass_frames / self.fps
        return float(self._pass_frames)

    def _next_rgb(self) -> tuple[np.ndarray, float] | None:
        """The next decodable frame of this pass and its time; None at the end of the file."""
        garbage = 0
        while True:
            delivered, rgb = self._grab()
            if not delivered:
                if not self.path.exists():
                    raise SourceError(f"{self.description} can no longer be read "
                                      "(the file was moved or deleted).")
                return None
            if rgb is not None:
                ts = self._position()
                self._pass_frames += 1
                return rgb, ts
            garbage += 1
            if garbage >= self.max_failures:
                raise SourceError(f"{self.description} holds only unreadable frames from here "
                                  f"on ({garbage} in a row); it may be damaged.")

    def _restart(self) -> bool:
        """Back to the first frame for loop mode; False when that is impossible."""
        if self._pass_frames == 0:
            return False  # nothing decodable in a whole pass: do not spin
        self._loop_offset += self._last_ts + (1.0 / self.fps if self.fps else 0.0)
        self._pass_frames = 0
        self.loops += 1
        assert self._cap is not None
        try:  # set() is not part of Capture (fakes may lack it); one that cannot seek is reopened
            rewound = bool(getattr(self._cap, "set")(cv2.CAP_PROP_POS_FRAMES, 0))
        except Exception:  # noqa: BLE001
            rewound = False
        if not rewound:
            _release(self._cap)
            self._cap = None
            try:
                cap = self._factory()
            except Exception:  # noqa: BLE001
                cap = None
            if cap is None or not cap.isOpened():
                _release(cap)
                raise SourceError(f"{self.description} could not be restarted for looping.")
            self._cap = cap
        return True

    def read(self) -> Frame | None:
        self._check_open()
        got: tuple[np.ndarray, float] | None
        if self._pending is not None:
            got = self._pending
            self._pending = None
        else:
            got = self._next_rgb()
            if got is None:
                if not self.loop or not self._restart():
                    return None
                got = self._next_rgb()
                if got is None:
                    raise SourceError(f"{self.description} could not be restarted for looping.")
        rgb, ts = got
        self._last_ts = ts
        frame = Frame(self._index, rgb, self._loop_offset + ts)
        self._index += 1
        return frame


# --------------------------------------------------------------------------- folders


def _read_image(path: Path) -> np.ndarray:
    """One photo as RGB, or raise (any exception means: skip it)."""
    if _load_image is not None:
        return _load_image(path)
    data = np.fromfile(str(path), dtype=np.uint8)  # works with non-ASCII paths on Windows
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    rgb = to_rgb(bgr)
    if rgb is None:
        raise ValueError("not an image OpenCV can read")
    return rgb


class ImageFolderSource(FrameSource):
    """The photos directly inside a folder, in name order; unreadable ones are skipped."""

    is_live = False
    fps = None

    def __init__(self, folder: str | Path) -> None:
        super().__init__()
        self.folder = Path(folder)
        try:
            entries = list(self.folder.iterdir())
        except OSError as exc:
            raise SourceError(f"folder {self.folder} cannot be read "
                              f"({exc.strerror or exc}).") from None
        self.paths = sorted(
            (p for p in entries if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
            key=lambda p: (p.name.lower(), p.name),
        )
        name = self.folder.name or str(self.folder)
        count = len(self.paths)
        self.description = f"folder {name}/ ({count} image{'s' if count != 1 else ''})"
        if not self.paths:
            raise SourceError(
                f"folder {self.folder} holds no photos (looked for "
                f"{', '.join(sorted(IMAGE_EXTENSIONS))})."
            )
        self.skipped = 0
        self.skipped_files: list[tuple[Path, str]] = []  # (photo, why)
        self._pos = 0
        self._index = 0

    def read(self) -> Frame | None:
        self._check_open()
        while self._pos < len(self.paths):
            path = self.paths[self._pos]
            self._pos += 1
            try:
                rgb = _read_image(path)
            except Exception as exc:  # noqa: BLE001 - any unreadable photo is skipped
                self.skipped += 1
                self.skipped_files.append((path, str(exc)))
                continue
            frame = Frame(self._index, rgb, float(self._pos - 1), path=path)
            self._index += 1
            return frame
        return None


# --------------------------------------------------------------------------- opening


def open_source(spec: str | int, *, loop: bool = False,
                max_failures: int = DEFAULT_MAX_FAILURES,
                capture_factory: CaptureFactory | None = None) -> FrameSource:
    """Open a camera number, folder of photos, video file or stream address.

    `capture_factory` replaces cv2.VideoCapture for cameras, streams and videos (tests).
    """
    spec = parse_source(spec)
    kind = source_kind(spec)
    if isinstance(spec, int):
        return CameraSource(spec, capture_factory=capture_factory, max_failures=max_failures)
    if kind is SourceKind.EMPTY:
        raise SourceError("No source given: name a camera number, a video, a folder or a "
                          "stream address.")
    path = Path(spec).expanduser()
    if kind is SourceKind.FOLDER:
        return ImageFolderSource(path)
    if kind is SourceKind.FILE:
        return VideoFileSource(path, loop=loop, capture_factory=capture_factory,
                               max_failures=max_failures)
    if kind is SourceKind.STREAM:
        return StreamSource(spec, capture_factory=capture_factory, max_failures=max_failures)
    if kind is SourceKind.OTHER:
        raise SourceError(f"{spec} cannot be opened: it is neither a video file nor a folder.")
    raise SourceError(f"{spec} does not exist. Give a camera number (0, 1...), a video file, a "
                      "folder of photos, or a stream address such as rtsp://...")


# --------------------------------------------------------------------------- retrying


class SourceState(Enum):
    """What a `RetryingSource` is doing, told with each status message (`on_state`), so that a
    front end need not read it from the message's words."""
    CONNECTING = "connecting"      # opening it for the first time
    LIVE = "live"                  # frames flow (connected, or back after a failure)
    UNREADABLE_FRAME = "unreadable frame"  # a frame that is not an image was skipped
    RETRYING = "retrying"          # it failed; re-opened every retry interval
    UNAVAILABLE = "unavailable"    # given up after max_retries (the SourceError is raised)
    ENDED = "ended"                # a finite source was read to its end (no message)


class RetryingSource(FrameSource):
    """A source that re-opens itself after SourceErrors (unplugged camera, dropped stream).

    `read()` keeps trying every `retry_interval` seconds until a frame comes, the source ends
    normally (None), `cancel` is set (None), or `max_retries` re-opens in a row failed (the last
    SourceError is raised). Each change of state is reported through `on_status(message)` and
    `on_state(SourceState, message)`.
    Frames that are not HxWx3 uint8 images (whatever the inner source let through) are skipped
    and counted; `max_garbage` of them in a row count as a failed source, which is re-opened.
    """

    def __init__(self, spec: str | int, *, loop: bool = False, retry_interval: float = 2.0,
                 sleep: Callable[[float], None] | None = None,
                 on_status: Callable[[str], None] | None = None,
                 opener: Callable[[str | int], FrameSource] | None = None,
                 cancel: CancelToken | None = None, max_retries: int | None = None,
                 max_garbage: int = DEFAULT_MAX_FAILURES,
                 on_state: Callable[[SourceState, str], None] | None = None) -> None:
        super().__init__()
        self.spec = parse_source(spec)
        self.max_garbage = max(1, int(max_garbage))
        self._garbage_run = 0
        self.description = describe_source(self.spec)
        self.is_live = is_live_source(self.spec)
        self.retry_interval = retry_interval
        self.cancel = cancel
        self.max_retries = max_retries
        self._sleep = sleep if sleep is not None else self._wait
        self._on_status = on_status
        self._on_state = on_state
        self._opener = opener if opener is not None else (lambda s: open_source(s, loop=loop))
        self._inner: FrameSource | None = None
        self._index = 0
        self._ever_opened = False
        self._last_status: str | None = None
        self.reconnects = 0
        self.status = ""

    @property
    def inner(self) -> FrameSource | None:
        return self._inner

    @property
    def fps(self) -> float | None:  # type: ignore[override]
        return self._inner.fps if self._inner is not None else None

    def _wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while not self._cancelled():
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.1))

    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.cancelled

    def _report(self, message: str, state: SourceState) -> None:
        self.status = message
        if message != self._last_status:
            self._last_status = message
            if self._on_state is not None:
                self._on_state(state, message)
            if self._on_status is not None:
                self._on_status(message)

    def _drop_inner(self) -> None:
        if self._inner is not None:
            self._garbage += self._inner.garbage_frames
            self._inner.close()
            self._inner = None

    def read(self) -> Frame | None:
        self._check_open()
        failures = 0
        while not self._cancelled():
            try:
                if self._inner is None:
                    if not self._ever_opened and failures == 0:
                        self._report(f"connecting to {self.description}...", SourceState.CONNECTING)
                    self._inner = self._opener(self.spec)
                    if self._ever_opened:
                        self.reconnects += 1
                        self._report(f"{self.description} is back", SourceState.LIVE)
                    else:
                        self._report(f"{self.description} connected", SourceState.LIVE)
                    self._ever_opened = True
                frame = self._inner.read()
                if frame is not None and not is_rgb_frame(frame.rgb):
                    self._garbage += 1
                    self._garbage_run += 1
                    if self._garbage_run >= self.max_garbage:
                        self._garbage_run = 0
                        raise SourceError(f"{self.description} delivered only unreadable frames "
                                          f"({self.max_garbage} in a row).")
                    self._report(f"{self.description} delivered an unreadable frame; skipping it.",
                                 SourceState.UNREADABLE_FRAME)
                    continue
            except SourceError as exc:
                self._drop_inner()
                failures += 1
                if self.max_retries is not None and failures > self.max_retries:
                    self._report(f"{self.description} unavailable: {exc}", SourceState.UNAVAILABLE)
                    raise
                # Repeated failures with the same message are one state: reported once.
                self._report(f"{exc} Retrying every {self.retry_interval:g} s.", SourceState.RETRYING)
                self._sleep(self.retry_interval)
                continue
            if frame is None:
                if self._on_state is not None:
                    self._on_state(SourceState.ENDED, "")
                return None
            if self._garbage_run:
                self._garbage_run = 0
                self._report(f"{self.description} is back", SourceState.LIVE)
            frame = replace(frame, index=self._index)
            self._index += 1
            return frame
        return None

    @property
    def garbage_frames(self) -> int:  # type: ignore[override]
        return self._garbage + (self._inner.garbage_frames if self._inner is not None else 0)

    @garbage_frames.setter
    def garbage_frames(self, value: int) -> None:
        self._garbage = value

    def close(self) -> None:
        self._drop_inner()
        super().close()
