"""Two encoders' cost to embed faces, side by side in one process (the figure issue 16's speed
budget is about): median of 15 runs after 3 warm-ups, 1 / 4 / 64 faces a call, on `--threads`
torch threads (1: the app's live setting), in float32 and, where the CPU does bfloat16 in
hardware, also as each card asks (bfloat16). Random crops: the arithmetic does not depend on them.

    python benchmarks/embed_speed.py OLD.pt NEW.pt [--threads 1] [--batch 16]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.recognition import encoder as encoder_module  # noqa: E402
from app.recognition.encoder import Encoder, bf16_native  # noqa: E402


def ms_per_face(enc: Encoder, n: int, batch: int | None) -> float:
    crops = np.random.default_rng(0).integers(0, 255, (n, enc.input_size, enc.input_size, 3), dtype=np.uint8)
    kw = {} if batch is None else {"batch_size": batch}
    for _ in range(3):
        enc.embed(crops, **kw)
    runs = []
    for _ in range(15):
        t = time.perf_counter()
        enc.embed(crops, **kw)
        runs.append(time.perf_counter() - t)
    return float(np.median(runs)) * 1000 / n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=None, help="faces a network call (default: Encoder.embed's own)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    encs = [Encoder.load(w, "cpu") for w in (args.old, args.new)]
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s), "
          f"bfloat16 in hardware: {bf16_native()}")
    for e in encs:
        print(f"{e.version}: {e.input_size} px, mirror pass {bool(e.card.inference.get('flip_tta'))}, "
              f"card allows bf16: {bool(e.card.inference.get('bf16_cpu'))}")
    native = bf16_native()
    for precision in ("float32", "as the cards ask") if native else ("float32",):
        encoder_module.bf16_native = (lambda: native) if precision != "float32" else (lambda: False)  # type: ignore[assignment]
        for n in (1, 4, 64):
            old, new = (ms_per_face(e, n, args.batch) for e in encs)
            print(f"{precision:>16}, {n:3d} faces a call: {old:.2f} vs {new:.2f} ms a face ({new / old:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
