"""A newcomer's walk through the real window on common laptop screens (1366×768, 1280×720):
enrol from photo, rename, delete and undo, the Threshold slider and its reset, Help ▸ About and
Keyboard shortcuts. At every step no visible widget runs outside its window or is cut by the
widget that holds it (scrolled content aside: its scroll area is checked instead), dialogs fit
the screen, and Esc closes them. A screenshot of the window at each size is left in tmp_path."""

from __future__ import annotations

import pytest
from gui_helpers import LIN
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QWidget

CLIP = "short_hamilton_clip.mp4"
SIZES = [(1366, 768), (1280, 720)]


def _scrolled(w: QWidget, top: QWidget) -> bool:
    """Inside a scroll area's viewport: it may lie beyond the visible part on purpose."""
    p = w.parentWidget()
    while p is not None and p is not top:
        if isinstance(p.parentWidget(), QAbstractScrollArea) and p is p.parentWidget().viewport():
            return True
        p = p.parentWidget()
    return False


def cut_off(top: QWidget) -> list[str]:
    """Visible widgets of window `top` that run outside it, or outside the widget holding them."""
    frame = QRect(QPoint(0, 0), top.size())
    bad = []
    for w in top.findChildren(QWidget):
        if not w.isVisible() or w.isWindow() or w.window() is not top or _scrolled(w, top):
            continue
        rect = QRect(w.mapTo(top, QPoint(0, 0)), w.size())
        parent = w.parentWidget()
        held = parent is None or QRect(QPoint(0, 0), parent.size()).contains(w.geometry())
        if not frame.contains(rect) or not held:
            name = w.objectName() or getattr(w, "text", lambda: "")() or ""
            bad.append(f"{type(w).__name__} {name!r} at {rect.getRect()} in {type(parent).__name__}")
    return bad


def fits(qtbot, dialog, size, shot) -> None:
    qtbot.waitUntil(dialog.isVisible, timeout=10_000)
    assert dialog.width() <= size[0] and dialog.height() <= size[1]
    assert cut_off(dialog) == [] and sideways(dialog) == []
    dialog.grab().save(str(shot))


def sideways(top: QWidget) -> list[str]:
    """Visible scroll areas that need sideways scrolling (a pane wider than its room)."""
    return [f"{type(a).__name__} {a.objectName()!r}" for a in top.findChildren(QAbstractScrollArea)
            if a.isVisible() and a.horizontalScrollBar().isVisible()]


def check(win, size) -> None:
    assert (win.width(), win.height()) == size  # the window was not forced bigger than the screen
    assert cut_off(win) == [], f"cut off at {size}"
    assert sideways(win) == [], f"sideways scrolling at {size}"


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_walk_through_the_window_at_laptop_sizes(qtbot, make_window, samples_dir, monkeypatch, tmp_path, size):
    win = make_window(samples_dir / CLIP)
    win.resize(*size)
    qtbot.waitUntil(lambda: win.people.loaded and win.view.last_result is not None, timeout=60_000)
    qtbot.waitUntil(lambda: (win.width(), win.height()) == size, timeout=5_000)
    check(win, size)
    for tab in (win.recent_panel, win.settings_pane, win.people):
        win.side.setCurrentWidget(tab)
        qtbot.waitUntil(tab.isVisible, timeout=5_000)
        check(win, size)
    for i in range(win.settings_pane.count()):  # Threshold, Retrain, Camera & devices
        win.side.setCurrentWidget(win.settings_pane)
        win.settings_pane.setCurrentIndex(i)
        check(win, size)
    win.side.setCurrentWidget(win.people)

    # enrol from photo (Ctrl+O's dialog), checked while it is open, then Esc on a second one
    dlg = win.open_enrol_photo_dialog(samples_dir / "lin-manuel-miranda.png")
    qtbot.waitUntil(lambda: dlg.ready or bool(dlg.error), timeout=60_000)
    assert not dlg.error, dlg.error
    fits(qtbot, dlg, size, tmp_path / "enrol-dialog.png")
    dlg.name_edit.clear()
    qtbot.keyClicks(dlg.name_edit, LIN)
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.people.names() == [LIN], timeout=60_000)
    other = win.open_enrol_photo_dialog()
    qtbot.waitUntil(other.isVisible, timeout=5_000)
    qtbot.keyClick(other, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not other.isVisible(), timeout=5_000)
    check(win, size)

    # rename (F2), then delete and undo from the status bar
    panel = win.people
    panel.select_id(panel.row_by_name(LIN).id)
    monkeypatch.setattr(panel, "ask_new_name", lambda current: "Lin-Manuel Miranda (Hamilton, 2016 White House)")
    win.rename_action.trigger()
    long_name = "Lin-Manuel Miranda (Hamilton, 2016 White House)"
    qtbot.waitUntil(lambda: panel.names() == [long_name], timeout=30_000)
    check(win, size)
    panel.select_id(panel.row_by_name(long_name).id)
    monkeypatch.setattr(panel, "confirm_delete", lambda name: True)
    win.delete_action.trigger()
    qtbot.waitUntil(lambda: panel.names() == [] and win.undo_button.isVisible(), timeout=30_000)
    check(win, size)  # the long Undo button in the status bar too
    qtbot.mouseClick(win.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.names() == [long_name], timeout=30_000)
    check(win, size)

    # Threshold: move the slider, then Reset to automatic
    th = win.settings_pane.threshold
    win.side.setCurrentWidget(win.settings_pane)
    win.settings_pane.setCurrentIndex(0)
    qtbot.waitUntil(th.isEnabled, timeout=30_000)
    automatic = th.tau
    th.slider.setFocus()
    for _ in range(3):
        qtbot.keyClick(th.slider, Qt.Key.Key_PageUp)
    assert not th.automatic and th.tau > automatic and win.settings.tau == th.tau
    check(win, size)
    qtbot.mouseClick(th.reset_button, Qt.MouseButton.LeftButton)
    assert th.automatic and th.tau == automatic and win.settings.tau is None
    check(win, size)
    win.grab().save(str(tmp_path / f"window-{size[0]}x{size[1]}.png"))

    # Help: About and Keyboard shortcuts fit, and Esc closes them
    for action, attr in ((win.about_action, "about_dialog"), (win.shortcuts_action, "shortcuts_dialog")):
        action.trigger()
        box = getattr(win, attr)
        fits(qtbot, box, size, tmp_path / f"{attr}.png")
        qtbot.keyClick(box, Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda b=box: not b.isVisible(), timeout=5_000)
