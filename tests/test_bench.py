"""The bench's memory figure must be the measured process's own, not inherited from its parent."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from app.bench import peak_rss_mb


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork + exec inheritance is Linux's")
def test_child_peak_rss_is_its_own_not_its_parents():
    big = np.ones(100_000_000, np.float32)  # 400 MB touched in this (parent) process
    assert peak_rss_mb() > 400
    code = ("import resource; from app.bench import peak_rss_mb; "
            "print(peak_rss_mb(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    own, inherited = map(float, subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                               check=True).stdout.split())
    del big
    assert inherited > 400   # what ru_maxrss says in the child: the parent's peak
    assert own < 200         # a bare interpreter importing app.bench
