"""The Qt binding itself: it must keep Python's reference counts.

PySide6 6.12.0 took one reference to None from every Qt method returning nothing (`setText`,
`setEnabled`, `update`…) and one to True from every signal emitted. Python 3.11's None and True
are ordinary objects, so a live view, which makes thousands of such calls a second, brought
None's count to zero within minutes and the process aborted ("Fatal Python error: none_dealloc",
also seen at the end of a GUI test run). This pins the binding's behaviour, not ours: it fails on
such a release whatever the app does."""

from __future__ import annotations

import gc
import sys

import pytest

CALLS = 2000


@pytest.fixture
def counts():
    def now() -> tuple[int, int, int]:
        gc.collect()
        return sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    return now


def test_qt_calls_returning_nothing_leave_nones_count_as_it_was(qtbot, counts):
    from PySide6.QtWidgets import QLabel, QPushButton

    label, button = QLabel(), QPushButton()
    qtbot.addWidget(label)
    qtbot.addWidget(button)
    label.setText("warm-up")
    before = counts()
    for i in range(CALLS):
        label.setText("a" if i % 2 else "b")
        button.setEnabled(bool(i % 2))
        label.update()
    after = counts()
    assert abs(after[0] - before[0]) < CALLS // 10, (before, after)  # one per call is a stolen None
    assert abs(after[1] - before[1]) < CALLS // 10 and abs(after[2] - before[2]) < CALLS // 10, (before, after)


def test_emitting_a_signal_leaves_trues_count_as_it_was(qtbot, counts):
    from PySide6.QtCore import QObject, Signal

    class Source(QObject):
        changed = Signal(object)

    got = [0]

    def seen(_value: object) -> None:
        got[0] += 1

    src = Source()
    src.changed.connect(seen)
    src.changed.emit(None)
    before = counts()
    for i in range(CALLS):
        src.changed.emit(i if i % 2 else None)
    after = counts()
    assert got[0] == CALLS + 1
    assert abs(after[1] - before[1]) < CALLS // 10, (before, after)  # one per emit is a stolen True
    assert abs(after[0] - before[0]) < CALLS // 10, (before, after)
