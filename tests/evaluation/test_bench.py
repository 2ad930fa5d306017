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


def test_retry_share_counts_per_frame_looked_at():
    from app.evaluation.bench import retry_share
    from app.recognition.detection import RetryCount
    assert retry_share(RetryCount(tried=3, found=2), 12) == {"frames": 12, "retried": 3, "found": 2,
                                                             "retried_share": 0.25}
    assert retry_share(RetryCount(), 0)["retried_share"] is None
    assert retry_share(None, 12) is None   # Haar: no retry to report


def test_dark_clip_figures_say_how_often_the_retry_ran_and_found_a_face(samples_dir, yunet_path):
    """A photo with a face and a black frame, both darkened: both retried, a face found in one."""
    from app.evaluation.bench import dark_retry_figures
    from app.imageio import load_image
    from app.recognition.detection import RetryCount, YuNetDetector
    det = YuNetDetector(yunet_path)
    r = dark_retry_figures(det, [load_image(samples_dir / "obama.jpg"), np.zeros((360, 640, 3), np.uint8)], 1)
    assert (r["frames"], r["retried"], r["found"], r["retried_share"]) == (2, 2, 1, 1.0)
    assert r["detect_ms_640x360_dark"] > 0
    assert det.retries == RetryCount()   # the bench's own counting leaves the detector as it found it
    no_retry = dark_retry_figures(YuNetDetector(yunet_path, retry=None), [load_image(samples_dir / "obama.jpg")], 1)
    assert (no_retry["retried"], no_retry["found"]) == (0, 0)
