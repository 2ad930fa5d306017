"""The Threshold and Retrain tabs each open with one plain sentence on what they do for the user."""

from __future__ import annotations

import os

import pytest

from app.gui.settings_pane import ABOUT_RETRAIN, ABOUT_THRESHOLD


@pytest.mark.parametrize("section, sentence", [("threshold", ABOUT_THRESHOLD), ("retrain", ABOUT_RETRAIN)])
def test_the_tab_opens_with_its_sentence(qtbot, make_window, samples_dir, section, sentence):
    win = make_window(samples_dir / "short_hamilton_clip.mp4", start_source=False)
    pane = win.settings_pane
    widget = getattr(pane, section)
    win.side.setCurrentWidget(pane)
    pane.setCurrentIndex(["threshold", "retrain"].index(section))
    qtbot.waitUntil(lambda: widget.about.isVisible(), timeout=10_000)
    assert sentence in widget.about.text()
    assert sentence.count(". ") == 0 and sentence.endswith(".")  # one sentence
    assert "τ" not in sentence and "encoder" not in sentence    # no jargon
    assert widget.layout().itemAt(0).widget() is widget.about    # at the top
    # all of it on screen: the wrapped label is as tall as its text needs
    assert widget.about.height() >= widget.about.heightForWidth(widget.about.width())
    assert widget.about.visibleRegion().boundingRect().height() == widget.about.height()
    if os.environ.get("ONESHOT_SHOTS"):
        win.grab().save(os.path.join(os.environ["ONESHOT_SHOTS"], f"{section}_tab.png"))
