"""benchmarks/training_poses.py: how many turned heads the training data holds."""

from __future__ import annotations

from benchmark_scripts import load_benchmark


def test_counts_worked_out_by_hand():
    """Yaws 0.5 (frontal), 0.3 (turned, inside the gate), 0.05 and 1.2 (past the gate's
    0.1-0.9), None (no face): 5 photos, 4 with a pose, 3 turned, 2 past the gate (half)."""
    r = load_benchmark("training_poses").count([0.5, 0.3, 0.05, None, 1.2])
    assert r == {"photos": 5, "with_pose": 4, "turned": 3, "past_the_gate": 2, "past_the_gate_share": 0.5}


def test_the_training_sets_leave_out_every_devtest_person(shared):
    from app.evaluation.datasets import read_people_file

    datasets = shared / "datasets"
    sets = load_benchmark("training_poses").training_sets(datasets, utk=3)
    lfw = next(v for k, v in sets.items() if k.startswith("LFW"))
    test_people = set(read_people_file(datasets / "lfw" / "protocol" / "peopleDevTest.txt"))
    assert lfw and not {p.parent.name for p in lfw} & test_people
    assert len(next(v for k, v in sets.items() if k.startswith("UTKFace"))) == 3
