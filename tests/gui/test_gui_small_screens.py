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


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_walk_recent_faces_merge_retrain_and_backup_at_laptop_sizes(qtbot, make_window, samples_dir, tiny_lfw,
                                                                    monkeypatch, tmp_path, size):
    """The rest of a newcomer's first session: enrol from Recent faces, merge two people from a
    person's page, start and cancel a Retrain run on a tiny folder, export and import."""
    import shutil

    from gui_helpers import ALEX, click_row, enrol_from_photo, play, show_recent

    from app.gui import main_window

    camera = tmp_path / "camera"  # a folder of photos as the camera: each face seen once
    camera.mkdir()
    shutil.copy(samples_dir / "alex-lacamoire.png", camera / "1.png")
    win = make_window(camera, loop=False, process_all_frames=True, start_source=False)
    monkeypatch.setattr(win, "confirm_quit_training", lambda: True)  # a failure mid-run must not hang at close
    win.resize(*size)
    qtbot.waitUntil(lambda: (win.width(), win.height()) == size, timeout=5_000)
    play(qtbot, win, camera)

    # Recent faces ▸ New person…
    panel = show_recent(qtbot, win)
    check(win, size)
    assert [r.label for r in panel.rows] == ["Unknown"]
    click_row(qtbot, panel, panel.rows[0].key)
    panel.ask_name = lambda: ALEX
    qtbot.mouseClick(panel.new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.people.names() == [ALEX], timeout=30_000)
    check(win, size)

    # a second photo enrolled under another name, then merged from that person's page
    enrol_from_photo(qtbot, win, samples_dir / "alex-lacamoire.png", "Alex L")
    people = win.people
    qtbot.waitUntil(lambda: people.row_by_name("Alex L") is not None, timeout=30_000)
    page = win.open_person(people.row_by_name("Alex L").id)
    qtbot.waitUntil(lambda: page.page is not None, timeout=30_000)
    fits(qtbot, page, size, tmp_path / "person-page.png")
    page.ask_new_name = lambda current: ALEX
    asked = []
    page.confirm_merge = lambda name, into: asked.append((name, into)) or True
    qtbot.mouseClick(page.rename_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: people.names() == [ALEX] and people.row_by_name(ALEX).samples == 2, timeout=30_000)
    assert asked == [("Alex L", ALEX)]
    qtbot.keyClick(page, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not page.isVisible(), timeout=5_000)
    check(win, size)

    # Retrain: start on a tiny folder, then Cancel
    rt = win.settings_pane.retrain
    win.side.setCurrentWidget(win.settings_pane)
    win.settings_pane.setCurrentWidget(win.settings_pane.widget(1))
    rt.add_folder(tiny_lfw.root / "images")
    rt.epochs.setValue(1)
    rt.teacher.setCurrentIndex(rt.teacher.findData(None))
    rt.calibrate.setChecked(False)
    rt.device.setCurrentIndex(0)
    check(win, size)
    progress = []
    qtbot.mouseClick(rt.start_button, Qt.MouseButton.LeftButton)
    rt.worker.progress.connect(lambda d, t, m: progress.append(m))
    qtbot.waitUntil(lambda: bool(progress) or rt.last_outcome != "", timeout=120_000)
    assert rt.last_outcome == "", rt.status.text()
    assert rt.cancel_button.isEnabled() and not rt.start_button.isEnabled()
    check(win, size)
    qtbot.mouseClick(rt.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: rt.last_outcome != "" and not rt.running, timeout=120_000)
    assert rt.last_outcome == "cancelled", rt.status.text()
    check(win, size)
    # the outcome, a long line with the checkpoint's path, is shown whole once laid out
    qtbot.waitUntil(lambda: rt.status.height() >= rt.status.heightForWidth(rt.status.width()), timeout=5_000)
    win.grab().save(str(tmp_path / f"retrain-{size[0]}x{size[1]}.png"))

    # File ▸ Export gallery…, everyone deleted, File ▸ Import gallery… brings them back
    backup = tmp_path / "backup.zip"
    monkeypatch.setattr(main_window.QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(backup), "")))
    monkeypatch.setattr(main_window.QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(backup), "")))
    win.export_gallery_action.trigger()
    qtbot.waitUntil(backup.is_file, timeout=30_000)
    people.select_id(people.row_by_name(ALEX).id)
    monkeypatch.setattr(people, "confirm_delete", lambda name: True)
    win.delete_action.trigger()
    qtbot.waitUntil(lambda: people.names() == [], timeout=30_000)
    monkeypatch.setattr(win, "confirm_merge", lambda names: True)
    messages: list[str] = []
    win.statusBar().messageChanged.connect(lambda m: m and messages.append(m))
    win.import_gallery_action.trigger()
    qtbot.waitUntil(lambda: any(m.startswith("Imported") for m in messages), timeout=60_000)
    qtbot.waitUntil(lambda: people.names() == [ALEX], timeout=30_000)
    # the two photos were of one picture (a recent-faces crop of it and the file): the backup
    # holds both, and the import adds one and says the other was already there
    assert any(m.startswith("Imported 1 person (1 photo; 1 already there)") for m in messages), messages
    check(win, size)
