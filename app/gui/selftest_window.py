"""The bundle self-test's last step (`app.selftest`): the real main window, built offscreen."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication


def check_main_window(detector: str | None, model_path: Path | None, weights: str | os.PathLike | None,
                      device: str | None, timeout: float, say, person: str) -> None:
    """Wait for the window's engine and for the self-test's `person` in its People list; raise
    `SelfTestFailure` otherwise."""
    from app.errors import SelfTestFailure
    from app.gui.main_window import MainWindow
    from app.service import settings as app_settings
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "oneshot-face"])
    # the self-test's data folder is temporary: a window on Haar must not stop to offer YuNet
    saved = app_settings.load()
    saved.extra["yunet_offered"] = True
    app_settings.save(saved)
    win = MainWindow(start_source=False, detector=detector, detector_model=model_path,
                     weights=weights, device=device)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not win.engine_error:
            if win.info and person in win.people.names():
                break
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            time.sleep(0.01)
        if win.engine_error:
            raise SelfTestFailure(f"the main window's engine failed: {win.engine_error}")
        if not win.info:
            raise SelfTestFailure(f"the main window's engine was not ready after {timeout:.0f} s.")
        if person not in win.people.names():
            raise SelfTestFailure("the main window's People list does not show the enrolled person.")
        if win.grab().isNull():
            raise SelfTestFailure("the main window could not be drawn offscreen.")
        say(f"main window built on Qt platform {QApplication.platformName()!r} (PySide6 {pyside_version}): "
            f"engine {win.info.detector}/{win.info.device}, People list {win.people.names()}; "
            f"status bar: {win.detector_label.text()!r}")
    finally:
        win.close()  # stops and waits for the window's threads, saves its settings (temporary)
        if not win.all_threads_stopped():
            win.shutdown()
        app.processEvents()
