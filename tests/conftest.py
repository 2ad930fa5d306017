"""Shared fixtures: the ../shared data (skipped when absent, a failure on CI) and isolation of
the user's data folders, so no test reads or writes the real gallery, settings or models."""

from __future__ import annotations

import os
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
def yunet_path(shared) -> Path:
    path = shared / "models" / paths.YUNET_FILENAME
    if not path.is_file():
        _missing(str(path))
    return path
