"""GUI tests run the real MainWindow offscreen (no display needed)."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt is imported anywhere

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from app import paths  # noqa: E402


@pytest.fixture
def weights() -> Path:
    """The shipped encoder (models/encoder.pt); $ONESHOT_TEST_WEIGHTS only while it is missing."""
    shipped = paths.shipped_models_dir() / "encoder.pt"
    if shipped.is_file():
        return shipped
    env = os.environ.get("ONESHOT_TEST_WEIGHTS")
    if env and Path(env).is_file():
        return Path(env)
    if os.environ.get("CI"):
        pytest.fail("models/encoder.pt is missing on CI")
    pytest.skip("models/encoder.pt is not there yet (set ONESHOT_TEST_WEIGHTS to test another model)")


@pytest.fixture
def make_window(qtbot, yunet_path, weights):
    """Factory for real MainWindows on a given source; every window is closed (threads joined)."""
    from app.gui.main_window import MainWindow

    windows = []

    def make(source, **kw):
        kw.setdefault("weights", weights)
        kw.setdefault("detector", "yunet")
        kw.setdefault("detector_model", yunet_path)
        kw.setdefault("device", "cpu")
        win = MainWindow(source=str(source), **kw)
        qtbot.addWidget(win)
        win.show()
        qtbot.waitUntil(lambda: bool(win.info or win.engine_error), timeout=60_000)
        assert not win.engine_error, win.engine_error
        windows.append(win)
        return win

    yield make
    for win in windows:
        win.close()
        assert win.all_threads_stopped()
