"""The smaller things a user meets: counts in the right number, People commands only with someone
selected, Help ▸ About and Keyboard shortcuts, file dialogs that open in Pictures (then where
they were last), the Retrain folders and epochs kept across restarts, the model's readable name."""

from __future__ import annotations

import html
import json
import time
from pathlib import Path

from gui_helpers import LIN, enrol_from_photo
from PySide6.QtCore import Qt

from app.store import settings as settings_mod

CLIP = "short_hamilton_clip.mp4"


def _expected_model_label(version: str) -> str:
    """What the card's version ("<stem>-<unix time>") reads as for the shipped model."""
    lt = time.localtime(int(version.rsplit("-", 1)[1]))
    return f"Shipped model ({lt.tm_mday} {time.strftime('%b %Y', lt)})"


def test_counts_and_people_commands_need_a_selection(qtbot, make_window, samples_dir, monkeypatch):
    win = make_window(samples_dir / CLIP, start_source=False)
    panel = win.people
    qtbot.waitUntil(lambda: panel.loaded, timeout=30_000)
    assert not win.rename_action.isEnabled() and not win.delete_action.isEnabled()
    enrol_from_photo(qtbot, win, samples_dir / "lin-manuel-miranda.png", LIN)
    qtbot.waitUntil(lambda: panel.names() == [LIN], timeout=30_000)
    assert panel.count_label.text() == "1 person enrolled."
    assert panel.list.item(0).text() == f"{LIN}\n1 photo"

    asked = []
    monkeypatch.setattr(panel, "ask_new_name", lambda current: asked.append(("rename", current)) and None)
    monkeypatch.setattr(panel, "confirm_delete", lambda name: asked.append(("delete", name)) and False)
    panel.list.clearSelection()
    buttons = (panel.rename_button, panel.delete_button, panel.add_button)
    assert not any(b.isEnabled() for b in buttons)
    assert not any(a.isEnabled() for a in (win.rename_action, win.delete_action, win.add_photo_action))
    win.activateWindow()
    qtbot.waitUntil(lambda: win.isActiveWindow(), timeout=5_000)
    qtbot.keyClick(win.view, Qt.Key.Key_F2)
    qtbot.keyClick(win.view, Qt.Key.Key_Delete)
    assert asked == []

    panel.select_id(panel.row_by_name(LIN).id)
    assert all(b.isEnabled() for b in buttons)
    assert all(a.isEnabled() for a in (win.rename_action, win.delete_action, win.add_photo_action))
    qtbot.keyClick(win.view, Qt.Key.Key_F2)
    assert asked == [("rename", LIN)]


def test_help_about_and_keyboard_shortcuts(qtbot, make_window, samples_dir, weights):
    from importlib.metadata import version

    win = make_window(samples_dir / CLIP, start_source=False)
    card = json.loads(weights.with_suffix(".json").read_text(encoding="utf-8"))
    readable = _expected_model_label(card["version"])
    assert win.encoder_label.text() == f"model: {readable}"  # not the raw "encoder-17…" version

    help_menu = next(a.menu() for a in win.menuBar().actions() if a.text() == "&Help")
    about = next(a for a in help_menu.actions() if "About" in a.text())
    about.trigger()
    dlg = win.about_dialog
    qtbot.waitUntil(lambda: dlg.isVisible(), timeout=5_000)
    text = dlg.label.text()
    assert "OneShot Face" in text and version("oneshot-face") in text
    assert html.escape(readable) in text
    licences = [t["licence"] for t in card.get("training", {}).get("teachers", []) if t.get("licence")]
    for licence in licences:
        assert html.escape(licence) in text
    terms = card.get("training", {}).get("data_terms")
    if terms:  # the shipped card: the photos its head and calibration came from, and their terms
        assert html.escape(terms["licence"]) in text and "non-commercial" in terms["licence"]
    assert 'href="file://' in text and "README.md" in text and ">README</a>" in text
    assert dlg.label.height() >= dlg.label.heightForWidth(dlg.label.width())  # nothing cut off
    dlg.close()

    keys = next(a for a in help_menu.actions() if "shortcuts" in a.text().lower())
    keys.trigger()
    dlg = win.shortcuts_dialog
    qtbot.waitUntil(lambda: dlg.isVisible(), timeout=5_000)
    text = dlg.label.text()
    for key, what in (("Ctrl+E", "Enrol from snapshot"), ("Space", "Pause"), ("F2", "Rename"),
                      ("Ctrl+O", "Enrol from photo")):
        assert key in text and what in text, (key, what)


def test_file_dialogs_start_in_pictures_then_where_they_were_and_retrain_inputs_are_kept(
        qtbot, make_window, samples_dir, shared, tmp_path, monkeypatch):
    from app.gui import enrol_dialog, settings_pane

    pictures = tmp_path / "Pictures"
    pictures.mkdir()
    monkeypatch.setattr(settings_mod.platformdirs, "user_pictures_dir", lambda: str(pictures))
    photo = samples_dir / "lin-manuel-miranda.png"
    celeba = shared / "datasets" / "celeba_faces"
    starts, folder_starts = [], []
    monkeypatch.setattr(enrol_dialog.QFileDialog, "getOpenFileName", staticmethod(
        lambda parent, caption, start, *a: starts.append(start) or (str(photo), "")))
    monkeypatch.setattr(settings_pane.QFileDialog, "getExistingDirectory", staticmethod(
        lambda parent, caption, start, *a: folder_starts.append(start) or str(celeba)))

    win = make_window(samples_dir / CLIP, start_source=False)
    for _ in range(2):
        dlg = win.open_enrol_photo_dialog()
        qtbot.mouseClick(dlg.browse_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda d=dlg: d.ready or bool(d.error), timeout=30_000)
        dlg.reject()
    assert starts == [str(pictures), str(samples_dir)]  # Pictures, then the photo's folder

    rt = win.settings_pane.retrain
    qtbot.mouseClick(rt.add_folder_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(rt.add_folder_button, Qt.MouseButton.LeftButton)  # the same folder: listed once
    assert folder_starts == [str(pictures), str(celeba.parent)]
    assert rt.folder_list() == [str(celeba)]
    rt.epochs.setValue(3)
    win.close()

    again = make_window(samples_dir / CLIP, start_source=False)
    rt = again.settings_pane.retrain
    assert rt.folder_list() == [str(celeba)] and rt.epochs.value() == 3
    dlg = again.open_enrol_photo_dialog()
    qtbot.mouseClick(dlg.browse_button, Qt.MouseButton.LeftButton)
    assert starts[-1] == str(samples_dir)  # remembered across the restart
    qtbot.waitUntil(lambda: dlg.ready or bool(dlg.error), timeout=30_000)
    dlg.reject()
    rt.folders.item(0).setSelected(True)
    qtbot.mouseClick(rt.remove_folder_button, Qt.MouseButton.LeftButton)
    again.close()
    assert settings_mod.load().retrain_folders == []


def test_settings_keep_folders_and_refuse_wrong_types(tmp_path, monkeypatch):
    path = tmp_path / "settings.json"
    s = settings_mod.Settings(retrain_folders=["/data/a"], retrain_epochs=7, last_folders={"photo": "/p"})
    settings_mod.save(s, path)
    again = settings_mod.load(path)
    assert again.retrain_folders == ["/data/a"] and again.retrain_epochs == 7
    assert again.last_folders == {"photo": "/p"}
    path.write_text(json.dumps({"retrain_folders": "x", "retrain_epochs": True, "last_folders": [1]}))
    bad = settings_mod.load(path)
    assert bad.retrain_folders == [] and bad.retrain_epochs is None and bad.last_folders == {}
    # no Pictures folder: home; a remembered folder that is gone: the default again
    monkeypatch.setattr(settings_mod.platformdirs, "user_pictures_dir", lambda: str(tmp_path / "none"))
    monkeypatch.setenv("HOME", str(tmp_path))
    assert settings_mod.default_folder() == Path(tmp_path)
    s.last_folders["photo"] = str(tmp_path / "gone")
    assert settings_mod.start_folder(s, "photo") == Path(tmp_path)


def test_model_names_and_licences_from_the_card():
    from app.gui.figures import model_label, model_licences, plural

    t = 1796220300  # a card version's time
    lt = time.localtime(t)
    day = f"{lt.tm_mday} {time.strftime('%b %Y', lt)}"
    assert model_label(f"encoder-{t}", shipped=True) == f"Shipped model ({day})"
    assert model_label(f"encoder-user-20261202-140500-{t}") == \
        f"Retrained {day} {time.strftime('%H:%M', lt)}"
    assert model_label("my-model") == "Model my-model"
    training = {"teachers": [{"name": "edgeface", "model": "EdgeFace", "licence": "NC"}],
                "fine_tuned_from": {"teachers": [{"name": "edgeface", "model": "EdgeFace", "licence": "NC"},
                                                 {"name": "x", "licence": "MIT"}]}}
    assert model_licences(training) == [("EdgeFace", "NC"), ("x", "MIT")]
    assert (plural(1, "person", "people"), plural(2, "person", "people"), plural(0, "photo")) == \
        ("1 person", "2 people", "0 photos")
