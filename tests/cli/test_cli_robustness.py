"""The command line under unusual and bad input: every refusal is exit status 2 and one readable
line on stderr (never a traceback) and changes nothing; odd but valid names and paths work and
come back verbatim; unusable weights fall back to the shipped model; nothing touches the network."""

from __future__ import annotations

import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest
from PIL import Image

from app.cli import main

REPO = Path(__file__).resolve().parents[2]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def refused(code: int, err: str) -> bool:
    """Exit 2 with exactly one line on stderr, the app's own message."""
    return code == 2 and err.count("\n") == 1 and err.startswith("oneshot-face: error: ") \
        and "Traceback" not in err


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bomb(path: Path) -> None:
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr)
                     + _png_chunk(b"IDAT", zlib.compress(b"\0" * 100)) + _png_chunk(b"IEND", b""))


def _bad_photo(kind: str, tmp_path: Path, samples_dir: Path) -> Path:
    p = tmp_path / f"{kind}.jpg"
    if kind == "folder":
        p.mkdir()
    elif kind == "video":
        return samples_dir / "short_hamilton_clip.mp4"
    elif kind == "bomb":
        p = tmp_path / "bomb.png"
        _bomb(p)
    elif kind == "tiny":
        Image.new("RGB", (10, 12), (120, 100, 90)).save(p)
    elif kind == "no-face":
        Image.new("RGB", (320, 240), (120, 130, 140)).save(p)
    elif kind == "truncated":
        data = (samples_dir / "obama.jpg").read_bytes()
        p.write_bytes(data[: len(data) // 3])
    elif kind == "random-bytes":
        p.write_bytes(os.urandom(4096))
    elif kind == "missing":
        pass
    return p


@pytest.mark.parametrize("kind, match", [
    ("folder", "is a folder, not a photo"),
    ("video", "not an image file"),
    ("bomb", "too large to open safely"),
    ("tiny", "too small to hold a face"),
    ("no-face", "No face found"),
    ("truncated", "damaged or truncated"),
    ("random-bytes", "not an image file"),
    ("missing", "does not exist"),
])
def test_bad_photos_are_refused_in_one_line(capsys, tmp_path, samples_dir, yunet_path, kind, match):
    photo = _bad_photo(kind, tmp_path, samples_dir)
    code, out, err = run(capsys, "enroll", "Someone", photo, "--detector-model", yunet_path)
    assert refused(code, err) and match in err, err
    code, out, err = run(capsys, "identify", photo, "--detector-model", yunet_path)
    assert refused(code, err) or (kind == "no-face" and code == 0 and "No face found" in out), err
    code, out, _ = run(capsys, "people", "list", "--json")
    assert json.loads(out) == []                                          # nothing changed


@pytest.mark.parametrize("argv, match", [
    (["enroll", "", "obama.jpg"], "Please enter a name"),
    (["enroll", "   ", "obama.jpg"], "Please enter a name"),
    (["enroll", "x" * 101, "obama.jpg"], "at most 100 characters"),
    (["enroll", "Ann\nLee", "obama.jpg"], "control characters"),
    (["enroll", "unknown", "obama.jpg"], "for strangers"),
    (["enroll", "Two", "two_people.jpg"], "2 faces found"),
    (["enroll", "Two", "two_people.jpg", "--face", "3"], "There is no face 3"),
    (["people", "rename", "Nobody", "X"], "Nobody called 'Nobody'"),
    (["people", "delete"], "Usage: oneshot-face people delete NAME"),
])
def test_bad_names_and_choices_are_refused_in_one_line(capsys, samples_dir, yunet_path, argv, match):
    argv = [str(samples_dir / a) if a.endswith(".jpg") else a for a in argv]
    code, _, err = run(capsys, *argv, *(["--detector-model", yunet_path] if argv[0] == "enroll" else []))
    assert refused(code, err) and match in err, err
    code, out, _ = run(capsys, "people", "list", "--json")
    assert json.loads(out) == []


def test_name_already_taken_unless_adding_to_that_person(capsys, samples_dir, yunet_path):
    det = ["--detector-model", yunet_path]
    assert run(capsys, "enroll", "Barack Obama", samples_dir / "obama.jpg", *det)[0] == 0
    code, _, err = run(capsys, "enroll", "barack obama", samples_dir / "obama2.jpg", *det)
    assert refused(code, err) and "Barack Obama is already enrolled" in err
    code, out, _ = run(capsys, "enroll", "barack obama", samples_dir / "obama2.jpg", "--add", *det)
    assert code == 0 and "Enrolled Barack Obama (2 photos)" in out
    code, _, err = run(capsys, "people", "rename", "Barack Obama", "Barack Obama ")  # same person: fine
    assert code == 0


def test_face_cut_off_at_the_edge_is_a_warning(capsys, samples_dir, yunet_path):
    code, out, err = run(capsys, "enroll", "Partial", samples_dir / "obama_partial_face.jpg",
                         "--detector-model", yunet_path)
    assert code == 0 and "Enrolled Partial" in out
    assert "warning: the face is cut off at the edge of the photo" in err


AWKWARD = ["O'Brien", 'Say "hi"', "Zoë Ñúñez", "李小龍", "Dwayne 💪🏽 Johnson",
           "Robert'); DROP TABLE people;--", "%_*?\\ $HOME `id`"]


def test_awkward_names_and_paths_round_trip_verbatim(capsys, tmp_path, monkeypatch, samples_dir, yunet_path):
    data = tmp_path / "données personnelles ✓"
    monkeypatch.setenv("ONESHOT_DATA_DIR", str(data))
    photos = tmp_path / "фото с пробелом"
    photos.mkdir()
    photo = photos / "Obama à la Maison Blanche.jpg"
    shutil.copy(samples_dir / "obama.jpg", photo)
    det = ["--detector-model", yunet_path]
    for name in AWKWARD:
        code, out, err = run(capsys, "enroll", name, photo, *det)
        assert code == 0 and out == f"Enrolled {name} (1 photo).\n", err
    code, out, _ = run(capsys, "people", "list", "--json")
    assert sorted(p["name"] for p in json.loads(out)) == sorted(AWKWARD)
    code, out, _ = run(capsys, "people", "list")
    assert sorted(line.split("\t")[0] for line in out.splitlines()) == sorted(AWKWARD)
    code, out, _ = run(capsys, "identify", photo, "--json", *det)
    assert code == 0 and json.loads(out)["faces"][0]["name"] in AWKWARD
    assert run(capsys, "people", "rename", "李小龍", "Bruce 'Little Dragon' Lee")[0] == 0
    assert run(capsys, "people", "delete", "Robert'); DROP TABLE people;--")[0] == 0
    code, out, _ = run(capsys, "people", "list", "--json")
    assert len(json.loads(out)) == len(AWKWARD) - 1
    assert "Bruce 'Little Dragon' Lee" in [p["name"] for p in json.loads(out)]
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "gallery.sqlite3").stat().st_mode) == 0o600


def _broken_weights(kind: str, tmp_path: Path) -> Path:
    from app.recognition.encoder import shipped_weights
    from app.recognition.model_card import card_path_for
    w = tmp_path / "mine.pt"
    if kind == "missing":
        return w
    shutil.copy(shipped_weights(), w)
    card = json.loads(card_path_for(shipped_weights()).read_text())
    if kind == "truncated":
        w.write_bytes(w.read_bytes()[:5000])
    elif kind == "other-architecture":
        card["architecture"] = "someone-elses-net"
    elif kind == "other-shapes":
        card["arch"]["dim"] = 64  # any network: its weights make 128-d vectors
        card["cohort"] = {}
        card["weights_sha256"] = ""
    card_path_for(w).write_text(json.dumps(card))
    return w


@pytest.mark.parametrize("kind, match", [
    ("missing", "are missing"),
    ("truncated", "damaged or replaced"),
    ("other-architecture", "'someone-elses-net' model"),
    ("other-shapes", "do not fit the architecture"),
])
def test_unusable_weights_warn_and_the_shipped_model_is_used(capsys, tmp_path, samples_dir, yunet_path,
                                                            kind, match):
    from app.recognition.encoder import Encoder
    weights = _broken_weights(kind, tmp_path)
    code, out, err = run(capsys, "identify", samples_dir / "obama.jpg", "--json", "--weights", weights,
                         "--detector-model", yunet_path)
    assert code == 0 and match in err and "Using the shipped model instead." in err, err
    assert err.startswith("warning: ") and "Traceback" not in err
    assert json.loads(out)["encoder"] == Encoder.load(None, "cpu").version


NO_NETWORK = """
    import socket, sys
    attempts = []
    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access attempted at run time")
    class NoNetworkSocket(socket.socket):  # local socket pairs still work; IP sockets do not
        def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
            if fileno is None and family in (-1, socket.AF_INET, socket.AF_INET6):
                refuse(family, type)
            super().__init__(family, type, proto, fileno)
    socket.socket = NoNetworkSocket
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    from app.cli import main
    photo, other, clip, det = sys.argv[1:5]
    codes = [main(["enroll", "Barack Obama", photo, "--detector-model", det]),
             main(["identify", other, "--json", "--detector-model", det]),
             main(["watch", "--source", clip, "--max-frames", "5", "--json", "--detector-model", det]),
             main(["people", "list", "--json"])]
    print("CODES", codes, "ATTEMPTS", len(attempts), flush=True)
"""


def test_no_network_access_at_run_time(tmp_path, samples_dir, yunet_path):
    """A real process with every way to open a socket disabled enrols, identifies and watches."""
    script = tmp_path / "offline.py"
    script.write_text(textwrap.dedent(NO_NETWORK), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(script), str(samples_dir / "obama.jpg"),
                           str(samples_dir / "obama2.jpg"), str(samples_dir / "short_hamilton_clip.mp4"),
                           str(yunet_path)], cwd=REPO, env=dict(os.environ), capture_output=True,
                          text=True, timeout=300)
    assert "CODES [0, 0, 0, 0] ATTEMPTS 0" in proc.stdout, proc.stderr
    assert '"name": "Barack Obama"' in proc.stdout


def test_watch_waits_for_a_dropped_stream_to_come_back(capsys, monkeypatch, samples_dir, yunet_path):
    """`watch` over a live stream: the stream drops after two frames, cannot be opened once, then
    returns; watch reports each change on stderr and goes on labelling, no frame lost after."""
    import cv2

    from app.errors import SourceError
    from app.live import sources

    frame = cv2.cvtColor(cv2.imread(str(samples_dir / "obama.jpg")), cv2.COLOR_BGR2RGB)
    opens = []

    class Stream(sources.FrameSource):
        description = "stream"
        is_live = True

        def __init__(self, frames, then_drop):
            super().__init__()
            self.left, self.then_drop = frames, then_drop

        def read(self):
            if self.left == 0:
                if self.then_drop:
                    raise SourceError("stream stopped delivering frames")
                return None
            self.left -= 1
            return sources.Frame(0, frame, 0.0)

    def fake_open(spec, **kw):
        opens.append(spec)
        if len(opens) == 2:
            raise SourceError("cannot connect to rtsp://cam.local/live")
        return Stream(2, then_drop=len(opens) == 1)

    monkeypatch.setattr(sources, "open_source", fake_open)
    monkeypatch.setattr(sources.RetryingSource, "_wait", lambda self, s: None)
    run(capsys, "enroll", "Barack Obama", str(samples_dir / "obama.jpg"), "--detector-model", str(yunet_path))
    code, out, err = run(capsys, "watch", "--source", "rtsp://cam.local/live", "--json",
                         "--detector-model", str(yunet_path))
    assert code == 0, err
    lines = [json.loads(x) for x in out.splitlines()]
    assert [x["frame"] for x in lines] == [0, 1, 2, 3]
    # one frame is not enough to name a new track: the first says who is nearest, the rest name him
    assert [[f["name"] for f in x["faces"]] for x in lines] == [["Unknown"]] + [["Barack Obama"]] * 3
    assert lines[0]["faces"][0]["nearest"] == "Barack Obama"
    assert len(opens) == 3
    assert "stopped delivering" in err and "cannot connect" in err and "is back" in err
    assert "Traceback" not in err
