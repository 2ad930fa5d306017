"""End to end on real photos with the shipped encoder: enrol one photo, recognise another."""

import pytest

from app.errors import MultipleFacesError, NoFaceError
from app.pipeline import Engine


@pytest.fixture
def engine(yunet_path, tmp_path):
    eng = Engine.create("yunet", yunet_path, device="cpu", gallery_path=tmp_path / "g.sqlite3")
    yield eng
    eng.close()


def test_enrol_obama_then_identify(engine, samples_dir):
    person, cand = engine.enroll_photo("Barack Obama", samples_dir / "obama.jpg")
    assert person.sample_count == 1 and cand.crop.shape == (112, 112, 3)
    recs = engine.identify_photo(samples_dir / "obama2.jpg")
    assert [r.match.name for r in recs] == ["Barack Obama"]
    assert recs[0].match.distance < engine.tau
    biden = engine.identify_photo(samples_dir / "biden.jpg")
    assert [r.match.name for r in biden] == ["Unknown"]


def test_two_people_needs_a_choice(engine, samples_dir):
    with pytest.raises(MultipleFacesError, match="2 faces") as err:
        engine.enroll_photo("Someone", samples_dir / "two_people.jpg")
    assert err.value.count == 2
    assert engine.gallery.people() == []
    person, _ = engine.enroll_photo("Left person", samples_dir / "two_people.jpg", face_index=1)
    assert person.name == "Left person"
    with pytest.raises(MultipleFacesError, match="no face 3"):
        engine.enroll_photo("Nobody", samples_dir / "two_people.jpg", face_index=3)


def test_no_face(engine, tmp_path):
    from PIL import Image
    p = tmp_path / "wall.png"
    Image.new("RGB", (200, 200), (120, 130, 140)).save(p)
    with pytest.raises(NoFaceError):
        engine.enroll_photo("Wall", p)


def test_refresh_after_encoder_change(engine, samples_dir):
    engine.enroll_photo("Barack Obama", samples_dir / "obama.jpg")
    enc = engine.encoder
    enc.card.version = "pretend-new-version"
    assert engine.set_encoder(enc) == 1
    assert [r.match.name for r in engine.identify_photo(samples_dir / "obama2.jpg")] == ["Barack Obama"]
