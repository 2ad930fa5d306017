"""`oneshot-face bench`: speed and memory of every stage, medians over repeated runs.

The end-to-end figures (start-up, frames per second, peak memory) come from a fresh child
process, so they include imports and model loading and are not flattered by this process's warm
caches. Nothing here asserts a time; the README reports what this printed and where.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from app import paths
from app.errors import OneShotError


def _median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _samples() -> Path:
    shared = paths.shared_dir()
    if shared is None:
        raise OneShotError("bench needs ../shared/datasets/samples (or $ONESHOT_SHARED).")
    return shared / "datasets" / "samples"


def machine() -> dict:
    import torch
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores: int | None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    return {"cpu": cpu, "cores": cores, "os": platform.platform(), "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "python": platform.python_version(), "torch": torch.__version__}


def e2e_child(source: str, weights: str | None, detector_model: str | None, device: str | None,
              max_frames: int | None) -> dict:
    """Runs in a fresh process: start, enrol both people, label the clip frame by frame."""
    t_start = time.perf_counter()
    from app.live.pipeline import Engine
    from app.live.sources import open_source
    from app.recognition.detection import DEFAULT_DETECTOR
    samples = Path(source).parent
    engine = Engine.create(DEFAULT_DETECTOR, detector_model, weights, device, gallery_path=Path(tempfile.mkdtemp()) / "g.sqlite3")
    for name, photo in [("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Alex Lacamoire", "alex-lacamoire.png")]:
        engine.enrol_photo(name, samples / photo, add_to_existing=True)
    from app.live.analysis import LiveAnalyser
    live = LiveAnalyser(engine)  # as the app's live view runs: tracks, settled faces carried over
    startup = None
    frames = faces = named = embedded = 0
    t_first = None
    with open_source(source) as src:
        while max_frames is None or frames < max_frames:
            frame = src.read()
            if frame is None:
                break
            result = live(frame.rgb)
            if startup is None and any(lab.known for lab in result.labels):
                startup = time.perf_counter() - t_start
            if t_first is None:
                t_first = time.perf_counter()
            frames += 1
            faces += len(result.labels)
            embedded += result.embedded
            named += sum(lab.known for lab in result.labels)
    elapsed = time.perf_counter() - t_first if t_first else float("nan")
    retried = retry_share(getattr(engine.detector, "retries", None), frames)
    engine.close()
    return {"detector_retry": retried, "startup_s": startup, "e2e_fps": (frames - 1) / elapsed if frames > 1 else None,
            "frames": frames, "faces": faces, "faces_embedded": embedded, "named_faces": named,
            "peak_rss_mb": peak_rss_mb()}


def retry_share(count, frames: int) -> dict | None:
    """How often the detector's dark-frame retry ran and found a face, per frame looked at: the
    price of the retry is paid only on these frames. None for a detector without the retry."""
    if count is None:
        return None
    return {"frames": frames, "retried": count.tried, "found": count.found,
            "retried_share": count.tried / frames if frames else None}


def dark_retry_figures(detector, frames: list[np.ndarray], repeats: int) -> dict:
    """The clip's frames darkened as in an unlit room: how often the retry runs there, how often
    it finds a face, and what a dark frame costs to detect (the retry included)."""
    from app.recognition.detection import RetryCount
    dark = [np.clip(255.0 * 0.05 * (f / 255.0) ** 2.6 + 0.5, 0, 255).astype(np.uint8) for f in frames]
    detector.retries = RetryCount()
    for f in dark:
        detector.detect(f)
    share = retry_share(detector.retries, len(dark))
    ms = _median_ms(lambda: [detector.detect(f) for f in dark], repeats) / len(dark)
    detector.retries = RetryCount()
    return {**(share or {}), "detect_ms_640x360_dark": ms}


def peak_rss_mb() -> float:
    """This process's own peak resident memory. On Linux, VmHWM belongs to the process image,
    whereas ru_maxrss survives fork + exec, so a child started by a big parent would report
    the parent's peak instead of its own."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def run_bench(args) -> dict:
    """Every figure on this machine as it is; with `args.busy` = N, the same figures again while N
    CPU-bound processes (started and stopped here) compete for the cores, as on a laptop with a
    busy browser."""
    from app.live.sources import open_source

    repeats = max(1, int(getattr(args, "repeats", 5)))
    samples = _samples()
    clip = samples / "short_hamilton_clip.mp4"
    frames: list[np.ndarray] = []
    with open_source(str(clip)) as src:
        while len(frames) < 60:
            f = src.read()
            if f is None:
                break
            frames.append(f.rgb)
    yunet_path = paths.find_yunet(getattr(args, "detector_model", None))
    if yunet_path is None or not Path(yunet_path).is_file():
        raise OneShotError("bench needs the YuNet model (run `oneshot-face fetch-models`).")
    out: dict = {"machine": machine(), "repeats": repeats}
    out.update(_figures(args, repeats, frames, samples, clip, yunet_path))
    busy = int(getattr(args, "busy", 0) or 0)
    if busy > 0:
        with competing_processes(busy):
            figures = _figures(args, repeats, frames, samples, clip, yunet_path)
        out["busy"] = {"competing_processes": busy, **figures}
        if out.get("e2e_fps") and figures.get("e2e_fps"):
            out["busy"]["e2e_fps_share_of_idle"] = figures["e2e_fps"] / out["e2e_fps"]
    return _rounded(out)


def _rounded(d: dict) -> dict:
    return {k: (round(v, 3) if isinstance(v, float) else _rounded(v) if isinstance(v, dict) and k != "machine" else v)
            for k, v in d.items()}


@contextlib.contextmanager
def competing_processes(n: int):
    """N processes that each keep one core busy until the block ends."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        time.sleep(0.5)  # let them get going
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def _figures(args, repeats: int, frames: list, samples: Path, clip: Path, yunet_path) -> dict:
    import torch

    from app.imageio import load_image
    from app.live.pipeline import live_threads
    from app.recognition.alignment import align_many
    from app.recognition.detection import HaarDetector, YuNetDetector
    from app.recognition.encoder import Encoder
    from app.recognition.matching import Matcher

    out: dict = {}
    yunet, haar = YuNetDetector(yunet_path), HaarDetector()
    out["detect_ms_yunet_640x360"] = _median_ms(lambda: [yunet.detect(f) for f in frames], repeats) / len(frames)
    out["detect_ms_haar_640x360"] = _median_ms(lambda: [haar.detect(f) for f in frames[:20]], repeats) / 20
    out["detector_retry_dark_clip"] = dark_retry_figures(yunet, frames, repeats)

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    photo = load_image(samples / "obama.jpg")
    face = yunet.detect(photo)[0]
    all_threads = torch.get_num_threads()
    for dev in devices:
        enc = Encoder.load(getattr(args, "weights", None), dev)
        out["live_threads"] = live_threads()  # one face, as a live frame is embedded
        one = _median_ms(lambda: enc.embed(align_many(photo, [face], enc.input_size, enc.crop_box)), repeats * 4)
        torch.set_num_threads(all_threads)    # batches, as evaluation and re-embedding run
        batch = align_many(photo, [face] * 256, enc.input_size, enc.crop_box)
        b_ms = _median_ms(lambda: enc.embed(batch), repeats)
        align_ms = _median_ms(lambda: align_many(photo, [face] * 64, enc.input_size, enc.crop_box), repeats) / 64
        suffix = "" if dev == "cpu" else "_cuda"
        out[f"align_embed_ms_per_face{suffix}"] = one
        # enrolling embeds one face once, with the card's shifted views (5 where it has them)
        out[f"enrol_embed_ms_per_face{suffix}"] = _median_ms(
            lambda: enc.embed_enrolment(align_many(photo, [face], enc.input_size, enc.crop_box)), repeats * 4)
        out[f"align_ms_per_face{suffix}"] = align_ms
        out[f"embed_faces_per_s{suffix}"] = 256 / (b_ms / 1000)
        # what those figures ran: networks averaged, mirror images, number format
        out[f"embed_setup{suffix}"] = {"networks": int(enc.card.arch.get("members", 1)),
                                       "flip_tta": bool(enc.card.inference.get("flip_tta", False)),
                                       "enrol_views": enc.enrol_views,
                                       "precision": "bf16" if enc.bf16 else "fp32"}
    rng = np.random.default_rng(0)
    query = rng.standard_normal((1, 128)).astype(np.float32)
    query /= np.linalg.norm(query)
    for n, key in [(1, "match_ms_1"), (1000, "match_ms_1k"), (100_000, "match_ms_100k")]:
        emb = rng.standard_normal((n, 128)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        m = Matcher(emb, np.arange(n), {i: f"p{i}" for i in range(n)})
        out[key] = _median_ms(lambda: m.match(query, 0.8), repeats * 4)

    runs = []
    for _ in range(max(1, min(repeats, 3))):
        cmd = [sys.executable, "-c", "import json,sys; from app.evaluation.bench import e2e_child; "
               "print(json.dumps(e2e_child(*json.loads(sys.argv[1]))))",
               json.dumps([str(clip), getattr(args, "weights", None), str(yunet_path), "cpu", None])]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=str(paths.resource_root()))
        if proc.returncode != 0:
            raise OneShotError(f"end-to-end run failed: {proc.stderr.strip().splitlines()[-1:]}")
        runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    for key in ("e2e_fps", "startup_s", "peak_rss_mb"):
        vals = [r[key] for r in runs if r[key] is not None]
        out[key] = statistics.median(vals) if vals else None
    out["e2e_frames"] = runs[0]["frames"]
    out["e2e_named_faces"] = runs[0]["named_faces"]
    out["e2e_detector_retry"] = runs[0]["detector_retry"]
    return out
