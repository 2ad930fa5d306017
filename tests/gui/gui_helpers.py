"""Shared steps of the GUI tests: they drive the real widgets, as a user would."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

LIN = "Lin-Manuel Miranda"
ALEX = "Alex Lacamoire"


def enrol_from_photo(qtbot, win, path, name: str) -> None:
    """Enrol through the enrol-from-photo dialog: path, typed name, Enrol button."""
    dlg = win.open_enrol_photo_dialog()
    assert dlg.isVisible()
    dlg.set_path(path)  # what the file chooser would do
    qtbot.waitUntil(lambda: dlg.ready or bool(dlg.error), timeout=60_000)
    assert not dlg.error, dlg.error
    assert not dlg.ok_button.isEnabled()  # no name yet
    dlg.name_edit.clear()
    qtbot.keyClicks(dlg.name_edit, name)
    assert dlg.ok_button.isEnabled()
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=60_000)
    assert dlg.result() == QDialog.DialogCode.Accepted, dlg.info.text()


def largest(labels):
    return max(labels, key=lambda lab: lab.box[2] * lab.box[3])


# Who is where in short_hamilton_clip.mp4 (275 frames, 640x360), annotated by hand from the
# scene cuts (found by frame differencing) and a look at the frames:
#   0-19    wide shot: Lin-Manuel on stage at the right (~40 px face), Alex Lacamoire a ~23 px
#           face at the far left, at the piano;
#   20-81   Alex Lacamoire in profile at the piano, big, the audience behind him (he leaves the
#           frame around 50). Curly hair, beard and light-blue shirt as in his enrolment photo,
#           where Lin-Manuel has short hair, a dark suit and a tie in every other shot; dlib's
#           ResNet puts 29 of these 32 faces nearer Alex's photo than Lin's, our encoder all 32
#           (`python benchmarks/clip_distances.py`). Earlier versions of this test took him for
#           Lin-Manuel;
#   82-210  Lin-Manuel frontal close-up, the only face;
#   211-274 the audience: no Lin-Manuel.
def lin_and_alex(index: int, labels):
    """(Lin's face or None, Alex's face or None) among a frame's labelled faces."""
    if not labels:
        return None, None
    if index <= 19:
        left = min(labels, key=lambda lab: lab.box[0])
        right = max(labels, key=lambda lab: lab.box[0])
        lin = right if right.box[0] > 320 else None
        alex = left if left.box[0] < 160 and left.box[2] < 35 else None
        return lin, alex
    if index <= 81:
        big = largest(labels)
        return None, (big if big.box[2] >= 100 else None)
    if index <= 210:
        return largest(labels), None
    return None, None


def play(qtbot, win, source, timeout: int = 900_000) -> list:
    """Play a finite source to its end (every frame analysed) and return the FrameResults."""
    results = []

    def keep(result) -> None:
        results.append(result)

    win.frame_analysed.connect(keep)
    with qtbot.waitSignal(win.source_ended, timeout=timeout):
        win.set_source(str(source), save=False)
    win.frame_analysed.disconnect(keep)
    return results


def show_recent(qtbot, win):
    """Open the Recent faces tab and wait for the rows it shows now."""
    panel = win.recent_panel
    win.side.setCurrentWidget(panel)
    with qtbot.waitSignal(panel.refreshed, timeout=30_000):
        panel.refresh()
    return panel


def click_row(qtbot, panel, key: str) -> None:
    """Click a row of the Recent faces list, as the user would."""
    from PySide6.QtCore import Qt
    for i in range(panel.list.count()):
        item = panel.list.item(i)
        if item.data(Qt.ItemDataRole.UserRole) == key:
            panel.list.scrollToItem(item)
            rect = panel.list.visualItemRect(item)
            qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
            assert panel.selected_key() == key
            return
    raise AssertionError(f"row {key} is not listed")


def ask_worker(qtbot, worker, fn):
    """fn(library) run by the inference worker behind every job submitted before it (they run
    one after another, their answers come back in order), its answer back on the GUI thread. So
    when this returns, whatever an earlier action submitted has run and been answered, and the
    frame the worker was analysing has been shown: a real point to check that nothing happened."""
    answers, errors = [], []
    worker.submit(lambda library, progress: fn(library), answers.append, errors.append)
    qtbot.waitUntil(lambda: bool(answers or errors), timeout=60_000)
    assert not errors, errors
    return answers[0]


def gallery_people(qtbot, worker) -> list[tuple[str, int]]:
    """(name, photos) of everyone in the gallery, sorted, read by the worker (`ask_worker`)."""
    return sorted(ask_worker(qtbot, worker, lambda library: [(p.name, p.samples) for p in library.people()]))
