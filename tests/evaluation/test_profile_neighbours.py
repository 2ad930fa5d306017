"""benchmarks/profile_neighbours.py, whose table docs/open_set.md quotes: it replays the Recent
faces "This is Alex" step without the GUI and measures who lies near the added frame."""

from __future__ import annotations

import re
import sys

from benchmark_scripts import load_benchmark


def test_the_added_profile_frame_is_nearer_his_own_frames_than_any_audience_face(shared, monkeypatch, capsys):
    mod = load_benchmark("profile_neighbours")
    monkeypatch.setattr(sys, "argv", ["profile_neighbours.py", "--tracks"])
    mod.main()
    out = capsys.readouterr().out
    rows = {cells[0]: cells[1:] for line in out.splitlines() if line.startswith("| ")
            for cells in [[c.strip() for c in line.strip("|").split("|")]]}
    assert "ours" in rows and "ours, normalised" in rows, out
    for name in ("ours", "ours, normalised"):
        farthest = float(rows[name][0].split("/")[1])
        nearest_audience = float(rows[name][2].split()[0])
        assert farthest < nearest_audience, (name, rows[name])  # a threshold exists between them
        assert rows[name][3].startswith("0 of "), rows[name]
    # with τ for 3 photos, every frame of his profile is under it
    under = re.search(r"under τ: his (\d+) of (\d+), audience (\d+)", rows["ours, normalised"][3])
    assert under and int(under[1]) == int(under[2]) > 0, rows["ours, normalised"]
    # --tracks: every audience track near Alex, replayed under each τ; a track is named Alex only
    # from a pooled distance under that τ (the vote, and a blurred face repeating the frame last
    # seen, may then hold the name a while), and under the τ for tracks none is (the acceptance)
    blocks = re.findall(r"replayed under (the faces' τ for 3 photos|the τ for tracks) \(([\d.]+)\): (\d+) audience "
                        r"track\(s\)[^\n]*\n((?:track .*\n?)*)", out)
    assert [b[0] for b in blocks] == ["the faces' τ for 3 photos", "the τ for tracks"], out
    taus = [float(b[1]) for b in blocks]
    assert taus[1] < taus[0]
    for (what, tau, count, lines), t in zip(blocks, taus):
        tracks = [ln for ln in lines.splitlines() if ln.startswith("track ")]
        assert len(tracks) == int(count)
        for ln in tracks:
            shown = [int(x) for x in re.search(r"\[([\d, ]*)\]", ln)[1].split(",") if x.strip()]
            pooled = {int(i): float(d) for i, d in re.findall(r"(\d+):([\d.]+)", ln.split("pooled distances")[1])}
            starts = [i for i in shown if i - 1 not in shown]  # the first frame of each named stretch
            assert all(pooled[i] < t for i in starts), ln
            if what == "the τ for tracks":
                assert not shown, ln
