"""The live loop as the front ends run it: the engine, a source, the labeller and the recent faces.

`watch` and the GUI's threads make the same objects in the same way through these functions, so
how a source is opened, how faces are tracked and named, and how the recent faces are kept is
decided here (and in the core behind it), never in a front end. The core modules are imported
when a function runs: the encoder pulls in torch, and tests replace `app.live.sources.open_source`
or `app.live.recent` functions where they live.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.live.analysis import LiveAnalyser as LiveAnalyser
from app.live.tracking import Labelled as Labelled
from app.live.tracking import LiveLabeller as LiveLabeller
from app.recognition.matching import UNKNOWN as UNKNOWN

if TYPE_CHECKING:
    from app.live.guided import GuidedProgress as GuidedProgress  # what the capture dialog shows
    from app.live.learning import TrackLearner
    from app.live.pipeline import Engine as Engine
    from app.live.pipeline import EnrolCandidate as EnrolCandidate
    from app.live.recent import RecentFaces as RecentFaces
    from app.live.recent import RecentGroup
    from app.live.sources import FrameSource, RetryingSource
    from app.live.sources import SourceState as SourceState

__all__ = ["UNKNOWN", "Labelled", "LiveAnalyser", "LiveLabeller", "analyser_for", "create_engine",
           "default_detector", "describe_source", "end_tracks", "learner_of", "live_threads",
           "set_learning", "model_version", "reopen_recent", "open_recent", "open_source",
           "retrying_source", "source_states", "review_recent_faces", "check_review_folder",
           "write_review_folder"]


def default_detector() -> str:
    """The detector a command uses when none is named."""
    from app.recognition.detection import DEFAULT_DETECTOR
    return DEFAULT_DETECTOR


def create_engine(detector: str | None = None, detector_model: str | os.PathLike | None = None,
                  weights: str | os.PathLike | None = None, device: str | None = None,
                  gallery_path: str | os.PathLike | None = None, tau: float | None = None) -> Engine:
    """The engine (detector, encoder, gallery) every front end recognises with."""
    from app.live.pipeline import Engine
    return Engine.create(detector, detector_model, weights, device, gallery_path, tau)


def analyser_for(engine: Engine, recent: RecentFaces | None = None, learn: bool = False) -> LiveAnalyser:
    """The live view's analysis: tracked faces, pooled templates, settled names carried over
    between re-embeddings (app.live.analysis); `recent` collects the tracks seen; with `learn`,
    a track that was surely someone adds their views unlike their photos (app.live.learning;
    `set_learning` switches it later)."""
    from app.live.learning import TrackLearner
    return LiveAnalyser(engine, LiveLabeller(engine.identify, recent=recent,
                                             learner=TrackLearner(engine, enabled=learn)))


def learner_of(analyser: LiveAnalyser | None) -> TrackLearner | None:
    """The analyser's learner (None: it has none)."""
    return None if analyser is None else analyser.labeller.learner


def set_learning(analyser: LiveAnalyser, on: bool) -> None:
    """Learning from tracks on or off (the GUI's setting); off forgets the tracks followed so far."""
    learner = learner_of(analyser)
    if learner is not None:
        learner.enabled = bool(on)


def end_tracks(analyser: LiveAnalyser | None) -> int:
    """The source stopped: every track has ended and may add views; returns how many views the
    analyser's tracks added since it started."""
    learner = learner_of(analyser)
    if learner is None:
        return 0
    learner.end_all()
    return learner.added_total


def model_version(engine: Engine) -> str:
    """The active model's version: the recent faces are grouped anew when it changes."""
    return str(engine.encoder.version)


def live_threads() -> int:
    """Give the live loop its share of the cores back (after training took them all)."""
    from app.live.pipeline import live_threads as restore
    return restore()


# ---- sources ---------------------------------------------------------------------------------
def retrying_source(spec: str | int, **kwargs: Any) -> RetryingSource:
    """A source that re-opens a camera or stream that drops out (`sources.RetryingSource`)."""
    from app.live.sources import RetryingSource
    return RetryingSource(spec, **kwargs)


def open_source(spec: str) -> FrameSource:
    from app.live import sources
    return sources.open_source(spec)


def describe_source(spec: str) -> str:
    from app.live.sources import describe_source as describe
    return describe(spec)


def source_states() -> type[SourceState]:
    """The states a source reports (`sources.SourceState`)."""
    from app.live.sources import SourceState
    return SourceState


# ---- recent faces ----------------------------------------------------------------------------
def open_recent(keep: bool, retention_h: float, clock: Callable[[], float] = time.time,
                engine: Engine | None = None) -> tuple[RecentFaces, str | None]:
    """The recent faces as the settings say (kept on disk or in memory only), grouped for
    `engine`'s model; with a warning when the opt-in file is unusable (then in memory only)."""
    from app.errors import OneShotError
    from app.live.recent import RecentFaces, open_recent_faces
    warning = None
    try:
        recent = open_recent_faces(keep, retention_h, clock=clock)
    except OneShotError as exc:
        recent = RecentFaces(clock=clock)
        warning = f"{exc} Recent faces are kept in memory only."
    if engine is not None:
        recent.configure_from(engine)
    return recent, warning


def reopen_recent(old: RecentFaces | None, keep: bool, retention_h: float, engine: Engine,
                  clock: Callable[[], float] = time.time) -> RecentFaces:
    """Keep recent faces on disk or not, for how long: the faces seen so far are carried over
    (within the new retention); turning it off deletes the file."""
    from app.live.recent import open_recent_faces
    faces = old.entries(include_ignored=True) if old is not None else []
    if old is not None and old.store is not None:
        old.store.close()  # before the file is removed or opened again
    new = open_recent_faces(keep, retention_h, clock=clock)
    new.configure_from(engine)
    new.adopt(faces)
    return new


def review_recent_faces(engine: Engine, clock: Callable[[], float]) -> RecentFaces:
    """Recent faces that keep every track of a `watch --keep-unknown` run (up to MAX_ENTRIES),
    timed by `clock` (a video's position, a camera's wall clock)."""
    from app.live.recent import RecentFaces
    recent = RecentFaces(window_s=float("inf"), clock=clock)
    recent.configure_from(engine)
    return recent


def check_review_folder(folder: str | os.PathLike) -> Path:
    """The folder for unknown faces to review, refused (one line) unless new or empty."""
    from app.live.recent import check_review_folder as check
    return check(folder)


def write_review_folder(groups: list[RecentGroup], folder: str | os.PathLike, info: dict | None = None) -> dict:
    from app.live.recent import write_review_folder as write
    return write(groups, folder, info)
