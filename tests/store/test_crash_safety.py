"""A process killed with SIGKILL in the middle of an enrolment, a deletion, a re-embedding or a
training checkpoint: the next process finds the gallery (or checkpoint) consistent and everything
committed before the kill still there.

Each test runs a real child Python process that does the work and stops at a chosen point
inside the operation (a SQLite trace or progress callback, or a patched writer, prints a marker
and sleeps there); the test SIGKILLs it at that moment and then inspects the files itself.
"""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from app.store.gallery import Gallery

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX signals")

REPO = Path(__file__).resolve().parents[2]

# Shared by the children: deterministic crops and embeddings the parent can recompute.
COMMON = textwrap.dedent("""
    import sys, time
    import numpy as np

    def emb(seed, dim=128):
        e = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
        return e / np.linalg.norm(e)

    def pause_here():
        print("PAUSED", flush=True)
        time.sleep(120)  # the parent kills us during this sleep
""")


def emb(seed: int, dim: int = 128) -> np.ndarray:
    e = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return e / np.linalg.norm(e)


def crop(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (112, 112, 3), dtype=np.uint8)


def kill_at_marker(tmp_path: Path, body: str, *args: str, timeout: float = 120.0) -> list[str]:
    """Run `body` in a child process, SIGKILL it when it prints PAUSED; return what it printed."""
    script = tmp_path / "child.py"
    script.write_text(COMMON + textwrap.dedent(body), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script), *args], cwd=REPO, env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line.rstrip("\n")) for line in proc.stdout] + [lines.put(None)],
                     daemon=True).start()
    seen: list[str] = []
    try:
        while True:
            line = lines.get(timeout=timeout)
            if line is None:
                pytest.fail(f"the child ended without reaching the kill point: {seen}\n{proc.stderr.read()}")
            seen.append(line)
            if line == "PAUSED":
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    return seen


def integrity_ok(db: Path) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        orphans = conn.execute("SELECT COUNT(*) FROM samples WHERE person_id NOT IN (SELECT id FROM people)")
        assert orphans.fetchone()[0] == 0
        assert conn.execute("SELECT COUNT(*) FROM people p WHERE NOT EXISTS "
                            "(SELECT 1 FROM samples s WHERE s.person_id = p.id)").fetchone()[0] == 0
    finally:
        conn.close()


def test_sigkill_during_enrolment_loses_nothing_committed(tmp_path):
    """Killed after the 7th person's row is written but before their sample: people 0-5 are
    there with their exact embeddings, no trace of a half-enrolled person 6."""
    db = tmp_path / "gallery.sqlite3"
    out = kill_at_marker(tmp_path, """
        from app.store.gallery import Gallery
        g = Gallery(sys.argv[1])
        inserts = [0]
        def trace(sql):
            if sql.startswith("INSERT INTO samples"):
                inserts[0] += 1
                if inserts[0] == 7:
                    pause_here()
        g._conn.set_trace_callback(trace)
        for i in range(100):
            crop = np.random.default_rng(i).integers(0, 256, (112, 112, 3), dtype=np.uint8)
            g.enrol(f"Person {i}", crop, emb(i), "v1", source=f"p{i}.jpg")
            print("COMMITTED", i, flush=True)
    """, str(db))
    assert out == [f"COMMITTED {i}" for i in range(6)] + ["PAUSED"]
    integrity_ok(db)
    with Gallery(db) as g:
        people = g.people()
        assert [p.name for p in people] == [f"Person {i}" for i in range(6)]
        assert all(p.sample_count == 1 for p in people)
        for p in people:
            i = int(p.name.split()[1])
            (s,) = g.samples(p.id)
            assert np.array_equal(s.embedding, emb(i)) and np.array_equal(s.crop, crop(i))
        g.enrol("Person 6", crop(6), emb(6), "v1")  # the name is free: nothing half-done
        assert g.matcher("v1").match(emb(6), 0.1)[0].name == "Person 6"


def _four_people(db: Path) -> None:
    with Gallery(db) as g:
        for i in range(4):
            p = g.enrol(f"Person {i}", crop(i), emb(i), "v1")
            g.add_sample(p.id, crop(100 + i), emb(100 + i), "v1")


@pytest.mark.parametrize("when", ["before-commit", "during-vacuum"])
def test_sigkill_during_deletion_is_all_or_nothing(tmp_path, when):
    """Killed before the deletion commits: the person is intact. Killed while the file is
    being compacted afterwards: the person is wholly gone. Everyone else is untouched."""
    db = tmp_path / "gallery.sqlite3"
    _four_people(db)
    kill_at_marker(tmp_path, """
        from app.store.gallery import Gallery
        g = Gallery(sys.argv[1])
        when = sys.argv[2]
        state = {"deleted": False, "vacuum": False, "ticks": 0}
        def trace(sql):
            if sql.startswith("DELETE FROM people"):
                state["deleted"] = True
            elif sql == "COMMIT" and state["deleted"] and when == "before-commit":
                pause_here()
            elif sql == "VACUUM":
                state["vacuum"] = True
        def progress():
            if state["vacuum"] and when == "during-vacuum":
                state["ticks"] += 1
                if state["ticks"] == 3:
                    pause_here()
            return 0
        g._conn.set_trace_callback(trace)
        g._conn.set_progress_handler(progress, 50)
        g.delete(g.find("Person 2").id)
        print("DONE", flush=True)
    """, str(db), when)
    integrity_ok(db)
    with Gallery(db) as g:
        names = [p.name for p in g.people()]
        if when == "before-commit":
            assert names == [f"Person {i}" for i in range(4)]
        else:
            assert names == ["Person 0", "Person 1", "Person 3"]
        for p in g.people():
            i = int(p.name.split()[1])
            got = g.samples(p.id)
            assert [s.embedding.tobytes() for s in got] == [emb(i).tobytes(), emb(100 + i).tobytes()]
            assert np.array_equal(got[0].crop, crop(i))
    if when == "during-vacuum":  # the killed compaction left nothing of them in the files
        raw = b"".join(f.read_bytes() for f in tmp_path.iterdir() if f.name.startswith(db.name))
        assert b"Person 2" not in raw and emb(2).tobytes() not in raw and emb(102).tobytes() not in raw


def test_sigkill_during_reembedding_leaves_each_sample_old_or_new(tmp_path):
    """Killed inside the write of the second batch: the first batch is new, the rest old,
    no sample has a new embedding under the old model version or the reverse."""
    db = tmp_path / "gallery.sqlite3"
    with Gallery(db) as g:
        for i in range(10):
            g.enrol(f"Person {i}", crop(i), emb(i), "v1")
    kill_at_marker(tmp_path, """
        from app.store.gallery import Gallery
        g = Gallery(sys.argv[1])
        def new_embedding(crops):  # stands for the new encoder: a function of the crop only
            return np.stack([emb(int(c[0, 0, 0]) * 1000 + int(c[0, 0, 1])) for c in crops])
        commits = [0]
        def trace(sql):
            if sql.startswith("UPDATE samples SET embedding"):
                commits[0] += 1
                if commits[0] == 5:  # second sample of the second batch of three
                    pause_here()
        g._conn.set_trace_callback(trace)
        g.reembed(new_embedding, "v2", batch=3)
        print("DONE", flush=True)
    """, str(db))
    integrity_ok(db)
    with Gallery(db) as g:
        versions = []
        for p in g.people():
            (s,) = g.samples(p.id)
            i = int(p.name.split()[1])
            versions.append(s.model_version)
            expected = emb(i) if s.model_version == "v1" else emb(int(s.crop[0, 0, 0]) * 1000 + int(s.crop[0, 0, 1]))
            assert np.array_equal(s.embedding, expected), p.name
        assert sorted(versions) == ["v1"] * 7 + ["v2"] * 3
        assert g.stale_count("v2") == 7  # the next re-embedding finishes the job


TRAIN_CHILD = """
    import torch
    from app.training import loop as training
    from app.training.loop import TrainConfig, train

    def synthetic(cfg, progress=None, cancel=None):
        rng = np.random.default_rng(0)
        labels = np.repeat(np.arange(8), 8)
        crops = rng.integers(0, 256, (len(labels), 32, 32, 3), dtype=np.uint8)
        return crops, labels, None, {"images_used": len(labels)}, None

    training.load_training_data = synthetic
    real_save = torch.save
    saves = [0]

    def slow_save(obj, f, *a, **kw):  # the third checkpoint stops half-written
        saves[0] += 1
        if saves[0] < 3:
            return real_save(obj, f, *a, **kw)
        import io
        buf = io.BytesIO()
        real_save(obj, buf)
        data = buf.getvalue()
        f.write(data[: len(data) // 2])
        f.flush()
        pause_here()

    training.torch.save = slow_save
    cfg = TrainConfig(datasets=["synthetic"], out=sys.argv[1], epochs=50, p=4, k=4, singles=0,
                      distill=0.0, workers=1, arch={"input_size": 32, "widths": [8, 16], "blocks": [1, 1], "dim": 128})
    train(cfg, on_epoch=lambda s: print("EPOCH", s.epoch, flush=True))
"""


def test_sigkill_while_writing_a_training_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    from app.training import loop as training
    from app.training.loop import TrainConfig, checkpoint_path, train

    out = tmp_path / "m.pt"
    seen = kill_at_marker(tmp_path, TRAIN_CHILD, str(out))
    assert seen == ["EPOCH 1", "EPOCH 2", "PAUSED"]
    ckpt = checkpoint_path(out)
    state = torch.load(ckpt, map_location="cpu", weights_only=False)  # loads: not torn
    assert state["epoch"] == 2 and [h["epoch"] for h in state["history"]] == [1, 2]
    assert not out.exists()  # no half model either

    def synthetic(cfg, progress=None, cancel=None):
        rng = np.random.default_rng(0)
        labels = np.repeat(np.arange(8), 8)
        return rng.integers(0, 256, (len(labels), 32, 32, 3), dtype=np.uint8), labels, None, {}, None

    monkeypatch.setattr(training, "load_training_data", synthetic)
    cfg = TrainConfig(datasets=["synthetic"], out=str(out), epochs=3, p=4, k=4, singles=0, distill=0.0,
                      workers=1, arch={"input_size": 32, "widths": [8, 16], "blocks": [1, 1], "dim": 128})
    res = train(cfg, resume=True)  # continues from the intact checkpoint
    assert [h.epoch for h in res.history] == [1, 2, 3] and out.is_file()
