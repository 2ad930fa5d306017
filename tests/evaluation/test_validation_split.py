"""benchmarks/validation_split.py holds out training people only, the same ones every time."""

from __future__ import annotations

from benchmark_scripts import load_benchmark

from app.evaluation.datasets import read_people_file


def _script():
    mod = load_benchmark("validation_split")
    return mod


def test_held_out_people_are_devtrain_people_and_fixed(shared):
    lfw = shared / "datasets" / "lfw"
    vs = _script()
    multi, single = vs.held_out(lfw)
    assert (len(multi), len(single)) == (300, 600) and not multi & single
    devtrain = read_people_file(lfw / "protocol" / "peopleDevTrain.txt")
    devtest = read_people_file(lfw / "protocol" / "peopleDevTest.txt")
    assert (multi | single) <= devtrain and not (multi | single) & devtest
    assert all(len(list((lfw / "images" / n).iterdir())) >= 2 for n in multi)
    assert all(len(list((lfw / "images" / n).iterdir())) == 1 for n in single)
    assert vs.held_out(lfw) == (multi, single)  # a fixed seed: the same split every run
