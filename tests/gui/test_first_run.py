"""First run: with nobody enrolled the live view says how to enrol, in the words of the real
menus, tab and button; the hint goes once someone is enrolled and comes back when everyone is
deleted (and goes again on Undo)."""

from __future__ import annotations

from gui_helpers import LIN, enrol_from_photo
from PySide6.QtCore import QRectF, Qt


def drawn_hint(qtbot, win):
    """The hint's rectangle as the view paints it now (None: no hint drawn)."""
    win.view.grab()  # a real paint
    return win.view.hint_rect


def test_the_live_view_says_how_to_enrol_until_someone_is(qtbot, make_window, samples_dir, monkeypatch):
    win = make_window(samples_dir / "short_hamilton_clip.mp4")
    qtbot.waitUntil(lambda: win.people.loaded and win.view.last_result is not None, timeout=60_000)
    hint = win.view.hint
    # every way in, named as the menus, the tab and the button name themselves
    file_menu = win.menuBar().actions()[0].menu()
    assert file_menu.title().replace("&", "") == "File"
    assert win.enrol_snapshot_action in file_menu.actions() and win.enrol_photo_action in file_menu.actions()
    assert "File ▸ Enrol from snapshot… (Ctrl+E)" in hint
    assert "File ▸ Enrol from photo… (Ctrl+O)" in hint
    assert win.side.tabText(win.side.indexOf(win.recent_panel)).replace("&", "") == "Recent faces"
    assert "Recent faces tab" in hint and win.recent_panel.new_button.text().replace("&", "") in hint
    rect = drawn_hint(qtbot, win)
    assert rect is not None and QRectF(win.view.rect()).contains(QRectF(*rect))  # all of it on screen
    assert win.view.last_result is not None  # over the video, not instead of it

    enrol_from_photo(qtbot, win, samples_dir / "lin-manuel-miranda.png", LIN)
    qtbot.waitUntil(lambda: win.people.names() == [LIN], timeout=30_000)
    assert win.view.hint == "" and drawn_hint(qtbot, win) is None

    panel = win.people
    panel.select_id(panel.row_by_name(LIN).id)
    monkeypatch.setattr(panel, "confirm_delete", lambda name: True)
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.people.names() == [], timeout=30_000)
    assert win.view.hint == hint and drawn_hint(qtbot, win) is not None

    qtbot.waitUntil(win.undo_button.isVisible, timeout=30_000)
    qtbot.mouseClick(win.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.people.names() == [LIN], timeout=30_000)
    assert win.view.hint == "" and drawn_hint(qtbot, win) is None


def test_a_missing_source_message_is_not_covered_by_the_hint(qtbot, make_window, tmp_path):
    win = make_window(tmp_path / "no-such-clip.mp4")
    qtbot.waitUntil(lambda: win.people.loaded and win.view.last_result is None and "no-such-clip" in win.view.message,
                    timeout=60_000)
    assert win.view.hint  # nobody enrolled, but the source's trouble is what is shown
    assert drawn_hint(qtbot, win) is None
