"""Export / import of the whole gallery as one file: round trip, privacy, atomicity, version
check, damaged files refused without touching the gallery, name clashes, re-embedding."""

from __future__ import annotations

import errno
import io
import json
import os
import stat
import zipfile

import numpy as np
import pytest
import torch

from app import atomic
from app.cli import main
from app.errors import GalleryError
from app.store import backup
from app.store.backup import FORMAT_VERSION, export_gallery, import_gallery
from app.store.gallery import Gallery

NAMES = ["O'Brien", 'Say "hi"', "Zoë Ñúñez", "李小龍", "Dwayne 💪🏽 Johnson", "'); DROP TABLE people;--"]


def crop(seed: int, size: int = 112) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def emb(seed: int, dim: int = 128) -> np.ndarray:
    e = np.random.default_rng(1000 + seed).standard_normal(dim).astype(np.float32)
    return e / np.linalg.norm(e)


def snapshot(g: Gallery) -> list:
    """Everything a person could lose, comparable across galleries."""
    return [(p.name, [(s.png, s.embedding, s.model_version, s.source) for s in p.samples])
            for p in sorted(g.dump(), key=lambda p: p.name)]


@pytest.fixture
def source(tmp_path) -> Gallery:
    g = Gallery(tmp_path / "a" / "gallery.sqlite3")
    for i, name in enumerate(NAMES):
        p = g.enrol(name, crop(i), emb(i), "enc-v1", source=f"photo {i}.jpg")
        if i % 2:
            g.add_sample(p.id, crop(100 + i), emb(100 + i), "enc-v0")
    yield g
    g.close()


def test_export_import_round_trip_to_another_machine(tmp_path, source):
    out = tmp_path / "backup folder é" / "gallery backup.zip"
    out.parent.mkdir()
    summary = export_gallery(source, out)
    assert (summary.people, summary.samples) == (6, 9)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600          # biometric data: owner only
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
    assert manifest["format"] == "oneshot-face-gallery" and manifest["format_version"] == FORMAT_VERSION
    assert manifest["model_versions"] == ["enc-v0", "enc-v1"]
    with Gallery(tmp_path / "b" / "gallery.sqlite3") as fresh:
        report = import_gallery(fresh, out)
        assert sorted(report.people_added) == sorted(NAMES) and report.samples_added == 9
        assert snapshot(fresh) == snapshot(source)              # names verbatim, crops byte for byte
        assert fresh.matcher("enc-v1").match(emb(4), 0.1)[0].name == "Dwayne 💪🏽 Johnson"


def test_export_replaces_atomically_and_a_full_disk_keeps_the_previous_backup(tmp_path, source, monkeypatch):
    out = tmp_path / "backup.zip"
    out.write_bytes(b"an older backup")
    os.chmod(out, 0o644)
    export_gallery(source, out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600 and zipfile.is_zipfile(out)
    good = out.read_bytes()
    real = os.fdopen

    class Full(io.RawIOBase):
        def __init__(self, f):
            self.f, self.left = f, 1000

        def write(self, data):
            if len(data) > self.left:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.left -= len(data)
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __exit__(self, *exc):
            return self.f.__exit__(*exc)

    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, *a, **kw: Full(real(fd, *a, **kw)))
    with pytest.raises(GalleryError, match="could not be written.*No space left.*unchanged"):
        export_gallery(source, out)
    monkeypatch.undo()
    assert out.read_bytes() == good
    assert [f.name for f in tmp_path.iterdir() if f.name.endswith(".tmp")] == []


def _rewrite(path, change):
    """Copy a backup with its members changed by change(name, data) -> data | None (dropped)."""
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    with zipfile.ZipFile(path, "w") as z:
        for n, data in members.items():
            data = change(n, data)
            if data is not None:
                z.writestr(n, data)


@pytest.mark.parametrize("version, match", [
    (FORMAT_VERSION + 1, "newer OneShot Face .*Update the app"),
    (0, "unknown backup format version"),
    ("1", "unknown backup format version"),
])
def test_other_format_versions_are_refused(tmp_path, source, version, match):
    out = tmp_path / "b.zip"
    export_gallery(source, out)

    def bump(name, data):
        if name == "manifest.json":
            m = json.loads(data)
            m["format_version"] = version
            return json.dumps(m)
        return data

    _rewrite(out, bump)
    with Gallery(tmp_path / "other.sqlite3") as g:
        g.enrol("Existing", crop(50), emb(50), "enc-v1")
        before = snapshot(g)
        with pytest.raises(GalleryError, match=match):
            import_gallery(g, out)
        assert snapshot(g) == before


def _truncate(p):
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])


def _flip_crop_byte(p):
    def flip(name, data):
        if name == "crops/000003.png":
            data = bytearray(data)
            data[len(data) // 2] ^= 0xFF
            return bytes(data)
        return data
    _rewrite(p, flip)


def _flip_raw_byte(p):  # corruption the zip's own CRC catches
    data = bytearray(p.read_bytes())
    data[2000] ^= 0xFF
    p.write_bytes(bytes(data))


def _drop_crop(p):
    _rewrite(p, lambda n, d: None if n == "crops/000002.png" else d)


def _other_format(p):
    _rewrite(p, lambda n, d: json.dumps({"format": "something-else"}) if n == "manifest.json" else d)


def _bad_people_list(p):
    def damage(name, data):
        if name == "people.json":
            data = b'[{"name": 5, "samples": []}]'
        if name == "manifest.json":
            m = json.loads(data)
            m["sha256"]["people.json"] = backup._sha(b'[{"name": 5, "samples": []}]')
            return json.dumps(m)
        return data
    _rewrite(p, damage)


@pytest.mark.parametrize("damage, match", [
    (_truncate, "damaged or truncated"),
    (_flip_crop_byte, "does not match its checksum"),
    (_flip_raw_byte, "damaged"),
    (_drop_crop, "missing"),
    (_other_format, "not a OneShot Face gallery backup"),
    (_bad_people_list, "damaged"),
    (lambda p: p.write_bytes(os.urandom(3000)), "damaged or truncated"),
    (lambda p: p.write_bytes(b""), "damaged or truncated"),
    (lambda p: p.unlink(), "does not exist"),
    (lambda p: (p.unlink(), p.mkdir()), "is a folder"),
])
def test_damaged_backups_are_refused_and_change_nothing(tmp_path, source, damage, match):
    out = tmp_path / "b.zip"
    export_gallery(source, out)
    damage(out)
    with Gallery(tmp_path / "other.sqlite3") as g:
        g.enrol("Existing", crop(50), emb(50), "enc-v1")
        before, version = snapshot(g), g.version
        with pytest.raises(GalleryError, match=match):
            import_gallery(g, out)
        assert snapshot(g) == before and g.version == version


def test_name_clash_refused_unless_merging_and_merging_twice_adds_nothing(tmp_path, source):
    out = tmp_path / "b.zip"
    export_gallery(source, out)
    with Gallery(tmp_path / "other.sqlite3") as g:
        mine = g.enrol("zoë ñúñez", crop(60), emb(60), "enc-v1")     # same person, other case
        before = snapshot(g)
        with pytest.raises(GalleryError, match=r"1 of the people in the backup are already enrolled "
                                               r"\(zoë ñúñez\)\. Nothing was imported"):
            import_gallery(g, out)
        assert snapshot(g) == before
        report = import_gallery(g, out, merge=True)
        assert report.people_merged == ("zoë ñúñez",) and len(report.people_added) == 5
        assert g.person(mine.id).sample_count == 2                      # their own + the backup's
        again = import_gallery(g, out, merge=True)
        assert (again.samples_added, again.samples_skipped, again.people_added) == (0, 9, ())
        assert sum(p.sample_count for p in g.people()) == 10


def test_import_reembeds_samples_of_another_model(tmp_path, source):
    """Samples made by other models are re-embedded from their crops by the active encoder."""
    from app.live.pipeline import Engine
    from app.recognition.encoder import Encoder, save_model
    from app.recognition.model_card import ModelCard
    from app.recognition.networks import FaceNet

    torch.manual_seed(0)
    small = {"input_size": 32, "widths": [8, 16], "blocks": [1, 1], "dim": 128}
    weights = save_model(FaceNet(**small).eval(), ModelCard(arch=small, version="enc-v2"), tmp_path / "e.pt")
    out = tmp_path / "b.zip"
    export_gallery(source, out)
    engine = Engine(None, Encoder.load(weights, "cpu"), Gallery(tmp_path / "new.sqlite3"))
    try:
        report, reembedded = engine.import_gallery(out)
        assert report.samples_added == 9 and reembedded == 9
        assert engine.gallery.stale_count("enc-v2") == 0
        (first,) = [s for s in engine.gallery.samples() if s.source == "photo 0.jpg"]
        assert np.allclose(first.embedding, engine.embed_stored_crops(first.crop[None])[0], atol=1e-5)
        assert len(engine.matcher) == 9
    finally:
        engine.close()


def test_cli_export_then_import_on_another_machine(tmp_path, monkeypatch, capsys, source):
    out = tmp_path / "backup é.zip"
    monkeypatch.setenv("ONESHOT_DATA_DIR", str(source.path.parent))
    assert main(["people", "export", str(out)]) == 0
    assert "Exported 6 people (9 photos)" in capsys.readouterr().out
    monkeypatch.setenv("ONESHOT_DATA_DIR", str(tmp_path / "new machine"))
    assert main(["people", "import", str(out)]) == 0
    captured = capsys.readouterr()
    assert "Imported 6 people (9 photos)" in captured.out and "re-embedded" in captured.out
    assert main(["people", "list", "--json"]) == 0
    assert sorted(p["name"] for p in json.loads(capsys.readouterr().out)) == sorted(NAMES)
    assert main(["people", "import", str(out)]) == 2                     # every name taken now
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already enrolled" in err and "--merge" in err
    _truncate(out)
    assert main(["people", "import", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged or truncated" in err and "Traceback" not in err
