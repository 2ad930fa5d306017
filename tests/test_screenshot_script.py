"""scripts/screenshot.py makes the README's picture from the real window: run as `make
screenshot` would, into tmp_path, it writes a PNG of the size asked for that shows the video, a
named face (the live view's green label) and the People list, and leaves the user's data alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
KNOWN_GREEN = (40, 200, 90)  # live_view.KNOWN_COLOUR: a label's fill


@pytest.mark.acceptance
def test_the_script_saves_the_real_window_with_a_named_face(samples_dir, tmp_path):
    out = tmp_path / "shots" / "window.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "ONESHOT_SHARED": str(samples_dir.parent.parent)}
    data = Path(os.environ["ONESHOT_DATA_DIR"])
    before = sorted(data.rglob("*"))
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshot.py"), "--out", str(out),
                          "--size", "1000x640"], env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"{out} (1000x640)"
    with Image.open(out) as img:
        assert img.format == "PNG" and img.size == (1000, 640)
        pixels = np.asarray(img.convert("RGB"))
    assert pixels.std() > 20 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 5000  # a picture, not a blank
    green = np.all(pixels == KNOWN_GREEN, axis=-1)
    assert green.sum() > 500  # at least one name label drawn on the video
    assert sorted(data.rglob("*")) == before  # its gallery was its own


def test_the_script_says_in_one_line_when_the_clip_is_missing(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "screenshot.py"), "--out", str(tmp_path / "x.png"),
                          "--shared", str(tmp_path / "nowhere")], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and len(run.stderr.splitlines()) == 1 and "sample clip is missing" in run.stderr
    assert not (tmp_path / "x.png").exists()
