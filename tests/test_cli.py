import json
import os
import subprocess
import sys

import pytest

from app.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_enroll_identify_people_json(capsys, samples_dir, yunet_path):
    det = ["--detector-model", str(yunet_path)]
    code, out, _ = run(capsys, "enroll", "Barack Obama", str(samples_dir / "obama.jpg"), *det)
    assert code == 0 and "Enrolled Barack Obama" in out
    code, out, _ = run(capsys, "identify", str(samples_dir / "obama2.jpg"), "--json", *det)
    result = json.loads(out)
    assert code == 0 and [f["name"] for f in result["faces"]] == ["Barack Obama"]
    assert result["detector"] == "yunet" and len(result["faces"][0]["box"]) == 4
    code, out, _ = run(capsys, "identify", str(samples_dir / "biden.jpg"), "--json", *det)
    assert [f["name"] for f in json.loads(out)["faces"]] == ["Unknown"]
    code, out, _ = run(capsys, "people", "rename", "Barack Obama", "Obama")
    assert code == 0
    code, out, _ = run(capsys, "people", "list", "--json")
    assert json.loads(out) == [{"name": "Obama", "photos": 1}]
    code, out, _ = run(capsys, "people", "delete", "Obama")
    code, out, _ = run(capsys, "people", "list", "--json")
    assert json.loads(out) == []


def test_two_people_refused_then_chosen(capsys, samples_dir, yunet_path):
    code, _, err = run(capsys, "enroll", "X", str(samples_dir / "two_people.jpg"),
                       "--detector-model", str(yunet_path))
    assert code == 2 and "--face" in err and err.count("\n") == 1
    code, out, _ = run(capsys, "enroll", "X", str(samples_dir / "two_people.jpg"), "--face", "2",
                       "--detector-model", str(yunet_path))
    assert code == 0


def test_watch_json_over_clip(capsys, samples_dir, yunet_path):
    det = ["--detector-model", str(yunet_path)]
    run(capsys, "enroll", "Lin-Manuel Miranda", str(samples_dir / "lin-manuel-miranda.png"), *det)
    code, out, err = run(capsys, "watch", "--source", str(samples_dir / "short_hamilton_clip.mp4"),
                         "--json", "--max-frames", "10", *det)
    lines = [json.loads(l) for l in out.splitlines()]
    assert code == 0 and [l["frame"] for l in lines] == list(range(10))
    assert all(set(f) == {"box", "name", "distance"} for l in lines for f in l["faces"])
    assert "detector: yunet" in err


@pytest.mark.parametrize("content", [b"", b"plain text, not a photo", b"\xff\xd8\xff\xe0garbage"])
def test_bad_photo_one_line_no_traceback(tmp_path, content, yunet_path):
    bad = tmp_path / "bad photo.jpg"
    bad.write_bytes(content)
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-m", "app", "enroll", "Someone", str(bad),
                           "--detector-model", str(yunet_path)], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "bad photo.jpg" in proc.stderr


def test_missing_weights_clear_warning_then_shipped_model(capsys, tmp_path, samples_dir):
    code, out, err = run(capsys, "identify", str(samples_dir / "obama.jpg"), "--weights", str(tmp_path / "x.pt"))
    assert code == 0 and "missing" in err and "shipped model instead" in err and "face 1" in out


def test_train_input_size_sets_the_crop_size(capsys, shared, tmp_path):
    celeba = str(shared / "datasets" / "celeba_faces")
    code, _, err = run(capsys, "train", celeba, "--out", str(tmp_path / "bad.pt"), "--input-size", "70")
    assert code == 2 and "multiple of 16" in err and len(err.strip().splitlines()) == 1
    out = tmp_path / "m.pt"
    code, _, _ = run(capsys, "train", celeba, "--out", str(out), "--input-size", "48", "--epochs", "1",
                     "--max-images", "48", "--distill", "0", "--detector", "haar")
    assert code == 0
    from app.encoder import Encoder
    enc = Encoder.load(out, "cpu")
    assert enc.input_size == 48 and enc.card.arch["input_size"] == 48
