"""Strangers named through the real `Engine`, with and without what it learned about the camera.

A folder of people (a folder per person, e.g. ../shared/datasets/umist): people drawn at random
(seeded) into three groups. The first is enrolled from its first sorted photo; the second is
shown to the engine as unlabelled faces (`Engine.observe_domain`, each photo its own track, as if
each came by once: never paired with each other, each paired with the enrolled people but the
one it lies nearest to); the third is then shown as strangers, never seen before. Reports the
share of those strangers named under the engine's τ (with the camera sample) and under the
table's τ for the same gallery (without), and the enrolled people's other photos named right.

    python benchmarks/engine_domain.py ../shared/datasets/umist [--enrolled 0.5 --seen 0.25]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

IMAGE_EXT = {".png", ".jpg", ".jpeg", ".pgm", ".bmp"}


def _photos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXT)


def run(engine, folder: str | Path, enrolled: int, seen: int, strangers: int | None = None,
        seed: int = 0) -> dict:
    """The measurement on an open `engine` with an empty gallery (see module doc)."""
    people = sorted(p for p in Path(folder).iterdir() if p.is_dir())
    order = np.random.default_rng(seed).permutation(len(people))
    drawn = [people[i] for i in order]
    enr, see = drawn[:enrolled], drawn[enrolled:enrolled + seen]
    rest = drawn[enrolled + seen:]
    strange = rest if strangers is None else rest[:strangers]
    genuine: list[tuple[int, np.ndarray]] = []
    for person in enr:
        photos = _photos(person)
        p, _ = engine.enrol_photo(person.name, photos[0])
        for ph in photos[1:]:
            genuine += [(p.id, r.embedding) for r in engine.identify_photo(ph)[:1] if r.embedding is not None]
    for person in see:
        for ph in _photos(person):
            for r in engine.identify_photo(ph)[:1]:
                engine.observe_domain([(engine.domain.new_track(), r.embedding)])
    probes = [r.embedding for person in strange for ph in _photos(person)
              for r in engine.identify_photo(ph)[:1] if r.embedding is not None]
    rule = engine.encoder.open_set_rule
    m = engine.matcher
    adapted, table = engine.threshold, rule.threshold(len(m))
    q = np.stack(probes)
    g = np.stack([e for _, e in genuine]) if genuine else np.zeros((0, q.shape[1]), np.float32)
    gid = [pid for pid, _ in genuine]

    def rates(tau: float) -> tuple[float, float]:
        named = np.mean([x.known for x in m.match(q, tau)])
        right = np.mean([x.person_id == pid for x, pid in zip(m.match(g, tau), gid)]) if len(g) else float("nan")
        return float(named), float(right)

    (fa, ta), (ft, tt) = rates(adapted), rates(table)
    report = engine.domain_report()
    return {"enrolled": len(enr), "seen_people": len(see), "stranger_people": len(strange),
            "stranger_faces": len(q), "seen_faces": report["seen_faces"], "pairs": report["pairs"],
            "tau_table": table, "tau_adapted": adapted,
            "strangers_named_table": ft, "strangers_named_adapted": fa,
            "enrolled_right_table": tt, "enrolled_right_adapted": ta}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--enrolled", type=float, default=0.5, help="share of people enrolled")
    ap.add_argument("--seen", type=float, default=0.25, help="share shown as unlabelled faces")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from app.live.pipeline import Engine
    n = len([p for p in Path(args.folder).iterdir() if p.is_dir()])
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine.create("yunet", None, device="cpu", gallery_path=Path(tmp) / "g.sqlite3")
        try:
            out = run(engine, args.folder, round(args.enrolled * n), round(args.seen * n), seed=args.seed)
        finally:
            engine.close()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
