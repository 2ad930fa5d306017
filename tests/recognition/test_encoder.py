import json

import numpy as np
import pytest
import torch

from app.errors import ModelError
from app.recognition.encoder import Encoder, bf16_native, resolve_device, save_model, shipped_weights
from app.recognition.model_card import ModelCard, card_path_for
from app.recognition.networks import FaceEnsemble, FaceNet, build_net, member_arch

SMALL = {"input_size": 32, "widths": [8, 16], "blocks": [1, 1], "dim": 128}


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    net = FaceNet(**SMALL).eval()
    path = save_model(net, ModelCard(arch=dict(SMALL), version="t1", tau=0.7), tmp_path / "enc.pt")
    return path, net


def _crops(n=5, size=32):
    return np.random.default_rng(0).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_roundtrip_gives_same_unit_embeddings(saved):
    path, net = saved
    enc = Encoder.load(path, "cpu")
    emb = enc.embed(_crops())
    assert emb.shape == (5, 128) and emb.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    enc2 = Encoder.load(path, "cpu")
    assert np.allclose(emb, enc2.embed(_crops()), atol=1e-6)
    assert enc.tau == 0.7 and enc.version == "t1"
    assert len(json.loads(card_path_for(path).read_text())["weights_sha256"]) == 64


def test_batches_agree_with_one_pass(saved):
    enc = Encoder.load(saved[0], "cpu")
    crops = _crops(7)
    assert np.allclose(enc.embed(crops, batch_size=3), enc.embed(crops), atol=1e-5)
    assert enc.embed(crops[:0]).shape == (0, 128)


def _eager(enc, crops):
    """What `enc.embed` gives without the frozen graph (mirror pass and all, as its card says)."""
    plain = Encoder(enc.net, enc.card, "cpu")
    plain._frozen = {False: None, True: None}
    return plain.embed(crops)


@pytest.mark.parametrize("arch", [SMALL, {"net": "mobilefacenet", "input_size": 112, "dim": 128},
                                  {"net": "edgenext", "input_size": 112, "dim": 128}])
def test_frozen_graph_gives_the_eager_networks_embeddings_at_every_batch_size(tmp_path, arch, monkeypatch):
    monkeypatch.setattr("app.recognition.encoder.bf16_native", lambda: False)  # float32 on every CPU: comparable
    torch.manual_seed(0)
    net = build_net(arch).eval()
    enc = Encoder.load(save_model(net, ModelCard(arch=dict(arch), version="t", tau=0.7), tmp_path / "e.pt"), "cpu")
    size = enc.input_size
    crops = _crops(9, size)
    first = enc.embed(crops[:2])  # the graph is traced on a batch of 2 ...
    assert enc._frozen[False] is not None
    for n in (1, 5, 9):  # ... and runs any other size
        assert np.allclose(enc.embed(crops[:n], batch_size=16), _eager(enc, crops[:n]), atol=1e-5)
    assert np.allclose(first, _eager(enc, crops[:2]), atol=1e-5)


def test_a_network_that_cannot_be_frozen_runs_eagerly(saved, monkeypatch):
    monkeypatch.setattr("app.recognition.encoder.bf16_native", lambda: False)
    enc = Encoder.load(saved[0], "cpu")

    def no_trace(*a, **k):
        raise RuntimeError("tracing is not supported here")

    monkeypatch.setattr(torch.jit, "trace", no_trace)
    crops = _crops(3)
    assert np.allclose(enc.embed(crops), _eager(enc, crops), atol=1e-6)
    assert enc._frozen == {False: None}


def test_missing_weights(tmp_path):
    with pytest.raises(ModelError, match="missing"):
        Encoder.load(tmp_path / "nope.pt")


def test_truncated_weights(saved):
    path, _ = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="damaged"):
        Encoder.load(path)


def test_truncated_weights_without_hash_still_clear(saved):
    path, _ = saved
    card = json.loads(card_path_for(path).read_text())
    card["weights_sha256"] = ""
    card_path_for(path).write_text(json.dumps(card))
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ModelError, match="could not be read"):
        Encoder.load(path)


def test_other_architecture_in_card(saved):
    path, _ = saved
    card = json.loads(card_path_for(path).read_text())
    card["architecture"] = "someone-elses-net"
    card_path_for(path).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="someone-elses-net"):
        Encoder.load(path)


def test_weights_of_other_shape(saved):
    path, _ = saved
    card = json.loads(card_path_for(path).read_text())
    card["arch"]["widths"] = [8, 32]
    card_path_for(path).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="do not fit"):
        Encoder.load(path)


def test_missing_and_damaged_card(saved):
    path, _ = saved
    card_path_for(path).write_text("{ not json")
    with pytest.raises(ModelError, match="damaged"):
        Encoder.load(path)
    card_path_for(path).unlink()
    with pytest.raises(ModelError, match="missing"):
        Encoder.load(path)


def test_device_choice():
    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="CUDA"):
            resolve_device("cuda")


def test_shipped_model_loads_and_is_calibrated():
    enc = Encoder.load(shipped_weights(), "cpu")
    assert 0.2 < enc.tau < 1.6
    assert enc.card.calibration["same_hist"] and enc.card.metrics


def test_the_shipped_model_is_what_its_recipe_makes():
    """`train --init edgeface --projection-views strong` (the shipped recipe) makes this
    architecture, and the app's Retrain, which fine-tunes the active model, keeps it; its
    fine-tuning settings are the recipe's."""
    from app.training.loop import EDGENEXT_ARCH, TUNE_OF_NET, fine_tune_settings
    shipped = Encoder.load(None, "cpu")
    assert member_arch(shipped.card.arch) == EDGENEXT_ARCH
    assert shipped.input_size == EDGENEXT_ARCH["input_size"]
    config = shipped.card.training["config"]
    assert config["init_weights"] == "edgeface" and config["projection_views"] == "strong"
    assert fine_tune_settings(shipped.card) == TUNE_OF_NET["edgenext"]


def test_dropout_in_the_card_is_built_and_cards_without_it_keep_0_2(tmp_path):
    torch.manual_seed(0)
    arch = dict(SMALL, dropout=0.0)
    path = save_model(FaceNet(**arch).eval(), ModelCard(arch=arch, version="nodrop"), tmp_path / "n.pt")
    enc = Encoder.load(path, "cpu")
    assert [m.p for m in enc.net.modules() if isinstance(m, torch.nn.Dropout)] == [0.0]
    assert [m.p for m in FaceNet(**SMALL).modules() if isinstance(m, torch.nn.Dropout)] == [0.2]
    drop = next(m for m in enc.net.modules() if isinstance(m, torch.nn.Dropout)).train()
    x = torch.ones(4, 64)
    assert torch.equal(drop(x), x)  # even while training, p=0 drops nothing


def test_crop_box_comes_from_the_card_and_old_cards_use_the_full_frame(tmp_path):
    torch.manual_seed(0)
    arch = dict(SMALL, crop_box=[0.0625, 0.125, 0.875])
    path = save_model(FaceNet(**arch).eval(), ModelCard(arch=arch, version="zoom"), tmp_path / "z.pt")
    assert Encoder.load(path, "cpu").crop_box == (0.0625, 0.125, 0.875)
    path = save_model(FaceNet(**SMALL).eval(), ModelCard(arch=dict(SMALL), version="old"), tmp_path / "o.pt")
    assert Encoder.load(path, "cpu").crop_box == (0.0, 0.0, 1.0)
    # a card whose box is not a square inside the frame is damaged: a clear ModelError on load
    for bad in ([0.5, 0.5, 0.9], "abc", [0.1]):
        card = json.loads(card_path_for(path).read_text())
        card["arch"]["crop_box"] = bad
        card_path_for(path).write_text(json.dumps(card))
        with pytest.raises(ModelError, match="crop box"):
            Encoder.load(path, "cpu")


def test_ensemble_embeds_the_normalised_mean_of_its_members_and_round_trips(tmp_path):
    torch.manual_seed(0)
    arch = dict(SMALL, members=2)
    net = build_net(arch).eval()
    assert isinstance(net, FaceEnsemble) and len(net.members) == 2
    assert isinstance(build_net(SMALL), FaceNet)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        a, b = net.members[0](x), net.members[1](x)
        mean = (a + b) / torch.linalg.norm(a + b, dim=1, keepdim=True)
        assert torch.allclose(net(x), mean, atol=1e-6)
        assert not torch.allclose(a, b, atol=1e-3)  # two networks, not one twice
    card = ModelCard(arch=arch, version="ens", inference={"flip_tta": True})
    path = save_model(net, card, tmp_path / "e.pt")
    enc = Encoder.load(path, "cpu")
    assert isinstance(enc.net, FaceEnsemble) and len(enc.net.members) == 2
    crops = _crops(4)
    with torch.no_grad():
        x = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        both = net(x) + net(x.flip(3))
        expect = (both / torch.linalg.norm(both, dim=1, keepdim=True)).numpy()
    assert np.allclose(enc.embed(crops), expect, atol=1e-5)


def test_member_count_in_the_card_is_checked(tmp_path):
    path = save_model(build_net(dict(SMALL, members=2)).eval(), ModelCard(arch=dict(SMALL, members=2)), tmp_path / "e.pt")
    for bad in (0, "three", 1.5):
        card = json.loads(card_path_for(path).read_text())
        card["arch"]["members"] = bad
        card_path_for(path).write_text(json.dumps(card))
        with pytest.raises(ModelError, match="members"):
            Encoder.load(path, "cpu")
    card["arch"]["members"] = 3  # a third network the weights do not have
    card_path_for(path).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="do not fit"):
        Encoder.load(path, "cpu")
    with pytest.raises(ValueError, match="two or more"):
        FaceEnsemble(1, **SMALL)


def test_bf16_is_used_only_where_the_card_allows_it_and_the_cpu_has_it(tmp_path):
    torch.manual_seed(0)
    arch = dict(SMALL, widths=[16, 32])
    net = FaceNet(**arch).eval()
    old = save_model(net, ModelCard(arch=arch, version="old", inference={"flip_tta": True}), tmp_path / "o.pt")
    new = save_model(net, ModelCard(arch=arch, version="new"), tmp_path / "n.pt")
    assert ModelCard().inference["bf16_cpu"] is True  # new cards allow it
    assert Encoder.load(old, "cpu").bf16 is False      # cards from before it keep float32
    enc = Encoder.load(new, "cpu")
    assert enc.bf16 is bf16_native()
    if not bf16_native():
        pytest.skip("this CPU has no native bfloat16; float32 is used (checked above)")
    crops = _crops(16)
    e16, e32 = enc.embed(crops), Encoder.load(old, "cpu").embed(crops)
    assert np.allclose(np.linalg.norm(e16, axis=1), 1.0, atol=1e-5)
    assert not np.array_equal(e16, e32)                     # bfloat16 did run
    assert np.min(np.sum(e16 * e32, axis=1)) > 0.99          # and agrees with float32


def test_combine_saves_trained_models_as_one_ensemble(tmp_path):
    from app.training.combine import combine_models
    nets, paths_ = [], []
    for seed in (1, 2):
        torch.manual_seed(seed)
        nets.append(FaceNet(**SMALL).eval())
        card = ModelCard(arch=dict(SMALL), version=f"s{seed}", tau=0.6 + seed / 10, inference={"flip_tta": True})
        paths_.append(save_model(nets[-1], card, tmp_path / f"s{seed}.pt"))
    card = combine_models(paths_, tmp_path / "both.pt")
    assert card.arch == dict(SMALL, members=2) and card.tau == pytest.approx(0.75)
    assert [c["version"] for c in card.training["combined_from"]] == ["s1", "s2"]
    enc = Encoder.load(tmp_path / "both.pt", "cpu")
    for member, net in zip(enc.net.members, nets):
        assert all(torch.equal(a, b) for a, b in zip(member.state_dict().values(), net.state_dict().values()))
    # refused: one model, an ensemble, another architecture
    with pytest.raises(ModelError, match="two or more"):
        combine_models(paths_[:1], tmp_path / "x.pt")
    with pytest.raises(ModelError, match="already an ensemble"):
        combine_models([tmp_path / "both.pt", paths_[0]], tmp_path / "x.pt")
    nodrop = save_model(FaceNet(**dict(SMALL, dropout=0.0)).eval(), ModelCard(arch=dict(SMALL, dropout=0.0)), tmp_path / "d.pt")
    assert combine_models([paths_[0], nodrop], tmp_path / "d2.pt").arch == dict(SMALL, members=2)  # dropout: training only
    other = save_model(FaceNet(**dict(SMALL, dim=64)).eval(), ModelCard(arch=dict(SMALL, dim=64)), tmp_path / "o.pt")
    with pytest.raises(ModelError, match="another architecture"):
        combine_models([paths_[0], other], tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()


def test_enrolment_embedding_is_the_mean_of_five_shifted_views(tmp_path):
    import cv2
    torch.manual_seed(0)
    net = FaceNet(**SMALL).eval()
    card = ModelCard(arch=dict(SMALL), version="v", inference={"flip_tta": False, "enrol_shift": 0.1})
    enc = Encoder.load(save_model(net, card, tmp_path / "e.pt"), "cpu")
    assert enc.enrol_shift_px == 3  # 0.1 of 32 pixels
    crops = _crops(3)
    # the same views made another way: integer translations with the border pixels repeated
    views = [np.stack([cv2.warpAffine(c, np.float32([[1, 0, dx], [0, 1, dy]]), (32, 32),
                                      borderMode=cv2.BORDER_REPLICATE) for c in crops])
             for dx, dy in ((0, 0), (3, 0), (-3, 0), (0, 3), (0, -3))]
    total = sum(enc.embed(v).astype(np.float64) for v in views)
    expect = total / np.linalg.norm(total, axis=1, keepdims=True)
    got = enc.embed_enrolment(crops)
    assert got.shape == (3, 128) and got.dtype == np.float32
    assert np.allclose(got, expect, atol=1e-5)
    assert not np.allclose(got, enc.embed(crops), atol=1e-3)  # the views do change it
    assert enc.embed_enrolment(crops[:0]).shape == (0, 128)


def test_enrolment_views_only_where_the_card_asks_for_them(tmp_path):
    torch.manual_seed(0)
    net = FaceNet(**SMALL).eval()
    old = Encoder.load(save_model(net, ModelCard(arch=dict(SMALL), version="o", inference={"flip_tta": True}),
                                  tmp_path / "o.pt"), "cpu")
    assert old.enrol_shift_px == 0
    crops = _crops(2)
    assert np.array_equal(old.embed_enrolment(crops), old.embed(crops))  # cards from before: unchanged
    assert ModelCard().inference["enrol_shift"] == 0.025                # new cards: 2 px at 80
    new = Encoder.load(save_model(FaceNet(**dict(SMALL, input_size=80)).eval(),
                                  ModelCard(arch=dict(SMALL, input_size=80), version="n"),
                                  tmp_path / "n.pt"), "cpu")
    assert new.enrol_shift_px == 2


def test_gdc_head_round_trips_and_a_bad_head_is_a_clear_error(tmp_path):
    torch.manual_seed(0)
    arch = dict(SMALL, head="gdc")
    net = FaceNet(**arch).eval()
    # one depthwise weight per channel and place (16 × 8 × 8) + a 16 → 128 projection, not 16·8·8 → 128
    assert isinstance(net.head[1], torch.nn.Conv2d) and net.head[1].weight.shape == (16, 1, 8, 8)
    assert net.head[5].weight.shape == (128, 16)
    path = save_model(net, ModelCard(arch=arch, version="g"), tmp_path / "g.pt")
    enc = Encoder.load(path, "cpu")
    emb = enc.embed(_crops(3))
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    card = json.loads(card_path_for(path).read_text())
    card["arch"]["head"] = "pooling"
    card_path_for(path).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="unknown head"):
        Encoder.load(path, "cpu")


@pytest.mark.parametrize("bad", ["two", -0.1, 0.5, True, None])
def test_damaged_enrol_shift_in_the_card_is_a_clear_error(saved, bad):
    path, _ = saved
    card = json.loads(card_path_for(path).read_text())
    card["inference"]["enrol_shift"] = bad
    card_path_for(path).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="enrol_shift"):
        Encoder.load(path, "cpu")


OPEN_SET = {"grid": [0.4, 0.6, 0.8], "sizes": [1, 100], "rates": [[0.0, 0.01, 0.03], [0.0, 0.05, 0.2]],
            "target": 0.01, "source": "test"}


def test_open_set_table_in_the_card_is_the_rule_and_a_damaged_one_is_a_clear_error(saved):
    path, _ = saved
    assert Encoder.load(path, "cpu").open_set_rule is None          # older cards: no table
    card = json.loads(card_path_for(path).read_text())
    card["open_set"] = OPEN_SET
    card_path_for(path).write_text(json.dumps(card))
    rule = Encoder.load(path, "cpu").open_set_rule
    assert rule is not None and abs(rule.threshold(1) - 0.6) < 1e-9
    for bad in ({**OPEN_SET, "rates": [[0.0, 0.1]]}, {**OPEN_SET, "grid": "wide"}, {"sizes": [1]}):
        card["open_set"] = bad
        card_path_for(path).write_text(json.dumps(card))
        with pytest.raises(ModelError, match="open_set"):
            Encoder.load(path, "cpu")


def test_cohort_in_the_card_round_trips_and_a_damaged_one_is_a_clear_error(saved):
    from app.recognition.model_card import cohort_section
    path, _ = saved
    rng = np.random.default_rng(0)
    c = rng.standard_normal((30, 128)).astype(np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    card = json.loads(card_path_for(path).read_text())
    card["cohort"] = cohort_section(c, 5, 1.1, "test")
    card_path_for(path).write_text(json.dumps(card))
    enc = Encoder.load(path, "cpu")
    assert enc.scorer.k == 5 and enc.scorer.offset == 1.1
    assert np.abs(enc.scorer.cohort - c).max() < 2e-3          # float16 storage
    for bad in ({"embeddings": "not base64!"}, {"faces": 31}, {"dim": 64, "faces": 60}, {"k": 40}):
        card["cohort"] = dict(cohort_section(c, 5, 1.1, "test"), **bad)
        card_path_for(path).write_text(json.dumps(card))
        with pytest.raises(ModelError, match="cohort"):
            Encoder.load(path, "cpu")
