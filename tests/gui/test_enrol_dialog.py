"""The enrol dialog as a user drives it: Browse then type the name at once, Enter in the Photo
field, files that are not pictures, a face that already matches someone, a name already taken."""

from __future__ import annotations

from gui_helpers import ALEX, LIN, enrol_from_photo, gallery_people
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

CLIP = "short_hamilton_clip.mp4"


def _click_face(qtbot, dlg, index: int) -> None:
    s, ox, oy = dlg.preview._geometry()
    x, y, w, h = dlg.faces[index].box
    qtbot.mouseClick(dlg.preview, Qt.MouseButton.LeftButton,
                     pos=QPoint(int(ox + (x + w / 2) * s), int(oy + (y + h / 2) * s)))


def test_after_browse_the_name_has_the_focus_and_enter_keeps_the_face_picked(qtbot, make_window, samples_dir,
                                                                               tmp_path, monkeypatch):
    from app.gui import enrol_dialog

    chosen = []
    monkeypatch.setattr(enrol_dialog.QFileDialog, "getOpenFileName", staticmethod(
        lambda *a, **k: chosen.append(a) or (str(samples_dir / "two_people.jpg"), "")))
    win = make_window(samples_dir / CLIP, start_source=False)
    dlg = win.open_enrol_photo_dialog()
    dlg.activateWindow()
    qtbot.waitUntil(lambda: dlg.isActiveWindow(), timeout=5_000)
    qtbot.mouseClick(dlg.browse_button, Qt.MouseButton.LeftButton)
    assert len(chosen) == 1
    qtbot.waitUntil(lambda: len(dlg.faces) == 2, timeout=30_000)

    # the photo is there: what the user types goes to the Name field, Space included
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dlg.name_edit, timeout=5_000)
    qtbot.keyClicks(QApplication.focusWidget(), "Ann")
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    qtbot.keyClicks(QApplication.focusWidget(), "Other")
    assert dlg.name_edit.text() == "Ann Other"
    assert len(chosen) == 1, "Space reopened the file chooser"

    # pick the second face, then Enter in the unchanged Photo field: nothing is reloaded
    _click_face(qtbot, dlg, 1)
    qtbot.waitUntil(lambda: dlg.ready, timeout=30_000)
    picked, rgb = dlg.candidate, dlg.rgb
    qtbot.keyClick(dlg.path_edit, Qt.Key.Key_Return)
    assert gallery_people(qtbot, dlg.worker) == []  # whatever the key started has run: nobody enrolled
    assert dlg.isVisible() and dlg.ready  # not reloaded, and not enrolled by the default button
    assert dlg.candidate is picked and dlg.rgb is rgb and dlg.preview.selected == 1
    assert win.people.names() == []

    # a changed path and Enter: loaded; a file that is no picture clears the old one and says so
    notes = tmp_path / "holiday.jpg"
    notes.write_text("these are notes, not a photo")
    dlg.path_edit.setText(str(notes))
    qtbot.keyClick(dlg.path_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(dlg.error), timeout=30_000)
    assert "This file is not a picture (or it is damaged)" in dlg.info.text()
    assert "Pillow" not in dlg.info.text()
    assert dlg.rgb is None and dlg.faces == [] and dlg.candidate is None
    assert dlg.preview._image is None and dlg.preview._boxes == []
    assert not dlg.ok_button.isEnabled() and dlg.isVisible()

    for path, words in ((tmp_path / "missing.jpg", "There is no file"), (tmp_path, "is a folder, not a picture")):
        dlg.path_edit.setText(str(path))
        qtbot.keyClick(dlg.path_edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda w=words: w in dlg.info.text(), timeout=30_000)
        assert dlg.preview._image is None

    # and back to a real photo, enrolled with the face picked
    dlg.path_edit.setText(str(samples_dir / "two_people.jpg"))
    qtbot.keyClick(dlg.path_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(dlg.faces) == 2 and not dlg.busy, timeout=30_000)
    assert not dlg.error and dlg.preview._image is not None
    _click_face(qtbot, dlg, 1)
    qtbot.waitUntil(lambda: dlg.ready, timeout=30_000)
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.people.names() == ["Ann Other"], timeout=30_000)


def test_a_face_that_already_matches_is_added_without_typing_a_name(qtbot, make_window, samples_dir):
    long_name = "Lin-Manuel Miranda the composer and lyricist of Hamilton and In the Heights"
    win = make_window(samples_dir / CLIP, start_source=False)
    enrol_from_photo(qtbot, win, samples_dir / "lin-manuel-miranda.png", long_name)
    qtbot.waitUntil(lambda: win.people.names() == [long_name], timeout=30_000)

    dlg = win.open_enrol_photo_dialog(samples_dir / "lin-manuel-miranda.png")
    qtbot.waitUntil(lambda: dlg.ready, timeout=30_000)
    dlg.resize(dlg.minimumSize())
    qtbot.waitUntil(lambda: dlg.width() == dlg.minimumWidth(), timeout=5_000)
    qtbot.wait(50)
    assert dlg.match_box.isVisible()
    label = dlg.add_existing_label
    assert f"already matches {long_name}" in label.text() and "no name needed" in label.text()
    # the whole sentence shows: wrapped inside the dialog, tall enough for all its lines
    assert label.wordWrap()
    right = label.mapTo(dlg, QPoint(label.width(), 0)).x()
    assert right <= dlg.width(), f"the text runs out of the dialog ({right} > {dlg.width()})"
    assert label.height() >= label.heightForWidth(label.width())
    assert label.heightForWidth(label.width()) > label.fontMetrics().height() * 1.5  # it did wrap

    assert dlg.name_edit.text() == "" and not dlg.ok_button.isEnabled()
    qtbot.mouseClick(label, Qt.MouseButton.LeftButton)  # the text ticks the box too
    assert dlg.add_existing.isChecked()
    assert dlg.ok_button.isEnabled() and dlg.ok_button.text().startswith("&Add to Lin-Manuel")
    assert "…" in dlg.ok_button.text() and dlg.ok_button.sizeHint().width() < dlg.width() * 0.6  # shortened
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=30_000)
    qtbot.waitUntil(lambda: win.people.row_by_name(long_name).samples == 2, timeout=30_000)
    assert win.people.names() == [long_name]


def _question_button(box, text: str):
    return next(b for b in box.buttons() if b.text() == text)


def test_a_name_already_enrolled_is_asked_about(qtbot, make_window, samples_dir):
    win = make_window(samples_dir / CLIP, start_source=False)
    enrol_from_photo(qtbot, win, samples_dir / "lin-manuel-miranda.png", LIN)
    qtbot.waitUntil(lambda: win.people.names() == [LIN], timeout=30_000)

    # Alex's photo under Lin's name (typed in other letters): asked, "Choose another name"
    dlg = win.open_enrol_photo_dialog(samples_dir / "alex-lacamoire.png")
    qtbot.waitUntil(lambda: dlg.ready, timeout=30_000)
    qtbot.keyClicks(dlg.name_edit, LIN.lower())
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.name_question is not None and dlg.name_question.isVisible(), timeout=30_000)
    box = dlg.name_question
    assert box.text() == f"{LIN} is already enrolled. Add this photo to {LIN}, or choose another name?"
    qtbot.mouseClick(_question_button(box, "Choose another name"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.name_question is None, timeout=5_000)
    assert gallery_people(qtbot, dlg.worker) == [(LIN, 1)]  # whatever the answer started has run: nothing added
    assert dlg.isVisible() and dlg.ready
    assert win.people.names() == [LIN] and win.people.row_by_name(LIN).samples == 1
    assert dlg.name_edit.selectedText() == LIN.lower()  # ready to be typed over
    qtbot.keyClicks(dlg.name_edit, ALEX)
    assert dlg.name_edit.text() == ALEX
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sorted(win.people.names()) == [ALEX, LIN], timeout=30_000)
    assert not dlg.isVisible()

    # another photo of Lin under his name, the match box left unticked: asked, "Add to …"
    dlg = win.open_enrol_photo_dialog(samples_dir / "lin-manuel-miranda.png")
    qtbot.waitUntil(lambda: dlg.ready, timeout=30_000)
    qtbot.keyClicks(dlg.name_edit, LIN)
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.name_question is not None and dlg.name_question.isVisible(), timeout=30_000)
    qtbot.mouseClick(_question_button(dlg.name_question, f"Add to {LIN}"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=30_000)
    qtbot.waitUntil(lambda: win.people.row_by_name(LIN).samples == 2, timeout=30_000)
    assert sorted(win.people.names()) == [ALEX, LIN]
