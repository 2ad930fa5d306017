"""What the τ for tracks changes on the Hamilton clip: the faces `bench`'s end-to-end loop names
(Lin-Manuel Miranda and Alex Lacamoire enrolled from one photo each, the clip labelled frame by
frame as the app's live view does), once with τ fixed at the faces' τ(N), as the live view named
tracks before it had a τ of its own, and once under the rule as shipped; then every frame whose
names differ.

    python benchmarks/clip_track_tau.py [--weights W]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import paths  # noqa: E402
from app.live.analysis import LiveAnalyser  # noqa: E402
from app.live.pipeline import Engine  # noqa: E402
from app.live.sources import open_source  # noqa: E402

PEOPLE = (("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Alex Lacamoire", "alex-lacamoire.png"))


def named_by_frame(samples: Path, weights: str | None, faces_tau: bool) -> tuple[dict[int, list], float]:
    """{frame: [(name, pooled distance)] of its named faces}, and the τ tracks were named under."""
    engine = Engine.create("yunet", None, weights, "cpu", gallery_path=Path(tempfile.mkdtemp()) / "g.sqlite3")
    for name, photo in PEOPLE:
        engine.enrol_photo(name, samples / photo, add_to_existing=True)
    if faces_tau:
        engine.tau = engine.threshold  # fixed: identify then uses it for tracks too
    live, out = LiveAnalyser(engine), {}
    with open_source(str(samples / "short_hamilton_clip.mp4")) as src:
        while (frame := src.read()) is not None:
            out[frame.index] = [(lab.name, round(lab.distance, 3)) for lab in live(frame.rgb).labels if lab.known]
    tau = engine.track_threshold
    engine.close()
    return out, tau


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None)
    args = ap.parse_args()
    shared = paths.shared_dir()
    if shared is None:
        sys.exit("needs ../shared (or $ONESHOT_SHARED)")
    samples = shared / "datasets" / "samples"
    before, tau_faces = named_by_frame(samples, args.weights, True)
    after, tau_tracks = named_by_frame(samples, args.weights, False)
    print(f"named faces: {sum(map(len, before.values()))} under the faces' τ {tau_faces:.3f}, "
          f"{sum(map(len, after.values()))} under the τ for tracks {tau_tracks:.3f}")
    for i in sorted(before):
        if before[i] != after.get(i):
            print(f"frame {i}: {before[i]} -> {after.get(i)}")


if __name__ == "__main__":
    main()
