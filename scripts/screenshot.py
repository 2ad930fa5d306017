"""Make the README's picture from the real window: MainWindow started headless (Qt's offscreen
platform unless QT_QPA_PLATFORM says otherwise, e.g. under xvfb-run) with the sample clip of
../shared as its camera, both people of the clip enrolled from their photos through the
enrol-from-photo dialog, then a grab of the window as soon as a close-up is named.

Everything the window writes (gallery, settings, recent faces) goes to a temporary folder, so
the user's own gallery is never read or touched. Run it after each UI change:

    make screenshot            # resources/screenshot.png
    python scripts/screenshot.py --out shot.png --size 1280x720
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = (("lin-manuel-miranda.png", "Lin-Manuel Miranda"), ("alex-lacamoire.png", "Alex Lacamoire"))
CLIP = "short_hamilton_clip.mp4"
CLOSE_UP = 80  # px: the clip's frontal close-ups of Lin-Manuel (frames 82-210) are wider than this


def parse_size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    try:
        size = int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 1366x768") from None
    if min(size) < 200:
        raise argparse.ArgumentTypeError(f"{text} is too small for the window")
    return size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "resources" / "screenshot.png")
    parser.add_argument("--size", type=parse_size, default=(1366, 768), help="window size, WxH")
    parser.add_argument("--shared", type=Path, default=None,
                        help="the shared folder with datasets/samples (default: $ONESHOT_SHARED or ../shared)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for a named close-up")
    args = parser.parse_args(argv)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="oneshot-screenshot-"))
    # a private gallery and settings for this run (set before app.paths is first used)
    os.environ["ONESHOT_DATA_DIR"] = str(work / "data")
    os.environ["ONESHOT_CACHE_DIR"] = str(work / "cache")
    sys.path.insert(0, str(ROOT))

    from app import paths
    shared = args.shared or paths.shared_dir()
    samples = Path(shared) / "datasets" / "samples" if shared else None
    if samples is None or not (samples / CLIP).is_file():
        print(f"screenshot: the sample clip is missing ({samples or '../shared'}/{CLIP}); "
              "pass --shared or set ONESHOT_SHARED", file=sys.stderr)
        return 2

    from PySide6.QtWidgets import QApplication

    from app.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0]])

    def wait_until(ready, what: str, timeout: float = args.timeout) -> None:
        end = time.monotonic() + timeout
        while not ready():
            if time.monotonic() > end:
                raise TimeoutError(f"screenshot: gave up waiting for {what} after {timeout:g} s")
            app.processEvents()
            time.sleep(0.01)

    win = MainWindow(source=str(samples / CLIP), detector="yunet", device="cpu")
    try:
        win.resize(*args.size)
        win.show()
        wait_until(lambda: bool(win.info or win.engine_error), "the model")
        if win.engine_error:
            print(f"screenshot: {win.engine_error}", file=sys.stderr)
            return 1
        for photo, name in PEOPLE:  # as a user would: the dialog, the name typed, Enrol
            dlg = win.open_enrol_photo_dialog(samples / photo)
            wait_until(lambda d=dlg: d.ready or bool(d.error), f"the face in {photo}")
            if dlg.error:
                print(f"screenshot: {photo}: {dlg.error}", file=sys.stderr)
                return 1
            dlg.name_edit.setText(name)
            dlg.ok_button.click()
            wait_until(lambda d=dlg: not d.isVisible(), f"{name} to be enrolled")
        wait_until(lambda: len(win.people.names()) == len(PEOPLE), "the People list")

        shot = []

        def named_close_up(result) -> None:
            big = max(result.labels, key=lambda lab: lab.box[2], default=None)
            if not shot and big is not None and big.known and big.box[2] >= CLOSE_UP:
                shot.append(win.grab())  # the view shows this frame already

        win.frame_analysed.connect(named_close_up)
        wait_until(lambda: bool(shot), "a named close-up")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if not shot[0].save(str(args.out), "PNG"):
            print(f"screenshot: could not write {args.out}", file=sys.stderr)
            return 1
        print(f"{args.out} ({shot[0].width()}x{shot[0].height()})")
        return 0
    except TimeoutError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        win.close()
        import shutil
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
