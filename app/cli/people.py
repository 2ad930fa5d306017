"""`oneshot-face people ACTION ...`: list, show, rename, delete, merge, export or import enrolled people,
and add, remove or move their photos."""

from __future__ import annotations

import argparse
import json
import shlex
import sys

from app.cli.common import _common, _engine, _plural
from app.progress import console_progress

# `people` actions and how each is called (also their one-line usage errors).
PEOPLE_USAGE = {
    "list": "people list [--json]",
    "show": "people show NAME [--json]",
    "add": "people add NAME PHOTO...",
    "remove-photo": "people remove-photo NAME N",
    "move": "people move NAME N OTHER",
    "main-photo": "people main-photo NAME N",
    "merge": "people merge NAME INTO_NAME",
    "rename": "people rename NAME NEW_NAME",
    "delete": "people delete NAME [--now]",
    "undo-delete": "people undo-delete NAME",
    "export": "people export FILE",
    "import": "people import FILE [--merge]",
    "forget-learned": "people forget-learned NAME [N]",
    "forget-camera": "people forget-camera",
    "learn-camera": "people learn-camera FOLDER",
}
_PEOPLE_ARGS = {"list": (0, 0), "show": (1, 1), "add": (2, None), "remove-photo": (2, 2), "move": (3, 3),
                "main-photo": (2, 2), "merge": (2, 2), "rename": (2, 2), "delete": (1, 1), "undo-delete": (1, 1),
                "export": (1, 1), "import": (1, 1), "forget-learned": (1, 2), "forget-camera": (0, 0),
                "learn-camera": (1, 1)}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("people", help="list, show, rename, delete, merge, export or import enrolled people, "
                                      "add, remove or move their photos, and forget the views learned from "
                                      "the camera")
    p.add_argument("action", nargs="?", choices=list(PEOPLE_USAGE), default="list")
    p.add_argument("args", nargs="*", help="; ".join(f"{a}: {u.split(' ', 2)[2]}" for a, u in PEOPLE_USAGE.items()
                                                      if len(u.split(" ")) > 2))
    p.add_argument("--json", action="store_true")
    p.add_argument("--merge", action="store_true",
                   help="import: add the backup's photos to people already enrolled under the same name")
    p.add_argument("--now", action="store_true",
                   help="delete: erase at once (default: undoable for a few minutes with undo-delete)")
    _common(p)
    p.set_defaults(func=cmd_people)


def _when(t: float) -> str:
    import time
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(t)) if t else "-"


def _photo_number(text: str, person, count: int) -> int:
    """A photo number as `people show` lists them (1..count), or a one-line GalleryError."""
    from app.errors import GalleryError
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= count:
        raise GalleryError(f"{person.name} has {'only photo 1' if count == 1 else f'photos 1 to {count}'}; "
                           f"there is no photo {text}.")
    return n


def _learned_text(t: float) -> str:
    """How a learned view is shown: "learned from the camera, 14:02" (with the date if not today)."""
    import time
    day = time.strftime("%Y-%m-%d", time.localtime(t))
    hm = time.strftime("%H:%M", time.localtime(t))
    return f"learned from the camera, {hm if day == time.strftime('%Y-%m-%d') else day + ' ' + hm}"


def _photos_json(person, samples, rejections: int, learned: set[int] | None = None) -> dict:
    main = next((s.id for s in samples if s.is_main), samples[0].id if samples else None)
    learned = learned or set()
    return {"name": person.name, "created": round(person.created, 3), "rejections": rejections,
            "photos": [{"number": i, "added": round(s.created, 3), "source": s.source, "learned": s.id in learned,
                        "quality": None if s.quality is None else round(s.quality, 3),
                        "quality_note": s.quality_note, "main": s.id == main, "model": s.model_version,
                        "size": list(s.crop.shape[:2])} for i, s in enumerate(samples, 1)]}


def _print_list(people, as_json: bool) -> None:
    """`people list`: everyone enrolled and how many photos each has."""
    if as_json:
        print(json.dumps([{"name": p.name, "photos": p.sample_count} for p in people], ensure_ascii=False))
    elif not people:
        print("Nobody is enrolled yet.")
    for p in ([] if as_json else people):
        print(f"{p.name}\t{_plural(p.sample_count, 'photo')}")


def _print_show(person, info: dict, as_json: bool) -> None:
    """`people show`: a person's photos, numbered as the other actions take them."""
    if as_json:
        print(json.dumps(info, ensure_ascii=False))
        return
    print(f"{person.name}: {_plural(len(info['photos']), 'photo')}, enrolled {_when(person.created)}")
    for ph in info["photos"]:
        q = "quality -" if ph["quality"] is None else f"quality {ph['quality']:.2f} ({ph['quality_note']})"
        source = _learned_text(ph["added"]) if ph["learned"] else ph["source"] or "-"
        print(f"  {ph['number']:>2} {'*' if ph['main'] else ' '} added {_when(ph['added'])}  {q}  {source}")
    print("  (* main photo)")
    learned = [ph["number"] for ph in info["photos"] if ph["learned"]]
    if learned:
        print(f"  {_plural(len(learned), 'view')} learned from the camera; remove them with: oneshot-face "
              f"people forget-learned {shlex.quote(person.name)} [N]")
    if info["rejections"]:
        print(f"  {_plural(info['rejections'], 'face')} marked as not {person.name}")


def cmd_people(args) -> int:
    from app.errors import GalleryError, NameTakenError
    from app.service.people import PeopleBook
    lo, hi = _PEOPLE_ARGS[args.action]
    if len(args.args) < lo or (hi is not None and len(args.args) > hi):
        raise GalleryError(f"Usage: oneshot-face {PEOPLE_USAGE[args.action]}")
    own = {"import": _import_people, "add": _add_photos, "learn-camera": _learn_camera, "forget-learned": _forget_learned}
    if args.action in own:
        return own[args.action](args)
    a = args.args
    with PeopleBook() as book:
        lookup = book.lookup

        def numbered(name: str, number: str):
            person = lookup(name)
            samples = book.samples(person.id)
            return person, samples[_photo_number(number, person, len(samples)) - 1]

        if args.action == "list":
            _print_list(book.people(), args.json)
        elif args.action == "show":
            person = lookup(a[0])
            learned = {s.id for s in book.learned(person.id)}
            _print_show(person, _photos_json(person, book.samples(person.id), book.rejection_count(person.id),
                                             learned), args.json)
        elif args.action == "remove-photo":
            person, smp = numbered(a[0], a[1])
            after = book.remove_photo(smp.id)
            print(f"Removed photo {a[1]} of {after.name} ({smp.source or 'no source'}); "
                  f"{_plural(after.sample_count, 'photo')} left.")
        elif args.action == "move":
            person, smp = numbered(a[0], a[1])
            other = lookup(a[2])
            after = book.move_photo(smp.id, other.id)
            print(f"Moved photo {a[1]} of {person.name} to {after.name}, who now has "
                  f"{_plural(after.sample_count, 'photo')}.")
        elif args.action == "main-photo":
            person, smp = numbered(a[0], a[1])
            book.set_main_photo(smp.id)
            print(f"Photo {a[1]} is now the main photo of {person.name}.")
        elif args.action == "merge":
            src, dst = lookup(a[0]), lookup(a[1])
            after = book.merge(src.id, dst.id)
            print(f"Merged {src.name} into {after.name}, who now has {_plural(after.sample_count, 'photo')}.")
        elif args.action == "rename":
            person = lookup(a[0])
            try:
                p = book.rename(person.id, a[1])
            except NameTakenError as exc:
                raise GalleryError(f"{exc.name} is already enrolled; to make them one person, run: "
                                   f"oneshot-face people merge {shlex.quote(person.name)} "
                                   f"{shlex.quote(exc.name)}") from None
            print(f"Renamed {a[0]} to {p.name}.")
        elif args.action == "delete":
            person = lookup(a[0])
            if args.now:
                book.delete_now(person.id)
                print(f"Deleted {person.name} and every photo and embedding of them.")
            else:
                gone = book.delete(person.id)
                minutes = book.undo_window_s / 60
                print(f"Deleted {person.name} ({_plural(gone.sample_count, 'photo')}). Undo within "
                      f"{minutes:g} minutes with: oneshot-face people undo-delete {shlex.quote(person.name)}; "
                      f"after that every photo and embedding of them is erased.")
        elif args.action == "undo-delete":
            deleted = book.find_deleted(a[0])
            if deleted is None:
                raise GalleryError(f"Nobody called {a[0]!r} was deleted in the last "
                                   f"{book.undo_window_s / 60:g} minutes.")
            p = book.undo_delete(deleted.id)
            print(f"Restored {p.name} with {_plural(p.sample_count, 'photo')}.")
        elif args.action == "forget-camera":
            n = book.forget_camera()
            print(f"Forgot {_plural(n, 'face')} seen by the camera: τ is the model's table's again "
                  f"until the camera has seen more.")
        elif args.action == "export":
            done = book.export(a[0])
            print(f"Exported {done.people} people ({done.samples} photos) to {done.path}. "
                  f"It holds face data: keep it private.")
    return 0


def _forget_learned(args) -> int:
    """`people forget-learned NAME [N]`: one learned view (photo N) or all of them."""
    from app.errors import GalleryError
    from app.service.people import PeopleBook
    number = args.args[1] if len(args.args) == 2 else None
    with PeopleBook() as book:
        person = book.lookup(args.args[0])
        sample_id = None
        if number is not None:
            samples = book.samples(person.id)
            sample_id = samples[_photo_number(number, person, len(samples)) - 1].id
            if sample_id not in {s.id for s in book.learned(person.id)}:
                raise GalleryError(f"Photo {number} of {person.name} was not learned from the camera; remove "
                                   f"it with: oneshot-face people remove-photo {shlex.quote(person.name)} {number}")
        n = book.forget_learned(person.id, sample_id)
        after = book.person(person.id)
    print(f"Removed {_plural(n, 'view')} of {after.name} learned from the camera; "
          f"{_plural(after.sample_count, 'photo')} left.")
    return 0


def _learn_camera(args) -> int:
    """`people learn-camera FOLDER`: photos taken with this camera teach the automatic τ how alike
    its strangers look (the camera sample, as the live view feeds it; Ctrl-C keeps what was read)."""
    from app.service import Library
    engine = _engine(args)
    try:
        library = Library(engine)
        read, faces, unreadable = library.learn_camera(args.args[0], console_progress("learning "))
        text = library.camera_text()
    finally:
        engine.close()  # the sample is written here too, also after Ctrl-C
    skipped = f" ({_plural(unreadable, 'file')} could not be read)" if unreadable else ""
    print(f"Learned {_plural(faces, 'face')} from {_plural(read, 'photo')}{skipped}. {text[:1].upper() + text[1:]}.")
    return 0


def _add_photos(args) -> int:
    """`people add NAME PHOTO...`: every photo must hold exactly one face that passes the quality
    gate; if one does not, nothing is added (one line says which and why)."""
    from pathlib import Path

    from app.errors import ImageError, MultipleFacesError, NoFaceError, OneShotError
    from app.imageio import load_image
    from app.service import Library
    from app.service.people import PeopleBook
    name, photos = args.args[0], args.args[1:]
    with PeopleBook() as book:  # refuse an unknown name before loading any model
        if book.find(name) is None:
            raise OneShotError(f"Nobody called {name!r} is enrolled; enrol them first (oneshot-face enrol).")
    engine = _engine(args)
    library = Library(engine)
    try:
        person = library.find(name)
        if person is None:
            raise OneShotError(f"Nobody called {name!r} is enrolled.")
        good, bad = [], []
        for photo in photos:
            try:
                cand = library.candidate(load_image(photo), name=str(photo))
            except MultipleFacesError as exc:
                bad.append(f"{photo}: {exc.count} faces found; a photo to add must show only {person.name}")
                continue
            except (ImageError, NoFaceError) as exc:
                bad.append(str(exc).rstrip("."))
                continue
            if cand.quality is not None and not cand.quality.ok:
                bad.append(f"{photo}: {cand.quality.reason}")
                continue
            good.append((cand, Path(photo).name, photo))
        if bad:
            raise OneShotError(f"{len(bad)} of {_plural(len(photos), 'photo')} cannot be added, so nothing was "
                               f"added: {'; '.join(bad)}.")
        added = library.add_photos(person.id, [(c, src) for c, src, _ in good])
    finally:
        engine.close()
    with PeopleBook() as book:
        after = book.person(person.id)
        numbers = {s.id: i for i, s in enumerate(book.samples(person.id), 1)}
    for cand, _, photo in good:
        if cand.nearest.known and cand.nearest.name != person.name:
            print(f"note: the face in {photo} is also close to {cand.nearest.name} "
                  f"(distance {cand.nearest.distance:.3f})", file=sys.stderr)
    if args.json:
        print(json.dumps({"name": after.name, "photos": after.sample_count,
                          "added": [{"photo": str(photo), "number": numbers.get(s.id),
                                     "quality": None if s.quality is None else round(s.quality, 3)}
                                    for (_, _, photo), s in zip(good, added)]}, ensure_ascii=False))
    else:
        for (_, _, photo), s in zip(good, added):
            print(f"Added {photo} as photo {numbers.get(s.id)} (quality {s.quality:.2f}).")
        print(f"{after.name} now has {_plural(after.sample_count, 'photo')}.")
    return 0


def _import_people(args) -> int:
    from app.errors import GalleryError
    from app.service import Library
    from app.service.people import read_backup
    if len(args.args) != 1:
        raise GalleryError("Usage: oneshot-face people import FILE [--merge]")
    saved = read_backup(args.args[0])  # a damaged or newer file is refused before any model is loaded
    engine = _engine(args)
    bar = console_progress("re-embedding ")

    def progress(done: int, total: int, message: str = "") -> None:
        if total:  # nothing to re-embed: no bar
            bar(done, total, message)

    try:
        library = Library(engine)
        report, reembedded = library.import_gallery(saved, merge=args.merge, progress=progress)
    finally:
        engine.close()
    text = f"Imported {len(report.people_added)} people"
    if report.people_merged:
        text += f" and added photos to {len(report.people_merged)} already enrolled"
    text += f" ({report.samples_added} photos"
    if report.samples_skipped:
        text += f"; {report.samples_skipped} already there, skipped"
    text += ")."
    if reembedded:
        text += f" {reembedded} re-embedded for model {library.model_version}."
    print(text)
    return 0
