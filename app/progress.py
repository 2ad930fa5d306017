"""Progress reporting and cancellation shared by long work (training, evaluation, bulk enrolment).

The core never talks to a UI: it calls a `ProgressFn` and checks a `CancelToken`; the CLI prints,
the GUI turns them into Qt signals.
"""

from __future__ import annotations

import threading
from typing import Protocol

from app.errors import Cancelled


class ProgressFn(Protocol):
    def __call__(self, done: int, total: int, message: str = "") -> None: ...


def no_progress(done: int, total: int, message: str = "") -> None:
    """Default when nobody listens."""


class CancelToken:
    """Thread-safe flag set by the UI (or Ctrl-C) and polled by the worker between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("Cancelled.")


def console_progress(prefix: str = "") -> ProgressFn:
    """A ProgressFn that redraws one line on stderr."""
    import sys

    def report(done: int, total: int, message: str = "") -> None:
        pct = 100.0 * done / total if total else 0.0
        sys.stderr.write(f"\r{prefix}{done}/{total} ({pct:5.1f}%) {message}"[:200].ljust(80))
        if total and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return report
