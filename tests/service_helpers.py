"""What the service tests share (tests/test_service.py, tests/service/): a stand-in for the recent
faces that counts what the library asks of it, and a `Library` over a real engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from app.live.pipeline import Engine
from app.service import Library


class FakeRecent:
    def __init__(self):
        self.synced, self.purged = 0, 0

    def sync_people(self, gallery):
        self.synced += 1
        return 0

    def purge(self):
        self.purged += 1
        return 0


def library_on(yunet_path: Path, tmp_path: Path) -> Iterator[Library]:
    """A `Library` over a real YuNet engine with an empty gallery in `tmp_path`; `fake_recent` and
    `engine` are set on it for the tests to look at. For a fixture to `yield from`."""
    eng = Engine.create("yunet", yunet_path, device="cpu", gallery_path=tmp_path / "g.sqlite3")
    recent = FakeRecent()
    library = Library(eng, lambda: recent)
    library.fake_recent = recent  # type: ignore[attr-defined]
    library.engine = eng  # type: ignore[attr-defined]
    yield library
    eng.close()
