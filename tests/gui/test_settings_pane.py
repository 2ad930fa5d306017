"""The Threshold and Retrain tabs each open with one plain sentence that says what they are for,
shown at the top of the tab in the real window, whole."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint


@pytest.mark.parametrize("section, title", [("threshold", "Threshold"), ("retrain", "Retrain")])
def test_each_tab_opens_with_one_sentence_saying_what_it_is_for(qtbot, make_window, samples_dir, section, title):
    win = make_window(samples_dir / "short_hamilton_clip.mp4", start_source=False)
    pane = win.settings_pane
    win.side.setCurrentWidget(pane)
    tab = next(i for i in range(pane.count()) if pane.tabText(i).replace("&", "") == title)
    pane.setCurrentIndex(tab)
    widget = getattr(pane, section)
    label = widget.summary
    qtbot.waitUntil(label.isVisible, timeout=10_000)
    text = label.text()
    assert text.endswith(".") and text.count(". ") == 0 and "\n" not in text  # one sentence
    assert widget.layout().itemAt(0).widget() is label  # the first thing in the section
    # at the top of the tab as it opens, all its lines on screen
    viewport = pane.currentWidget().viewport()
    top_left = label.mapTo(viewport, QPoint(0, 0))
    assert 0 <= top_left.y() < 60
    assert top_left.x() + label.width() <= viewport.width()
    assert label.height() >= label.heightForWidth(label.width())
