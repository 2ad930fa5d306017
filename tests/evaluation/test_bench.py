"""The bench's memory figure must be the measured process's own, not inherited from its parent."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from app.evaluation.bench import peak_rss_mb


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork + exec inheritance is Linux's")
def test_child_peak_rss_is_its_own_not_its_parents():
    big = np.ones(100_000_000, np.float32)  # 400 MB touched in this (parent) process
    assert peak_rss_mb() > 400
    code = ("import resource; from app.evaluation.bench import peak_rss_mb; "
            "print(peak_rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    own, inherited = map(float, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                               check=True).stdout.split())
    del big
    assert inherited > 400   # what ru_maxrss says in the child: the parent's peak
    assert own < 200         # a bare interpreter importing app.evaluation.bench


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_competing_processes_keep_cores_busy_and_stop():
    import time

    from app.evaluation.bench import competing_processes

    def cpu_ticks(pid):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime

    with competing_processes(2) as procs:
        assert len(procs) == 2 and all(p.poll() is None for p in procs)
        before = [cpu_ticks(p.pid) for p in procs]
        time.sleep(0.5)
        assert all(cpu_ticks(p.pid) > b for p, b in zip(procs, before))  # each one computing
    assert all(p.poll() is not None for p in procs)  # and gone afterwards


def test_live_frames_use_one_torch_thread_unless_told_otherwise(monkeypatch):
    import torch

    from app.live.pipeline import live_threads
    before = torch.get_num_threads()
    try:
        assert live_threads() == 1 and torch.get_num_threads() == 1
        monkeypatch.setenv("ONESHOT_THREADS", "2")
        assert live_threads() == 2 and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
