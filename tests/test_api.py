"""The public API (`app.api`): a photo in, faces and embeddings out, with no gallery."""

import os
from pathlib import Path

import numpy as np
import pytest

from app import api
from app.recognition.detection import Face


@pytest.fixture(autouse=True)
def _yunet_on_cpu(yunet_path):
    api.configure(detector="yunet", detector_model=yunet_path, device="cpu")
    yield
    api.configure()


def _one(samples_dir, name):
    image = api.load_image_file(samples_dir / name)
    faces = api.face_locations(image)
    assert len(faces) == 1
    return api.face_encodings(image, faces)[0]


def test_same_person_is_nearer_than_another(samples_dir):
    obama, obama2, biden = (_one(samples_dir, n) for n in ("obama.jpg", "obama2.jpg", "biden.jpg"))
    assert obama.shape == (128,) and np.isclose(np.linalg.norm(obama), 1.0, atol=1e-4)
    same, other = api.compare(obama, obama2), api.compare(obama, biden)
    assert isinstance(same, float) and same < other
    assert api.is_same_person(obama, obama2) is True and api.is_same_person(obama, biden) is False
    assert api.is_same_person(obama, obama2, tau=-10.0) is False
    table = api.compare(np.stack([obama, biden]), np.stack([obama2, biden]))
    assert table.shape == (2, 2) and np.isclose(table[0, 0], same) and np.isclose(table[0, 1], other)
    assert api.compare(np.stack([obama, biden]), obama2).shape == (2,)
    data = Path(os.environ["ONESHOT_DATA_DIR"])  # the test's own data folder (conftest)
    assert not list(data.rglob("*.sqlite3"))  # no gallery was opened


def test_two_people_give_two_faces_crops_and_embeddings(samples_dir):
    image = api.load_image_file(samples_dir / "two_people.jpg")
    faces = api.face_locations(image)
    assert len(faces) == 2 and all(isinstance(f, Face) for f in faces)
    crops = api.align_faces(image, faces)
    assert crops.shape == (2, 112, 112, 3) and crops.dtype == np.uint8
    emb = api.face_encodings(image)
    assert emb.shape == (2, 128)
    assert np.allclose(emb, api.face_encodings(image, faces), atol=1e-5)
    assert api.face_encodings(image, []).shape == (0, 128)


def test_a_non_image_is_refused():
    from app.errors import SourceError
    with pytest.raises(SourceError):
        api.face_locations(np.zeros((4, 4), np.uint8))
