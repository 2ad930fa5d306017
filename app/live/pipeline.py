"""The recognition engine: frame → faces → aligned crops → embeddings → names.

The CLI, the GUI and the tests all drive this one class; it holds no UI code. One Engine per
thread (the detector keeps per-instance state); the gallery connection is opened per Engine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from app.errors import MultipleFacesError, NoFaceError, SourceError
from app.imageio import load_image
from app.live.domain import ROUGH_PAIRS, DomainSample, path_for
from app.live.sources import is_rgb_frame
from app.progress import CancelToken, ProgressFn, no_progress
from app.recognition.alignment import FULL_BOX, align, align_many, recrop
from app.recognition.detection import Detector, Face, create_detector
from app.recognition.encoder import Encoder
from app.recognition.matching import UNKNOWN, Match, Matcher
from app.recognition.open_set import DomainShift, adapted_threshold, domain_shift, strictest, threshold_for
from app.recognition.quality import MIN_NAMING_SHARPNESS, Quality, assess, sharpness
from app.store import backup
from app.store.backup import ExportSummary
from app.store.gallery import Gallery
from app.store.records import NewSample, Person, RestoreReport, Sample
from app.text import plural

STORED_CROP = 112  # crops kept in the gallery, large enough to re-embed for any future model

# "Far under τ" for one frame: τ at the rule's target / SURE_FACTOR (`Engine.sure_threshold`).
SURE_FACTOR = 10.0


def live_threads() -> int:
    """Per-frame work runs torch on one intra-op thread (`$ONESHOT_THREADS` to change it).

    A frame has a face or three: two threads barely speed that up, and when another program holds
    a core they spin waiting for each other (docs/speed.md, `bench --busy`). The other core is left for capture and decoding in
    their own threads. Training and evaluation keep every core."""
    import torch
    try:
        n = max(1, int(os.environ.get("ONESHOT_THREADS", "1")))
    except ValueError:
        n = 1
    torch.set_num_threads(n)
    return n


@dataclass(frozen=True)
class Recognition:
    face: Face
    match: Match
    embedding: np.ndarray | None  # None: not embedded this frame, its track's name carried over
    judged: bool = True  # False: too blurred or dark to embed, so it says nothing of who this is


def _two_taus(before: float, after: float) -> str:
    """"1.16 → 1.06", with a third decimal when two would show no change ("1.178 → 1.177")."""
    digits = 2 if f"{before:.2f}" != f"{after:.2f}" else 3
    return f"{before:.{digits}f} → {after:.{digits}f}"


@dataclass(frozen=True)
class EnrolCandidate:
    """A face ready to be enrolled: the crop to store and its embedding, with quality warnings."""

    face: Face
    crop: np.ndarray
    embedding: np.ndarray
    warnings: tuple[str, ...]  # the quality gate's reasons (`quality.reasons`), shown as warnings
    nearest: Match  # who it already resembles (known if under τ)
    quality: Quality | None = None  # the gate (app.recognition.quality): `people add` and recent faces refuse poor ones


class Engine:
    def __init__(self, detector: Detector, encoder: Encoder, gallery: Gallery, tau: float | None = None):
        self.detector = detector
        self.encoder = encoder
        self.gallery = gallery
        # A fixed τ chosen by the user; None: the model's open-set rule for the gallery's size.
        self.tau: float | None = None if tau is None else float(tau)
        self._matcher: Matcher | None = None
        self._matcher_key: tuple | None = None
        self.warnings: list[str] = []  # e.g. the asked-for weights were unusable: shipped model used
        # Faces this camera has seen (app.live.domain), kept with the gallery: τ(N) is made
        # stricter when the domain's strangers look more alike than the table's (never looser).
        self.domain = DomainSample(path_for(gallery.path))
        if self.domain.load_error:
            self.warnings.append(self.domain.load_error)
        self._shift: DomainShift | None = None
        self._shift_faces = 0
        self._shift_key: tuple | None = None

    @classmethod
    def create(cls, detector: str | None = None, detector_model: str | os.PathLike | None = None,
               weights: str | os.PathLike | None = None, device: str | None = None,
               gallery_path: str | os.PathLike | None = None, tau: float | None = None) -> "Engine":
        live_threads()
        enc, warning = Encoder.load_or_shipped(weights, device)
        engine = cls(create_detector(detector, detector_model), enc, Gallery(gallery_path), tau)
        if warning:
            engine.warnings.append(warning)
        return engine

    def close(self) -> None:
        self.domain.save()
        self.gallery.close()

    def describe(self) -> dict:
        return {"detector": self.detector.name, "detector_note": self.detector.note,
                "encoder": self.encoder.version,
                "device": self.encoder.device.type, "tau": self.threshold, "rule": self.rule_text(),
                "domain": self.domain_report()}

    # ---- the decision ----------------------------------------------------------------------
    def _decision(self, track: bool = False) -> tuple[Matcher, float]:
        """The matcher and the τ faces (or live tracks' templates) are named with now (see
        `open_set.threshold_for`)."""
        m = self.matcher
        rule = self.encoder.open_set_rule
        if self.tau is None and rule is not None:
            return m, adapted_threshold(rule, len(m), self.domain_shift(), track)
        return m, threshold_for(m, rule, self.encoder.tau, self.tau, track)

    # ---- the camera's domain (app.live.domain) ----------------------------------------------
    def domain_shift(self) -> DomainShift | None:
        """How much stricter this camera's faces make τ(N) (`open_set.domain_shift` over the
        enrolled cross pairs and the crowd sample); recomputed only when either changed."""
        rule = self.encoder.open_set_rule
        if rule is None:
            return None
        m = self.matcher
        # recomputed when the gallery, the model or the sample's start changed, or the sample grew by
        # a twentieth: with a thousand faces it costs the live loop ~0.1 s, and a face or two more
        # cannot move a quantile of thousands of pairs
        key = (self.gallery.version, self.encoder.version, self.domain.generation)
        grown = self.domain.added - self._shift_faces
        if key != self._shift_key or grown < 0 or grown >= max(1, self._shift_faces // 20):
            # the enrolled cross pairs alone, and with the camera's faces: the stricter of the two
            # (many seen faces may dilute a tail the few cross pairs already showed)
            e, ids, sc = m.embeddings, m.person_ids, self.encoder.scorer
            shifts = [domain_shift(rule, DomainSample().impostors(e, ids, sc))]
            if self.domain.model == self.encoder.version and len(self.domain):
                shifts.append(domain_shift(rule, self.domain.impostors(e, ids, sc)))
            self._shift = strictest(shifts)
            self._shift_key = key
            self._shift_faces = self.domain.added
        return self._shift

    def observe_domain(self, faces: list[tuple[int, np.ndarray | None]],
                       grade: Callable[[int], bool] | None = None) -> None:
        """One analysed live frame: (track key from `domain.new_track`, embedding or None) for
        every face in it, whatever it was named; `grade(i)` says whether face i passes the quality
        gate (`domain_grade`). Nothing is learned while nobody is enrolled."""
        if len(self.matcher):
            self.domain.observe(self.encoder.version, faces, grade)

    @staticmethod
    def domain_grade(rgb: np.ndarray, faces: Sequence[Face]) -> Callable[[int], bool]:
        """For `observe_domain`: whether face i of `rgb` passes the gate photos are enrolled
        through (`quality.assess` on its stored crop), measured only when asked."""
        return lambda i: assess(faces[i], align(rgb, faces[i], STORED_CROP), rgb.shape).ok

    def observe_domain_photos(self, photos: Sequence[Path], progress: ProgressFn = no_progress,
                              cancel: CancelToken | None = None) -> tuple[int, int, int]:
        """Photos taken with this camera (a folder the user points at) into the camera sample, as
        the live view feeds it: each face its own track, the faces of one photo in view together.
        Stops between photos when cancelled, keeping what was learned. Returns (photos read,
        faces kept, photos that could not be read). OneShotError while nobody is enrolled."""
        from app.errors import ImageError, OneShotError
        if not len(self.matcher):
            raise OneShotError("Enrol someone first: what the camera's photos teach is how alike "
                               "strangers look to the people enrolled.")
        before, read, unreadable = len(self.domain), 0, 0
        for i, photo in enumerate(photos):
            if cancel is not None and cancel.cancelled:
                break
            progress(i, len(photos), f"Learning this camera from {Path(photo).name}")
            try:
                rgb = load_image(photo)
            except ImageError:
                unreadable += 1
                continue
            read += 1
            recs = [r for r in self.analyse(rgb) if r.embedding is not None]
            self.observe_domain([(self.domain.new_track(), r.embedding) for r in recs],
                                self.domain_grade(rgb, [r.face for r in recs]))
        progress(len(photos), len(photos), "Done")
        self.domain.save()
        return read, len(self.domain) - before, unreadable

    def reset_domain(self) -> int:
        """Forget the faces this camera has seen: τ is the table's again. Returns how many."""
        return self.domain.reset()

    def domain_report(self) -> dict:
        """What the automatic τ rests on, for `identify --json`, `watch` and the Threshold pane."""
        rule = self.encoder.open_set_rule
        m = self.matcher
        shift = self.domain_shift()
        base = None if rule is None else rule.threshold(len(m))
        tau = self.threshold
        pairs = 0 if shift is None else shift.pairs
        stricter = self.tau is None and shift is not None and shift.stricter
        return {"table_tau": base, "tau": tau, "track_tau": self.track_threshold, "fixed": self.tau is not None,
                "stricter": stricter, "delta": 0.0 if shift is None else shift.delta,
                "seen_faces": len(self.domain) if self.domain.model == self.encoder.version else 0,
                "pairs": pairs, "rough": pairs < ROUGH_PAIRS, "text": self.domain_text()}

    def domain_text(self) -> str:
        """The same in one sentence."""
        rule = self.encoder.open_set_rule
        m = self.matcher
        if self.tau is not None or rule is None or not len(m):
            return ""  # a fixed τ is the user's; with nobody enrolled nobody can be named
        shift = self.domain_shift()
        seen = len(self.domain) if self.domain.model == self.encoder.version else 0
        people = len(set(m.person_ids.tolist()))
        rests = (f"τ rests on LFW validation people, checked against {plural(seen, 'face')} seen by this "
                 f"camera and your {plural(people, 'enrolled person', 'enrolled people')}")
        pairs = 0 if shift is None else shift.pairs
        rough = f" (rough estimate: {plural(pairs, 'face pair')})" if pairs < ROUGH_PAIRS else ""
        if shift is None or not shift.stricter:
            return f"{rests}: no stricter τ needed{rough}"
        base = rule.threshold(len(m))
        return (f"faces from this camera look more alike than the photos it was set on: "
                f"τ {_two_taus(base, adapted_threshold(rule, len(m), shift))}{rough}; {rests}")

    @property
    def threshold(self) -> float:
        return self._decision()[1]

    @property
    def track_threshold(self) -> float:
        """τ for a live track's pooled template: stricter than a photo's, since a stranger in view
        is matched again on every analysed frame (`OpenSetRule.track_threshold`)."""
        return self._decision(track=True)[1]

    def sure_threshold(self) -> float | None:
        """A distance at which one frame alone is far under τ: the photo τ now, less the rule's
        gap between its τ at the target and at a tenth of it (so about 0.1% of strangers' photos
        would lie under it). None without an open-set rule: how far under is "far" cannot be
        read from a calibration."""
        rule = self.encoder.open_set_rule
        if rule is None:
            return None
        n = len(self.matcher)
        gap = rule.threshold(n) - rule.threshold(n, rule.target / SURE_FACTOR)
        return float(self.threshold) - max(0.0, float(gap))

    def pair_threshold(self, n: int = 1) -> float:
        """τ for telling whether a face is one of `n` others (grouping unknown faces): the user's
        fixed τ, else the open-set rule's τ for a gallery of n photos, else the one-to-one τ.
        On the same scale as `encoder.scorer`'s distances."""
        if self.tau is not None:
            return self.tau
        rule = self.encoder.open_set_rule
        return rule.threshold(max(1, int(n))) if rule is not None else float(self.encoder.tau)

    def rule_text(self) -> str:
        """The active rule in words, for status lines."""
        rule = self.encoder.open_set_rule
        if self.tau is not None:
            return f"fixed τ {self.tau:.3f}"
        if rule is None:
            return f"τ {self.encoder.tau:.3f} (one-to-one; this model has no open-set calibration)"
        matcher, tau = self._decision()
        track_tau = self.track_threshold
        tracks = f"; {track_tau:.3f} for a face tracked live" if track_tau < tau else ""
        return (f"τ {tau:.3f}{tracks}: about {100 * rule.target:g}% of strangers named "
                f"with {len(matcher)} photos enrolled")

    # ---- matching ------------------------------------------------------------------------
    @property
    def matcher(self) -> Matcher:
        """Rebuilt only when the gallery or the encoder changed."""
        key = (self.gallery.version, self.encoder.version)
        if self._matcher is None or key != self._matcher_key:
            self._matcher = self.gallery.matcher(self.encoder.version, self.encoder.scorer)
            self._matcher_key = key
            if not len(self._matcher) and not self.domain.empty:
                self.domain.reset()  # the gallery was forgotten: so is what was learned with it
        return self._matcher

    def identify(self, embeddings: np.ndarray) -> list[Match]:
        """Who each row, a live track's pooled template, is (person id and name, or Unknown;
        distance; nearest person), by the current rule for tracks; what the live tracker calls
        (`tracking.Identify`)."""
        matcher, tau = self._decision(track=True)
        return matcher.match(embeddings, tau)

    def embed_faces(self, rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
        return self.encoder.embed(align_many(rgb, faces, self.encoder.input_size, self.encoder.crop_box))

    def analyse(self, rgb: np.ndarray) -> list[Recognition]:
        """Detect every face in a frame and name it (or "Unknown"); SourceError for a frame
        that is not an image (a broken camera driver), never a crash."""
        return self.recognise(rgb, self.detect(rgb))

    def detect(self, rgb: np.ndarray, max_side: int | None = None) -> list[Face]:
        """The faces of a frame (SourceError for a frame that is not an image), found on the
        frame shrunk to `max_side` if given (`Detector.detect_shrunk`)."""
        if not is_rgb_frame(rgb):
            what = f"{rgb.dtype} array of shape {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
            raise SourceError(f"A frame could not be used (got {what}, not an RGB image); skipped.")
        return self.detector.detect_shrunk(rgb, max_side) if max_side else self.detector.detect(rgb)

    def recognise(self, rgb: np.ndarray, faces: list[Face]) -> list[Recognition]:
        """Embed and name these faces of the frame. A face too blurred for any name (under
        `quality.MIN_NAMING_SHARPNESS`) is not embedded at all: it says Unknown with nobody
        nearest (who a featureless face lies nearest to means nothing) and is marked not
        `judged`, no track pools it or counts its answer (a named face that blurs or dims keeps
        its track's name), no recent-faces entry starts from it, and a blurred crowd costs no
        encoder time."""
        if not faces:
            return []
        full = align_many(rgb, faces, STORED_CROP)  # sharpness is measured on the full frame
        sharp = [i for i, crop in enumerate(full) if sharpness(crop) >= MIN_NAMING_SHARPNESS]
        matcher, tau = self._decision()
        out = [Recognition(f, Match(UNKNOWN, None, float("inf"), threshold=tau), None, judged=False) for f in faces]
        if not sharp:
            return out
        chosen = [faces[i] for i in sharp]
        crops = (full[sharp] if self.encoder.input_size == STORED_CROP and self.encoder.crop_box == FULL_BOX
                 else align_many(rgb, chosen, self.encoder.input_size, self.encoder.crop_box))
        emb = self.encoder.embed(crops)
        for i, f, m, e in zip(sharp, chosen, matcher.match(emb, tau), emb):
            out[i] = Recognition(f, m, e)
        return out

    def identify_photo(self, path: str | os.PathLike) -> list[Recognition]:
        return self.analyse(load_image(path))

    # ---- enrolment -----------------------------------------------------------------------
    def enrol_candidate(self, rgb: np.ndarray, face_index: int | None = None,
                        faces: list[Face] | None = None, name: str = "the photo") -> EnrolCandidate:
        """The single face of a photo (or face number `face_index`, 1-based left to right)."""
        faces = self.detector.detect(rgb) if faces is None else faces
        if not faces:
            raise NoFaceError(f"No face found in {name}. Use a photo where the face is clearly visible.")
        if face_index is None:
            if len(faces) > 1:
                raise MultipleFacesError(
                    f"{len(faces)} faces found in {name}; choose one with --face N "
                    f"(1 to {len(faces)}, numbered left to right).", len(faces))
            face = faces[0]
        else:
            if not 1 <= face_index <= len(faces):
                raise MultipleFacesError(
                    f"There is no face {face_index} in {name}: it has {len(faces)} face(s).", len(faces))
            face = faces[face_index - 1]
        emb = self.encoder.embed_enrolment(
            align_many(rgb, [face], self.encoder.input_size, self.encoder.crop_box))[0]
        crop = align(rgb, face, STORED_CROP)
        matcher, tau = self._decision()
        nearest = matcher.match(emb[None], tau)[0]
        quality = assess(face, crop, rgb.shape)  # the one gate; enrolling from a photo only warns
        return EnrolCandidate(face, crop, emb, quality.reasons, nearest, quality)

    def enrol(self, name: str, candidate: EnrolCandidate, source: str | None = None,
               add_to_existing: bool = False,
               more: Sequence[tuple[EnrolCandidate, str | None]] = ()) -> Person:
        """Enrol `candidate` under `name`, with any `more` (candidate, source) photos in the same
        gallery transaction (all or none)."""
        q = candidate.quality
        return self.gallery.enrol(name, candidate.crop, candidate.embedding, self.encoder.version,
                                   source=source, add_to_existing=add_to_existing,
                                   quality=None if q is None else q.score, quality_note=None if q is None else q.note,
                                   more=self._new_samples(more))

    def add_candidates(self, person_id: int, candidates: list[tuple[EnrolCandidate, str | None]]) -> list[Sample]:
        """Add (candidate, source) photos to someone in one gallery transaction (all or none)."""
        return self.gallery.add_samples(person_id, self._new_samples(candidates))

    def _new_samples(self, candidates: Sequence[tuple[EnrolCandidate, str | None]]) -> list[NewSample]:
        return [NewSample(c.crop, c.embedding, self.encoder.version, source,
                          None if c.quality is None else c.quality.score,
                          None if c.quality is None else c.quality.note)
                for c, source in candidates]

    def enrol_photo(self, name: str, path: str | os.PathLike, face_index: int | None = None,
                     add_to_existing: bool = False) -> tuple[Person, EnrolCandidate]:
        cand = self.enrol_candidate(load_image(path), face_index, name=str(path))
        return self.enrol(name, cand, source=Path(path).name, add_to_existing=add_to_existing), cand

    def embed_stored_crops(self, crops: np.ndarray) -> np.ndarray:
        """Embed gallery crops (stored at STORED_CROP, full frame) with the current encoder, as
        enrolment embeds them (`Encoder.embed_enrolment`)."""
        return self.encoder.embed_enrolment(recrop(crops, self.encoder.input_size, self.encoder.crop_box))

    def refresh_gallery(self, progress: ProgressFn = no_progress, cancel: CancelToken | None = None) -> int:
        """Re-embed samples made by another encoder version (after a model change)."""
        return self.gallery.reembed(self.embed_stored_crops, self.encoder.version, progress, cancel)

    def export_gallery(self, path: str | os.PathLike) -> ExportSummary:
        """The whole gallery to one backup file (see app.store.backup)."""
        return backup.export_gallery(self.gallery, path)

    def import_gallery(self, path: str | os.PathLike | backup.Backup, merge: bool = False,
                       progress: ProgressFn = no_progress,
                       cancel: CancelToken | None = None) -> tuple[RestoreReport, int]:
        """Add a backup's people, then re-embed samples made by another model from their crops,
        so they are recognised at once; returns the report and how many were re-embedded."""
        report = backup.import_gallery(self.gallery, path, merge=merge)
        return report, self.refresh_gallery(progress, cancel)

    def set_encoder(self, encoder: Encoder, progress: ProgressFn = no_progress,
                    cancel: CancelToken | None = None) -> int:
        self.encoder = encoder
        self.tau = None  # the new model's own rule
        self._matcher = None
        self.warnings = []  # about the encoder just replaced
        return self.refresh_gallery(progress, cancel)
