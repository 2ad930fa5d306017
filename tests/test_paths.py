"""Where the YuNet file is looked for, and the check of the copy shipped in models/."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from app import paths
from app.errors import ModelError


def test_the_repository_ships_yunet_with_its_licence_and_checksum():
    shipped = paths.shipped_yunet()
    assert shipped.parent == paths.shipped_models_dir()
    assert hashlib.sha256(shipped.read_bytes()).hexdigest() == paths.YUNET_SHA256
    licence = (shipped.parent / "YUNET_LICENSE").read_text()
    assert "MIT License" in licence and paths.YUNET_SHA256 in licence


def test_find_yunet_order(fresh_install, tmp_path, monkeypatch):
    shipped = paths.shipped_yunet()
    assert paths.find_yunet() == shipped                      # fresh install: the shipped copy
    user = paths.user_models_dir() / paths.YUNET_FILENAME
    shutil.copyfile(shipped, user)
    assert paths.find_yunet() == user                         # a newer fetch wins over the shipped one
    monkeypatch.setenv("ONESHOT_YUNET", str(tmp_path / "env.onnx"))
    assert paths.find_yunet() == tmp_path / "env.onnx"        # as given, even if missing
    assert paths.find_yunet(tmp_path / "x.onnx") == tmp_path / "x.onnx"
    monkeypatch.delenv("ONESHOT_YUNET")
    user.unlink()
    monkeypatch.setattr(paths, "shipped_models_dir", lambda: tmp_path / "empty")
    assert paths.find_yunet() is None                         # no shipped copy, no ../shared
    shared = tmp_path / "shared"
    (shared / "models").mkdir(parents=True)
    shutil.copyfile(shipped, shared / "models" / paths.YUNET_FILENAME)
    monkeypatch.setenv("ONESHOT_SHARED", str(shared))
    assert paths.find_yunet() == shared / "models" / paths.YUNET_FILENAME


def test_shared_override_hides_the_folder_beside_the_repository(tmp_path, monkeypatch):
    monkeypatch.setenv("ONESHOT_SHARED", str(tmp_path / "missing"))
    assert paths.shared_dir() is None
    monkeypatch.setenv("ONESHOT_SHARED", str(tmp_path))
    assert paths.shared_dir() == tmp_path


def test_a_damaged_shipped_copy_is_named_and_auto_falls_back_to_haar_saying_so(fresh_install, tmp_path,
                                                                                monkeypatch):
    from app.recognition.detection import create_detector
    models = tmp_path / "models"
    models.mkdir()
    data = bytearray(paths.shipped_yunet().read_bytes())
    data[len(data) // 2] ^= 0xFF
    (models / paths.YUNET_FILENAME).write_bytes(bytes(data))
    monkeypatch.setattr(paths, "shipped_models_dir", lambda: models)
    with pytest.raises(ModelError, match=r"^YuNet file damaged at .*SHA-256.*fetch-models"):
        paths.check_shipped_yunet(models / paths.YUNET_FILENAME)
    with pytest.raises(ModelError, match="damaged"):
        create_detector("yunet")
    det = create_detector(None)
    assert det.name == "haar" and det.note.startswith("Haar fallback: more faces missed; YuNet file damaged at ")
    paths.check_shipped_yunet(paths.user_models_dir() / "other.onnx")  # not the shipped copy: not checked here
