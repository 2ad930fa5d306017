"""First run: with nobody enrolled the live view says how to enrol, in words, over the video; the
words go once someone is enrolled and come back when everyone is deleted."""

from __future__ import annotations

import os

from gui_helpers import LIN, enrol_from_photo
from PySide6.QtCore import Qt

from app.gui.live_view import FIRST_RUN_TEXT


def test_the_live_view_says_how_to_enrol_until_someone_is(qtbot, make_window, samples_dir, monkeypatch):
    win = make_window(samples_dir / "short_hamilton_clip.mp4")
    qtbot.waitUntil(lambda: win.people.loaded, timeout=30_000)
    qtbot.waitUntil(lambda: win.view.last_result is not None, timeout=60_000)  # video under the words
    assert win.view.hint == FIRST_RUN_TEXT
    for words in ("Enrol from snapshot", "Enrol from photo", "Recent faces"):
        assert words in win.view.hint
    shot = win.view.grab()
    if os.environ.get("ONESHOT_SHOTS"):
        shot.save(os.path.join(os.environ["ONESHOT_SHOTS"], "first_run.png"))
    # the band is drawn: the top of the view is the band's blue, not the video
    assert shot.toImage().pixelColor(20, 14).blue() > 90

    enrol_from_photo(qtbot, win, samples_dir / "lin-manuel-miranda.png", LIN)
    qtbot.waitUntil(lambda: win.people.names() == [LIN], timeout=30_000)
    assert win.view.hint == ""

    panel = win.people
    panel.select_id(panel.row_by_name(LIN).id)
    monkeypatch.setattr(panel, "confirm_delete", lambda name: True)
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.names() == [], timeout=30_000)
    assert win.view.hint == FIRST_RUN_TEXT


def test_without_a_source_the_words_show_with_the_message(qtbot, make_window, samples_dir):
    win = make_window(samples_dir / "short_hamilton_clip.mp4", start_source=False)
    qtbot.waitUntil(lambda: win.people.loaded, timeout=30_000)
    assert win.view.message.startswith("No source playing") and win.view.hint == FIRST_RUN_TEXT
    image = win.view.grab().toImage()
    if os.environ.get("ONESHOT_SHOTS"):
        image.save(os.path.join(os.environ["ONESHOT_SHOTS"], "first_run_no_source.png"))
    assert image.pixelColor(20, 14).blue() > 90  # the band, above the message
