"""The Qt-free service layer the GUI calls (`app.service.Library`), on real photos."""

import numpy as np
import pytest
from service_helpers import library_on

from app.errors import NameTakenError
from app.service import BackupCheck, EngineInfo, ImportResult, PersonPage, PersonRow, PhotoFaces


@pytest.fixture
def lib(yunet_path, tmp_path):
    yield from library_on(yunet_path, tmp_path)


def _enrol(lib, path, name, add=False):
    photo = lib.open_photo(path)
    cand = lib.candidate(photo.rgb, 1, photo.faces, name=str(path))
    return lib.enrol(name, cand, source=path.name, add_to_existing=add)


def test_enrol_list_rename_and_page(lib, samples_dir):
    photo = lib.open_photo(samples_dir / "two_people.jpg")
    assert isinstance(photo, PhotoFaces) and len(photo.faces) == 2 and photo.rgb.ndim == 3
    obama = _enrol(lib, samples_dir / "obama.jpg", "Obama")
    biden = _enrol(lib, samples_dir / "biden.jpg", "Biden")
    _enrol(lib, samples_dir / "obama2.jpg", "Obama", add=True)
    rows = lib.people()
    assert all(isinstance(r, PersonRow) for r in rows)
    assert {(r.name, r.samples) for r in rows} == {("Obama", 2), ("Biden", 1)}
    assert all(r.thumbnail is not None and r.thumbnail.shape[2] == 3 for r in rows)
    with pytest.raises(NameTakenError) as err:
        lib.rename(biden.id, "Obama")
    assert err.value.person_id == obama.id
    synced = lib.fake_recent.synced
    assert lib.rename(biden.id, "Joe Biden").name == "Joe Biden"
    assert lib.fake_recent.synced == synced + 1  # the recent faces show the new name
    assert lib.find("Joe Biden").id == biden.id and lib.find("Biden") is None
    page = lib.person_page(obama.id)
    assert isinstance(page, PersonPage) and page.name == "Obama" and page.others == ((biden.id, "Joe Biden"),)
    assert [p.number for p in page.photos] == [1, 2] and sum(p.is_main for p in page.photos) == 1
    second = page.photos[1]
    lib.set_main_photo(second.id)
    assert [p.is_main for p in lib.person_page(obama.id).photos] == [False, True]
    assert lib.move_photo(second.id, biden.id).sample_count == 2
    assert lib.remove_photo(second.id).sample_count == 1
    assert lib.clear_rejections(obama.id) == 0
    assert lib.model_version and lib.stale_count() == 0


def test_merge_delete_undo_and_purge_keep_the_recent_faces_in_step(lib, samples_dir):
    obama = _enrol(lib, samples_dir / "obama.jpg", "Obama")
    other = _enrol(lib, samples_dir / "obama2.jpg", "Barack")
    biden = _enrol(lib, samples_dir / "biden.jpg", "Biden")
    merged = lib.merge(other.id, obama.id)
    assert merged.id == obama.id and merged.sample_count == 2 and lib.fake_recent.synced == 1
    gone = lib.delete(biden.id)
    assert gone.name == "Biden" and lib.fake_recent.synced == 2
    assert [d.id for d in lib.deleted_people()] == [biden.id]
    assert lib.undo_delete(biden.id).name == "Biden" and lib.deleted_people() == []
    assert lib.purge_due() == 0 and lib.fake_recent.purged == 1
    assert lib.describe().enrolled_samples == 3


def test_backup_round_trip_and_crops(lib, samples_dir, tmp_path):
    _enrol(lib, samples_dir / "obama.jpg", "Obama")
    summary = lib.export_gallery(tmp_path / "b.zip")
    assert summary.people == 1
    check = lib.check_backup(tmp_path / "b.zip")
    assert isinstance(check, BackupCheck) and check.clashes == ["Obama"]
    result = lib.import_gallery(check.backup, merge=True)
    assert isinstance(result, ImportResult) and result.reembedded == 0
    report, n = result
    assert report is result.report and n == 0
    root = lib.export_crops()
    assert len(list(root.glob("person-*/*.png"))) == 1


def test_threshold_is_fixed_or_the_models_rule(lib):
    rule = lib.threshold
    lib.set_threshold(0.5)
    assert lib.threshold == pytest.approx(0.5)
    lib.set_threshold(None)
    assert lib.threshold == pytest.approx(rule)
    assert np.isfinite(rule)


def test_describe_gives_the_loaded_engines_and_cards_facts(lib, samples_dir):
    """`describe` is a typed snapshot (EngineInfo) of the real engine: its detector, the model
    card's τ and sections, where the weights are, and what is enrolled."""
    import dataclasses

    from app.recognition.encoder import shipped_weights
    eng = lib._engine
    card = eng.encoder.card
    info = lib.describe()
    assert isinstance(info, EngineInfo)
    assert (info.detector, info.device, info.encoder) == ("yunet", "cpu", card.version)
    assert info.calibrated_tau == card.tau and info.tau == eng.threshold and info.rule == eng.rule_text()
    assert info.model_path == str(shipped_weights()) and info.shipped
    assert (info.enrolled_samples, info.stale_samples, info.warnings) == (0, 0, ())
    assert info.calibration == card.calibration and info.open_set == card.open_set
    assert info.metrics == card.metrics and info.training == card.training and info.arch == card.arch
    info.training["changed"] = True  # a copy: the engine's card is untouched
    assert "changed" not in card.training
    with pytest.raises(dataclasses.FrozenInstanceError):
        info.tau = 1.0  # type: ignore[misc]

    _enrol(lib, samples_dir / "obama.jpg", "Obama")
    _enrol(lib, samples_dir / "obama2.jpg", "Obama", add=True)
    lib.set_threshold(0.5)
    after = lib.describe()
    assert after.enrolled_samples == 2 and after.tau == 0.5 and after.rule == "fixed τ 0.500"
    assert after.calibrated_tau == card.tau  # the card's own τ, whatever the user fixed


def test_describe_says_what_the_camera_did_to_tau_and_forget_camera_resets_it(lib, samples_dir):
    _enrol(lib, samples_dir / "obama.jpg", "Barack Obama")
    eng = lib._engine
    table = eng.encoder.open_set_rule.threshold(1)
    assert lib.describe().domain_delta == 0.0 and "no stricter τ needed" in lib.describe().domain_text
    from domain_helpers import lookalike_pairs
    for a, b in lookalike_pairs(eng.encoder, eng.matcher.embeddings[0], 5):  # look-alikes in view together
        eng.observe_domain([(eng.domain.new_track(), a), (eng.domain.new_track(), b)])
    info = lib.describe()
    assert info.domain_delta > 0 and info.tau == pytest.approx(table - info.domain_delta)
    assert "look more alike" in info.domain_text and "rough estimate" in info.domain_text
    assert lib.forget_camera() == 10 and lib.describe().domain_delta == 0.0 and lib.threshold == pytest.approx(table)
    lib.set_threshold(0.5)  # a fixed τ is the user's: the camera says nothing
    assert lib.describe().domain_text == ""
