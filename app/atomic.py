"""Atomic file writes: the old file or the new one, never half of either.

Write to a temporary file beside the target, fsync it, `os.replace` it over the target, then
fsync the folder so the rename itself survives a power cut. Whatever fails in between (a full
disk, a crash, an exception while serialising) leaves the previous file untouched and, short of
SIGKILL, no temporary file behind; the temporary file of a writer that was killed is removed by
the next successful write of the same file. Files holding personal data are created with `mode`
0600.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename in `folder` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path: str | os.PathLike, *, text: bool = False, mode: int = 0o644,
                 encoding: str = "utf-8") -> Iterator[IO]:
    """Yield a file to write `path`'s new content into; it replaces `path` only on success.

    `mode` is given to the temporary file at creation (before any byte is written), so a private
    file is never readable by others, not even for a moment.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:  # a leftover of a killed writer with our pid: start afresh (O_EXCL then sets the mode)
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), mode)
    try:
        with (os.fdopen(fd, "w", encoding=encoding) if text else os.fdopen(fd, "wb")) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)
    _remove_stale_temps(path)


def _remove_stale_temps(path: Path) -> None:
    """Delete `.NAME.PID.tmp` files of `path` whose writer process is gone (killed mid-write);
    a live writer's file is left alone. POSIX only: elsewhere os.kill(pid, 0) is not a probe."""
    if os.name != "posix":
        return
    prefix = f".{path.name}."
    for tmp in path.parent.iterdir():
        pid = tmp.name[len(prefix):-len(".tmp")]
        if not (tmp.name.startswith(prefix) and tmp.name.endswith(".tmp") and pid.isdigit()):
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            try:
                tmp.unlink()
            except OSError:
                pass
        except OSError:  # alive (another user's process) or cannot tell: keep it
            pass
