"""Atomic writes under a full disk: the previous file survives and no temporary file is left.

A full disk is simulated where Python writes: the temporary file's writes fail with ENOSPC
after a few bytes, as they would on a real full file system.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from app import atomic
from app.atomic import atomic_write
from app.recognition.encoder import Encoder, save_model
from app.recognition.model_card import ModelCard, card_path_for, write_card
from app.recognition.networks import FaceNet
from app.store import settings

SMALL = {"input_size": 32, "widths": [8, 16], "blocks": [1, 1], "dim": 128}


class _FullDiskFile:
    """A file object whose writes stop with ENOSPC once `budget` bytes are written."""

    def __init__(self, f, budget: int):
        self._f, self._budget = f, budget

    def write(self, data):
        if len(data) > self._budget:
            self._f.write(data[: self._budget])
            self._budget = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._budget -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return self._f.__exit__(*exc)


@pytest.fixture
def fill_disk(monkeypatch):
    """Call it to make files opened by atomic_write take 100 bytes, then fail with ENOSPC."""
    real = os.fdopen

    def enable() -> None:
        monkeypatch.setattr(atomic.os, "fdopen", lambda fd, *a, **kw: _FullDiskFile(real(fd, *a, **kw), 100))

    return enable


def leftovers(folder):
    return [f.name for f in folder.iterdir() if f.name.endswith(".tmp")]


def test_atomic_write_replaces_and_keeps_mode(tmp_path):
    p = tmp_path / "secret.bin"
    with atomic_write(p, mode=0o600) as f:
        f.write(b"one")
    with atomic_write(p, mode=0o600) as f:
        f.write(b"two")
    assert p.read_bytes() == b"two" and stat.S_IMODE(p.stat().st_mode) == 0o600
    with pytest.raises(RuntimeError):
        with atomic_write(p) as f:
            f.write(b"half")
            raise RuntimeError("crash while serialising")
    assert p.read_bytes() == b"two" and leftovers(tmp_path) == []


def test_full_disk_while_saving_settings_keeps_the_previous_file(fill_disk):
    s = settings.Settings(tau=0.5, source="clip.mp4", extra={"note": "x" * 500})
    path = settings.save(s)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # private, like the gallery
    before = path.read_bytes()
    fill_disk()
    s.tau = 0.9
    with pytest.raises(OSError) as err:
        settings.save(s)
    assert err.value.errno == errno.ENOSPC
    assert path.read_bytes() == before and settings.load().tau == 0.5
    assert leftovers(path.parent) == []


def test_full_disk_while_saving_a_model_keeps_the_previous_model(tmp_path, fill_disk, monkeypatch):
    torch.manual_seed(0)
    path = save_model(FaceNet(**SMALL).eval(), ModelCard(arch=dict(SMALL), version="old"), tmp_path / "m.pt")
    weights, card = path.read_bytes(), card_path_for(path).read_bytes()
    fill_disk()
    with pytest.raises(OSError):
        save_model(FaceNet(**SMALL).eval(), ModelCard(arch=dict(SMALL), version="new"), path)
    with pytest.raises(OSError):
        write_card(ModelCard(arch=dict(SMALL), version="new card"), path)
    monkeypatch.undo()
    assert path.read_bytes() == weights and card_path_for(path).read_bytes() == card
    assert Encoder.load(path, "cpu").version == "old"
    assert leftovers(tmp_path) == []
    assert Encoder.load(path, "cpu").embed(np.zeros((1, 32, 32, 3), np.uint8)).shape == (1, 128)


@pytest.mark.skipif(os.name != "posix", reason="killed writers are detected with os.kill(pid, 0)")
def test_next_write_removes_the_temp_file_of_a_killed_writer(tmp_path):
    """A writer SIGKILLed mid-write leaves `.NAME.PID.tmp`; the next successful write of the
    same file removes it, but never the temp file of a writer that is still alive."""
    p = tmp_path / "settings.json"
    child = subprocess.Popen([sys.executable, "-c", (
        "import os, signal, sys; sys.path.insert(0, sys.argv[2]); from app.atomic import atomic_write\n"
        "with atomic_write(sys.argv[1], text=True) as f:\n"
        "    f.write('half'); f.flush(); os.kill(os.getpid(), signal.SIGKILL)"),
        str(p), str(Path(__file__).resolve().parents[2])])
    assert child.wait(timeout=60) == -signal.SIGKILL
    assert leftovers(tmp_path) == [f".settings.json.{child.pid}.tmp"] and not p.exists()
    alive = tmp_path / f".settings.json.{os.getppid()}.tmp"  # another writer, still running
    alive.write_text("in progress")
    with atomic_write(p, text=True) as f:
        f.write("whole")
    assert p.read_text() == "whole" and leftovers(tmp_path) == [alive.name]
