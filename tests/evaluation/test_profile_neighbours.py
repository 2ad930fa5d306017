"""benchmarks/profile_neighbours.py, whose table docs/open_set.md quotes: it replays the Recent
faces "This is Alex" step without the GUI and measures who lies near the added frame."""

from __future__ import annotations

import re
import sys

from benchmark_scripts import load_benchmark


def test_the_added_profile_frame_keeps_the_audience_out_and_most_of_his_profile_in(shared, monkeypatch, capsys):
    """Under the faces' τ for 3 photos most of his profile frames lie near the added frame and at
    most 1% of the audience's faces do; the nearest audience face is farther than his median
    frame. (MobileFaceNet: all 40 of his frames under τ, 2 of 211 audience faces, none nearer than
    his farthest frame; EdgeNeXt: 22 of 40, none, 6 of 211 nearer than his farthest frame.)"""
    mod = load_benchmark("profile_neighbours")
    monkeypatch.setattr(sys, "argv", ["profile_neighbours.py", "--tracks"])
    mod.main()
    out = capsys.readouterr().out
    rows = {cells[0]: cells[1:] for line in out.splitlines() if line.startswith("| ")
            for cells in [[c.strip() for c in line.strip("|").split("|")]]}
    assert "ours" in rows and "ours, normalised" in rows, out
    for name in ("ours", "ours, normalised"):
        median = float(rows[name][0].split("/")[0])
        nearest_audience = float(rows[name][2].split()[0])
        assert median < nearest_audience, (name, rows[name])
    # with τ for 3 photos, most frames of his profile are under it, and at most the open-set
    # rule's 1% of the audience's faces (single frames: their tracks are kept out, below)
    under = re.search(r"under τ: his (\d+) of (\d+), audience (\d+)", rows["ours, normalised"][3])
    audience = int(re.search(r"of (\d+);", rows["ours, normalised"][3])[1])
    assert under and int(under[1]) > int(under[2]) / 2 and int(under[3]) <= 0.01 * audience, rows["ours, normalised"]
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
