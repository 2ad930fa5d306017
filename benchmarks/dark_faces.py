"""Does YuNet's retry on a contrast-normalised copy find the faces it misses in the dark?

Each LFW photo of the chosen people is rendered darker (brightness scaled by k after a gamma) or
flatter (contrast squeezed towards grey), as an unlit room or a cheap webcam in dim light gives it.
The face found on the untouched photo (nearest the centre) is the truth; a face counts as found
when the detector's face nearest the centre overlaps it (IoU >= 0.5). Each rendering is detected
without and with the retry (`YuNetDetector.retry`, `ContrastRetry`), so the table says how many faces the retry gives
back and whether it adds faces that are not the one in the photo. `--clip` runs the sample video
frame by frame at the live view's size, both ways, and lists every frame where the retry ran
and what it found there: the check that it adds no false faces on real video.

    python benchmarks/dark_faces.py [--people validation|devtest] [--limit N] [--sweep] [--clip] [--json]

The parameters (`ContrastRetry`: the gates on mean and spread of luminance, CLAHE's clip limit
and tiles) are chosen with `--people validation --sweep` (training people); `--people devtest`
measures what ships, once.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import paths  # noqa: E402
from app.evaluation.protocols import read_people_counts  # noqa: E402
from app.imageio import load_image  # noqa: E402
from app.recognition.detection import ContrastRetry, Face, RetryCount, YuNetDetector  # noqa: E402
from app.training.calibration import validation_people  # noqa: E402

# (name, kind, a, b): dark = 255·k·(x/255)^γ with (k, γ); flat = grey + s·(x − grey) with (s, grey)
RENDERINGS = [("dim", "dark", 0.35, 1.6), ("dark", "dark", 0.18, 2.0), ("very dark", "dark", 0.09, 2.4),
              ("near black", "dark", 0.05, 2.6), ("flat", "flat", 0.12, 110.0), ("dark flat", "flat", 0.12, 40.0)]


def render(rgb: np.ndarray, kind: str, a: float, b: float) -> np.ndarray:
    x = rgb.astype(np.float32)
    if kind == "dark":
        out = 255.0 * a * (x / 255.0) ** b
    else:
        out = b + a * (x - b)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def iou(a: Face, b: Face) -> float:
    ax, ay, aw, ah = a.box
    bx, by, bw, bh = b.box
    w = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = w * h
    return inter / (aw * ah + bw * bh - inter) if inter > 0 else 0.0


def image_list(lfw: Path, people: str, limit: int | None) -> list[Path]:
    if people == "validation":
        multi, single = validation_people(lfw)
        names = sorted(multi | single)
    else:
        names = [n for n, _ in read_people_counts(lfw / "protocol" / "peopleDevTest.txt")]
    files = [f for n in names for f in sorted((lfw / "images" / n).glob("*.jpg"))]
    if limit and len(files) > limit:
        rng = np.random.default_rng(0)
        files = [files[i] for i in sorted(rng.choice(len(files), limit, replace=False))]
    return files


# CLAHE settings tried by --sweep: few, as each costs a pass over every rendering
SWEEP = [(2.0, 4), (3.0, 4), (3.0, 8)]
SHIPPED = ContrastRetry()


def gates_open(clip: float, tiles: int) -> ContrastRetry:
    """Every miss retried: how much the copy itself gives back, whatever the gates."""
    return ContrastRetry(dark_mean=256.0, flat_std=256.0, clahe_clip=clip, clahe_tiles=tiles)


def tally(det: YuNetDetector, truths: list[tuple[np.ndarray, Face]], kind: str, a: float, b: float) -> dict:
    """Found (right face), wrong (a face, not the photo's) and missed, on one rendering."""
    found = wrong = 0
    det.retries = RetryCount()
    for rgb, truth in truths:
        face = det.detect_central(render(rgb, kind, a, b))
        if face is None:
            continue
        if iou(face, truth) >= 0.5:
            found += 1
        else:
            wrong += 1
    n = len(truths)
    return {"faces": n, "found": found, "wrong": wrong, "missed": n - found - wrong,
            "found_share": found / n if n else None, "retries": det.retries.tried}


def photos_table(yunet: Path, files: list[Path]) -> dict:
    plain = YuNetDetector(yunet, retry=None)
    truths = []
    for f in files:
        rgb = load_image(f)
        face = plain.detect_central(rgb)
        if face is not None:
            truths.append((rgb, face))
    retry = YuNetDetector(yunet, retry=SHIPPED)
    rows = {}
    for name, kind, a, b in RENDERINGS:
        rows[name] = {"plain": tally(plain, truths, kind, a, b), "retry": tally(retry, truths, kind, a, b)}
    return {"images": len(files), "faces_on_originals": len(truths), "renderings": rows}


def sweep(yunet: Path, files: list[Path]) -> list[dict]:
    """Each CLAHE setting's faces found over all renderings (the gates open, so every miss is retried)."""
    plain = YuNetDetector(yunet, retry=None)
    truths = [(rgb, face) for rgb in (load_image(f) for f in files) if (face := plain.detect_central(rgb)) is not None]
    out = []
    for clip, tiles in SWEEP:
        det = YuNetDetector(yunet, retry=gates_open(clip, tiles))
        rows = {name: tally(det, truths, kind, a, b) for name, kind, a, b in RENDERINGS}
        out.append({"clip": clip, "tiles": tiles, "found": sum(r["found"] for r in rows.values()),
                    "wrong": sum(r["wrong"] for r in rows.values())})
    return out


def gate_stats(yunet: Path, files: list[Path]) -> dict:
    """Mean and std of luminance of the renderings the shipped CLAHE copy rescues, and of the
    untouched photos (which should stay outside the gates): where the gates should lie."""
    plain = YuNetDetector(yunet, retry=None)
    photo_mean, photo_std = [], []
    rescued_mean, rescued_std = [], []
    for f in files:
        rgb = load_image(f)
        if plain.detect_central(rgb) is None:
            continue
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        photo_mean.append(float(grey.mean()))
        photo_std.append(float(grey.std()))
        for _, kind, a, b in RENDERINGS:
            img = render(rgb, kind, a, b)
            if plain.detect(img):
                continue
            bgr = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
            if plain.detect(cv2.cvtColor(SHIPPED.normalised(bgr), cv2.COLOR_BGR2RGB)):
                grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
                rescued_mean.append(float(grey.mean()))
                rescued_std.append(float(grey.std()))
    return {"rescued": len(rescued_mean), "rescued_mean": percentiles(rescued_mean, [50, 90, 95, 99]),
            "rescued_std": percentiles(rescued_std, [50, 90, 95, 99]),
            "photos_mean": percentiles(photo_mean, [1, 5, 10, 50]), "photos_std": percentiles(photo_std, [1, 5, 10, 50]),
            "rescued_inside_gates": sum(m < SHIPPED.dark_mean or s < SHIPPED.flat_std
                                        for m, s in zip(rescued_mean, rescued_std)),
            "photos_inside_gates": sum(m < SHIPPED.dark_mean or s < SHIPPED.flat_std
                                       for m, s in zip(photo_mean, photo_std))}


def percentiles(values: list[float], q: list[int]) -> dict:
    return dict(zip(map(str, q), np.percentile(values, q).round(1).tolist())) if values else {}


def clip_table(yunet: Path, max_side: int = 480, retry: ContrastRetry = SHIPPED) -> dict:
    """The sample clip at the live view's detection size: faces per frame both ways; then each
    frame rendered near black, where a face the retry finds counts as false unless it overlaps
    (IoU >= 0.3) a face found on the frame as it is. Every frame of the clip holds a face, so the
    dark copy is what exercises the retry on real video."""
    from app.live.sources import open_source
    clip = paths.shared_dir() / "datasets" / "samples" / "short_hamilton_clip.mp4"  # type: ignore[operator]
    plain, retry_det = YuNetDetector(yunet, retry=None), YuNetDetector(yunet, retry=retry)
    dark_det = YuNetDetector(yunet, retry=retry)
    _, kind, a, b = next(r for r in RENDERINGS if r[0] == "near black")
    frames = faces_plain = faces_retry = dark_plain = dark_retry = dark_false = 0
    changed = []
    with open_source(str(clip)) as src:
        while (frame := src.read()) is not None:
            p, r = plain.detect_shrunk(frame.rgb, max_side), retry_det.detect_shrunk(frame.rgb, max_side)
            faces_plain += len(p)
            faces_retry += len(r)
            if len(p) != len(r):
                changed.append({"frame": frames, "plain": len(p), "retry": len(r),
                                "boxes": [[round(v) for v in f.box] for f in r]})
            dark = render(frame.rgb, kind, a, b)
            dark_plain += len(plain.detect_shrunk(dark, max_side))
            found = dark_det.detect_shrunk(dark, max_side)
            dark_retry += len(found)
            dark_false += sum(max((iou(f, t) for t in p), default=0.0) < 0.3 for f in found)
            frames += 1
    return {"frames": frames, "faces_plain": faces_plain, "faces_retry": faces_retry,
            "frames_retried": retry_det.retries.tried, "frames_retry_found": retry_det.retries.found, "changed": changed,
            "near_black": {"faces_plain": dark_plain, "faces_retry": dark_retry, "false_faces": dark_false,
                           "frames_retried": dark_det.retries.tried, "frames_retry_found": dark_det.retries.found}}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--people", choices=["validation", "devtest"], default="validation")
    ap.add_argument("--limit", type=int, default=None, help="a random sample of this many photos")
    ap.add_argument("--sweep", action="store_true", help="CLAHE settings and the rescued frames' light (validation)")
    ap.add_argument("--clip", action="store_true", help="also the sample clip, frame by frame")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    yunet = paths.find_yunet()
    lfw = Path(paths.lfw_dir(must_exist=True) or "")
    if yunet is None:
        raise SystemExit("YuNet not found")
    files = image_list(lfw, args.people, args.limit)
    out: dict = {"people": args.people, "params": dataclasses.asdict(SHIPPED)}
    if args.sweep:
        if args.people != "validation":
            raise SystemExit("--sweep chooses parameters: validation people only")
        out["sweep"] = sweep(yunet, files)
        out["gates"] = gate_stats(yunet, files)
    else:
        out["photos"] = photos_table(yunet, files)
    if args.clip:
        out["clip"] = clip_table(yunet)
    if args.json:
        print(json.dumps(out, indent=1))
    else:
        print_tables(out)
    return out


def print_tables(out: dict) -> None:
    if "sweep" in out:
        for row in sorted(out["sweep"], key=lambda r: -r["found"]):
            print(f"clip {row['clip']:>4} tiles {row['tiles']}: found {row['found']}, wrong {row['wrong']}")
        print("rescued renderings' luminance:", out["gates"])
    if "photos" in out:
        p = out["photos"]
        print(f"{out['people']}: {p['faces_on_originals']} faces on {p['images']} photos")
        print("| rendering | found, no retry | found, retry | wrong faces (no retry / retry) | retries |")
        print("|---|---|---|---|---|")
        for name, r in p["renderings"].items():
            print(f"| {name} | {r['plain']['found_share']:.3f} | {r['retry']['found_share']:.3f} | "
                  f"{r['plain']['wrong']} / {r['retry']['wrong']} | {r['retry']['retries']} |")
    if "clip" in out:
        c = out["clip"]
        print(f"clip: {c['frames']} frames, faces {c['faces_plain']} without retry, {c['faces_retry']} with; "
              f"retry ran on {c['frames_retried']} frames, found a face on {c['frames_retry_found']}; changed: {c['changed']}; "
              f"near black: {c['near_black']}")


if __name__ == "__main__":
    main()
