"""benchmarks/compare_face_recognition.py. The smoke test runs both systems on real data: a few
LFW pairs and people, a few clip frames, a small random encoder (the numbers mean nothing; the
keys, ranges and the table do); it is skipped where face_recognition (the `bench` extra) is not
installed. The rest needs no face_recognition and always runs: the reports from a made-up
result, the limited LFW folder, the refusal without face_recognition, and our side of the clip."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from app import paths
from app.recognition.encoder import save_model
from app.recognition.model_card import ModelCard
from app.recognition.networks import FaceNet

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "compare_face_recognition.py"
SMALL = {"input_size": 32, "widths": [8, 16], "blocks": [1, 1], "dim": 128}
RATES = ["devtest_accuracy", "devtest_auc", "devtest_tar_at_far_1e-2", "view2_accuracy_mean",
         "view2_accuracy_std", "oneshot_rank1", "oneshot_dir_at_far_1e-2"]

needs_face_recognition = pytest.mark.skipif(
    importlib.util.find_spec("face_recognition") is None
    or importlib.util.find_spec("dlib") is None,
    reason="face_recognition is not installed (make compare installs the bench extra)")


@needs_face_recognition
def test_compare_smoke(shared, samples_dir, yunet_path, tmp_path):
    lfw = shared / "datasets" / "lfw"
    if not (lfw / "protocol" / "pairsDevTest.txt").is_file():
        pytest.skip("needs ../shared/datasets/lfw")
    torch.manual_seed(0)
    weights = save_model(FaceNet(**SMALL).eval(),
                         ModelCard(arch=dict(SMALL), version="smoke", tau=0.8), tmp_path / "enc.pt")
    md, out_json = tmp_path / "results.md", tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--lfw", str(lfw), "--clip",
         str(samples_dir / "short_hamilton_clip.mp4"), "--limit", "8", "--max-frames", "4",
         "--workers", "1", "--weights", str(weights), "--json", "--out-md", str(md),
         "--out-json", str(out_json)],
        capture_output=True, text=True, timeout=600, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)  # exactly one JSON object on stdout
    assert json.loads(out_json.read_text()) == result

    assert result["limit"] == 8 and result["max_frames"] == 4
    assert result["fps_ratio"] > 0
    assert result["fps_ratio"] == pytest.approx(result["ours"]["clip_fps"] / result["theirs"]["clip_fps"])
    assert result["machine"]["cpu"] and result["machine"]["cores"] >= 1
    assert result["date"][:2] == "20" and "T" in result["date"]
    for side in ("ours", "theirs"):
        r = result[side]
        for key in RATES:
            assert 0.0 <= r[key] <= 1.0, (side, key, r[key])
        assert r["view2_accuracy_std"] <= 0.5
        missed = r["missed_detections"]
        assert 0 <= missed["verification"] <= r["verification_images"]
        assert 0 <= missed["identification"] <= r["identification_images"]
        assert r["clip_frames"] == 4 and math.isfinite(r["clip_fps"]) and r["clip_fps"] > 0
        assert 0 <= r["clip_named_faces"] <= r["clip_faces"]
    # Both systems saw exactly the same images and pairs.
    for key in ("verification_images", "identification_images", "pairs", "identification"):
        assert result["ours"][key] == result["theirs"][key]
    assert result["theirs"]["clip_threshold"] == 0.6

    table = md.read_text()
    assert "| metric | ours | face_recognition | ratio (ours / theirs) |" in table
    assert result["machine"]["cpu"] in table and result["date"] in table
    # The run stayed inside the test's cache folder (conftest), and cached face_recognition.
    assert list(paths.cache_dir().glob("face_recognition-hog-*.npz"))


# ---- the parts of the script that do not need face_recognition (these always run) --------------

def _script():
    spec = importlib.util.spec_from_file_location("compare_face_recognition", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MACHINE = {"cpu": "Test CPU 3000", "cores": 2, "python": "3.11.7", "torch": "2.13.0", "dlib": "20.0.1",
           "face_recognition": "1.3.0", "torch_threads": 2}


def _side(**changes) -> dict:
    side = {"devtest_accuracy": 0.9, "devtest_auc": 0.95, "devtest_tar_at_far_1e-2": 0.5,
            "view2_accuracy_mean": 0.88, "view2_accuracy_std": 0.02, "oneshot_rank1": 0.7,
            "oneshot_dir_at_far_1e-2": 0.4, "missed_detections": {"verification": 3, "identification": 1},
            "clip_fps": 30.0, "clip_faces": 100, "clip_named_faces": 50, "verification_images": 40,
            "identification_images": 20, "pairs": {"devtrain": 8, "devtest": 6, "view2": 4},
            "identification": {"enrolled": 4, "known_probes": 8, "unknown_probes": 5}, "clip_frames": 275,
            "clip_threshold": 0.81234, "encoder": {"version": "enc-v1"}}
    side.update(changes)
    return side


def test_markdown_table_of_a_result():
    script = _script()
    theirs = _side(devtest_accuracy=0.75, oneshot_rank1=None, clip_fps=12.0, clip_threshold=0.6,
                   missed_detections={"verification": 5, "identification": 0})
    result = {"machine": MACHINE, "date": "2026-12-01T10:00:00+00:00", "limit": 8, "max_frames": 4,
              "ours": _side(), "theirs": theirs}
    lines = script.markdown(result).splitlines()
    assert lines[0] == "# OneShot Face vs face_recognition (dlib), side by side"
    assert lines[2] == ("Measured 2026-12-01T10:00:00+00:00 on Test CPU 3000, 2 cores (Python 3.11.7, torch 2.13.0, "
                        "dlib 20.0.1, face_recognition 1.3.0), in one run of `benchmarks/compare_face_recognition.py` "
                        "with --limit 8 (a smoke run, not comparable), first 4 clip frames.")
    assert "encoder `enc-v1`, YuNet detector, τ = 0.812 on the clip" in lines[4]
    table = lines[lines.index("| metric | ours | face_recognition | ratio (ours / theirs) |") + 2:]
    assert table[0] == "| DevTest accuracy (τ from DevTrain) | 0.9000 | 0.7500 | 1.20 |"
    assert "| One-shot rank-1 (DevTest people) | 0.7000 | n/a | n/a |" in table          # theirs missing
    assert "| Missed detections, verification images | 3 | 5 | 0.60 |" in table
    assert "| Missed detections, identification images | 1 | 0 | n/a |" in table        # no ratio to 0
    assert "| Clip frames per second (decode → label) | 30.00 | 12.00 | 2.50 |" in table
    assert len([line for line in table if line.startswith("| ")]) == len(script.ROWS)
    assert ("Images embedded: 40 for verification (8 DevTrain, 6 DevTest, 4 View 2 pairs), 20 for "
            "identification (4 enrolled, 8 known and 5 unknown probes).") in "\n".join(lines)
    assert "275 frames of `short_hamilton_clip.mp4`" in "\n".join(lines)
    # a full run says neither limit nor frames
    full = script.markdown(dict(result, limit=None, max_frames=None)).splitlines()[2]
    assert full.endswith("in one run of `benchmarks/compare_face_recognition.py`.")


def test_clip_markdown_of_a_clip_only_result():
    script = _script()
    ours = _side(clip_recheck_every=10, clip_faces_embedded=40, clip_named_per_person={"Lin": 30, "Alex": 20},
                 clip_detect_side=480)
    full = _side(clip_fps=20.0, clip_recheck_every=10, clip_detect_side=None, clip_named_per_person={"Lin": 30})
    every = _side(clip_fps=10.0, clip_named_per_person={})
    theirs = _side(clip_fps=4.0, clip_faces=90, clip_named_faces=45, clip_named_per_person={"Lin": 45})
    result = {"machine": MACHINE, "date": "2026-12-01T10:00:00+00:00", "max_frames": None, "ours": ours,
              "ours_full_frame_detection": full, "ours_every_frame_embedded": every, "theirs": theirs,
              "fps_ratio": 7.5, "fps_ratio_full_frame_detection": 5.0, "fps_ratio_every_frame_embedded": None}
    text = script.clip_markdown(result)
    lines = text.splitlines()
    assert lines[0] == "# The clip, side by side with face_recognition"
    assert lines[2].endswith("`benchmarks/compare_face_recognition.py --clip-only`.")
    assert lines[4:10] == [
        "| system | frames/s | faces seen | faces named | named per person |", "|---|---:|---:|---:|---|",
        "| ours, as the app runs (detection at 480 px, settled faces re-embedded every 10 frames) "
        "| 30.0 | 100 | 50 | Alex 20, Lin 30 |",
        "| ours, detection on the whole frame, settled faces carried over | 20.0 | 100 | 50 | Lin 30 |",
        "| ours, detection on the whole frame, every face of every frame embedded | 10.0 | 100 | 50 | nobody |",
        "| face_recognition (HOG, dlib ResNet, tolerance 0.6) | 4.0 | 90 | 45 | Lin 45 |"]
    assert "7.5× as the app runs, 5.0× detecting on the whole frame, n/a× embedding every face" in text
    assert "Ours embedded 40 of 100 faces as the app runs." in text
    assert ", first 12 frames." in script.clip_markdown(dict(result, max_frames=12))


def test_limited_lfw_keeps_the_first_pairs_and_people(tmp_path):
    from app import paths
    from app.evaluation.protocols import load_verification_protocol
    script = _script()
    lfw = tmp_path / "lfw"
    (lfw / "protocol").mkdir(parents=True)
    (lfw / "images").mkdir()  # linked, never read here

    def pairs(tag, n):
        return [f"S{tag}{i}\t1\t2" for i in range(n)] + [f"D{tag}{i}\t1\tE{tag}{i}\t1" for i in range(n)]

    for tag in ("Train", "Test"):
        (lfw / "protocol" / f"pairsDev{tag}.txt").write_text("\n".join(["5", *pairs(tag, 5)]) + "\n", encoding="utf-8")
    folds = [pairs(f"f{f}_", 4) for f in range(3)]
    (lfw / "protocol" / "pairs.txt").write_text("\n".join(["3\t4", *sum(folds, [])]) + "\n", encoding="utf-8")
    people = [f"M{i}\t{i + 2}" for i in range(6)] + [f"O{i}\t1" for i in range(6)]
    (lfw / "protocol" / "peopleDevTest.txt").write_text("\n".join(["12", *people]) + "\n", encoding="utf-8")

    out = script.limited_lfw(lfw, 4)
    assert out.parent.parent == paths.cache_dir() and (out / "images").resolve() == (lfw / "images").resolve()
    read = {name: (out / "protocol" / name).read_text(encoding="utf-8").splitlines()
            for name in ("pairsDevTrain.txt", "pairsDevTest.txt", "pairs.txt", "peopleDevTest.txt")}
    assert read["pairsDevTrain.txt"] == ["2", "STrain0\t1\t2", "STrain1\t1\t2", "DTrain0\t1\tETrain0\t1",
                                         "DTrain1\t1\tETrain1\t1"]
    assert read["pairsDevTest.txt"] == ["2", "STest0\t1\t2", "STest1\t1\t2", "DTest0\t1\tETest0\t1", "DTest1\t1\tETest1\t1"]
    assert read["pairs.txt"] == ["2\t1", folds[0][0], folds[0][4], folds[1][0], folds[1][4]]
    assert read["peopleDevTest.txt"] == ["4", "M0\t2", "M1\t3", "O0\t1", "O1\t1"]
    proto = load_verification_protocol(out, check_images=False)  # the app reads them as LFW files
    assert (len(proto.devtrain), len(proto.devtest), len(proto.view2)) == (4, 4, 4)
    assert script.limited_lfw(lfw, 4) == out  # a fixed place: a rerun reuses it (and its caches)
    (lfw / "images").rmdir()  # the link now dangles (its images moved): a rerun links again, no crash
    assert script.limited_lfw(lfw, 4) == out and (out / "images").is_symlink()
    assert Path(os.readlink(out / "images")) == (lfw / "images").resolve()


def test_refused_without_face_recognition_in_one_message(tmp_path, samples_dir, monkeypatch):
    script = _script()

    def missing():
        raise ImportError("No module named 'face_recognition'")

    monkeypatch.setattr(script, "import_face_recognition", missing)
    (tmp_path / "lfw" / "protocol").mkdir(parents=True)
    with pytest.raises(SystemExit, match="face_recognition is not installed .*make compare"):
        script.main(["--lfw", str(tmp_path / "lfw"), "--clip", str(samples_dir / "short_hamilton_clip.mp4")])
    with pytest.raises(SystemExit, match="No LFW folder"):
        script.main(["--lfw", str(tmp_path / "nowhere"), "--clip", str(samples_dir / "short_hamilton_clip.mp4")])


def test_our_side_of_the_clip_as_the_app_runs_and_embedding_every_face(samples_dir, yunet_path):
    from app.live.analysis import RECHECK_EVERY
    script = _script()
    clip = samples_dir / "short_hamilton_clip.mp4"
    app_like = script.clip_ours(clip, None, 3)
    every = script.clip_ours(clip, None, 3, recheck_every=1)
    for r in (app_like, every):
        assert r["clip_frames"] == 3 and r["clip_faces"] >= 3 and 0 <= r["clip_named_faces"] <= r["clip_faces"]
        assert r["clip_fps"] > 0 and sum(r["clip_named_per_person"].values()) == r["clip_named_faces"]
        assert set(r["clip_named_per_person"]) <= {name for name, _ in script.PEOPLE}
    assert app_like["clip_recheck_every"] == RECHECK_EVERY and every["clip_recheck_every"] == 1
    assert every["clip_faces_embedded"] == every["clip_faces"]   # every face of every frame
    assert app_like["clip_faces_embedded"] <= app_like["clip_faces"]
