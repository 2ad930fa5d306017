"""Shared fixtures: the ../shared data (skipped when absent, a failure on CI) and isolation of
the user's data folders, so no test reads or writes the real gallery, settings or models."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from app import paths

_MISSING = "needs ../shared (or $ONESHOT_SHARED) with the datasets and YuNet"


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing on CI: {_MISSING}")
    pytest.skip(_MISSING)


@pytest.fixture(autouse=True)
def _isolated_user_dirs(monkeypatch, tmp_path_factory):
    monkeypatch.setenv("ONESHOT_DATA_DIR", str(tmp_path_factory.mktemp("oneshot-data")))
    monkeypatch.setenv("ONESHOT_CACHE_DIR", str(tmp_path_factory.mktemp("oneshot-cache")))


@pytest.fixture
def shared() -> Path:
    root = paths.shared_dir()
    if root is None:
        _missing("The shared folder")
    return root


@pytest.fixture
def samples_dir(shared) -> Path:
    path = shared / "datasets" / "samples"
    if not path.is_dir():
        _missing(str(path))
    return path


@pytest.fixture
def yunet_path() -> Path:
    """The YuNet copy shipped in models/ (the one the app finds first on a fresh install)."""
    path = paths.shipped_yunet()
    if not path.is_file():
        pytest.fail(f"{path} is missing: the repository ships YuNet in models/")
    return path


@pytest.fixture
def fresh_install(monkeypatch, tmp_path):
    """As a fresh copy of the program: no ../shared (ONESHOT_SHARED at a missing folder), an
    empty home and data folders, no $ONESHOT_YUNET. Ask for data fixtures (samples_dir) before
    this one; what the test needs from them is read before the folder is hidden or copied."""
    home = tmp_path / "fresh-home"
    home.mkdir()
    monkeypatch.setenv("ONESHOT_SHARED", str(tmp_path / "no-shared"))
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (("XDG_DATA_HOME", ".local/share"), ("XDG_CACHE_HOME", ".cache"),
                     ("XDG_CONFIG_HOME", ".config")):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.setenv("ONESHOT_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("ONESHOT_CACHE_DIR", str(home / "cache"))
    monkeypatch.delenv("ONESHOT_YUNET", raising=False)
    assert paths.shared_dir() is None
    return home


@dataclass(frozen=True)
class TinyLfw:
    root: Path
    devtrain: list[tuple[str, int, str, int, bool]]  # pairsDevTrain.txt as written: (name, n, name, n, same)


_TINY_PEOPLE = ["Aaron_Peirsol", "Alejandro_Toledo", "Andre_Agassi", "Angelina_Jolie", "Ari_Fleischer"]
_TINY_DEVTRAIN = [("Aaron_Peirsol", 1, "Aaron_Peirsol", 2, True), ("Alejandro_Toledo", 1, "Alejandro_Toledo", 3, True),
                  ("Andre_Agassi", 2, "Andre_Agassi", 4, True), ("Angelina_Jolie", 1, "Angelina_Jolie", 2, True),
                  ("Ari_Fleischer", 3, "Ari_Fleischer", 4, True), ("Aaron_Peirsol", 3, "Aaron_Peirsol", 4, True),
                  ("Aaron_Peirsol", 1, "Alejandro_Toledo", 2, False), ("Alejandro_Toledo", 4, "Andre_Agassi", 1, False),
                  ("Andre_Agassi", 3, "Angelina_Jolie", 3, False), ("Angelina_Jolie", 4, "Ari_Fleischer", 1, False),
                  ("Ari_Fleischer", 2, "Aaron_Peirsol", 4, False), ("Alejandro_Toledo", 2, "Angelina_Jolie", 1, False)]


def _pairs_file(header: str, pairs) -> str:
    return "\n".join([header, *(f"{a}\t{i}\t{j}" if same else f"{a}\t{i}\t{b}\t{j}" for a, i, b, j, same in pairs)]) + "\n"


@pytest.fixture
def tiny_lfw(shared, tmp_path) -> TinyLfw:
    """An LFW-shaped folder of 20 real LFW photos (five training people, four photos each) with
    hand-written protocol files: pairsDevTrain.txt 6 + 6 pairs, pairsDevTest.txt 3 + 3, pairs.txt
    two folds of 2 + 2."""
    lfw = shared / "datasets" / "lfw"
    if not (lfw / "images").is_dir():
        _missing(str(lfw))
    root = tmp_path / "tiny_lfw"
    for name in _TINY_PEOPLE:
        (root / "images" / name).mkdir(parents=True)
        for n in range(1, 5):
            photo = f"{name}_{n:04d}.jpg"
            shutil.copyfile(lfw / "images" / name / photo, root / "images" / name / photo)
    p = _TINY_PEOPLE
    devtest = [(p[0], 2, p[0], 3, True), (p[2], 1, p[2], 3, True), (p[4], 1, p[4], 2, True),
               (p[1], 1, p[3], 2, False), (p[2], 2, p[4], 3, False), (p[3], 3, p[0], 1, False)]
    view2 = [(p[1], 2, p[1], 4, True), (p[3], 3, p[3], 4, True), (p[0], 2, p[2], 2, False), (p[1], 3, p[4], 4, False),
             (p[2], 1, p[2], 2, True), (p[4], 2, p[4], 3, True), (p[3], 1, p[1], 1, False), (p[4], 1, p[0], 3, False)]
    (root / "protocol").mkdir()
    (root / "protocol" / "pairsDevTrain.txt").write_text(_pairs_file("6", _TINY_DEVTRAIN), encoding="utf-8")
    (root / "protocol" / "pairsDevTest.txt").write_text(_pairs_file("3", devtest), encoding="utf-8")
    (root / "protocol" / "pairs.txt").write_text(_pairs_file("2\t2", view2), encoding="utf-8")
    return TinyLfw(root, list(_TINY_DEVTRAIN))
