"""The live view's name labels: a label as wide as its text shows all of it, at every font size
the view uses (Qt lays text out with fractional advances, so a width rounded down cut "Unknown"
to "Unkno…" and "Alex Lacamoire" to "Alex Lacamoi…")."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QFont, QFontMetricsF
from PySide6.QtWidgets import QApplication

from app.gui.live_view import fitted_text, label_width

TEXTS = ("Unknown", "Alex Lacamoire", "Lin-Manuel Miranda", "Unknown — nearest: Alex Lacamoire, 1.38")


@pytest.mark.parametrize("points", [8.0, 9.0, 10.0, 11.0, 12.0, 12.5, 13.0, 14.0])
def test_a_label_as_wide_as_its_text_shows_it_whole(qtbot, points):
    font = QFont(QApplication.font())
    font.setPointSizeF(points)
    font.setBold(True)
    fm = QFontMetricsF(font)
    for text in TEXTS:
        assert fitted_text(fm, text, label_width(fm, text)) == text


def test_a_narrower_label_is_cut_with_an_ellipsis(qtbot):
    font = QFont(QApplication.font())
    font.setBold(True)
    fm = QFontMetricsF(font)
    text = "Lin-Manuel Miranda"
    shown = fitted_text(fm, text, label_width(fm, text) / 2)
    assert shown.endswith("…") and len(shown) < len(text) and text.startswith(shown[:-1])


def test_a_box_past_the_picture_stops_at_its_edge(qtbot):
    """A face cut by the frame's edge: its box is drawn on the picture only, not on the dark
    bars around it (a box hanging below the video looked like a bug)."""
    import numpy as np

    from app.gui.live_view import KNOWN_COLOUR, ImageWithBoxes

    view = ImageWithBoxes()
    qtbot.addWidget(view)
    view.resize(400, 400)                             # a 200x100 picture: shown 400x200, bars of 100 above and below
    view.set_image(np.full((100, 200, 3), 128, np.uint8))
    view.set_boxes([((50, 60, 40, 80), "", KNOWN_COLOUR)])  # runs 40 px below the picture
    img = view.grab().toImage()
    colour = (KNOWN_COLOUR.red(), KNOWN_COLOUR.green(), KNOWN_COLOUR.blue())
    left_edge = [img.pixelColor(100, y).getRgb()[:3] for y in range(0, 400)]  # the box's left side, x 50 → 100
    drawn = [y for y, c in enumerate(left_edge) if c == colour]
    assert drawn and min(drawn) >= 120 and max(drawn) < 300  # from the box's top to the picture's bottom
