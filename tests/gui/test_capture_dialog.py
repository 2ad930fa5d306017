"""Enrol with a short capture, as a user drives it in the real window with the sample clip as the
camera: from a snapshot (the face picked is the one followed), from the File menu (the first face
alone in the picture), the prompt and the pose tiles following the capture, a lost face and
Start again, Cancel that enrols nothing, a name already enrolled.

What the clip gives (gui_helpers: 82-210 Lin-Manuel's close-up, the only face; before it and
after it, two to six faces): his close-up shows him facing the camera and turned to his own
right, never to his left, and the audience after it has no Lin-Manuel, so a capture of him is
lost there."""

from __future__ import annotations

from gui_helpers import LIN, ask_worker, enrol_from_photo, gallery_people
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from app.live.guided import LOST, PROMPTS

CLIP = "short_hamilton_clip.mp4"
LOOK, TURN_LEFT = PROMPTS["frontal"], PROMPTS["left"]


def _capture_dialog(win):
    from app.gui.capture_dialog import CaptureDialog
    found = [d for d in win._dialogs if isinstance(d, CaptureDialog)]
    assert len(found) == 1, win._dialogs
    return found[0]


def _record(dlg):
    """What the dialog shows after each capture signal it took (connected after its own slot)."""
    seen = []

    def keep(p) -> None:
        if dlg.running and dlg.progress is p:
            seen.append(dict(progress=p, prompt=dlg.prompt.text(), summary=dlg.summary.text(),
                             tiles={k: t.filled for k, t in dlg.tiles.items()}, enrol=dlg.ok_button.isEnabled(),
                             named=bool(dlg.name_edit.text().strip()),
                             boxes=[text for _, text, _ in dlg.preview._boxes]))

    dlg.worker.capture.connect(keep)
    return seen


def _sources(qtbot, worker, name: str) -> list[str]:
    """The sources of someone's photos, views learned from the camera left out (with learning on,
    the looping clip may add some to an enrolled person: app.live.learning)."""
    return ask_worker(qtbot, worker, lambda library: [
        ph.source for ph in library.person_page(library.find(name).id).photos if not ph.learned])


def _check_follows(seen) -> None:
    """Every state shown is the capture's (prompt, tiles, Enrol once a view is kept and a name
    typed), and a tile once filled stays filled, one more at a time."""
    assert seen
    for s in seen:
        p = s["progress"]
        assert s["prompt"] == p.prompt
        assert s["tiles"] == p.filled
        assert s["enrol"] == (any(p.filled.values()) and s["named"])
    for before, after in zip(seen, seen[1:]):
        was, now = before["tiles"], after["tiles"]
        assert all(now[k] for k in was if was[k]), (was, now)
        assert sum(now.values()) - sum(was.values()) <= 1, (was, now)


def test_a_snapshot_face_captured_from_two_sides_is_enrolled_with_both_views(qtbot, make_window, samples_dir):
    win = make_window(samples_dir / CLIP, loop=True)
    # the close-up (one face): pause, Enrol from snapshot, the name, then "Capture several views…"
    qtbot.waitUntil(lambda: win.last_result is not None and len(win.last_result.faces) == 1
                    and win.last_result.faces[0].box[2] > 70, timeout=60_000)
    win.pause_action.trigger()
    assert win.inference.paused
    snap = win.enrol_from_snapshot()
    track = win.view.last_result.labels[0].track_id
    assert snap.capture_button.isVisible() and snap.capture_button.isEnabled()
    qtbot.keyClicks(snap.name_edit, LIN)
    qtbot.mouseClick(snap.capture_button, Qt.MouseButton.LeftButton)
    assert not snap.isVisible() and snap not in win._dialogs
    dlg = _capture_dialog(win)
    assert dlg.isVisible() and dlg.name_edit.text() == LIN  # the name typed carries over
    assert not win.pause_action.isChecked() and not win.inference.paused  # the video plays again
    seen = _record(dlg)

    qtbot.waitUntil(lambda: dlg.progress is not None and dlg.progress.filled["frontal"], timeout=60_000)
    assert dlg.progress.track_id == track  # the face picked, not the first one seen
    # the live picture in the dialog boxes the followed face (the dialog covers the main view)
    qtbot.waitUntil(lambda: [t for _, t, _ in dlg.preview._boxes] == ["capturing"], timeout=30_000)
    assert dlg.tiles["frontal"].filled and not dlg.tiles["left"].filled
    assert not dlg.tiles["frontal"].picture.pixmap().isNull()  # the kept view is shown
    assert dlg.prompt.text() == TURN_LEFT
    assert dlg.ok_button.isEnabled()
    qtbot.waitUntil(lambda: dlg.progress.filled["right"] or dlg.progress.lost, timeout=60_000)
    assert dlg.progress.filled["right"] and dlg.tiles["right"].filled, dlg.summary.text()
    assert not dlg.progress.done and not dlg.tiles["left"].filled
    if not dlg.progress.lost:
        assert "Still missing: your left" in dlg.summary.text()
    _check_follows(seen)

    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=60_000)
    assert dlg.result() == QDialog.DialogCode.Accepted, dlg.summary.text()
    qtbot.waitUntil(lambda: win.people.names() == [LIN], timeout=30_000)
    assert sorted(_sources(qtbot, win.inference, LIN)) == ["guided capture (frontal)", "guided capture (right)"]
    assert win.statusBar().currentMessage() == \
        f"Enrolled {LIN} from a short capture: 2 views (frontal and turned right)."
    assert ask_worker(qtbot, win.inference, lambda library: library.capture_progress()) is None  # ended


def test_a_lost_face_start_again_cancel_and_a_name_already_enrolled(qtbot, make_window, samples_dir):
    win = make_window(samples_dir / CLIP, loop=True)
    enrol_from_photo(qtbot, win, samples_dir / "lin-manuel-miranda.png", LIN)
    qtbot.waitUntil(lambda: win.people.names() == [LIN], timeout=30_000)
    # the audience (several faces): File ▸ Enrol with a short capture waits for one face alone
    qtbot.waitUntil(lambda: win.last_result is not None and len(win.last_result.faces) >= 4, timeout=60_000)
    win.enrol_capture_action.trigger()
    dlg = _capture_dialog(win)
    qtbot.keyClicks(dlg.name_edit, "Someone Else")
    seen = _record(dlg)

    qtbot.waitUntil(lambda: dlg.progress is not None and dlg.progress.filled["frontal"], timeout=60_000)
    waiting = [s for s in seen if s["progress"].track_id is None]
    assert waiting, "the capture locked on a face at once, with several in the picture"
    assert all(s["prompt"] == LOOK and not s["enrol"] and "alone" in s["summary"]
               and "capturing" not in s["boxes"] for s in waiting)
    crowded = [s for s in waiting if len(s["boxes"]) > 1]
    assert crowded and all(s["summary"].startswith(f"{len(s['boxes'])} faces in the picture") for s in crowded)
    # the close-up ends, the audience follows: Lin-Manuel's track is gone, the capture says so
    qtbot.waitUntil(lambda: dlg.progress.lost, timeout=60_000)
    assert dlg.prompt.text() == LOST
    assert "left the picture" in dlg.summary.text() and "Start again" in dlg.summary.text()
    assert dlg.restart_button.isEnabled()
    assert dlg.ok_button.isEnabled()  # the views kept before are still his
    _check_follows(seen)
    lost_track = dlg.progress.track_id

    # Start again: nothing kept, waiting for one face alone again (the lost track is not asked for)
    qtbot.mouseClick(dlg.restart_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.running and dlg.progress is not None and not dlg.progress.lost, timeout=30_000)
    assert dlg.progress.track_id is None and lost_track is not None  # the audience is still on
    assert not any(t.filled for t in dlg.tiles.values()) and not dlg.ok_button.isEnabled()
    assert dlg.prompt.text() == LOOK and dlg.summary.styleSheet() == ""  # no longer said in red

    # Cancel: the capture stops, nobody is enrolled, nothing is added to anyone
    qtbot.mouseClick(dlg.cancel_button, Qt.MouseButton.LeftButton)
    assert not dlg.isVisible()
    assert ask_worker(qtbot, win.inference, lambda library: library.capture_progress()) is None
    assert [name for name, _ in gallery_people(qtbot, win.inference)] == [LIN]
    assert _sources(qtbot, win.inference, LIN) == ["lin-manuel-miranda.png"]
    assert win.people.names() == [LIN]

    # again, under the name of someone enrolled: asked, and "Add to" adds the views to him
    win.enrol_capture_action.trigger()
    dlg = _capture_dialog(win)
    qtbot.waitUntil(lambda: dlg.progress is not None and dlg.progress.filled["frontal"]
                    and not dlg.progress.lost, timeout=60_000)
    qtbot.keyClicks(dlg.name_edit, LIN.lower())
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.name_question is not None and dlg.name_question.isVisible(), timeout=30_000)
    box = dlg.name_question
    assert box.text() == f"{LIN} is already enrolled. Add these views to {LIN}, or choose another name?"
    add = next(b for b in box.buttons() if b.text() == f"Add to {LIN}")
    qtbot.mouseClick(add, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=60_000)
    assert dlg.result() == QDialog.DialogCode.Accepted, dlg.summary.text()
    # what the dialog showed last is what was enrolled (the capture's frames come back before the job's answer)
    kept = [k for k, filled in dlg.progress.filled.items() if filled]
    sources = _sources(qtbot, win.inference, LIN)
    assert "frontal" in kept
    assert sources == ["lin-manuel-miranda.png"] + [f"guided capture ({k})" for k in kept]
    assert win.statusBar().currentMessage().startswith(f"Added {len(kept)} view")
    assert win.statusBar().currentMessage().endswith(f"from a short capture to {LIN}.")
    assert win.people.names() == [LIN]


def test_the_snapshot_offers_a_capture_of_the_face_picked_and_a_photo_does_not(qtbot, make_window, samples_dir):
    from PySide6.QtCore import QPoint

    win = make_window(samples_dir / CLIP, loop=True)
    photo = win.open_enrol_photo_dialog(samples_dir / "two_people.jpg")
    assert not photo.capture_button.isVisible()  # no live track behind a photo file
    photo.reject()
    # several faces on screen: which one to capture is asked for first
    qtbot.waitUntil(lambda: win.last_result is not None and len(win.last_result.faces) >= 2, timeout=60_000)
    win.pause_action.trigger()
    snap = win.enrol_from_snapshot()
    labels = win.view.last_result.labels
    assert len(snap.faces) == len(labels) >= 2
    assert snap.capture_button.isVisible() and not snap.capture_button.isEnabled()
    assert "Click the face" in snap.capture_button.toolTip()
    s, ox, oy = snap.preview._geometry()
    x, y, w, h = snap.faces[1].box
    qtbot.mouseClick(snap.preview, Qt.MouseButton.LeftButton,
                     pos=QPoint(int(ox + (x + w / 2) * s), int(oy + (y + h / 2) * s)))
    assert snap.preview.selected == 1 and snap.capture_button.isEnabled()
    qtbot.mouseClick(snap.capture_button, Qt.MouseButton.LeftButton)
    dlg = _capture_dialog(win)
    qtbot.waitUntil(lambda: dlg.running, timeout=30_000)
    assert dlg.progress.track_id == labels[1].track_id != labels[0].track_id
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)  # Esc cancels like the button
    assert not dlg.isVisible()
    assert ask_worker(qtbot, win.inference, lambda library: library.capture_progress()) is None


def test_a_capture_running_when_the_engine_restarts_starts_again_on_the_new_engine(qtbot, make_window, samples_dir):
    """The engine is started anew (as after a failed engine comes back, or a model chosen while it
    was down): an open capture dialog moves to the new engine, says its views are gone, captures
    again there and enrols."""
    win = make_window(samples_dir / CLIP, loop=True)
    qtbot.waitUntil(lambda: win.last_result is not None and len(win.last_result.faces) == 1
                    and win.last_result.faces[0].box[2] > 70, timeout=60_000)
    win.enrol_capture_action.trigger()
    dlg = _capture_dialog(win)
    qtbot.keyClicks(dlg.name_edit, LIN)
    qtbot.waitUntil(lambda: dlg.progress is not None and dlg.progress.filled["frontal"], timeout=60_000)
    old = win.inference
    win._start_engine()
    assert win.inference is not old and dlg.worker is win.inference
    assert "engine restarted" in dlg.summary.text() and not any(t.filled for t in dlg.tiles.values())
    qtbot.waitUntil(lambda: dlg.running and dlg.progress is not None, timeout=30_000)
    assert dlg.summary.text().startswith("The recognition engine restarted")  # said while it starts over
    qtbot.waitUntil(lambda: dlg.progress.filled["frontal"], timeout=90_000)
    assert "engine restarted" not in dlg.summary.text()  # until a view is kept
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=60_000)
    assert dlg.result() == QDialog.DialogCode.Accepted, dlg.summary.text()
    qtbot.waitUntil(lambda: win.people.names() == [LIN], timeout=30_000)
    assert "guided capture (frontal)" in _sources(qtbot, win.inference, LIN)


def test_a_head_never_seen_frontal_is_enrolled_from_its_turned_view(qtbot, make_window, shared, tmp_path):
    """A camera beside the screen: umist's p03 (DATA.md), whose least-turned view is already turned
    about 30°, looks "at the camera" and turns away, as a video. The capture keeps his turned view
    only; the dialog says the frontal one is missing but lets him enrol, and he is enrolled with it."""
    import cv2
    from benchmark_scripts import load_benchmark

    mod = load_benchmark("guided_capture")
    frames = [mod.as_frame(cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB))
              for p in mod.capture_sequence(shared / "datasets" / "umist" / "p03")]
    video = tmp_path / "p03.avi"
    out = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (640, 360))
    for rgb in frames * 3:
        out.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    out.release()
    win = make_window(video, loop=True)
    win.enrol_capture_action.trigger()
    dlg = _capture_dialog(win)
    seen = _record(dlg)
    qtbot.keyClicks(dlg.name_edit, "Pat")
    qtbot.waitUntil(lambda: dlg.progress is not None and dlg.progress.filled["left"], timeout=60_000)
    assert not dlg.progress.filled["frontal"] and dlg.prompt.text() == LOOK
    assert dlg.summary.text().startswith("Kept: your left. No view facing the camera yet")
    assert dlg.ok_button.isEnabled()
    _check_follows(seen)
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not dlg.isVisible(), timeout=60_000)
    assert dlg.result() == QDialog.DialogCode.Accepted, dlg.summary.text()
    kept = [k for k, filled in dlg.progress.filled.items() if filled]
    assert _sources(qtbot, win.inference, "Pat") == [f"guided capture ({k})" for k in kept] and "left" in kept
    assert win.people.names() == ["Pat"]
