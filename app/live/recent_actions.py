"""The one-click review actions of Recent faces, and who the gallery would name a recent face now.

Qt-free. They live apart from `recent.RecentFaces` because they are the only part of Recent faces
that writes to the gallery (through the engine): keeping them here leaves `RecentFaces` a model
of what was seen, which the live thread feeds without ever touching the gallery, and gives the
service layer one place for what "This is …", "New person…" and "Not …" do.

Each action reads the entries under the model's lock (`RecentFaces.members`, copies), calls the
gallery outside it (embedding a crop takes the model's time, and the live thread must not wait
for it), then marks the entries under the lock again (`mark_added`, `mark_rejected`), so an entry
forgotten meanwhile is not brought back. Only faces that pass the quality gate are added: one
that fails is refused with `QualityError`, saying why, since a blurred or tiny photo would teach
the matcher the wrong face. `matches_now` exists because a face added to someone can pull other
recent faces, strangers too, under τ for them; listing those lets the user say "Not …" before
the camera sees them again.

`recent_review` is not this: it writes the review folder of `watch --keep-unknown`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from app.errors import QualityError
from app.live.recent_grouping import RecentFace, _rank, _unit
from app.recognition.matching import Match

if TYPE_CHECKING:  # the engine is only called, never imported at run time (it pulls in torch)
    from app.live.pipeline import Engine
    from app.live.recent import RecentFaces
    from app.store.records import Person, Sample

SOURCE = "recent faces"    # the `source` of a photo added from here


def best_addable(members: Sequence[RecentFace]) -> RecentFace:
    """The best face among `members` that passes the quality gate; QualityError (why the best
    one fails) when none does."""
    ranked = sorted(members, key=lambda f: _rank(f.quality), reverse=True)
    if not ranked[0].quality.ok:
        raise QualityError(f"This face cannot be added: {ranked[0].quality.reason}. "
                           f"Wait for a better view of it.")
    return ranked[0]


def _embed(engine: "Engine", f: RecentFace) -> np.ndarray:
    """The face embedded as the gallery embeds photos (enrolment views of the stored crop), not
    its live template: a photo must be comparable with the others of that person."""
    return np.asarray(engine.embed_stored_crops(f.crop[None]), dtype=np.float32)[0]


def this_is(recent: "RecentFaces", engine: "Engine", keys: str | Sequence[str], person_id: int) -> "Sample":
    """"This is …": add the best face of these tracks (a group) that passes the gate to an
    enrolled person, as one more photo; every track is marked as them."""
    members = recent.members(keys)
    best = best_addable(members)
    person = engine.gallery.person(person_id)  # GalleryError if gone
    q = best.quality
    smp = engine.gallery.add_sample(person.id, best.crop, _embed(engine, best), engine.encoder.version,
                                    source=SOURCE, quality=q.score, quality_note=q.note)
    recent.mark_added([f.key for f in members], person.id, person.name)
    return smp


def new_person(recent: "RecentFaces", engine: "Engine", keys: str | Sequence[str], name: str) -> "Person":
    """"New person…": enrol the best face of these tracks that passes the gate under `name`
    (a name already enrolled is refused with NameTakenError: offer "This is …" instead)."""
    members = recent.members(keys)
    best = best_addable(members)
    q = best.quality
    person = engine.gallery.enrol(name, best.crop, _embed(engine, best), engine.encoder.version,
                                  source=SOURCE, quality=q.score, quality_note=q.note)
    recent.mark_added([f.key for f in members], person.id, person.name)
    return person


def not_person(recent: "RecentFaces", engine: "Engine", keys: str | Sequence[str], person_id: int) -> int:
    """"Not …": these tracks were wrongly named `person_id`. Each track's pooled template is
    stored as a rejection (with its crop, for a new model), so the matcher stops naming
    that person for this face; the tracks turn Unknown here. Returns how many were stored."""
    members = recent.members(keys)
    person = engine.gallery.person(person_id)
    version = engine.encoder.version
    for f in members:
        emb = f.embedding if f.model_version == version else _embed(engine, f)
        engine.gallery.reject(person.id, emb, version, crop=f.crop)
    recent.mark_rejected([f.key for f in members], person.id, person.name)
    return len(members)


def matches_now(recent: "RecentFaces", engine: "Engine") -> dict[str, Match]:
    """Who the gallery would name each unknown group now, by group key (groups it names only).

    Why: a face added to someone ("This is …") can pull other faces seen recently under τ
    for them, strangers too (on the Hamilton clip, a blurred audience face for Alex's
    profile). Listing those lets the user say "Not …" before the camera sees them again."""
    version = engine.encoder.version
    keys, pooled = [], []
    for g in recent.view():
        embs = [m.embedding for m in g.members if m.model_version == version]
        if g.unknown and embs:
            keys.append(g.key)
            pooled.append(_unit(np.sum(embs, axis=0)))
    if not keys:
        return {}
    return {k: m for k, m in zip(keys, engine.identify(np.stack(pooled))) if m.known}
