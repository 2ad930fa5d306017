"""benchmarks/clip_track_tau.py, whose figures docs/open_set.md quotes: the clip named under the
faces' τ and under the τ for tracks."""

from __future__ import annotations

import re
import sys

from benchmark_scripts import load_benchmark


def test_the_stricter_tau_for_tracks_names_no_more_faces_on_the_clip(shared, monkeypatch, capsys):
    mod = load_benchmark("clip_track_tau")
    monkeypatch.setattr(sys, "argv", ["clip_track_tau.py"])
    mod.main()
    out = capsys.readouterr().out
    m = re.search(r"named faces: (\d+) under the faces' τ ([\d.]+), (\d+) under the τ for tracks ([\d.]+)", out)
    assert m, out
    before, tau_faces, after, tau_tracks = int(m[1]), float(m[2]), int(m[3]), float(m[4])
    assert tau_tracks < tau_faces and 0 < after <= before, out
    # then one line per frame whose names differ
    for line in out.splitlines()[1:]:
        assert re.match(r"frame \d+: \[.*\] -> \[.*\]", line), line
