"""Starting the student from a published network: Faceplugin's MobileFaceNet, EdgeFace's EdgeNeXt
(app.training.pretrained)."""

import numpy as np
import pytest
import torch

from app.errors import ModelError
from app.imageio import load_image
from app.recognition.alignment import align
from app.recognition.detection import create_detector
from app.recognition.edgenext import EdgeNeXt
from app.recognition.encoder import Encoder, save_model, to_tensor
from app.recognition.model_card import ModelCard
from app.recognition.networks import MobileFaceNet, build_net
from app.training.pretrained import edgenext_from_edgeface, fit_head, mobilefacenet_from_faceplugin


def _published(name: str):
    from app.training.teachers import SPECS, find_teacher_model
    path = find_teacher_model(name)
    if path is None:
        pytest.skip(f"needs ../shared/models/{SPECS[name].filename}")
    return path


@pytest.fixture(scope="module")
def faceplugin():
    return _published("faceplugin")


@pytest.fixture(scope="module")
def crops(faceplugin):
    from app import paths
    det = create_detector("yunet")
    out = []
    for name in ("obama.jpg", "obama2.jpg", "biden.jpg"):
        rgb = load_image(paths.shared_dir() / "datasets" / "samples" / name)
        out.append(align(rgb, det.detect_central(rgb), 112))
    return np.stack(out)


def test_copied_network_computes_what_the_published_file_does(faceplugin, crops):
    import cv2
    net = mobilefacenet_from_faceplugin(faceplugin).eval()
    with torch.no_grad():
        ours = net.features(to_tensor(crops)).numpy()  # the app's pixel scaling, folded in
    ref = cv2.dnn.readNet(str(faceplugin))
    for crop, mine in zip(crops, ours):
        ref.setInput(((crop.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None])
        theirs = ref.forward().reshape(-1)
        cos = float(theirs @ mine / np.linalg.norm(theirs) / np.linalg.norm(mine))
        assert cos > 0.99999
        assert np.abs(theirs - mine).max() < 1e-3 * np.abs(theirs).max()


def test_other_onnx_files_are_refused(shared, tmp_path):
    with pytest.raises(ModelError, match="not Faceplugin's MobileFaceNet"):
        mobilefacenet_from_faceplugin(shared / "models" / "face_detection_yunet_2026may.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a graph at all")
    with pytest.raises(ModelError, match="could not be read"):
        mobilefacenet_from_faceplugin(bad)


def test_fit_head_maps_features_onto_the_targets():
    torch.manual_seed(0)
    net = MobileFaceNet(dim=8).eval()
    x = torch.randn(600, 3, 112, 112)
    with torch.no_grad():
        feats = net.features(x)
    true = torch.randn(512, 8) * 0.1
    targets = (feats - feats.mean(0)) @ true + 0.5  # an exact linear function of the features
    fit_head(net, x, targets, ridge=1e-9)
    with torch.no_grad():
        got = net.head(feats)
    assert torch.allclose(got, targets, atol=1e-2 * targets.abs().max())


def test_mobilefacenet_models_save_load_and_embed_unit_vectors(tmp_path):
    arch = {"net": "mobilefacenet", "input_size": 112, "dim": 128}
    net = build_net(arch)
    assert isinstance(net, MobileFaceNet)
    path = save_model(net.eval(), ModelCard(arch=arch, inference={"flip_tta": False}), tmp_path / "m.pt")
    enc = Encoder.load(path, "cpu")
    emb = enc.embed(np.random.default_rng(0).integers(0, 255, (3, 112, 112, 3), dtype=np.uint8))
    assert emb.shape == (3, 128) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-4)
    with pytest.raises(ValueError, match="112"):
        build_net(dict(arch, input_size=80))
    with pytest.raises(ValueError, match="unknown network"):
        build_net(dict(arch, net="vgg"))


@pytest.fixture(scope="module")
def edgeface():
    return _published("edgeface")


def test_copied_edgenext_computes_what_edgeface_does(edgeface, crops):
    import onnxruntime as ort
    net = edgenext_from_edgeface(edgeface).eval()
    with torch.no_grad():
        ours = net.features(to_tensor(crops)).numpy()  # (p - 127.5) / 127.5: EdgeFace's own scaling
    x = ((crops.astype(np.float32) - 127.5) / 127.5).transpose(0, 3, 1, 2)
    theirs = ort.InferenceSession(str(edgeface), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    for a, b in zip(theirs, ours):
        assert float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) > 0.99999
        assert np.abs(a - b).max() < 1e-3 * np.abs(a).max()
    # and who is near whom is EdgeFace's: Obama's two photos nearer each other than either to Biden
    unit = ours / np.linalg.norm(ours, axis=1, keepdims=True)
    assert unit[0] @ unit[1] > max(unit[0] @ unit[2], unit[1] @ unit[2]) + 0.3


def test_files_that_are_not_edgeface_are_refused(edgeface, faceplugin, tmp_path):
    with pytest.raises(ModelError, match="not EdgeFace-XS"):
        edgenext_from_edgeface(faceplugin)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a graph at all")
    with pytest.raises(ModelError, match="could not be read"):
        edgenext_from_edgeface(bad)


def test_edgenext_models_save_load_and_embed_any_batch_alike(tmp_path):
    arch = {"net": "edgenext", "input_size": 112, "dim": 128}
    net = build_net(arch)
    assert isinstance(net, EdgeNeXt)
    path = save_model(net.eval(), ModelCard(arch=arch, inference={"flip_tta": False, "bf16_cpu": False}), tmp_path / "m.pt")
    enc = Encoder.load(path, "cpu")
    faces = np.random.default_rng(0).integers(0, 255, (5, 112, 112, 3), dtype=np.uint8)
    emb = enc.embed(faces, batch_size=2)  # the frozen graph is traced on the first batch of 2
    assert emb.shape == (5, 128)
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    with torch.no_grad():
        eager = net(to_tensor(faces)).numpy()
    assert np.abs(emb - eager).max() < 1e-4
    with pytest.raises(ValueError, match="112 pixel"):
        build_net({**arch, "input_size": 80})
