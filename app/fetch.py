"""`oneshot-face fetch-models`: download the YuNet face detector from OpenCV Zoo, safely.

Standard library only. The file is streamed to a temporary file beside its destination, checked
against the expected SHA-256, flushed to disk and only then moved into place, so an interrupted,
truncated or tampered download never leaves a file that looks usable.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from app import paths
from app.atomic import fsync_dir
from app.errors import Cancelled, ModelError
from app.progress import CancelToken, ProgressFn, no_progress

# OpenCV Zoo's own location of the detector (git-LFS file; github.com/.../raw/ redirects to it).
YUNET_URL = (
    "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
    + paths.YUNET_FILENAME
)
CHUNK_SIZE = 64 * 1024
# YuNet is about 230 kB; anything past this is not the detector (a wrong URL, an HTML page...).
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
USER_AGENT = "oneshot-face/0.1 (fetch-models)"


def sha256_file(path: str | os.PathLike) -> str:
    """Lower-case hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _reason(exc: BaseException) -> str:
    """A short readable reason for a network failure."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"the server answered {exc.code} {exc.reason}".rstrip()
    if isinstance(exc, urllib.error.URLError):
        inner = exc.reason
        if isinstance(inner, BaseException):
            return _reason(inner)
        return str(inner)
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return "the connection timed out"
    if isinstance(exc, socket.gaierror):
        return "the server name could not be resolved (are you offline?)"
    if isinstance(exc, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
        return "the connection was closed by the server"
    if isinstance(exc, http.client.IncompleteRead):
        return f"the download was cut short after {len(exc.partial)} bytes"
    if isinstance(exc, http.client.HTTPException):
        return f"the server sent an invalid answer ({type(exc).__name__})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def fetch_yunet(dest_dir: Path | None = None, url: str = YUNET_URL,
                sha256: str = paths.YUNET_SHA256, progress: ProgressFn = no_progress,
                cancel: CancelToken | None = None, timeout: float = 30) -> Path:
    """Download the YuNet detector into `dest_dir` (default: the user's model folder).

    Returns the path of the verified file. A file already there with the right hash is kept
    without downloading. Raises ModelError (network problem, bad hash, unwritable folder) or
    Cancelled; in every failure no partial or temporary file is left behind.
    """
    expected = sha256.strip().lower()
    dest_dir = Path(dest_dir) if dest_dir is not None else paths.user_models_dir()
    dest = dest_dir / paths.YUNET_FILENAME
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"Cannot create the model folder {dest_dir}: "
                         f"{exc.strerror or exc}.") from None

    if dest.is_file():
        try:
            present = sha256_file(dest)
        except OSError:
            present = ""
        if present == expected:
            size = dest.stat().st_size
            progress(size, size, f"{dest.name} is already present and verified")
            return dest

    scheme = urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ModelError(f"Cannot download the face detector from {url}: only http:// and "
                         "https:// addresses are supported.")

    failed = f"Could not download the face detector from {url}"
    try:
        tmp = tempfile.NamedTemporaryFile(dir=dest_dir, prefix=f".{dest.name}.",
                                          suffix=".part", delete=False)
    except OSError as exc:
        raise ModelError(f"Cannot write to the model folder {dest_dir}: "
                         f"{exc.strerror or exc}.") from None
    tmp_path = Path(tmp.name)
    done = False
    try:
        digest = hashlib.sha256()
        received = 0
        head = b""
        try:
            if cancel is not None:
                cancel.raise_if_cancelled()
            request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
            with urllib.request.urlopen(request, timeout=timeout) as response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.strip().isdigit() else 0
                if total > MAX_DOWNLOAD_BYTES:
                    raise ModelError(f"{failed}: the server offers {total:,} bytes, far more "
                                     "than the detector; the address is probably wrong.")
                progress(0, total, f"Downloading {dest.name}")
                while True:
                    if cancel is not None:
                        cancel.raise_if_cancelled()
                    chunk = response.read(CHUNK_SIZE)
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > MAX_DOWNLOAD_BYTES:
                        raise ModelError(f"{failed}: the server sent over "
                                         f"{MAX_DOWNLOAD_BYTES:,} bytes, far more than the "
                                         "detector; the address is probably wrong.")
                    if len(head) < 64:
                        head += chunk[:64]
                    digest.update(chunk)
                    try:
                        tmp.write(chunk)
                    except OSError as exc:
                        raise ModelError(f"Cannot write to the model folder {dest_dir}: "
                                         f"{exc.strerror or exc}.") from None
                    progress(received, max(total, received), f"Downloading {dest.name}")
                if total and received < total:
                    raise ModelError(f"{failed}: the download was cut short "
                                     f"({received:,} of {total:,} bytes). Try again.")
        except (ModelError, Cancelled):
            raise
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            if isinstance(exc, urllib.error.HTTPError):
                advice = (f"The file may have moved; download {dest.name} by hand (OpenCV Zoo, "
                          f"models/face_detection_yunet) into {dest_dir}.")
            else:
                advice = ("Check the internet connection and try again, or download "
                          f"{dest.name} by hand into {dest_dir}.")
                if paths.shipped_yunet().is_file():  # an update, not a need: say nothing is lost
                    advice += " The detector shipped with the app stays in use."
            raise ModelError(f"{failed}: {_reason(exc)}. {advice}") from None

        actual = digest.hexdigest()
        if actual != expected:
            hint = ""
            if head.startswith(b"version https://git-lfs"):
                hint = " The server sent a Git LFS pointer instead of the file."
            elif head.lstrip()[:1] == b"<":
                hint = " The server sent a web page instead of the file."
            raise ModelError(
                f"The face detector downloaded from {url} is not the expected file "
                f"(SHA-256 expected {expected}, got {actual}); it was deleted.{hint}"
            )
        try:
            tmp.flush()
            os.fsync(tmp.fileno())
            tmp.close()
            os.chmod(tmp_path, 0o644)
            os.replace(tmp_path, dest)
        except OSError as exc:
            raise ModelError(f"Cannot save the face detector to {dest}: "
                             f"{exc.strerror or exc}.") from None
        fsync_dir(dest_dir)
        done = True
        progress(received, received, f"{dest.name} downloaded and verified")
        return dest
    finally:
        if not done:
            try:
                tmp.close()
            except OSError:
                pass
            try:
                tmp_path.unlink()
            except FileNotFoundError:
                pass
            except OSError:
                pass


def install_yunet_file(source: str | os.PathLike, dest_dir: Path) -> Path:
    """Copy a YuNet file the user picked into `dest_dir`, after checking it is the published one."""
    import shutil
    source = Path(source)
    try:
        digest = sha256_file(source)
    except OSError as exc:
        raise ModelError(f"Cannot read {source}: {exc.strerror or exc}.") from None
    if digest != paths.YUNET_SHA256:
        raise ModelError(f"{source.name} is not the YuNet detector this app uses ({paths.YUNET_FILENAME}, "
                         f"SHA-256 {paths.YUNET_SHA256[:12]}…).")
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / paths.YUNET_FILENAME
    tmp = dest.with_suffix(".part")
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ModelError(f"Cannot write {dest}: {exc.strerror or exc}.") from None
    return dest
