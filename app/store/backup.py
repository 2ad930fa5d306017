"""Export and import of the whole gallery as one file, for backups and moving to another machine.

Qt-free. The file is a zip archive:

    manifest.json   format name and version, app version, counts, SHA-256 of every other member
    people.json     names, dates, and per sample: crop file, embedding (base64 float32), model
    crops/N.png     the aligned face crops exactly as the gallery stores them (lossless)

Design choices, and why:
- One file, written atomically (temp + fsync + rename) and created 0600: it holds biometric data,
  and a full disk or a crash while exporting leaves any previous backup intact.
- Reading checks everything before the gallery is touched (zip structure, format version,
  checksums, names, crops, embeddings); a newer format, a damaged or truncated file is refused
  with a message and the gallery is left exactly as it was.
- Import is one gallery transaction (all or nothing). A name already enrolled is refused unless
  the caller asks to merge, mirroring `enrol --add`; merging skips crops the person already has,
  so importing the same backup twice adds nothing.
- Per photo, its quality figure and whether it is the main photo travel too (keys a file of an
  older version lacks and an older version ignores); "Not …" rejections and recent faces never
  leave the machine.
- Embeddings keep their model version; the caller re-embeds samples of another model from their
  crops (`Engine.import_gallery` does), so a backup made with an older model still works.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from app import __version__
from app.atomic import atomic_write
from app.errors import GalleryError
from app.store.gallery import Gallery
from app.store.records import RawPerson, RawSample, RestoreReport

FORMAT = "oneshot-face-gallery"
FORMAT_VERSION = 1
SUFFIX = ".oneshot-gallery.zip"
MAX_MEMBER_BYTES = 512 * 1024 * 1024  # far above any real gallery; refuses zip bombs


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    people: int
    samples: int


@dataclass(frozen=True)
class Backup:
    """A backup file read and fully checked, not yet imported."""
    manifest: dict
    people: list[RawPerson]

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.people]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_gallery(gallery: Gallery, path: str | os.PathLike) -> ExportSummary:
    """Write every person and sample of `gallery` to `path` (replaced atomically, mode 0600)."""
    path = Path(path)
    if path.is_dir():
        raise GalleryError(f"{path} is a folder; give a file name for the backup.")
    people = gallery.dump()
    members: dict[str, bytes] = {}
    listing = []
    n = 0
    for person in people:
        samples = []
        for smp in person.samples:
            n += 1
            name = f"crops/{n:06d}.png"
            members[name] = smp.png
            samples.append({"crop": name, "embedding": base64.b64encode(smp.embedding).decode("ascii"),
                            "model_version": smp.model_version, "source": smp.source, "created": smp.created,
                            "quality": smp.quality, "quality_note": smp.quality_note, "main": smp.is_main})
        listing.append({"name": person.name, "created": person.created, "samples": samples})
    members["people.json"] = json.dumps(listing, ensure_ascii=False, indent=1).encode("utf-8")
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "app_version": __version__,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "people": len(people), "samples": n,
                "model_versions": sorted({s.model_version for p in people for s in p.samples}),
                "sha256": {k: _sha(v) for k, v in members.items()}}
    try:
        with atomic_write(path, mode=0o600) as f:
            with zipfile.ZipFile(f, "w") as z:
                z.writestr("manifest.json", json.dumps(manifest, indent=1), zipfile.ZIP_DEFLATED)
                for name, data in members.items():
                    z.writestr(name, data, zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED)
    except OSError as exc:
        raise GalleryError(f"The backup {path} could not be written ({exc.strerror or exc}); "
                           f"any previous file there is unchanged.") from None
    return ExportSummary(path, len(people), n)


def read_backup(path: str | os.PathLike) -> Backup:
    """Open and check a backup completely; GalleryError (saying what is wrong) if it is unusable."""
    path = Path(path)
    if path.is_dir():
        raise GalleryError(f"{path} is a folder, not a gallery backup.")
    if not path.exists():
        raise GalleryError(f"{path} does not exist.")
    damaged = f"{path} is damaged or truncated; nothing was imported"
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if "manifest.json" not in names:
                raise GalleryError(f"{path} is not a OneShot Face gallery backup (no manifest).")
            if any(i.file_size > MAX_MEMBER_BYTES for i in z.infolist()):
                raise GalleryError(f"{path} holds a part too large for a gallery backup; refused.")
            manifest = _manifest(json.loads(z.read("manifest.json")), path)
            sums = manifest["sha256"]
            if not isinstance(sums, dict) or "people.json" not in sums or not set(sums) <= names:
                raise GalleryError(f"{damaged} (files listed in its manifest are missing).")
            data = {}
            for name, want in sums.items():
                blob = z.read(name)
                if _sha(blob) != want:
                    raise GalleryError(f"{damaged} ({name} does not match its checksum).")
                data[name] = blob
    except GalleryError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, KeyError, UnicodeDecodeError,
            json.JSONDecodeError, NotImplementedError, RuntimeError, zlib.error):
        raise GalleryError(f"{damaged} (not a readable zip archive).") from None
    except OSError as exc:
        raise GalleryError(f"{path} cannot be read ({exc.strerror or exc}).") from None
    return Backup(manifest, _people(data, path))


def _manifest(m: object, path: Path) -> dict:
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise GalleryError(f"{path} is not a OneShot Face gallery backup.")
    version = m.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise GalleryError(f"{path} has an unknown backup format version ({version!r}); nothing was imported.")
    if version > FORMAT_VERSION:
        raise GalleryError(f"{path} was written by a newer OneShot Face (backup format {version}; this app "
                           f"reads up to {FORMAT_VERSION}). Update the app to import it.")
    return m


def _people(data: dict[str, bytes], path: Path) -> list[RawPerson]:
    bad = GalleryError(f"{path} is damaged (its list of people cannot be read); nothing was imported.")
    try:
        listing = json.loads(data["people.json"].decode("utf-8"))
        people = []
        for p in listing:
            # quality, quality_note and main came later: a file without them reads as before.
            samples = tuple(RawSample(data[s["crop"]], base64.b64decode(s["embedding"], validate=True),
                                      str(s["model_version"]),
                                      None if s.get("source") is None else str(s["source"]),
                                      float(s.get("created") or 0.0),
                                      None if s.get("quality") is None else float(s["quality"]),
                                      None if s.get("quality_note") is None else str(s["quality_note"]),
                                      bool(s.get("main", False)))
                            for s in p["samples"])
            if not isinstance(p["name"], str):
                raise TypeError("name")
            people.append(RawPerson(p["name"], float(p.get("created") or 0.0), samples))
    except (ValueError, TypeError, KeyError, AttributeError, binascii.Error):
        raise bad from None
    return people


def import_gallery(gallery: Gallery, source: str | os.PathLike | Backup, merge: bool = False) -> RestoreReport:
    """Add a backup's people to `gallery` in one transaction. `source` is a file (checked here)
    or a `Backup` already read and checked by `read_backup`, so callers that looked inside it
    first (for name clashes, or to refuse it before loading a model) do not read it twice."""
    backup = source if isinstance(source, Backup) else read_backup(source)
    return gallery.restore(backup.people, merge=merge)
