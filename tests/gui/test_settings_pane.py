"""The Retrain folder list on a narrow side panel: a long dataset path is shortened in the
middle and shown whole in its tooltip, so the list never scrolls sideways (the walk at 1280×720
found it doing so with a long temporary path)."""

from __future__ import annotations


def test_a_long_dataset_path_does_not_make_the_list_scroll_sideways(qtbot, tmp_path):
    from app.gui.settings_pane import RetrainSection

    rt = RetrainSection()
    qtbot.addWidget(rt)
    rt.resize(360, 700)
    rt.show()
    long_path = str(tmp_path / ("a-long-folder-name-" * 6) / "images")
    rt.add_folder(long_path)
    rt.set_inputs([long_path, str(tmp_path / "other")], None)  # remembered from last time, too
    qtbot.waitUntil(rt.folders.isVisible, timeout=5_000)
    assert rt.folders.fontMetrics().horizontalAdvance(long_path) > rt.folders.viewport().width()  # it does not fit
    assert not rt.folders.horizontalScrollBar().isVisible()
    assert rt.folder_list() == [long_path, str(tmp_path / "other")]  # the paths themselves are kept whole
    assert [rt.folders.item(i).toolTip() for i in range(2)] == rt.folder_list()
