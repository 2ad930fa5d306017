"""benchmarks/capture_neighbours.py, whose figures docs/model.md quotes: the guided capture on the
clip, its views enrolled alone, and who in the audience lies near each view on the replay."""

from __future__ import annotations

import re
import sys

from benchmark_scripts import load_benchmark


def test_it_lists_each_audience_face_against_each_captured_view_and_the_tracks_named(shared, monkeypatch, capsys):
    mod = load_benchmark("capture_neighbours")
    monkeypatch.setattr(sys, "argv", ["capture_neighbours.py"])
    mod.main()
    out = capsys.readouterr().out
    head = re.search(r"enrolled from \[(.*)\]; τ ([\d.]+), τ for tracks ([\d.]+)", out)
    assert head, out
    views = head[1].count("guided capture")
    tau, track_tau = float(head[2]), float(head[3])
    assert views >= 1 and track_tau <= tau
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines()
            if re.match(r"\| \d+ \|", line)]
    assert rows and all(int(r[0]) >= mod.AUDIENCE and len(r) == 2 + views for r in rows)
    named = re.search(r"audience tracks named Lin-Manuel on the replay: (\d+)", out)
    tracks = [line for line in out.splitlines() if line.startswith("track ")]
    assert named and len(tracks) == int(named[1])
    for line in tracks:  # a track is named from a pooled distance under the τ for tracks
        first = float(re.search(r"pooled distances \d+:([\d.]+)", line)[1])
        assert first < track_tau, line
