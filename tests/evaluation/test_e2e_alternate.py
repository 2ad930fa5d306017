"""benchmarks/e2e_alternate.py, whose figures docs/speed.md quotes: two trees' end-to-end runs
taken in turns."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from benchmark_scripts import load_benchmark

ROOT = Path(__file__).resolve().parents[2]


def test_summary_takes_the_median_and_keeps_every_run():
    mod = load_benchmark("e2e_alternate")
    runs = [{"fps": f, "cpu_ms_per_frame": c, "frames": 275, "named": 153}
            for f, c in [(90.0, 8.0), (110.0, 7.0), (100.0, 9.5)]]
    s = mod.summary(runs)
    assert s["fps_median"] == 100.0 and s["fps_max"] == 110.0 and s["fps_all"] == [90.0, 110.0, 100.0]
    assert s["cpu_ms_per_frame_median"] == 8.0 and s["runs"] == 3 and s["frames"] == 275


def test_one_tree_against_itself_labels_the_same_frames(shared, monkeypatch, capsys):
    mod = load_benchmark("e2e_alternate")
    monkeypatch.setattr(sys, "argv", ["e2e_alternate.py", str(ROOT), str(ROOT), "--runs", "1"])
    mod.main()
    out = json.loads(capsys.readouterr().out)
    a, b = out["a"], out["b"]
    assert a["runs"] == b["runs"] == 1 and a["frames"] == b["frames"] > 100
    assert a["named_faces"] == b["named_faces"] > 0 and a["fps_median"] > 0 and b["cpu_ms_per_frame_median"] > 0
