"""The first-run hint: with nobody enrolled every face is "Unknown", which tells a newcomer
nothing, so the live view says how to enrol instead. The steps are read from the menus, the
tab and the button that do them, so the hint never names a command that is not there."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu


def plain(text: str) -> str:
    """A menu or button text as the user reads it: no "&" mnemonics."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def action_words(menu: str, action: QAction) -> str:
    """'File ▸ Enrol from photo… (Ctrl+O)'."""
    key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    return f"{plain(menu)} ▸ {plain(action.text())}" + (f" ({key})" if key else "")


def menu_title(win, action: QAction) -> str:
    """The title of the menu-bar menu holding `action`."""
    for top in win.menuBar().actions():
        menu = top.menu()
        if isinstance(menu, QMenu) and action in menu.actions():
            return menu.title()
    return ""


def enrol_hint(win) -> str:
    """How to enrol someone, in the words of `win`'s own menus, tab and button."""
    file_menu = menu_title(win, win.enrol_photo_action)
    tab = plain(win.side.tabText(win.side.indexOf(win.recent_panel)))
    new_person = plain(win.recent_panel.new_button.text())
    return ("Nobody is enrolled yet, so every face shows as Unknown.\nTo enrol someone:\n"
            f"• {action_words(file_menu, win.enrol_snapshot_action)}: click a face in this frame\n"
            f"• {action_words(file_menu, win.enrol_photo_action)}: choose a photo of them\n"
            f"• {tab} tab: pick a face seen, then {new_person}")


def install(win) -> None:
    """The live view shows the hint while the People list is empty, and drops it once someone
    is enrolled (it comes back when everyone is deleted)."""
    win.people.listed.connect(lambda rows: win.view.set_hint("" if rows else enrol_hint(win)))
