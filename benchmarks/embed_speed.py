"""Two encoders' cost to embed faces, side by side in one process (the figure issue 16's speed
budget is about): median of 15 runs after 3 warm-ups, 1 / 4 / 64 faces a call, on `--threads`
torch threads (1: the app's live setting). Random crops: the arithmetic does not depend on them.

    python benchmarks/embed_speed.py OLD.pt NEW.pt [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.recognition.encoder import Encoder  # noqa: E402


def ms_per_face(enc: Encoder, n: int) -> float:
    crops = np.random.default_rng(0).integers(0, 255, (n, enc.input_size, enc.input_size, 3), dtype=np.uint8)
    for _ in range(3):
        enc.embed(crops)
    runs = []
    for _ in range(15):
        t = time.perf_counter()
        enc.embed(crops)
        runs.append(time.perf_counter() - t)
    return float(np.median(runs)) * 1000 / n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    encs = [Encoder.load(w, "cpu") for w in (args.old, args.new)]
    for e in encs:
        print(f"{e.version}: {e.input_size} px, mirror pass {bool(e.card.inference.get('flip_tta'))}, "
              f"{'bf16' if e.bf16 else 'fp32'}")
    for n in (1, 4, 64):
        old, new = (ms_per_face(e, n) for e in encs)
        print(f"{n:3d} faces a call, {args.threads} thread(s): {old:.2f} vs {new:.2f} ms a face ({new / old:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
