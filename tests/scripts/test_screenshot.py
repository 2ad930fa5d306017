"""scripts/screenshot.py makes the README's picture from the real window, in make test's
environment (QT_QPA_PLATFORM=offscreen): a real image of the window's size, with the video and a
name on a face (the known-face green of the live view)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def test_the_screenshot_script_saves_the_window_with_names(samples_dir, tmp_path):
    out = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshot.py"), "--out", str(out),
                          "--size", "1024x640", "--samples", str(samples_dir), "--timeout", "240"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    bgr = cv2.imread(str(out))
    assert bgr is not None, "not a PNG that can be read"
    assert bgr.shape == (640, 1024, 3)
    assert bgr.std() > 20 and len(np.unique(bgr.reshape(-1, 3), axis=0)) > 1000  # not blank
    b, g, r = (bgr[..., i].astype(int) for i in range(3))
    label_green = (abs(r - 40) < 8) & (abs(g - 200) < 8) & (abs(b - 90) < 8)  # live_view.KNOWN_COLOUR
    assert label_green.sum() > 500, "no name label on a face"


def test_without_the_samples_it_says_so_in_one_line(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT),
           "ONESHOT_SHARED": str(tmp_path / "nothing")}
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshot.py"), "--out", str(tmp_path / "x.png"),
                          "--samples", str(tmp_path / "nothing")], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and "short_hamilton_clip.mp4" in run.stderr
    assert not (tmp_path / "x.png").exists()
