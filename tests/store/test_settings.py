import json

from app import paths
from app.store import settings


def test_defaults_and_round_trip():
    s = settings.load()
    assert s.tau is None and s.source is None
    s.tau, s.source, s.window_geometry = 0.55, "clip.mp4", "AAEC"
    p = settings.save(s)
    assert p == paths.data_dir() / "settings.json"
    again = settings.load()
    assert again.tau == 0.55 and again.source == "clip.mp4" and again.window_geometry == "AAEC"
    assert not list(p.parent.glob(".settings.json*tmp"))


def test_corrupt_file_set_aside():
    p = paths.data_dir() / "settings.json"
    p.write_text("{not json", encoding="utf-8")
    s = settings.load()
    assert s.tau is None
    assert not p.exists()
    aside = list(p.parent.glob("settings.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == "{not json"


def test_wrong_types_and_unknown_keys():
    p = paths.data_dir() / "settings.json"
    p.write_text(json.dumps({"tau": "0.4", "source": 0, "future_key": 1}), encoding="utf-8")
    s = settings.load()
    assert s.tau == 0.4 and s.source == "0"
    p.write_text(json.dumps([1, 2]), encoding="utf-8")
    assert settings.load().tau is None


def test_recent_faces_settings_are_opt_in_and_checked():
    s = settings.load()
    assert s.keep_recent_faces is False and s.recent_faces_retention_h == 24.0  # in memory by default
    s.keep_recent_faces, s.recent_faces_retention_h = True, 2.5
    settings.save(s)
    again = settings.load()
    assert again.keep_recent_faces is True and again.recent_faces_retention_h == 2.5
    p = paths.data_dir() / "settings.json"
    for keep, hours in (("yes", -1), (1, float("nan")), (None, "24"), ("true", 1e9), (True, True)):
        data = json.loads(p.read_text(encoding="utf-8"))
        data.update(keep_recent_faces=keep, recent_faces_retention_h=hours)
        p.write_text(json.dumps(data), encoding="utf-8")
        bad = settings.load()
        # only a real true keeps faces on disk; a retention that is not a sane number of hours
        # falls back to the default
        assert bad.keep_recent_faces is (keep is True), keep
        assert bad.recent_faces_retention_h == 24.0, hours
    data.update(recent_faces_retention_h=720)
    p.write_text(json.dumps(data), encoding="utf-8")
    assert settings.load().recent_faces_retention_h == 720.0


def test_learning_from_the_camera_is_on_by_default_and_only_a_real_false_turns_it_off():
    assert settings.load().learn_from_camera is True
    s = settings.load()
    s.learn_from_camera = False
    settings.save(s)
    assert settings.load().learn_from_camera is False
    p = paths.data_dir() / "settings.json"
    for value in ("no", 0, None):
        data = json.loads(p.read_text(encoding="utf-8"))
        data.update(learn_from_camera=value)
        p.write_text(json.dumps(data), encoding="utf-8")
        assert settings.load().learn_from_camera is True, value
