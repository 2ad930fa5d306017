import json

from app import paths, settings


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
