"""Who lies near a person enrolled by the guided capture alone? The capture flow of
tests/service/test_service_capture.py without the test: the Hamilton clip played through the
live analysis with a capture started at its first frame (it locks on Lin-Manuel's close-up),
the kept views enrolled as the only person, then the clip played again.

Printed: the τ and the τ for tracks with that gallery; for every audience face (frames 211 on)
embedded on the replay, its cohort-normalised distance to each kept view; and every audience
track named, with its pooled distances frame by frame. Where one view lies much nearer the
audience than the others, that view is what names strangers.

    python benchmarks/capture_neighbours.py [--weights W]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import paths  # noqa: E402
from app.live.pipeline import Engine  # noqa: E402
from app.recognition import scoring  # noqa: E402
from app.service import Library  # noqa: E402
from app.service import live as service  # noqa: E402

AUDIENCE = 211  # the clip's first audience frame (tests/gui/gui_helpers.py)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default=None)
    args = ap.parse_args()
    shared = paths.shared_dir()
    if shared is None:
        sys.exit("needs ../shared (or $ONESHOT_SHARED)")
    clip = str(shared / "datasets" / "samples" / "short_hamilton_clip.mp4")
    engine = Engine.create("yunet", None, args.weights, "cpu", gallery_path=Path(tempfile.mkdtemp()) / "g.sqlite3")
    lib = Library(engine)

    def play(each) -> None:
        analyser = service.analyser_for(engine)
        with service.open_source(clip) as source:
            while (frame := source.read()) is not None:
                each(frame, analyser(frame.rgb, when=frame.timestamp, frame_index=frame.index))

    lib.start_capture(None)
    play(lambda frame, a: lib.feed_capture(frame.rgb, a.recognitions, a.labels))
    person = lib.enrol_capture("Lin-Manuel")
    samples = engine.gallery.samples(person.id)
    views = np.stack([s.embedding for s in samples])
    print(f"model {engine.encoder.version}; enrolled from {[s.source for s in samples]}; "
          f"τ {engine.threshold:.3f}, τ for tracks {engine.track_threshold:.3f} (cohort-normalised)\n")

    faces: list[tuple[int, tuple, np.ndarray]] = []
    named: dict[int, list[tuple[int, float]]] = {}

    def look(frame, a) -> None:
        if frame.index < AUDIENCE:
            return
        for rec, lab in zip(a.recognitions, a.labels):
            if rec.embedding is not None:
                faces.append((frame.index, tuple(round(float(v)) for v in rec.face.box), rec.embedding))
            if lab.name == "Lin-Manuel":
                named.setdefault(lab.track_id, []).append((frame.index, float(lab.distance)))

    play(look)
    print("| frame | audience face (x, y, w, h) | " + " | ".join(s.source or "" for s in samples) + " |")
    print("|---|---|" + "---|" * len(samples))
    for i, box, e in faces:
        d = scoring.scores(e[None], views, engine.encoder.scorer)[0]
        print(f"| {i} | {box} | " + " | ".join(f"{x:.3f}" for x in d) + " |")
    print(f"\naudience tracks named Lin-Manuel on the replay: {len(named)}")
    for track, rows in named.items():
        print(f"track {track}: frames {rows[0][0]}-{rows[-1][0]} ({len(rows)}); pooled distances "
              + " ".join(f"{i}:{d:.3f}" for i, d in rows))
    engine.close()


if __name__ == "__main__":
    main()
