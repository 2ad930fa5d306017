"""The ONNX teachers: found like YuNet, checked before use, and right on real faces."""

import numpy as np
import pytest
import torch

from app.errors import ModelError
from app.imageio import load_image
from app.recognition.alignment import align
from app.recognition.detection import create_detector
from app.recognition.encoder import to_tensor
from app.training.teachers import SPECS, OnnxTeacher, available_teachers, find_teacher_model, parse_teacher_models, parse_teachers


@pytest.fixture(scope="module")
def sample_crops():
    from app import paths
    shared = paths.shared_dir()
    if shared is None:
        pytest.skip("needs ../shared")
    det = create_detector("yunet")
    out = []
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg"):
        rgb = load_image(shared / "datasets" / "samples" / name)
        out.append(align(rgb, det.detect_central(rgb), 112))
    return np.stack(out)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_teacher_puts_the_same_person_nearer_than_another(shared, sample_crops, name):
    teacher = OnnxTeacher(name)
    emb = teacher.embed_crops(sample_crops)
    assert emb.shape == (3, 512)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    same, other = float(emb[0] @ emb[1]), float(emb[0] @ emb[2])
    assert same > 0.5 and other < 0.3 and same > other + 0.3
    # the tensor path the training loop calls gives the same vectors, one face or a batch
    one = teacher.embed(to_tensor(sample_crops[:1]))
    assert torch.allclose(one[0], torch.from_numpy(emb[0]), atol=1e-4)


def test_teachers_are_found_in_shared_and_by_environment(shared, tmp_path, monkeypatch):
    assert available_teachers() == ["edgeface", "faceplugin"]
    assert find_teacher_model("edgeface") == shared / "models" / "edgeface_xs.onnx"
    monkeypatch.setenv("ONESHOT_TEACHER_EDGEFACE", str(tmp_path / "mine.onnx"))
    assert find_teacher_model("edgeface") == tmp_path / "mine.onnx"


def test_missing_teacher_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ONESHOT_SHARED", str(tmp_path / "nowhere"))
    monkeypatch.setattr("app.paths.shipped_models_dir", lambda: tmp_path)
    monkeypatch.setattr("app.paths.shared_dir", lambda: None)
    with pytest.raises(ModelError, match="was not found.*--teacher-model"):
        OnnxTeacher("edgeface")
    with pytest.raises(ModelError, match="does not exist"):
        OnnxTeacher("faceplugin", tmp_path / "gone.onnx")


@pytest.mark.parametrize("name", sorted(SPECS))
def test_damaged_teacher_file_is_refused(shared, tmp_path, name):
    good = (shared / "models" / SPECS[name].filename).read_bytes()
    bad = tmp_path / SPECS[name].filename
    bad.write_bytes(good[: len(good) // 2])
    with pytest.raises(ModelError, match="damaged"):
        OnnxTeacher(name, bad)


def test_teacher_lists_and_model_paths_are_parsed():
    assert parse_teachers(["edgeface", "Faceplugin:0.5", "dlib:2"]) == [
        ("edgeface", 1.0), ("faceplugin", 0.5), ("dlib", 2.0)]
    for bad in (["arcface"], ["edgeface:x"], ["edgeface:0"], ["edgeface", "edgeface:2"]):
        with pytest.raises(ModelError):
            parse_teachers(bad)
    assert parse_teacher_models(["edgeface=/m/e.onnx"]) == {"edgeface": "/m/e.onnx"}
    with pytest.raises(ModelError):
        parse_teacher_models(["dlib=/x"])


def test_teacher_refuses_crops_of_another_size(shared):
    with pytest.raises(ValueError, match="112"):
        OnnxTeacher("faceplugin").embed(torch.zeros(2, 3, 80, 80))


def test_without_onnxruntime_only_the_cv2_teacher_is_offered(shared, monkeypatch):
    import importlib.util
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else real(name, *a))
    assert available_teachers() == ["faceplugin"]
    with pytest.raises(ModelError, match="onnxruntime"):
        OnnxTeacher("edgeface")


def test_model_teacher_reads_the_first_onnx_teacher_of_a_card():
    from app.training.teachers import model_teacher
    assert model_teacher({}) is None
    assert model_teacher({"teachers": [{"name": "dlib"}, {"name": "edgeface"}]}) == "edgeface"
    assert model_teacher({"teachers": [{"name": "faceplugin"}, {"name": "edgeface"}]}) == "faceplugin"
    assert model_teacher({"teachers": ["edgeface"]}) is None  # not a card's entry
