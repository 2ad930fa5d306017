"""End-to-end frames/s of two source trees, measured alternately in fresh processes.

`oneshot-face bench` measures one tree; to tell whether a change made the live path slower on a
shared, noisy machine, the two trees must take turns (A, B, A, B, …) so that the machine's load
falls on both alike. Each run is `app.evaluation.bench.e2e_child` over the sample clip (two people
enrolled, as `bench` does it) with that tree first on the path; also reports the main thread's
CPU time per frame, which the machine's load moves less than wall time.

    python benchmarks/e2e_alternate.py TREE_A TREE_B [--runs 8]

A tree is a checkout, e.g. `git worktree add --detach /tmp/before <commit>`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import json, sys, time
import app.live.analysis as analysis
from app.evaluation.bench import e2e_child
call = analysis.LiveAnalyser.__call__
spent = [0.0]
def timed(self, *a, **k):
    t = time.thread_time()
    try:
        return call(self, *a, **k)
    finally:
        spent[0] += time.thread_time() - t
analysis.LiveAnalyser.__call__ = timed
r = e2e_child(*json.loads(sys.argv[1]))
print(json.dumps({"fps": r["e2e_fps"], "frames": r["frames"], "named": r["named_faces"],
                  "cpu_ms_per_frame": 1000 * spent[0] / max(1, r["frames"])}))
"""


def run_once(tree: Path, clip: Path, yunet: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "QT_QPA_PLATFORM": "offscreen"}
    args = json.dumps([str(clip), None, str(yunet), "cpu", None])
    proc = subprocess.run([sys.executable, "-c", CHILD, args], cwd=tree, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: {proc.stderr.strip().splitlines()[-1:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def summary(runs: list[dict]) -> dict:
    fps = [r["fps"] for r in runs]
    cpu = [r["cpu_ms_per_frame"] for r in runs]
    return {"runs": len(runs), "fps_median": round(statistics.median(fps), 1), "fps_max": round(max(fps), 1),
            "fps_all": [round(f, 1) for f in fps], "cpu_ms_per_frame_median": round(statistics.median(cpu), 2),
            "frames": runs[0]["frames"], "named_faces": runs[0]["named"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree_a", type=Path)
    ap.add_argument("tree_b", type=Path)
    ap.add_argument("--runs", type=int, default=8, help="runs per tree (alternated)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from app import paths
    shared = paths.shared_dir()
    if shared is None:
        raise SystemExit("e2e_alternate needs ../shared (or $ONESHOT_SHARED) for the sample clip and YuNet.")
    clip = shared / "datasets" / "samples" / "short_hamilton_clip.mp4"
    yunet = shared / "models" / "face_detection_yunet_2026may.onnx"
    out: dict[str, list[dict]] = {"a": [], "b": []}
    for i in range(args.runs):
        for key, tree in (("a", args.tree_a), ("b", args.tree_b)):
            out[key].append(run_once(tree.resolve(), clip, yunet))
            print(f"\r{i + 1}/{args.runs}", end="", file=sys.stderr)
    print(file=sys.stderr)
    print(json.dumps({"a": {"tree": str(args.tree_a), **summary(out["a"])},
                      "b": {"tree": str(args.tree_b), **summary(out["b"])}}, indent=1))


if __name__ == "__main__":
    main()
