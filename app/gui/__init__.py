"""The desktop app (PySide6). Qt is imported only from here, so the CLI and core stay Qt-free.

Hidden switches for documentation and demos (environment variables):
  ONESHOT_SCREENSHOT=path        save a picture of the window there (once a face is named, or
                                 15 s later), then quit
  ONESHOT_SCREENSHOT_DELAY=secs  how long to run before the picture (default 6)
  ONESHOT_SCREENSHOT_TAB=n       show side tab n (0 People, 1 Recent faces, 2 Settings) in the picture
  ONESHOT_WEIGHTS=path           encoder weights instead of the saved or shipped model
"""

from __future__ import annotations

import os
import sys


def run_app(source: str | int | None = None, argv: list[str] | None = None) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setApplicationName("OneShot Face")
    window = MainWindow(source=source)
    window.show()
    tab = os.environ.get("ONESHOT_SCREENSHOT_TAB")  # e.g. "2": the Settings tab
    if tab:
        window.side.setCurrentIndex(int(tab))
    shot = os.environ.get("ONESHOT_SCREENSHOT")
    if shot:
        delay = float(os.environ.get("ONESHOT_SCREENSHOT_DELAY", "6"))

        def grab() -> None:
            screen = window.screen()
            pix = screen.grabWindow(0) if screen is not None else None
            if pix is None or pix.isNull():
                pix = window.grab()
            else:
                g = window.frameGeometry()
                pix = pix.copy(g)
            pix.save(shot)
            window.close()

        deadline: list[float | None] = [None]

        def when_named() -> None:
            # wait (a little) for a frame with a recognised face, so the picture shows a name
            import time
            end = deadline[0]
            if end is None:
                end = deadline[0] = time.monotonic() + 15.0
            res = window.view.last_result
            if (res is not None and any(lab.known for lab in res.labels)) or time.monotonic() > end:
                grab()
            else:
                QTimer.singleShot(100, when_named)

        QTimer.singleShot(int(delay * 1000), when_named)
    return app.exec()
