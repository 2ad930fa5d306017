"""Makes the README's picture from the real window: the sample clip from ../shared as the camera,
the two people of its enrolment photos enrolled through the Enrol-from-photo dialog, the first
frame with a name on a face grabbed to a PNG. Runs offscreen (no display needed) or under Xvfb, in
a throw-away data folder, so it never touches the user's gallery. Redo it after each UI change:

    make screenshot                      # resources/screenshot.png
    python scripts/screenshot.py --out shot.png --size 1366x768
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# who the clip shows, and the photo each is enrolled from (../shared/datasets/DATA.md)
PEOPLE = (("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Alex Lacamoire", "alex-lacamoire.png"))
CLIP = "short_hamilton_clip.mp4"


def wait_until(app, condition, timeout: float, what: str) -> None:
    """Runs the event loop until condition() holds; a clear error when it does not in time."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshot: timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.01)


def enrol(app, win, photo: Path, name: str, timeout: float) -> None:
    """Through the dialog a user would use: choose the photo, type the name, Enrol."""
    dlg = win.open_enrol_photo_dialog()
    dlg.set_path(photo)
    wait_until(app, lambda: dlg.ready or bool(dlg.error), timeout, f"the face in {photo.name}")
    if dlg.error:
        raise SystemExit(f"screenshot: {photo.name}: {dlg.error}")
    dlg.name_edit.setText(name)
    dlg.ok_button.click()
    wait_until(app, lambda: not dlg.isVisible(), timeout, f"enrolling {name}")


def take(out: Path, size: tuple[int, int], samples: Path, timeout: float = 300.0) -> Path:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app import paths
    from app.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    win = MainWindow(source=str(samples / CLIP), start_source=False, process_all_frames=True,
                     detector="yunet", detector_model=paths.shipped_yunet(), device="cpu")
    win.show()
    win.resize(*size)
    try:
        wait_until(app, lambda: bool(win.info or win.engine_error), timeout, "the model")
        if win.engine_error:
            raise SystemExit(f"screenshot: {win.engine_error}")
        for name, photo in PEOPLE:
            enrol(app, win, samples / photo, name, timeout)
        wait_until(app, lambda: len(win.people.names()) == len(PEOPLE), timeout, "the People list")
        named = []

        def keep(result) -> None:
            if not named and any(lab.known for lab in result.labels):
                named.append(result)
                win.inference.paused = True  # this frame stays on screen

        win.frame_analysed.connect(keep)
        win.set_source(str(samples / CLIP), save=False)
        wait_until(app, lambda: bool(named), timeout, "a frame with a name on a face")
        win.view.show_result(named[0])  # not a frame analysed while pausing
        settle = time.monotonic() + 0.3  # the status bar lays out its new fps and ms
        wait_until(app, lambda: time.monotonic() > settle, timeout, "the window")
        shot = win.grab()
        out.parent.mkdir(parents=True, exist_ok=True)
        if not shot.save(str(out), "PNG"):
            raise SystemExit(f"screenshot: could not write {out}")
        return out
    finally:
        win.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "resources" / "screenshot.png")
    ap.add_argument("--size", default="1280x720", help="window size, WIDTHxHEIGHT")
    ap.add_argument("--samples", type=Path, help="folder with the sample clip and photos "
                    "(default: datasets/samples in ../shared or $ONESHOT_SHARED)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for each step")
    args = ap.parse_args(argv)
    w, _, h = args.size.lower().partition("x")
    size = (int(w), int(h))
    sys.path.insert(0, str(ROOT))
    from app import paths
    samples = args.samples
    if samples is None:
        shared = paths.shared_dir()
        if shared is None:
            print("screenshot: needs ../shared (or $ONESHOT_SHARED) for the sample clip", file=sys.stderr)
            return 2
        samples = shared / "datasets" / "samples"
    missing = [n for n in (CLIP, *(photo for _, photo in PEOPLE)) if not (samples / n).is_file()]
    if missing:
        print(f"screenshot: {', '.join(missing)} missing in {samples}", file=sys.stderr)
        return 2
    # a throw-away gallery and settings: the user's own stay untouched
    with tempfile.TemporaryDirectory(prefix="oneshot-shot-") as tmp:
        os.environ["ONESHOT_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ["ONESHOT_CACHE_DIR"] = str(Path(tmp) / "cache")
        out = take(args.out.resolve(), size, samples, args.timeout)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
