"""A newcomer's walk through the real window at two small laptop screens (1366x768, 1280x720):
enrol from a photo and from Recent faces, rename, merge, delete and undo, the threshold slider and
its reset, a retraining started and cancelled on a tiny folder, export and import, Help and About.
At each stop nothing the user needs is cut off or outside the window, and Esc closes dialogs.
One window per size does the whole walk (the model loads once)."""

from __future__ import annotations

import os
import shutil

import pytest
from gui_helpers import ALEX, LIN, click_row, enrol_from_photo, play, show_recent
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QAbstractButton, QAbstractScrollArea, QAbstractSpinBox, QComboBox, QWidget


def in_scroll_area(w: QWidget, top: QWidget) -> bool:
    """Inside a scroll area a control may be scrolled out of sight: the user can scroll to it."""
    p = w.parentWidget()
    while p is not None and p is not top:
        if isinstance(p, QAbstractScrollArea):
            return True
        p = p.parentWidget()
    return False


def cut_off(win, root: QWidget | None = None) -> list[str]:
    """Visible controls of `root` that are squashed below what they need or lie outside the window."""
    root = root or win
    frame = QRect(QPoint(0, 0), win.size())
    bad = []
    for w in root.findChildren(QWidget):
        if not isinstance(w, (QAbstractButton, QAbstractSpinBox, QComboBox)) or not w.isVisible():
            continue
        if w.window() is not win:
            continue
        name = getattr(w, "text", lambda: "")() or type(w).__name__
        need = w.sizeHint() if isinstance(w, QAbstractButton) else w.minimumSizeHint()
        if w.height() < need.height() or (isinstance(w, QAbstractButton) and w.width() < need.width()):
            bad.append(f"{name}: {w.width()}x{w.height()} < {need.width()}x{need.height()}")
        top_left = w.mapTo(win, QPoint(0, 0))
        if not frame.contains(QRect(top_left, w.size())) and not in_scroll_area(w, win):
            bad.append(f"{name}: outside the window at {top_left.x()},{top_left.y()}")
    # a list or pane wider than its room: the user must scroll sideways to read it
    for a in root.findChildren(QAbstractScrollArea):
        if a.isVisible() and a.window() is win and a.horizontalScrollBar().isVisible():
            bad.append(f"{type(a).__name__}: scrolls sideways")
    return bad


def fits(qtbot, top: QWidget) -> bool:
    """Nothing cut off once the layout has settled: a tab shown for the first time lays its scroll
    area out in two passes (for one frame its controls are squashed), so this waits a moment."""
    try:
        qtbot.waitUntil(lambda: cut_off(top) == [], timeout=5_000)
    except Exception:  # noqa: BLE001 - say what is cut off
        assert cut_off(top) == []
    return True


def shot(win, widget, size, name) -> None:
    folder = os.environ.get("ONESHOT_SHOTS")
    if folder:
        widget.grab().save(os.path.join(folder, f"walk_{size[0]}x{size[1]}_{name}.png"))


@pytest.mark.parametrize("size", [(1366, 768), (1280, 720)], ids=["1366x768", "1280x720"])
def test_a_newcomers_walk_through_the_window(qtbot, make_window, samples_dir, tmp_path, monkeypatch, size):
    from app.gui import main_window

    camera = tmp_path / "camera"  # a photo folder as the camera: one frame per photo, then the end
    camera.mkdir()
    for name, photo in (("1.png", "alex-lacamoire.png"), ("2.png", "alex-lacamoire.png"),
                        ("3.png", "lin-manuel-miranda.png"), ("4.png", "lin-manuel-miranda.png")):
        shutil.copy(samples_dir / photo, camera / name)
    win = make_window(camera, loop=False, process_all_frames=True, start_source=False)
    win.resize(*size)
    qtbot.waitUntil(lambda: win.people.loaded, timeout=30_000)
    assert win.width() <= size[0] and win.height() <= size[1]
    fits(qtbot, win)
    shot(win, win, size, "first_run")

    # enrol from photo: once the photo is read the name field has the focus; Esc cancels
    dlg = win.open_enrol_photo_dialog()
    dlg.set_path(samples_dir / "alex-lacamoire.png")
    qtbot.waitUntil(lambda: dlg.ready, timeout=60_000)
    assert dlg.name_edit.hasFocus()
    assert dlg.width() <= size[0] and dlg.height() <= size[1] and fits(qtbot, dlg)
    shot(win, dlg, size, "enrol_photo")
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=10_000)
    enrol_from_photo(qtbot, win, samples_dir / "lin-manuel-miranda.png", LIN)
    qtbot.waitUntil(lambda: win.people.names() == [LIN], timeout=30_000)

    # enrol from Recent faces: the camera sees Alex; New person… on his row
    play(qtbot, win, camera)
    panel = show_recent(qtbot, win)
    fits(qtbot, win)
    shot(win, win, size, "recent_faces")
    alex_row, lin_row = sorted(panel.rows, key=lambda r: r.members[0].first_frame)
    assert (alex_row.label, lin_row.label) == ("Unknown", LIN), [r.label for r in panel.rows]
    click_row(qtbot, panel, alex_row.key)
    panel.ask_name = lambda: ALEX
    qtbot.mouseClick(panel.new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sorted(win.people.names()) == [ALEX, LIN], timeout=30_000)

    # a second Lin from his recent face, merged into the first from the person page
    click_row(qtbot, panel, lin_row.key)
    panel.ask_name = lambda: "Lin"
    qtbot.mouseClick(panel.new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sorted(win.people.names()) == [ALEX, "Lin", LIN], timeout=30_000)
    people = win.people
    win.side.setCurrentWidget(people)
    page = win.open_person(people.row_by_name("Lin").id)
    qtbot.waitUntil(lambda: page.page is not None, timeout=30_000)
    assert page.width() <= size[0] and page.height() <= size[1] and fits(qtbot, page)
    shot(win, page, size, "person_page")
    page.ask_new_name = lambda current: LIN
    page.confirm_merge = lambda name, into: True
    qtbot.mouseClick(page.rename_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sorted(people.names()) == [ALEX, LIN], timeout=30_000)
    qtbot.waitUntil(lambda: people.row_by_name(LIN).samples == 2, timeout=30_000)
    if page.isVisible():
        qtbot.keyClick(page, Qt.Key.Key_Escape)  # Esc closes the page
        qtbot.waitUntil(lambda: not page.isVisible(), timeout=10_000)

    # rename from the People panel
    people.select_id(people.row_by_name(LIN).id)
    monkeypatch.setattr(people, "ask_new_name", lambda current: "Lin-Manuel")
    qtbot.mouseClick(people.rename_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sorted(people.names()) == [ALEX, "Lin-Manuel"], timeout=30_000)

    # delete, then Undo in the status bar
    people.select_id(people.row_by_name(ALEX).id)
    monkeypatch.setattr(people, "confirm_delete", lambda name: True)
    qtbot.mouseClick(people.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: people.names() == ["Lin-Manuel"] and win.undo_button.isVisible(), timeout=30_000)
    fits(qtbot, win)  # the Undo button in the status bar fits too
    shot(win, win, size, "undo")
    qtbot.mouseClick(win.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sorted(people.names()) == [ALEX, "Lin-Manuel"], timeout=30_000)

    # Threshold: the slider moved by keyboard, then Reset to automatic
    pane = win.settings_pane
    th = pane.threshold
    win.side.setCurrentWidget(pane)
    pane.setCurrentIndex(0)
    qtbot.waitUntil(lambda: th.slider.isVisible(), timeout=10_000)
    fits(qtbot, win)
    shot(win, win, size, "threshold")
    before = th.slider.value()
    th.slider.setFocus()
    with qtbot.waitSignal(th.tau_changed, timeout=10_000):
        qtbot.keyClick(th.slider, Qt.Key.Key_Left)
    assert th.slider.value() == before - 1 and not th.automatic
    assert th.reset_button.isEnabled()
    qtbot.mouseClick(th.reset_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: th.automatic, timeout=10_000)

    # Retrain: a tiny folder, started and cancelled
    tiny = tmp_path / "tiny"
    for person, photo in (("a", "lin-manuel-miranda.png"), ("b", "alex-lacamoire.png")):
        (tiny / person).mkdir(parents=True)
        for i in range(2):
            shutil.copy(samples_dir / photo, tiny / person / f"{i}.png")
    rt = pane.retrain
    pane.setCurrentIndex(1)
    qtbot.waitUntil(lambda: rt.start_button.isVisible(), timeout=10_000)
    fits(qtbot, win)
    shot(win, win, size, "retrain")
    rt.add_folder(tiny)
    rt.epochs.setValue(1)
    rt.teacher.setCurrentIndex(rt.teacher.findData(None))
    rt.device.setCurrentIndex(0)
    qtbot.mouseClick(rt.start_button, Qt.MouseButton.LeftButton)
    assert rt.cancel_button.isEnabled() and not rt.start_button.isEnabled()
    qtbot.mouseClick(rt.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: rt.last_outcome != "" and not rt.running, timeout=120_000)
    assert rt.last_outcome == "cancelled", rt.status.text()
    assert rt.start_button.isEnabled()

    pane.setCurrentIndex(2)
    qtbot.waitUntil(lambda: pane.source.apply_source.isVisible(), timeout=10_000)
    fits(qtbot, win)

    # export, then import the same file (everyone is already here: the merge question says No)
    backup = tmp_path / "backup.zip"
    monkeypatch.setattr(main_window.QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(backup), "")))
    monkeypatch.setattr(main_window.QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(backup), "")))
    messages = []
    win.statusBar().messageChanged.connect(lambda m: m and messages.append(m))
    win.export_gallery_action.trigger()
    qtbot.waitUntil(lambda: any(m.startswith("Exported 2 people") for m in messages), timeout=30_000)
    asked = []
    monkeypatch.setattr(win, "confirm_merge", lambda names: asked.append(sorted(names)) or False)
    win.import_gallery_action.trigger()
    qtbot.waitUntil(lambda: "Import cancelled; nothing was changed." in messages, timeout=30_000)
    assert asked == [[ALEX, "Lin-Manuel"]]

    # Help: shortcuts and About, each closed with Esc
    for action, attr in ((win.shortcuts_action, "shortcuts_dialog"), (win.about_action, "about_dialog")):
        action.trigger()
        dlg = getattr(win, attr)
        qtbot.waitUntil(dlg.isVisible, timeout=10_000)
        assert dlg.width() <= size[0] and dlg.height() <= size[1] and fits(qtbot, dlg)
        shot(win, dlg, size, attr)
        qtbot.keyClick(dlg, Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda d=dlg: not d.isVisible(), timeout=10_000)


def test_cut_off_finds_a_squashed_button_and_one_outside_the_window(qtbot):
    from PySide6.QtWidgets import QPushButton

    top = QWidget()
    qtbot.addWidget(top)
    top.resize(300, 200)
    fine = QPushButton("Fine", top)
    fine.resize(fine.sizeHint())
    squashed = QPushButton("A long button text", top)
    squashed.setGeometry(0, 60, 30, squashed.sizeHint().height())
    outside = QPushButton("Out", top)
    outside.setGeometry(280, 120, outside.sizeHint().width(), outside.sizeHint().height())
    from PySide6.QtWidgets import QListWidget
    wide = QListWidget(top)
    wide.setGeometry(0, 100, 120, 60)
    wide.addItem("a text far wider than the hundred and twenty pixels of this list")
    top.show()
    qtbot.waitExposed(top)
    found = cut_off(top)
    assert "QListWidget: scrolls sideways" in found
    assert any(f.startswith("A long button text: 30x") for f in found)
    assert any(f.startswith("Out: outside the window") for f in found)
    assert not any(f.startswith("Fine") for f in found)
