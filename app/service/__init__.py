"""The face library as the GUI (and any other front end) uses it: named operations on an `Engine`.

`Library` wraps one Engine (and, optionally, the recent faces fed by the live loop) and offers
what a person can do with the enrolled people: list them with thumbnails, open a person's page,
rename, merge, delete and undo, set the main photo, move or remove a photo, enrol a face, import
and export, switch the detector or the model, set the threshold. Each returns a typed result
(the gallery's `Person`, `DeletedPerson`, `Sample`, or a dataclass here). It holds no Qt and no
UI text beyond the error messages the core already gives; front ends show the answers.

Like the Engine it wraps, a Library is used from one thread (the GUI's inference worker runs
every job on its own thread with the worker's Library).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.progress import CancelToken, ProgressFn, no_progress
from app.recognition.detection import Face
from app.recognition.matching import Match
from app.recognition.open_set import OpenSetRule as OpenSetRule  # the GUI's figures read a card's rule
from app.store.records import DeletedPerson, Person, Sample

if TYPE_CHECKING:  # imported when used: the encoder pulls in torch
    from app.live.guided import GuidedCapture, GuidedProgress, GuidedView
    from app.live.learning import TrackLearner
    from app.live.pipeline import Engine, EnrolCandidate
    from app.live.recent import RecentFaces
    from app.store.backup import Backup, ExportSummary
    from app.store.gallery import Gallery
    from app.store.records import RestoreReport


@dataclass(frozen=True)
class PersonRow:
    """One enrolled person as a list shows them."""
    id: int
    name: str
    samples: int
    thumbnail: np.ndarray | None


@dataclass(frozen=True, eq=False)
class PhotoRow:
    """One of a person's photos, as their page shows it."""
    id: int
    number: int             # photo N, as `people show` numbers them
    crop: np.ndarray
    created: float
    source: str | None
    quality: float | None
    quality_note: str | None
    is_main: bool
    learned: bool = False   # a view learned from the camera (app.live.learning), not a photo given


@dataclass(frozen=True)
class PersonPage:
    """Everything a person's page shows."""
    id: int
    name: str
    photos: tuple[PhotoRow, ...]
    rejections: int
    others: tuple[tuple[int, str], ...]   # everyone else enrolled: (id, name)


@dataclass(frozen=True, eq=False)
class PhotoFaces:
    """A photo read from disk and the faces found in it (numbered left to right from 1)."""
    rgb: np.ndarray
    faces: list[Face]


@dataclass(frozen=True)
class BackupCheck:
    """A backup read and checked, and which of its people are enrolled already (by name)."""
    backup: Backup
    clashes: list[str]


@dataclass(frozen=True)
class EngineInfo:
    """The loaded engine and its model as the front ends show them (`Library.describe`).

    Why a type and not a dict: the status bar, Settings (threshold, Retrain), About and the
    self-test all read these facts, on the GUI thread, from what the inference worker sent; named
    fields let mypy check every reader, and a renamed or missing key fails where it is made,
    not as a KeyError (or a silent `.get` default) in a slot. Frozen: it is a snapshot, sent
    between threads; a change (another model, detector or τ) sends a new one.

    The model card's free-form sections (`calibration`, `open_set`, `metrics`, `training`,
    `arch`) stay dicts: the card's JSON defines them (app.recognition.encoder.ModelCard), and
    they are read by helpers that take a card's sections (app.gui.figures, the threshold pane,
    fine-tune settings). They are copies, so a reader cannot change the engine's card."""

    detector: str                  # the detector's name ("yunet", "haar")
    encoder: str                   # the model's version (its card's `version`)
    device: str                    # where it runs: "cpu", "cuda"
    tau: float                     # the τ faces are named with now (a fixed τ or the model's rule)
    rule: str                      # that rule in words (`Engine.rule_text`)
    calibrated_tau: float          # the card's own one-to-one τ
    model_path: str | None         # the weights file (None: none known)
    shipped: bool                  # the model shipped with the program, not one the user trained
    enrolled_samples: int          # photos the matcher holds for this model
    stale_samples: int             # photos embedded by another model (not matched until re-embedded)
    detector_note: str = ""        # why Haar, in words ("Haar fallback: … YuNet file missing at …")
    warnings: tuple[str, ...] = ()  # e.g. the asked-for weights were unusable: the shipped model is used
    domain_delta: float = 0.0      # how much stricter this camera's faces made the automatic τ (≥ 0)
    domain_text: str = ""          # the same in words (`Engine.domain_text`; "" with a fixed τ)
    calibration: dict[str, Any] = field(default_factory=dict)
    open_set: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    arch: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportResult:
    report: RestoreReport
    reembedded: int      # samples re-embedded for the current model afterwards

    def __iter__(self):  # `report, reembedded = result`, as Engine.import_gallery returns it
        return iter((self.report, self.reembedded))


def export_gallery_crops(gallery: Gallery, progress: ProgressFn | None = None) -> Path:
    """Write every enrolled sample's crop as gallery-train/<person id>/<sample id>.png beside the
    gallery (in the private data folder, never the cache folder), padded so the detector finds
    the face again; returns the folder."""
    import shutil

    import cv2

    from app import paths
    from app.errors import DatasetError

    root = gallery.path.parent / paths.GALLERY_TRAIN
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(mode=0o700, parents=True)
    samples = gallery.samples()
    if not samples:
        raise DatasetError("No one is enrolled yet, so there are no photos of enrolled people to train on.")
    for i, smp in enumerate(samples):
        folder = root / f"person-{smp.person_id}"
        folder.mkdir(mode=0o700, exist_ok=True)
        pad = smp.crop.shape[0] // 2
        img = cv2.copyMakeBorder(smp.crop, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        cv2.imwrite(str(folder / f"{smp.id}.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        if progress is not None:
            progress(i + 1, len(samples), "exporting enrolled photos")
    return root


class Library:
    """The named operations on the enrolled people, the recent faces and the engine's settings.

    `recent`: returns the recent faces to keep in step (after a delete or merge, a purge), or
    None when there are none; it is asked each time, since the live loop may swap them."""

    def __init__(self, engine: Engine, recent: Callable[[], RecentFaces | None] | None = None,
                 learner: Callable[[], TrackLearner | None] | None = None) -> None:
        """`learner`: returns the live loop's learner from tracks (None: none), so "Not …" also
        removes what it learned from that face."""
        self._engine = engine
        self._recent = recent if recent is not None else (lambda: None)
        self._learner = learner if learner is not None else (lambda: None)
        self._capture: GuidedCapture | None = None

    @property
    def _gallery(self) -> Gallery:
        return self._engine.gallery

    # ---- facts -------------------------------------------------------------------------------
    @property
    def model_version(self) -> str:
        return self._engine.encoder.version

    def stale_count(self) -> int:
        """Photos embedded by another model than the active one (not matched until re-embedded)."""
        return self._gallery.stale_count(self._engine.encoder.version)

    def describe(self) -> EngineInfo:
        """The engine's facts and the active model card's, as the status bar and Settings show them."""
        eng = self._engine
        card = eng.encoder.card
        return EngineInfo(
            detector=eng.detector.name, detector_note=eng.detector.note, encoder=eng.encoder.version,
            device=eng.encoder.device.type,
            tau=float(eng.threshold), rule=eng.rule_text(), calibrated_tau=float(card.tau),
            model_path=str(eng.encoder.path) if eng.encoder.path else None, shipped=is_shipped(eng.encoder.path),
            enrolled_samples=len(eng.matcher), stale_samples=self.stale_count(), warnings=tuple(eng.warnings),
            domain_delta=self.domain_delta(), domain_text=eng.domain_text(),
            calibration=dict(card.calibration or {}), open_set=dict(card.open_set or {}),
            metrics=dict(card.metrics or {}), training=dict(card.training or {}), arch=dict(card.arch))

    # ---- people ------------------------------------------------------------------------------
    def people(self) -> list[PersonRow]:
        """Everyone enrolled, with their main photo (None where it cannot be read)."""
        rows = []
        for p in self._gallery.people():
            try:
                thumb = self._gallery.thumbnail(p.id)
            except Exception:  # noqa: BLE001 - a missing thumbnail must not hide the person
                thumb = None
            rows.append(PersonRow(p.id, p.name, int(getattr(p, "sample_count", 0) or 0), thumb))
        return rows

    def person_page(self, person_id: int) -> PersonPage:
        g = self._gallery
        p = g.person(person_id)
        samples = g.samples(p.id)
        main = next((s.id for s in samples if s.is_main), samples[0].id if samples else None)
        from app.live.learning import is_learned
        photos = tuple(PhotoRow(s.id, i, s.crop, s.created, s.source, s.quality, s.quality_note, s.id == main,
                                is_learned(s)) for i, s in enumerate(samples, 1))
        others = tuple((o.id, o.name) for o in g.people() if o.id != p.id)
        return PersonPage(p.id, p.name, photos, g.rejection_count(p.id), others)

    def find(self, name: str) -> Person | None:
        return self._gallery.find(name)

    def rename(self, person_id: int, new_name: str) -> Person:
        """`NameTakenError` (naming who has it) when the name is someone else's; the recent
        faces show the new name."""
        person = self._gallery.rename(person_id, new_name)
        self._sync_recent()
        return person

    def merge(self, from_id: int, into_id: int) -> Person:
        """Every photo of `from_id` goes to `into_id`; the recent faces forget `from_id`."""
        person = self._gallery.merge(from_id, into_id)
        self._sync_recent()
        return person

    def delete(self, person_id: int) -> DeletedPerson:
        """Delete undoably (for ten minutes); their recent faces go at once."""
        gone = self._gallery.delete(person_id, undoable=True)
        self._sync_recent()
        return gone

    def undo_delete(self, person_id: int) -> Person:
        return self._gallery.undo_delete(person_id)

    def deleted_people(self) -> list[DeletedPerson]:
        """Deletions that can still be undone."""
        return self._gallery.deleted_people()

    def purge_due(self) -> int:
        """Erase the people whose undo window is over and the recent faces past their retention;
        returns how many people were erased."""
        erased = self._gallery.purge_deleted()
        rf = self._recent()
        if rf is not None:
            rf.purge()
            if erased:
                rf.sync_people(self._gallery)
        return erased

    def set_main_photo(self, sample_id: int) -> None:
        self._gallery.set_main_sample(sample_id)

    def move_photo(self, sample_id: int, to_person_id: int) -> Person:
        return self._gallery.move_sample(sample_id, to_person_id)

    def remove_photo(self, sample_id: int) -> Person:
        return self._gallery.remove_sample(sample_id)

    def set_learning(self, on: bool) -> None:
        """Learning from the camera's tracks on or off (the app's setting)."""
        learner = self._learner()
        if learner is not None:
            learner.enabled = bool(on)

    def learned_views(self, person_id: int) -> list[PhotoRow]:
        """The person's views learned from the camera, as their page lists them."""
        return [row for row in self.person_page(person_id).photos if row.learned]

    def forget_learned(self, person_id: int, sample_id: int | None = None) -> int:
        """Remove one learned view (`sample_id`) or all of them; returns how many. Matching is
        then exactly as before they were learned."""
        from app.live.learning import forget_learned
        return forget_learned(self._gallery, person_id, None if sample_id is None else [sample_id])

    def clear_rejections(self, person_id: int) -> int:
        """Forget the "Not …" answers about this person; how many there were."""
        return self._gallery.clear_rejections(person_id)

    def _sync_recent(self) -> None:
        rf = self._recent()
        if rf is not None:
            rf.sync_people(self._gallery)

    # ---- enrolment ---------------------------------------------------------------------------
    def open_photo(self, path: str | os.PathLike) -> PhotoFaces:
        """Read a photo (ImageError if it cannot be) and find its faces."""
        from app.imageio import load_image
        rgb = load_image(path)
        return PhotoFaces(rgb, self._engine.detect(rgb))

    def candidate(self, rgb: np.ndarray, face_index: int | None = None, faces: list[Face] | None = None,
                  name: str = "the photo") -> EnrolCandidate:
        """The face to enrol (face number `face_index`, from 1), with its warnings and nearest match."""
        return self._engine.enrol_candidate(rgb, face_index=face_index, faces=faces, name=name)

    def enrol(self, name: str, candidate: EnrolCandidate, source: str | None = None,
              add_to_existing: bool = False) -> Person:
        return self._engine.enrol(name, candidate, source=source, add_to_existing=add_to_existing)

    def add_photos(self, person_id: int, candidates: list[tuple[EnrolCandidate, str | None]]) -> list[Sample]:
        """Add (candidate, source) photos to someone, all or none."""
        return self._engine.add_candidates(person_id, candidates)

    def enrol_views(self, name: str, views: Sequence[GuidedView], add_to_existing: bool = False,
                    source: str = "guided capture") -> Person:
        """A finished guided capture's views (`app.live.guided`) as one person's photos, all or
        none: embedded as enrolment embeds stored crops, the first (frontal) view enrolled through
        the one enrolment path with the rest in the same transaction (also when they are added
        to someone already enrolled under `name`)."""
        from app.errors import OneShotError
        from app.live.pipeline import EnrolCandidate
        if not views:
            raise OneShotError("The capture kept no view: look at the camera and try again.")
        engine = self._engine
        embs = engine.embed_stored_crops(np.stack([v.crop for v in views]))
        nearest = engine.identify(embs)
        cands = [EnrolCandidate(v.face, v.crop, e, v.quality.reasons, m, v.quality)
                 for v, e, m in zip(views, embs, nearest)]
        sources = [f"{source} ({v.bin})" for v in views]
        person = engine.enrol(name, cands[0], source=sources[0], add_to_existing=add_to_existing,
                              more=list(zip(cands[1:], sources[1:])))
        self._sync_recent()
        return self._gallery.person(person.id)

    # ---- guided capture (app.live.guided): the live loop feeds it, the UI shows its progress ---
    def start_capture(self, track_id: int | None = None) -> GuidedProgress:
        """Begin (or begin again) a guided capture of one track; None locks on the first frame
        that shows exactly one face."""
        from app.live.guided import GuidedCapture
        self._capture = GuidedCapture(track_id)
        return self._capture.snapshot()

    def feed_capture(self, rgb: np.ndarray, recognitions: Sequence[Any],
                     labels: Sequence[Any]) -> GuidedProgress | None:
        """One analysed live frame (`FrameAnalysis.recognitions`, `.labels`); None while no
        capture runs."""
        cap = self._capture
        if cap is None:
            return None
        cap.feed_analysis(rgb, recognitions, labels)
        return cap.snapshot()

    def capture_progress(self) -> GuidedProgress | None:
        return self._capture.snapshot() if self._capture is not None else None

    def stop_capture(self) -> None:
        self._capture = None

    def capture_nearest(self) -> Match | None:
        """Who the capture's kept views already resemble: the closest of their matches (known
        if under τ), as a photo's enrolment shows its nearest match, so a front end can offer to
        add them to that person instead; None without a capture or a kept view."""
        views = self._capture.views() if self._capture is not None else []
        if not views:
            return None
        embs = self._engine.embed_stored_crops(np.stack([v.crop for v in views]))
        return min(self._engine.identify(embs), key=lambda m: m.distance)

    def enrol_capture(self, name: str, add_to_existing: bool = False) -> Person:
        """Enrol the running capture's views (`enrol_views`) and end the capture; a failure keeps
        it, so the user can fix the name and try again."""
        from app.errors import OneShotError
        if self._capture is None:
            raise OneShotError("No capture is running: start one first.")
        person = self.enrol_views(name, self._capture.views(), add_to_existing=add_to_existing)
        self._capture = None
        return person

    # ---- recent faces ------------------------------------------------------------------------
    def recent_faces(self) -> RecentFaces:
        from app.errors import OneShotError
        rf = self._recent()
        if rf is None:
            raise OneShotError("Recent faces are not available: the recognition engine did not start.")
        return rf

    def recent_this_is(self, keys: str | Sequence[str], person_id: int) -> Sample:
        """"This is …": the recent face's best frame becomes one of their photos."""
        from app.live import recent_actions
        return recent_actions.this_is(self.recent_faces(), self._engine, keys, person_id)

    def recent_matches_now(self) -> dict[str, Match]:
        """Unknown recent faces the gallery would name now, by group key (`recent_actions.matches_now`)."""
        from app.live import recent_actions
        return recent_actions.matches_now(self.recent_faces(), self._engine)

    def recent_pulled_in(self, person_id: int) -> int:
        """How many unknown recent faces (groups) the gallery would now name `person_id`: after a
        face was added to them, the ones to look at."""
        return sum(m.person_id == person_id for m in self.recent_matches_now().values())

    def recent_new_person(self, keys: str | Sequence[str], name: str) -> Person:
        """"New person…" (NameTakenError when the name is someone else's)."""
        from app.live import recent_actions
        return recent_actions.new_person(self.recent_faces(), self._engine, keys, name)

    def recent_not(self, keys: str | Sequence[str], person_id: int) -> int:
        """"Not …": this face is not person `person_id` (GalleryError when they are no longer
        enrolled). The views learned from these faces into that person go too."""
        from app.errors import GalleryError
        from app.live import recent_actions
        rf = self.recent_faces()
        faces = []
        for key in [keys] if isinstance(keys, str) else keys:
            try:
                f = rf.get(key)
            except GalleryError:
                continue  # gone meanwhile: not_person says so when none is left
            if f.model_version == self._engine.encoder.version:
                faces.append(f.embedding)
        n = recent_actions.not_person(rf, self._engine, keys, person_id)
        learner = self._learner()
        if learner is not None and faces:
            learner.forget_near(person_id, np.stack(faces))
        return n

    # ---- backups and exports -----------------------------------------------------------------
    def export_gallery(self, path: str | os.PathLike) -> ExportSummary:
        return self._engine.export_gallery(path)

    def check_backup(self, path: str | os.PathLike) -> BackupCheck:
        """Read and check a backup once; which of its people have a name already enrolled."""
        from app.store.backup import read_backup
        saved = read_backup(path)
        return BackupCheck(saved, [n for n in saved.names if self.find(n) is not None])

    def import_gallery(self, backup: str | os.PathLike | Backup, merge: bool = False,
                       progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> ImportResult:
        report, n = self._engine.import_gallery(backup, merge, progress, cancel)
        return ImportResult(report, n)

    def export_crops(self, progress: ProgressFn | None = None) -> Path:
        """The stored crops as a folder-per-person dataset to retrain on (see export_gallery_crops)."""
        return export_gallery_crops(self._gallery, progress)

    def refresh(self, progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> int:
        """Re-embed photos made by another model; how many were."""
        return self._engine.refresh_gallery(progress, cancel)

    # ---- the engine's settings ---------------------------------------------------------------
    @property
    def threshold(self) -> float:
        """The τ faces are named with now."""
        return float(self._engine.threshold)

    def domain_delta(self) -> float:
        """How much stricter the faces this camera has seen make the automatic τ (0: none)."""
        shift = self._engine.domain_shift()
        return 0.0 if shift is None else float(shift.delta)

    def camera_state(self) -> tuple[int, int]:
        """Changes when the camera sample or the gallery does (the Threshold pane follows it)."""
        return (self._engine.domain.version, self._engine.gallery.version)

    def camera_text(self) -> str:
        """What the camera did to the automatic τ, in words (`Engine.domain_text`)."""
        return self._engine.domain_text()

    def learn_camera(self, folder: str | os.PathLike, progress: ProgressFn = no_progress,
                     cancel: CancelToken | None = None) -> tuple[int, int, int]:
        """"Calibrate on photos from this camera": every photo in `folder` (not its subfolders)
        into the camera sample (`Engine.observe_domain_photos`); (photos read, faces, unreadable)."""
        from app.errors import OneShotError
        from app.imageio import IMAGE_EXTENSIONS
        root = Path(folder)
        if not root.is_dir():
            raise OneShotError(f"{root} is not a folder of photos.")
        photos = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not photos:
            raise OneShotError(f"No photos in {root} (looked for {', '.join(sorted(IMAGE_EXTENSIONS))}).")
        return self._engine.observe_domain_photos(photos, progress, cancel)

    def forget_camera(self) -> int:
        """Forget the faces this camera has seen (`Engine.reset_domain`); how many."""
        return self._engine.reset_domain()

    def set_threshold(self, tau: float | None) -> None:
        """A fixed τ, or None for the model's own rule for the gallery's size."""
        self._engine.tau = None if tau is None else float(tau)

    def switch_model(self, weights: str | os.PathLike | None, device: str | None,
                     progress: ProgressFn = no_progress, keep_threshold: bool = False) -> int:
        """Load another model (the gallery is re-embedded for it); how many photos were. The new
        model's own rule applies unless `keep_threshold`."""
        from app.recognition.encoder import Encoder
        encoder = Encoder.load(weights, device)
        tau = self._engine.tau
        n = self._engine.set_encoder(encoder, progress)
        if keep_threshold:
            self._engine.tau = tau
        return n

    def set_detector_and_device(self, detector: str | None, detector_model: str | os.PathLike | None,
                                weights: str | os.PathLike | None, device: str | None,
                                progress: ProgressFn = no_progress) -> int:
        """Another detector, and the model on another device; both are made before either is
        swapped in, so a failure changes nothing. The threshold is kept."""
        from app.recognition.detection import create_detector
        from app.recognition.encoder import Encoder
        new_detector = create_detector(detector, detector_model)
        new_encoder = Encoder.load(weights, device)
        self._engine.detector = new_detector
        tau = self._engine.tau
        n = self._engine.set_encoder(new_encoder, progress)
        self._engine.tau = tau
        return n

    def install_yunet(self, source: str | os.PathLike | None, progress: ProgressFn = no_progress) -> Path:
        """Download YuNet (None) or copy a chosen file into the user's model folder (SHA-256
        checked either way), then detect with it; returns the installed file."""
        from app import paths
        from app.fetch import fetch_yunet, install_yunet_file
        from app.recognition.detection import create_detector
        path = fetch_yunet(progress=progress) if source is None else install_yunet_file(source, paths.user_models_dir())
        self._engine.detector = create_detector("yunet", path)
        return path


def is_shipped(path: str | os.PathLike | None) -> bool:
    """The model shipped with the program (models/ beside it), not one the user trained."""
    if not path:
        return False
    from app.recognition.encoder import shipped_weights
    try:
        return Path(path).resolve() == shipped_weights().resolve()
    except OSError:
        return False
