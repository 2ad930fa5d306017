"""End to end on real photos with the shipped encoder: enrol one photo, recognise another."""

import numpy as np
import pytest

from app.errors import MultipleFacesError, NoFaceError
from app.imageio import load_image
from app.live.pipeline import Engine


@pytest.fixture
def engine(yunet_path, tmp_path):
    eng = Engine.create("yunet", yunet_path, device="cpu", gallery_path=tmp_path / "g.sqlite3")
    yield eng
    eng.close()


def test_enrol_obama_then_identify(engine, samples_dir):
    person, cand = engine.enrol_photo("Barack Obama", samples_dir / "obama.jpg")
    assert person.sample_count == 1 and cand.crop.shape == (112, 112, 3)
    recs = engine.identify_photo(samples_dir / "obama2.jpg")
    assert [r.match.name for r in recs] == ["Barack Obama"]
    assert recs[0].match.distance < engine.threshold
    biden = engine.identify_photo(samples_dir / "biden.jpg")
    assert [r.match.name for r in biden] == ["Unknown"]


def test_two_people_needs_a_choice(engine, samples_dir):
    with pytest.raises(MultipleFacesError, match="2 faces") as err:
        engine.enrol_photo("Someone", samples_dir / "two_people.jpg")
    assert err.value.count == 2
    assert engine.gallery.people() == []
    person, _ = engine.enrol_photo("Left person", samples_dir / "two_people.jpg", face_index=1)
    assert person.name == "Left person"
    with pytest.raises(MultipleFacesError, match="no face 3"):
        engine.enrol_photo("Nobody", samples_dir / "two_people.jpg", face_index=3)


def test_no_face(engine, tmp_path):
    from PIL import Image
    p = tmp_path / "wall.png"
    Image.new("RGB", (200, 200), (120, 130, 140)).save(p)
    with pytest.raises(NoFaceError):
        engine.enrol_photo("Wall", p)


def test_refresh_after_encoder_change(engine, samples_dir):
    engine.enrol_photo("Barack Obama", samples_dir / "obama.jpg")
    enc = engine.encoder
    enc.card.version = "pretend-new-version"
    assert engine.set_encoder(enc) == 1
    assert [r.match.name for r in engine.identify_photo(samples_dir / "obama2.jpg")] == ["Barack Obama"]


@pytest.mark.parametrize("orientation, rotate", [(6, 90), (8, 270), (3, 180)])
def test_photo_rotated_by_exif_is_enrolled_upright(engine, samples_dir, tmp_path, orientation, rotate):
    """Pixels stored sideways with an EXIF tag saying how to turn them: enrolled as seen."""
    import numpy as np
    from PIL import Image

    upright, _ = engine.enrol_photo("Upright", samples_dir / "obama.jpg")
    img = Image.open(samples_dir / "obama.jpg").rotate(rotate, expand=True)  # counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = orientation
    p = tmp_path / "sideways.jpg"
    img.save(p, exif=exif, quality=95)
    person, cand = engine.enrol_photo("Sideways", p)
    assert cand.crop.shape == (112, 112, 3) and not cand.warnings
    stored = {s.person_id: s.embedding for s in engine.gallery.samples()}
    assert float(np.linalg.norm(stored[person.id] - stored[upright.id])) < 0.3  # the same upright face
    assert cand.nearest.name == "Upright"


@pytest.mark.parametrize("frame", [None, "text", np.zeros((0, 0, 3), np.uint8), np.zeros((48, 64), np.uint8),
                                   np.zeros((48, 64, 3), np.float32), np.zeros((48, 64, 4), np.uint8)],
                         ids=["none", "str", "empty", "2-d", "float", "4-channel"])
def test_garbage_frame_is_a_clear_error_and_the_next_frame_works(engine, samples_dir, frame):
    from app.errors import SourceError
    from app.imageio import load_image
    engine.enrol_photo("Barack Obama", samples_dir / "obama.jpg")
    with pytest.raises(SourceError, match="could not be used"):
        engine.analyse(frame)
    noise = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    assert engine.analyse(noise) == []
    assert [r.match.name for r in engine.analyse(load_image(samples_dir / "obama2.jpg"))] == ["Barack Obama"]


@pytest.mark.parametrize("mode", ["L", "I;16", "CMYK", "RGBA", "P"])
def test_unusual_image_modes_enrol_and_are_recognised(engine, samples_dir, tmp_path, mode):
    """Greyscale, 16-bit, CMYK, transparent and palette versions of a photo all enrol."""
    from PIL import Image

    img = Image.open(samples_dir / "obama.jpg").convert("RGB")
    if mode == "I;16":
        img = Image.fromarray((np.asarray(img.convert("L"), np.uint16) * 257))
    elif mode == "RGBA":  # a transparent frame around the photo
        w, h = img.size
        canvas = Image.new("RGBA", (w + 80, h + 80), (0, 0, 0, 0))
        canvas.paste(img, (40, 40))
        img = canvas
    else:
        img = img.convert(mode)
    p = tmp_path / ("photo.jpg" if mode == "CMYK" else "photo.png")
    img.save(p)
    engine.enrol_photo("Barack Obama", p)
    assert [r.match.name for r in engine.identify_photo(samples_dir / "obama2.jpg")] == ["Barack Obama"]


def test_enrolment_and_re_embedding_use_the_enrolment_views(engine, samples_dir):
    from app.imageio import load_image
    from app.recognition.alignment import align_many, recrop
    enc = engine.encoder
    assert enc.enrol_shift_px > 0  # the shipped card enrols with shifted views
    rgb = load_image(samples_dir / "obama.jpg")
    cand = engine.enrol_candidate(rgb)
    crop = align_many(rgb, [cand.face], enc.input_size, enc.crop_box)
    assert np.allclose(cand.embedding, enc.embed_enrolment(crop)[0], atol=1e-6)
    assert not np.allclose(cand.embedding, engine.embed_faces(rgb, [cand.face])[0], atol=1e-3)
    stored = engine.embed_stored_crops(cand.crop[None])
    assert np.allclose(stored, enc.embed_enrolment(recrop(cand.crop[None], enc.input_size, enc.crop_box)),
                       atol=1e-6)


def test_a_face_too_blurred_for_any_name_stays_unknown_and_is_not_embedded(engine, samples_dir, monkeypatch):
    import cv2

    from app.recognition.alignment import align
    from app.recognition.quality import MIN_NAMING_SHARPNESS, sharpness

    engine.enrol_photo("Obama", samples_dir / "obama.jpg")
    engine.tau = 1.9  # lenient enough that distance alone would name even this face
    sharp_photo = load_image(samples_dir / "obama2.jpg")
    blurred = cv2.GaussianBlur(sharp_photo, (121, 121), 0)
    face = engine.detect(blurred)[0]
    by_distance = engine.identify(engine.encoder.embed(align(blurred, face, engine.encoder.input_size)[None]))[0]
    assert by_distance.name == "Obama"  # by distance alone it would be him
    embedded: list[int] = []
    embed = engine.encoder.embed
    monkeypatch.setattr(engine.encoder, "embed", lambda crops: embedded.append(len(crops)) or embed(crops))
    (clear,) = engine.analyse(sharp_photo)
    (r,) = engine.analyse(blurred)
    assert sharpness(align(blurred, r.face, 112)) < MIN_NAMING_SHARPNESS
    assert clear.match.name == "Obama" and clear.embedding is not None
    assert embedded == [1]  # the sharp photo's face only: the featureless one never reached the encoder
    assert r.match.name == "Unknown" and r.match.person_id is None and r.match.nearest is None
    assert r.embedding is None and not r.judged and clear.judged  # it says nothing of who this is


def test_live_tracks_are_named_under_the_rules_tau_for_tracks(engine, samples_dir):
    """Photos are decided under the faces' τ; the tracker's pooled templates (`identify`) under the
    card's τ for tracks, which is stricter; a τ the user fixed holds for both."""
    from app.recognition.open_set import threshold_for
    engine.enrol_photo("Barack Obama", samples_dir / "obama.jpg")
    rule = engine.encoder.open_set_rule
    assert rule is not None and rule.track_rates is not None   # the shipped card measures tracks
    face, track = engine.threshold, engine.track_threshold
    assert face == pytest.approx(rule.threshold(1)) and track == pytest.approx(rule.track_threshold(1)) and track < face
    (rec,) = engine.identify_photo(samples_dir / "obama2.jpg")
    assert rec.match.threshold == pytest.approx(face)
    (m,) = engine.identify(rec.embedding[None])
    assert m.threshold == pytest.approx(track) and m.name == "Barack Obama"
    assert f"{track:.3f} for a face tracked live" in engine.rule_text()
    engine.tau = 0.9
    assert engine.identify(rec.embedding[None])[0].threshold == 0.9 == threshold_for(engine.matcher, rule, 1.0, 0.9, True)
    assert "tracked" not in engine.rule_text()


def test_the_sure_distance_is_tau_now_less_the_rules_gap_to_a_tenth_of_its_target():
    """Rule: 0.1% of strangers named at τ 0.4, 1% at 0.6, so τ(1%) − τ(0.1%) = 0.2; with τ now
    0.55 (made stricter by the camera, say) one frame is far under τ below 0.35."""
    from types import SimpleNamespace

    from app.live.pipeline import Engine
    from app.recognition.open_set import OpenSetRule
    rule = OpenSetRule(np.array([0.4, 0.6, 0.8]), np.array([1.0]), np.array([[0.001, 0.01, 0.05]]), target=0.01)
    fake = SimpleNamespace(encoder=SimpleNamespace(open_set_rule=rule), matcher=[0], threshold=0.55)
    assert Engine.sure_threshold(fake) == pytest.approx(0.35)
    fake.encoder.open_set_rule = None
    assert Engine.sure_threshold(fake) is None
