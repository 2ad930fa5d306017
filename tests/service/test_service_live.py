"""service.live: the recent faces as `watch` and the GUI's worker open them."""

from __future__ import annotations

from app import paths
from app.live.recent import STORE_FILENAME, RecentFaces
from app.service import live


def test_recent_faces_in_memory_when_not_kept():
    recent, warning = live.open_recent(False, 24.0)
    assert isinstance(recent, RecentFaces) and recent.store is None and warning is None


def test_an_unusable_recent_faces_file_falls_back_to_memory_with_one_warning(monkeypatch):
    import app.live.recent
    from app.errors import GalleryError

    def unusable(*a, **kw):
        raise GalleryError("The recent faces file /x cannot be used: disk I/O error.")
    monkeypatch.setattr(app.live.recent, "open_recent_faces", unusable)
    recent, warning = live.open_recent(True, 24.0)
    assert isinstance(recent, RecentFaces) and recent.store is None
    assert warning == "The recent faces file /x cannot be used: disk I/O error. Recent faces are kept in memory only."


def test_kept_recent_faces_are_stored_in_the_data_folder():
    recent, warning = live.open_recent(True, 24.0)
    try:
        assert warning is None and recent.store is not None
        assert recent.store.path == paths.data_dir() / STORE_FILENAME
    finally:
        recent.store.close()


def test_the_review_folder_is_refused_unless_new_or_empty(tmp_path):
    import pytest

    from app.errors import OneShotError
    assert live.check_review_folder(tmp_path / "new").is_dir()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(OneShotError, match="is not empty"):
        live.check_review_folder(tmp_path / "full")


def test_model_version_is_the_encoders():
    class Enc:
        version = "encoder-123"

    class Eng:
        encoder = Enc()
    assert live.model_version(Eng()) == "encoder-123"  # type: ignore[arg-type]
