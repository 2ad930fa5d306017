"""Acceptance of a person's page (double-click in the People panel), through its widgets: the
photos with where and when they were added and their quality; move a photo, rename onto an
existing name (offered as a merge), choose the main photo, remove a photo (never the last one);
delete with Undo in the status bar. All of it persists across a new MainWindow, the Undo too
while its ten minutes last."""

from __future__ import annotations

import numpy as np
from gui_helpers import LIN, enrol_from_photo
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

OBAMA, BIDEN = "Barack Obama", "Joe Biden"


def open_page(qtbot, win, name: str):
    """Double-click the person in the People panel; their page opens and loads."""
    panel = win.people
    qtbot.waitUntil(lambda: panel.row_by_name(name) is not None, timeout=30_000)
    pid = panel.row_by_name(name).id
    for i in range(panel.list.count()):
        item = panel.list.item(i)
        if item.data(Qt.ItemDataRole.UserRole) == pid:
            rect = panel.list.visualItemRect(item)
            qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
            qtbot.mouseDClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
            break
    dlg = next(d for d in win._person_dialogs if d.person_id == pid)
    qtbot.waitUntil(lambda: dlg.page is not None and not dlg.busy, timeout=30_000)
    assert dlg.isVisible() and dlg.title.text() == name
    return dlg


def sources(dlg) -> list[str | None]:
    return [p.source for p in dlg.page.photos]


def click_and_wait(qtbot, dlg, button, until) -> None:
    """Click, then wait until the page shows what it should (`until(page)`)."""
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.busy and dlg.page is not None and until(dlg.page), timeout=30_000)


def test_person_page_edits_and_undo_persist(qtbot, make_window, samples_dir):
    clip = samples_dir / "short_hamilton_clip.mp4"
    win = make_window(clip, start_source=False)
    for photo, name in (("obama.jpg", OBAMA), ("obama2.jpg", "Obama"), ("biden.jpg", BIDEN),
                        ("lin-manuel-miranda.png", LIN)):
        enrol_from_photo(qtbot, win, samples_dir / photo, name)
    people = win.people
    qtbot.waitUntil(lambda: len(people.names()) == 4, timeout=30_000)

    # a photo of Obama added to Biden by mistake (People ▸ Add photo)
    people.select_id(people.row_by_name(BIDEN).id)
    qtbot.mouseClick(people.add_button, Qt.MouseButton.LeftButton)
    add = win._dialogs[-1]
    add.set_path(samples_dir / "obama-480p.jpg")
    qtbot.waitUntil(lambda: add.ready, timeout=30_000)
    qtbot.mouseClick(add.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: people.row_by_name(BIDEN).samples == 2, timeout=30_000)

    # Biden's page lists both, with where they came from, when and how good; move the wrong one
    page = open_page(qtbot, win, BIDEN)
    assert sources(page) == ["biden.jpg", "obama-480p.jpg"] and page.photos.count() == 2
    text = page.photos.item(1).text()
    assert "Photo 2" in text and "from obama-480p.jpg" in text and "quality" in text
    assert all(p.created > 0 and p.quality is not None for p in page.page.photos)
    assert "★ main" in page.photos.item(0).text()  # the first photo until another is chosen
    page.select_photo(2)
    page.ask_person = lambda title, label: next((i, n) for i, n in page.page.others if n == OBAMA)
    click_and_wait(qtbot, page, page.move_button, lambda p: len(p.photos) == 1)
    assert sources(page) == ["biden.jpg"]
    qtbot.waitUntil(lambda: people.row_by_name(OBAMA).samples == 2, timeout=30_000)
    # the last photo cannot be moved or removed: it says why
    page.select_photo(1)
    assert not page.move_button.isEnabled()
    qtbot.mouseClick(page.remove_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any(w.isVisible() for w in page.findChildren(QMessageBox)), timeout=30_000)
    box = next(w for w in page.findChildren(QMessageBox) if w.isVisible())
    assert "only photo" in box.text()
    box.close()
    assert sources(page) == ["biden.jpg"]
    page.close()

    # "Obama" renamed onto Barack Obama: the page offers to merge the two
    page = open_page(qtbot, win, "Obama")
    page.ask_new_name = lambda current: OBAMA
    asked = []
    page.confirm_merge = lambda name, into: asked.append((name, into)) or True
    click_and_wait(qtbot, page, page.rename_button, lambda p: p.name == OBAMA and len(p.photos) == 3)
    assert asked == [("Obama", OBAMA)]
    assert sources(page) == ["obama.jpg", "obama2.jpg", "obama-480p.jpg"]
    qtbot.waitUntil(lambda: sorted(people.names()) == sorted([OBAMA, BIDEN, LIN]), timeout=30_000)
    # the main photo: photo 2; then photo 3 removed
    page.select_photo(2)
    click_and_wait(qtbot, page, page.main_button, lambda p: p.photos[1].is_main)
    assert [p.is_main for p in page.page.photos] == [False, True, False]
    assert "★ main" in page.photos.item(1).text() and "★" not in page.photos.item(0).text()
    page.select_photo(3)
    page.confirm_remove = lambda number, name: number == 3
    click_and_wait(qtbot, page, page.remove_button, lambda p: len(p.photos) == 2)
    assert sources(page) == ["obama.jpg", "obama2.jpg"]
    main_crop = page.page.photos[1].crop
    qtbot.waitUntil(lambda: people.row_by_name(OBAMA).samples == 2, timeout=30_000)
    assert np.array_equal(people.row_by_name(OBAMA).thumbnail, main_crop)  # the People panel shows it
    page.close()

    # delete Biden in the People panel, then Undo in the status bar
    people.select_id(people.row_by_name(BIDEN).id)
    people.confirm_delete = lambda name: True
    qtbot.mouseClick(people.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: BIDEN not in people.names(), timeout=30_000)
    qtbot.waitUntil(win.undo_button.isVisible, timeout=10_000)
    assert BIDEN in win.undo_button.text() and win.undo_action.isEnabled()
    qtbot.mouseClick(win.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: BIDEN in people.names(), timeout=30_000)
    assert not win.undo_button.isVisible()
    # delete Lin-Manuel from his page, not undone here
    page = open_page(qtbot, win, LIN)
    page.confirm_delete = lambda name: True
    qtbot.mouseClick(page.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: LIN not in people.names() and not page.isVisible(), timeout=30_000)
    assert LIN in win.undo_button.text()
    win.close()

    again = make_window(clip, start_source=False)
    qtbot.waitUntil(lambda: again.people.loaded, timeout=30_000)
    assert sorted(again.people.names()) == sorted([OBAMA, BIDEN])      # merged, Lin-Manuel deleted
    assert again.people.row_by_name(BIDEN).samples == 1                 # moved away
    page = open_page(qtbot, again, OBAMA)
    assert sources(page) == ["obama.jpg", "obama2.jpg"]                 # merged, moved in, one removed
    assert [p.is_main for p in page.page.photos] == [False, True]
    page.close()
    # the deletion can still be undone from the new window, and that too lasts
    qtbot.waitUntil(again.undo_button.isVisible, timeout=30_000)
    assert LIN in again.undo_button.text()
    qtbot.mouseClick(again.undo_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: LIN in again.people.names(), timeout=30_000)
    again.close()

    third = make_window(clip, start_source=False)
    qtbot.waitUntil(lambda: third.people.loaded, timeout=30_000)
    assert sorted(third.people.names()) == sorted([OBAMA, BIDEN, LIN])
    assert not third.undo_button.isVisible()


def test_person_page_lists_learned_views_and_forgets_them_and_the_menu_switches_learning(
        qtbot, make_window, samples_dir, tmp_path):
    """A view learned from the camera shows as such on the person's page ("learned from the
    camera, 14:02"), "Forget learned views" removes it (her photo stays); People ▸ Learn from the
    camera is on by default, and turning it off is saved and reaches the live loop."""
    from app.live.learning import LEARNED_SOURCE
    from app.store.gallery import Gallery
    rng = np.random.default_rng(3)
    crop = rng.integers(0, 256, (112, 112, 3), dtype=np.uint8)
    e = rng.standard_normal(128).astype(np.float32)
    with Gallery(tmp_path / "g.sqlite3") as g:
        ann = g.enrol("Ann", crop, e / np.linalg.norm(e), "enc-x", source="ann.jpg")
        g.add_sample(ann.id, crop[::-1].copy(), -e / np.linalg.norm(e), "enc-x", source=LEARNED_SOURCE)
    win = make_window(samples_dir / "short_hamilton_clip.mp4", start_source=False,
                      gallery_path=tmp_path / "g.sqlite3")
    assert win.learn_action.isCheckable() and win.learn_action.isChecked()
    page = open_page(qtbot, win, "Ann")
    assert [p.learned for p in page.page.photos] == [False, True]
    assert "learned from the camera, " in page.photos.item(1).text()
    assert "from ann.jpg" in page.photos.item(0).text()
    assert page.forget_learned_button.isVisible() and "1 view learned from the camera" in page.learned_label.text()
    page.confirm_forget_learned = lambda n, name: True
    click_and_wait(qtbot, page, page.forget_learned_button, lambda p: len(p.photos) == 1)
    assert sources(page) == ["ann.jpg"] and not page.forget_learned_button.isVisible()
    win.learn_action.trigger()                                  # off
    assert not win.settings.learn_from_camera
    from app.service import live as live_service
    qtbot.waitUntil(lambda: not live_service.learner_of(win.inference.analyser).enabled, timeout=30_000)
