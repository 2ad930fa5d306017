"""`oneshot-face --self-test PHOTO`: prove an installation (above all a PyInstaller bundle) works.

A bundle that lacks a data file (weights, model card, Haar cascade) or a hidden import (a torch,
OpenCV or Qt module PyInstaller did not see) builds without complaint and only fails on a user's
machine. This check runs the real path once, headless: load the encoder, detect and embed a face
in PHOTO, enrol it in a throw-away gallery, identify the same photo and expect the same name under
τ, take one training step and start one worker process (what Retrain needs), then build the real
main window offscreen. It prints each step and returns 0 only when all of
them worked; otherwise one line saying what failed, and 1.

Everything it writes goes to a temporary data folder that is removed afterwards, so neither the
user's gallery nor the bundle's folder is touched. Qt is imported only in the GUI step.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, TextIO

import numpy as np

from app.errors import SelfTestFailure as SelfTestFailure  # raised by each step (and the GUI's)

if TYPE_CHECKING:
    from app.recognition.encoder import Encoder

SELF_TEST_NAME = "Self Test"
_ENV_KEYS = ("ONESHOT_DATA_DIR", "ONESHOT_CACHE_DIR")
Say = Callable[[str], None]  # prints one step


@contextmanager
def temporary_data_dir() -> Iterator[Path]:
    """Point the user's data and cache folders at a fresh temporary folder, removed afterwards."""
    saved = {k: os.environ.get(k) for k in _ENV_KEYS}
    tmp = Path(tempfile.mkdtemp(prefix="oneshot-selftest-"))
    os.environ["ONESHOT_DATA_DIR"] = str(tmp / "data")
    os.environ["ONESHOT_CACHE_DIR"] = str(tmp / "cache")
    try:
        yield tmp
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(tmp, ignore_errors=True)


def run_self_test(photo: str | os.PathLike, detector: str | None = None,
                  detector_model: str | os.PathLike | None = None,
                  weights: str | os.PathLike | None = None, device: str | None = None,
                  gui: bool = True, gui_timeout: float = 120.0,
                  out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run every step on `photo`; 0 when all worked, else 1 after one line on `err`."""
    out = out or sys.stdout
    err = err or sys.stderr
    from app.errors import OneShotError

    def say(text: str) -> None:
        print(f"self-test: {text}", file=out, flush=True)

    t0 = time.perf_counter()
    try:
        _run(Path(photo), detector, detector_model, weights, device, gui, gui_timeout, say)
    except (SelfTestFailure, OneShotError) as exc:
        print(f"self-test FAILED: {exc}", file=err, flush=True)
        return 1
    except Exception as exc:  # noqa: BLE001 - a missing module or file in a bundle lands here
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"self-test FAILED: {type(exc).__name__}: {msg}", file=err, flush=True)
        return 1
    say(f"passed in {time.perf_counter() - t0:.1f} s")
    return 0


def _run(photo: Path, detector: str | None, detector_model: str | os.PathLike | None,
         weights: str | os.PathLike | None, device: str | None, gui: bool, gui_timeout: float,
         say: Say) -> None:
    from app import __version__, paths

    bundle = getattr(sys, "_MEIPASS", None)
    say(f"oneshot-face {__version__}, Python {sys.version.split()[0]}, "
        f"{'bundle at ' + bundle if bundle else 'resources at ' + str(paths.resource_root())}")
    # Find YuNet before the data folder is redirected (it may sit in the user's model folder).
    model_path = None if detector == "haar" else paths.find_yunet(detector_model)
    with temporary_data_dir() as tmp:
        say(f"temporary data folder {tmp}")
        _core_steps(photo, detector, model_path, weights, device, say)
        if gui:
            _gui_step(detector, model_path, weights, device, gui_timeout, say)


def _core_steps(photo: Path, detector: str | None, model_path: Path | None,
                weights: str | os.PathLike | None, device: str | None, say: Say) -> None:
    import cv2
    import torch

    from app.imageio import load_image
    from app.live.pipeline import Engine
    from app.live.tracking import iou

    engine = Engine.create(detector, model_path, weights, device)
    try:
        if engine.warnings:  # e.g. --weights unusable: the app would fall back, a check must not
            raise SelfTestFailure("; ".join(engine.warnings))
        enc = engine.encoder
        say(f"model {enc.version} (sha256 {enc.card.weights_sha256[:12]}, input "
            f"{enc.input_size}px, tau {engine.threshold:.3f}) from {enc.path}")
        where = getattr(engine.detector, "model_path", None)
        if where is None and engine.detector.name == "haar":
            from app.recognition.detection import haar_cascade_path
            where = haar_cascade_path()
        say(f"detector {engine.detector.name} ({where}); OpenCV {cv2.__version__}")
        if engine.detector.note:
            say(engine.detector.note)
        say(f"device {enc.device.type}; torch {torch.__version__}")

        rgb = load_image(photo)
        faces = engine.detector.detect(rgb)
        say(f"{len(faces)} face(s) in {photo.name} ({rgb.shape[1]}x{rgb.shape[0]})")
        if not faces:
            raise SelfTestFailure(f"no face found in {photo} by the {engine.detector.name} detector.")
        index = max(range(len(faces)), key=lambda i: faces[i].area) + 1
        cand = engine.enrol_candidate(rgb, index, faces=faces, name=str(photo))
        norm = float(np.linalg.norm(cand.embedding))
        if cand.embedding.shape != (int(enc.card.arch.get("dim", 128)),) or abs(norm - 1.0) > 1e-3:
            raise SelfTestFailure(f"the embedding is malformed (shape {cand.embedding.shape}, norm {norm:.4f}).")
        # A degenerate encoder (same vector for any input) would still "identify" the same photo.
        blank = np.full((1, enc.input_size, enc.input_size, 3), 128, np.uint8)
        spread = float(np.linalg.norm(enc.embed(blank)[0] - cand.embedding))
        if not spread > 1e-3:
            raise SelfTestFailure(f"the encoder gives a grey square the face's embedding (distance {spread:.2e}).")
        say(f"embedded face {index}: {cand.embedding.shape[0]}-d, norm {norm:.4f}; "
            f"distance to a grey square {spread:.3f}")
        person = engine.enrol(SELF_TEST_NAME, cand, source=photo.name)
        say(f"enrolled {person.name!r} in a temporary gallery ({len(engine.gallery.people())} person)")

        recs = engine.identify_photo(photo)
        if not recs:
            raise SelfTestFailure(f"no face found in {photo} on the second pass.")
        best = max(recs, key=lambda r: iou(r.face.box, cand.face.box))
        d = float(best.match.distance)
        if best.match.name != SELF_TEST_NAME or not d < engine.threshold:
            raise SelfTestFailure(f"the enrolled face came back as {best.match.name!r} at distance "
                                  f"{d:.4f} (tau {engine.threshold:.3f}), not as {SELF_TEST_NAME!r}.")
        say(f"identified {best.match.name!r} at distance {d:.4f} < tau {engine.threshold:.3f}")
        _training_step(enc, cand.crop, say)
    finally:
        engine.close()


def _probe_worker() -> str:
    """Runs in a spawned process, as the training data preparation's workers do."""
    import cv2
    return f"pid {os.getpid()}, OpenCV {cv2.__version__}"


def _training_step(enc: Encoder, crop: np.ndarray, say: Say) -> None:
    """One optimiser step of what Retrain does, on a copy of the encoder, plus a spawned worker:
    this loads the modules training needs (torch's optimisers import dynamo and sympy) and proves
    a frozen program can start the worker processes that prepare training crops."""
    import copy
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import torch

    from app.recognition.alignment import recrop
    from app.recognition.encoder import to_tensor
    from app.training.losses import triplet_loss

    face = recrop(crop[None], enc.input_size, enc.crop_box)[0]
    grey = np.full_like(face, 128)
    batch = np.stack([face, face[:, ::-1], grey, np.clip(grey.astype(int) + 40, 0, 255).astype(np.uint8)])
    net = copy.deepcopy(enc.net).to("cpu").train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    before = [p.detach().clone() for p in net.parameters()]
    # Labels that pair the face with a grey square, and a margin above 4 (the largest squared
    # distance between unit vectors): the loss is at least 0.5 whatever the weights, so a good
    # model cannot satisfy it by chance (the 0.2 margin did, once, with a face Haar cut).
    loss = triplet_loss(net(to_tensor(batch)), torch.tensor([0, 1, 0, 1]), 4.5, "semihard")
    opt.zero_grad(set_to_none=True)
    loss.backward()
    grad = sum(float(p.grad.abs().sum()) for p in net.parameters() if p.grad is not None)
    opt.step()
    sched.step()
    value = float(loss.detach())
    changed = any(not torch.equal(a, b.detach()) for a, b in zip(before, net.parameters()))
    if not (np.isfinite(value) and value > 0 and grad > 0 and changed):
        raise SelfTestFailure(f"a training step did not work (loss {value:.4f}, gradient {grad:.3g}, "
                              f"weights changed: {changed}).")
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        child = pool.submit(_probe_worker).result(timeout=120)
    say(f"training step: triplet loss {value:.4f}, weights updated; spawned worker ({child})")


def _gui_step(detector: str | None, model_path: Path | None, weights: str | os.PathLike | None,
              device: str | None, timeout: float, say: Say) -> None:
    """Build the real main window offscreen (no camera) and wait for its engine and People list."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from app.gui.selftest_window import check_main_window
    check_main_window(detector, model_path, weights, device, timeout, say, SELF_TEST_NAME)
