"""Smoke test of benchmarks/compare_face_recognition.py on real data: a few LFW pairs and
people, a few clip frames, a small random encoder (the numbers mean nothing; the keys, ranges
and the table do). Skipped where face_recognition (the `bench` extra) is not installed."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from app import paths
from app.encoder import FaceNet, ModelCard, save_model

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "compare_face_recognition.py"
SMALL = {"input_size": 32, "widths": [8, 16], "blocks": [1, 1], "dim": 128}
RATES = ["devtest_accuracy", "devtest_auc", "devtest_tar_at_far_1e-2", "view2_accuracy_mean",
         "view2_accuracy_std", "oneshot_rank1", "oneshot_dir_at_far_1e-2"]

needs_face_recognition = pytest.mark.skipif(
    importlib.util.find_spec("face_recognition") is None
    or importlib.util.find_spec("dlib") is None,
    reason="face_recognition is not installed (make compare installs the bench extra)")


@needs_face_recognition
def test_compare_smoke(shared, samples_dir, yunet_path, tmp_path):
    lfw = shared / "datasets" / "lfw"
    if not (lfw / "protocol" / "pairsDevTest.txt").is_file():
        pytest.skip("needs ../shared/datasets/lfw")
    torch.manual_seed(0)
    weights = save_model(FaceNet(**SMALL).eval(),
                         ModelCard(arch=dict(SMALL), version="smoke", tau=0.8), tmp_path / "enc.pt")
    md, out_json = tmp_path / "results.md", tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--lfw", str(lfw), "--clip",
         str(samples_dir / "short_hamilton_clip.mp4"), "--limit", "8", "--max-frames", "4",
         "--workers", "1", "--weights", str(weights), "--json", "--out-md", str(md),
         "--out-json", str(out_json)],
        capture_output=True, text=True, timeout=600, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)  # exactly one JSON object on stdout
    assert json.loads(out_json.read_text()) == result

    assert result["limit"] == 8 and result["max_frames"] == 4
    assert result["fps_ratio"] > 0
    assert result["fps_ratio"] == pytest.approx(result["ours"]["clip_fps"] / result["theirs"]["clip_fps"])
    assert result["machine"]["cpu"] and result["machine"]["cores"] >= 1
    assert result["date"][:2] == "20" and "T" in result["date"]
    for side in ("ours", "theirs"):
        r = result[side]
        for key in RATES:
            assert 0.0 <= r[key] <= 1.0, (side, key, r[key])
        assert r["view2_accuracy_std"] <= 0.5
        missed = r["missed_detections"]
        assert 0 <= missed["verification"] <= r["verification_images"]
        assert 0 <= missed["identification"] <= r["identification_images"]
        assert r["clip_frames"] == 4 and math.isfinite(r["clip_fps"]) and r["clip_fps"] > 0
        assert 0 <= r["clip_named_faces"] <= r["clip_faces"]
    # Both systems saw exactly the same images and pairs.
    for key in ("verification_images", "identification_images", "pairs", "identification"):
        assert result["ours"][key] == result["theirs"][key]
    assert result["theirs"]["clip_threshold"] == 0.6

    table = md.read_text()
    assert "| metric | ours | face_recognition | ratio (ours / theirs) |" in table
    assert result["machine"]["cpu"] in table and result["date"] in table
    # The run stayed inside the test's cache folder (conftest), and cached face_recognition.
    assert list(paths.cache_dir().glob("face_recognition-hog-*.npz"))
