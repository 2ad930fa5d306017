import numpy as np
import pytest

from app.errors import DatasetError
from app.evaluation.datasets import build_crops, build_mixes, fallback_face, read_pairs, read_people_file, scan_identity_folders
from app.recognition.alignment import recrop


def _tree(tmp_path):
    for person, n in [("Ann_A", 2), ("Bob_B", 1), ("Cy_C", 3)]:
        d = tmp_path / "images" / person
        d.mkdir(parents=True)
        for i in range(1, n + 1):
            (d / f"{person}_{i:04d}.jpg").write_bytes(b"x")
    return tmp_path


def test_scan_with_exclusion_and_lfw_layout(tmp_path):
    root = _tree(tmp_path)
    il = scan_identity_folders([root], exclude={"Bob_B"})
    assert il.names == ["Ann_A", "Cy_C"]
    assert list(il.labels) == [0, 0, 1, 1, 1]
    with pytest.raises(DatasetError):
        scan_identity_folders([tmp_path / "missing"])


def test_protocol_readers(tmp_path):
    (tmp_path / "people.txt").write_text("2\nAnn_A\t2\nBob_B\t1\n")
    assert read_people_file(tmp_path / "people.txt") == {"Ann_A", "Bob_B"}
    (tmp_path / "pairs.txt").write_text("2\nAnn_A\t1\t2\nAnn_A\t1\tBob_B\t1\n")
    assert read_pairs(tmp_path / "pairs.txt") == [("Ann_A", 1, "Ann_A", 2, True), ("Ann_A", 1, "Bob_B", 1, False)]


def test_fallback_box_is_central():
    f = fallback_face((250, 250, 3))
    x, y, w, h = f.box
    assert w == h == 100 and abs(x + w / 2 - 125) < 1


def test_build_crops_real_images_and_cache(shared, tmp_path):
    imgs = sorted((shared / "datasets" / "lfw" / "images" / "Aaron_Eckhart").glob("*.jpg"))
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    paths = [str(p) for p in imgs] + [str(bad)]
    out = build_crops(paths, 48, workers=1, cache_dir=tmp_path / "cache")
    assert out["crops"].shape == (len(paths), 48, 48, 3)
    assert out["found"][:-1].all() and not out["readable"][-1]
    again = build_crops(paths, 48, workers=1, cache_dir=tmp_path / "cache")
    assert np.array_equal(again["crops"], out["crops"])
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1
    # a model trained on a box of the frame gets its own crops (and cache file), zoomed in
    box = (0.0625, 0.125, 0.875)
    zoomed = build_crops(paths, 48, workers=1, cache_dir=tmp_path / "cache", box=box)
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2
    expected = recrop(out["crops"][:-1], 48, box).astype(float)
    assert np.abs(zoomed["crops"][:-1] - expected).mean() < 4.0 < np.abs(zoomed["crops"][:-1] - out["crops"][:-1]).mean()


def test_teacher_embeddings_cached_apart_from_crop_size(shared, tmp_path, monkeypatch):
    """Training at a new input size reuses the teacher pass of another size (no dlib run)."""
    pytest.importorskip("dlib", reason="the teacher extra (dlib-bin) is installed by `make test`")
    import app.recognition.dlib_teacher

    imgs = sorted((shared / "datasets" / "lfw" / "images" / "Aaron_Eckhart").glob("*.jpg"))
    paths = [str(p) for p in imgs]
    first = build_crops(paths, 48, teacher=True, workers=1, cache_dir=tmp_path)
    assert first["teacher"].shape == (len(paths), 128)

    def no_teacher(*_a, **_k):
        raise AssertionError("the teacher ran again")

    monkeypatch.setattr(app.recognition.dlib_teacher.DlibTeacher, "__init__", no_teacher)
    second = build_crops(paths, 32, teacher=True, workers=1, cache_dir=tmp_path)
    assert second["crops"].shape == (len(paths), 32, 32, 3)
    assert np.array_equal(second["teacher"], first["teacher"])
    assert len(list(tmp_path.glob("teacher-*.npz"))) == 1


def test_build_mixes_blends_two_people_as_stored_and_caches(shared, tmp_path, monkeypatch):
    pytest.importorskip("dlib", reason="the teacher extra (dlib-bin) is installed by `make test`")
    import app.recognition.dlib_teacher
    from app.imageio import load_image
    from app.recognition.detection import create_detector
    lfw = shared / "datasets" / "lfw" / "images"
    paths = [str(p) for who in ("Aaron_Peirsol", "Abdullah_Gul") for p in sorted((lfw / who).glob("*.jpg"))[:3]]
    labels = np.array([0, 0, 0, 1, 1, 1])
    mixes = build_mixes(paths, labels, 5, seed=3, workers=1, cache_dir=tmp_path)
    pairs, lam = mixes["pairs"], mixes["lam"]
    assert pairs.shape == (5, 2) and mixes["teacher"].shape == (5, 128)
    assert (labels[pairs[:, 0]] != labels[pairs[:, 1]]).all()
    assert ((lam >= 0.2) & (lam <= 0.8)).all()
    # each stored target is the teacher's embedding of that blend of those two images' chips
    teacher, det = app.recognition.dlib_teacher.DlibTeacher(), create_detector("yunet")

    def chip(i):
        rgb = load_image(paths[i])
        return teacher.chip(rgb, det.detect_central(rgb)).astype(np.float32)

    blends = [np.clip(w * chip(a) + (1 - w) * chip(b) + 0.5, 0, 255).astype(np.uint8)
              for (a, b), w in zip(pairs, lam)]
    assert np.allclose(teacher.embed_chips(blends), mixes["teacher"], atol=1e-4)

    def no_teacher(*_a, **_k):
        raise AssertionError("the teacher ran again")

    monkeypatch.setattr(app.recognition.dlib_teacher.DlibTeacher, "__init__", no_teacher)
    again = build_mixes(paths, labels, 5, seed=3, workers=1, cache_dir=tmp_path)
    assert np.array_equal(again["pairs"], pairs) and np.array_equal(again["teacher"], mixes["teacher"])
    with pytest.raises(DatasetError, match="two people"):
        build_mixes(paths[:3], labels[:3], 2, workers=1)
