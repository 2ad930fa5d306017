"""Command line over the core. Errors a user can fix print one line on stderr and exit 2;
Ctrl-C exits 130 (training keeps a checkpoint). The bare command starts the GUI."""

from __future__ import annotations

import argparse
import json
import math
import shlex
import signal
import sys

from app.errors import Cancelled, OneShotError
from app.progress import CancelToken, console_progress

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
}
_PEOPLE_ARGS = {"list": (0, 0), "show": (1, 1), "add": (2, None), "remove-photo": (2, 2), "move": (3, 3),
                "main-photo": (2, 2), "merge": (2, 2), "rename": (2, 2), "delete": (1, 1), "undo-delete": (1, 1),
                "export": (1, 1), "import": (1, 1)}


def _common(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    p.add_argument("--detector", choices=["yunet", "haar"], default=None,
                   help="face detector (default: YuNet when its model is found, else Haar)")
    p.add_argument("--detector-model", default=None, help="path to the YuNet .onnx file")
    p.add_argument("--device", choices=["cpu", "cuda"], default=None,
                   help="where the encoder runs (default: CUDA when present, else CPU)")
    p.add_argument("--weights", default=None, help="encoder weights (default: the shipped model)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="oneshot-face",
                                     description="One-shot face recognition. Without a command, opens the app.")
    parser.add_argument("--source", default=None, help="for the app: camera index, video, image folder or URL")
    st = parser.add_argument_group("self-test (checks an installation or bundle, headless, then exits)")
    st.add_argument("--self-test", metavar="PHOTO", default=None,
                    help="load the model, detect, embed, enrol and identify the face in PHOTO in a temporary "
                         "gallery, build the main window offscreen; exit 0 only if all of it worked")
    _common(st)
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("enroll", help="enrol a person from one photo")
    p.add_argument("name")
    p.add_argument("photo")
    p.add_argument("--face", type=int, default=None, help="which face (1 = left-most) when there are several")
    p.add_argument("--add", action="store_true", help="add the photo to an existing person of that name")
    _common(p)

    p = sub.add_parser("identify", help="name the faces in a photo")
    p.add_argument("photo")
    p.add_argument("--json", action="store_true")
    p.add_argument("--tau", type=float, default=None, help="distance threshold (default: the model's)")
    _common(p)

    p = sub.add_parser("people", help="list, show, rename, delete, merge, export or import enrolled people, "
                                      "and add, remove or move their photos")
    p.add_argument("action", nargs="?", choices=list(PEOPLE_USAGE), default="list")
    p.add_argument("args", nargs="*", help="; ".join(f"{a}: {u.split(' ', 2)[2]}" for a, u in PEOPLE_USAGE.items()
                                                      if len(u.split(" ")) > 2))
    p.add_argument("--json", action="store_true")
    p.add_argument("--merge", action="store_true",
                   help="import: add the backup's photos to people already enrolled under the same name")
    p.add_argument("--now", action="store_true",
                   help="delete: erase at once (default: undoable for a few minutes with undo-delete)")
    _common(p)

    p = sub.add_parser("watch", help="live recognition over a camera, video, folder or stream, headless")
    p.add_argument("--source", required=True)
    p.add_argument("--json", action="store_true")
    p.add_argument("--tau", type=float, default=None)
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--per-frame", action="store_true",
                   help="name each frame on its own (default: like the app, track faces, pool each "
                        "track's recent frames and steady its name)")
    p.add_argument("--keep-unknown", metavar="DIR", default=None,
                   help="write the best face of each unknown track, grouped by person (DIR/group-NN/face-NN.png, "
                        "DIR/index.json), for review; DIR must be new or empty. They are face data: keep them private")
    _common(p)

    # Options left out take TrainConfig's defaults (cmd_train), written only there.
    p = sub.add_parser("train", help="train an encoder on folder-per-person datasets")
    p.add_argument("datasets", nargs="+", help="folders with one sub-folder per person (LFW root accepted)")
    p.add_argument("--out", required=True, help="where to write the weights (.pt) and model card (.json)")
    p.add_argument("--exclude-people", default=None, help="file of names to leave out (e.g. peopleDevTest.txt)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--loss", choices=["triplet-semihard", "triplet-hard", "contrastive"], default=None)
    p.add_argument("--margin", type=float, default=None)
    p.add_argument("--distill", type=float, default=None,
                   help="weight of the teacher terms against the triplet loss (default 4, as the shipped model; 0 = labels only)")
    p.add_argument("--teacher", action="append", default=None, metavar="NAME[:WEIGHT]",
                   help="distil from this teacher: edgeface, faceplugin (ONNX, every augmented view) or dlib "
                        "(each clean photo once); repeat for several, weighted relative to each other "
                        "(default: the first ONNX teacher found, else dlib)")
    p.add_argument("--teacher-model", action="append", default=None, metavar="NAME=PATH",
                   help="where a teacher's ONNX file is (default: $ONESHOT_TEACHER_<NAME>, the user's model "
                        "folder, ../shared/models)")
    p.add_argument("--unlabelled", action="append", default=None, metavar="DIR",
                   help="a flat folder of faces aligned to the 112 px ArcFace frame (UTKFace's in ../shared): "
                        "learned from the teachers only")
    p.add_argument("--unlabelled-per-batch", type=int, default=None, metavar="N")
    p.add_argument("--augment", choices=["basic", "strong"], default=None,
                   help="strong: also side light and shadows, glasses and masks, blur and low resolution")
    p.add_argument("--mix", type=int, default=None, metavar="N",
                   help="add N blends of two people's faces to each batch, distilled from the teacher's "
                        "embedding of the same blend (0 = off; needs the teacher)")
    p.add_argument("--rotate", type=float, default=None, metavar="DEG",
                   help="augment: turn each training face by a random angle up to ± DEG degrees (default 0)")
    p.add_argument("--zoom", type=float, default=None, metavar="F",
                   help="augment: scale each training face by a random factor in [1-F, 1+F] (default 0)")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--freeze", type=int, default=None, metavar="N",
                   help="keep the first N layers of the network as they start (with --init)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--members", type=int, default=None, metavar="N",
                   help="train N networks one after another (seeds SEED, SEED+1, ...) and save their mean as "
                        "one model: better faces at N times the training and embedding cost")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default=None,
                   help="fp32 (default); auto: bfloat16 autocast on CPUs that do it natively, about 1.7x "
                        "faster here (the shipped model was trained so; see README)")
    p.add_argument("--max-images", type=int, default=None)
    p.add_argument("--resume", action="store_true", help="continue from the checkpoint next to --out")
    p.add_argument("--init", default=None, metavar="WEIGHTS|faceplugin",
                   help="fine-tune from these encoder weights instead of starting afresh, or start from "
                        "Faceplugin's published MobileFaceNet (its file found as the teacher's)")
    p.add_argument("--input-size", type=int, default=None,
                   help="face crop size in pixels, a multiple of 16 (default 80, as the shipped model; ignored with --init)")
    p.add_argument("--arch", default=None, metavar="JSON",
                   help='architecture keys to change, e.g. \'{"widths": [32, 64, 128, 384], "dropout": 0.0}\' '
                        "(input_size, widths, blocks, dim, dropout, crop_box, head: flatten or gdc; ignored with --init)")
    p.add_argument("--crop-box", default=None, metavar="X0,Y0,SIDE",
                   help="train on this square of the 112 px ArcFace frame, as fractions (default 0,0,1: all of it, "
                        "as the shipped model; ignored with --init)")
    _common(p)

    p = sub.add_parser("evaluate", help="LFW verification / one-shot identification / open-set figures")
    p.add_argument("protocol", choices=["verification", "identification", "open-set"])
    p.add_argument("--lfw", default=None, help="LFW root with images/ and protocol/")
    p.add_argument("--folder", default=None, help="identification on any folder-per-person tree")
    p.add_argument("--json", action="store_true")
    p.add_argument("--write-card", action="store_true", help="store the figures in the model card")
    p.add_argument("--tau", type=float, default=None,
                   help="open-set: decide with this fixed τ instead of the model's rule (as the app with a chosen τ)")
    p.add_argument("--draws", type=int, default=None, help="open-set: random galleries per size (default 20)")
    p.add_argument("--seed", type=int, default=None, help="open-set: seed of the gallery draws (default 0)")
    _common(p)

    p = sub.add_parser("calibrate", help="recompute a model's τ on LFW pairsDevTrain.txt (training people) "
                                         "and its open-set table on background faces it never trained on")
    p.add_argument("--lfw", default=None, help="LFW root with images/ and protocol/")
    p.add_argument("--background", default=None,
                   help="photos of people the model never trained on, a folder per person (or a flat folder "
                        "of aligned 112 px crops), for the open-set table (default: LFW's validation people, "
                        "for a model trained without them)")
    p.add_argument("--only", choices=["tau", "open-set"], default=None, help="recompute only one of the two")
    _common(p)

    p = sub.add_parser("combine", help="save trained single-network models (e.g. several seeds) as one averaging "
                                       "model, τ calibrated on LFW pairsDevTrain.txt when LFW is found")
    p.add_argument("models", nargs="+", help="weights files (.pt) of one architecture")
    p.add_argument("--out", required=True)
    p.add_argument("--lfw", default=None, help="LFW root with images/ and protocol/")
    _common(p)

    p = sub.add_parser("fetch-models", help="download the YuNet detector into the user's model folder")
    p.add_argument("--url", default=None)

    p = sub.add_parser("bench", help="speed and memory figures")
    p.add_argument("--json", action="store_true")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--busy", type=int, default=0, metavar="N",
                   help="also measure everything again while N CPU-bound processes compete for the cores")
    _common(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.self_test is not None:
        if args.command is not None:
            parser.error("--self-test takes no command")
        from app.selftest import run_self_test
        return run_self_test(args.self_test, args.detector, args.detector_model, args.weights, args.device)
    try:
        if args.command is None:
            from app.gui import run_app  # Qt only here
            return run_app(source=args.source)
        return int(COMMANDS[args.command](args) or 0)
    except Cancelled as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr)
        return 130
    except OneShotError as exc:
        print(f"oneshot-face: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


def _detector(args) -> str:
    """The detector a command that needs one by name uses: --detector, else the default one."""
    from app.detection import DEFAULT_DETECTOR
    return args.detector or DEFAULT_DETECTOR


def _engine(args, tau: float | None = None):
    from app.pipeline import Engine
    engine = Engine.create(args.detector, args.detector_model, args.weights, args.device, tau=tau)
    for w in engine.warnings:  # e.g. unusable --weights: the shipped model is used instead
        print(f"warning: {w}", file=sys.stderr)
    # Faces enrolled under another model (another --weights, an updated app, a fallback to the
    # shipped model) are not comparable until re-embedded from their stored crops.
    stale = engine.gallery.stale_count(engine.encoder.version)
    if stale:
        print(f"Updating {stale} enrolled face(s) for model {engine.encoder.version}.", file=sys.stderr)
        engine.refresh_gallery(console_progress("re-embedding "))
    return engine


def _face_json(box, name: str, distance: float, track: int | None = None, nearest: str | None = None,
               threshold: float | None = None, raw_distance: float | None = None) -> dict:
    """One face as `identify --json` and `watch --json` print it (`track` only when tracked): the
    decision (`name`, `accepted`), how far the nearest enrolled person (`nearest`) is, and the τ
    it was decided with. With a cohort-normalised model, `distance` is the plain L2 distance and
    `score` the normalised one that τ is compared with; otherwise, and for a tracked face (whose
    figures are its pooled template's), the two are the same number."""
    from app.matching import UNKNOWN
    x, y, w, h = box
    def num(v):
        return None if v is None or not math.isfinite(v) else round(float(v), 4)
    out = {"box": [round(x), round(y), round(w), round(h)], "name": name,
           "distance": num(distance if raw_distance is None else raw_distance), "score": num(distance),
           "nearest": nearest, "accepted": name != UNKNOWN,
           "threshold": None if threshold is None else round(float(threshold), 4)}
    if track is not None:
        out["track"] = track
    return out


def cmd_enroll(args) -> int:
    engine = _engine(args)
    try:
        person, cand = engine.enroll_photo(args.name, args.photo, args.face, args.add)
    finally:
        engine.close()
    for w in cand.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if cand.nearest.known and cand.nearest.name != person.name:
        print(f"note: this face is also close to {cand.nearest.name} (distance {cand.nearest.distance:.3f})",
              file=sys.stderr)
    print(f"Enrolled {person.name} ({person.sample_count} photo{'s' if person.sample_count != 1 else ''}).")
    return 0


def cmd_identify(args) -> int:
    engine = _engine(args, args.tau)
    try:
        recs = engine.identify_photo(args.photo)
        info = engine.describe()
    finally:
        engine.close()
    faces = [_face_json(r.face.box, r.match.name, r.match.distance, nearest=r.match.nearest,
                        threshold=r.match.threshold, raw_distance=r.match.raw_distance) for r in recs]
    if args.json:
        print(json.dumps({"photo": str(args.photo), "faces": faces, **info}, ensure_ascii=False))
    elif not recs:
        print("No face found.")
    else:
        for i, d in enumerate(faces, 1):
            near = "" if d["accepted"] or not d["nearest"] else f", nearest: {d['nearest']}"
            print(f"face {i} at {d['box']}: {d['name']} (distance {d['score']}{near})")
    return 0


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


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


def _photos_json(person, samples, rejections: int) -> dict:
    main = next((s.id for s in samples if s.is_main), samples[0].id if samples else None)
    return {"name": person.name, "created": round(person.created, 3), "rejections": rejections,
            "photos": [{"number": i, "added": round(s.created, 3), "source": s.source,
                        "quality": None if s.quality is None else round(s.quality, 3),
                        "quality_note": s.quality_note, "main": s.id == main, "model": s.model_version,
                        "size": list(s.crop.shape[:2])} for i, s in enumerate(samples, 1)]}


def cmd_people(args) -> int:
    from app.errors import GalleryError, NameTakenError
    from app.gallery import Gallery
    lo, hi = _PEOPLE_ARGS[args.action]
    if len(args.args) < lo or (hi is not None and len(args.args) > hi):
        raise GalleryError(f"Usage: oneshot-face {PEOPLE_USAGE[args.action]}")
    if args.action == "import":
        return _import_people(args)
    if args.action == "add":
        return _add_photos(args)
    a = args.args
    with Gallery() as gallery:
        def lookup(name: str):
            person = gallery.find(name)
            if person is None:
                raise GalleryError(f"Nobody called {name!r} is enrolled.")
            return person

        def numbered(name: str, number: str):
            person = lookup(name)
            samples = gallery.samples(person.id)
            return person, samples[_photo_number(number, person, len(samples)) - 1]

        if args.action == "list":
            people = gallery.people()
            if args.json:
                print(json.dumps([{"name": p.name, "photos": p.sample_count} for p in people], ensure_ascii=False))
            elif not people:
                print("Nobody is enrolled yet.")
            for p in ([] if args.json else people):
                print(f"{p.name}\t{_plural(p.sample_count, 'photo')}")
        elif args.action == "show":
            person = lookup(a[0])
            info = _photos_json(person, gallery.samples(person.id), gallery.rejection_count(person.id))
            if args.json:
                print(json.dumps(info, ensure_ascii=False))
            else:
                print(f"{person.name}: {_plural(len(info['photos']), 'photo')}, enrolled {_when(person.created)}")
                for ph in info["photos"]:
                    q = "quality -" if ph["quality"] is None else f"quality {ph['quality']:.2f} ({ph['quality_note']})"
                    print(f"  {ph['number']:>2} {'*' if ph['main'] else ' '} added {_when(ph['added'])}  {q}  "
                          f"{ph['source'] or '-'}")
                print("  (* main photo)")
                if info["rejections"]:
                    print(f"  {_plural(info['rejections'], 'face')} marked as not {person.name}")
        elif args.action == "remove-photo":
            person, smp = numbered(a[0], a[1])
            after = gallery.remove_sample(smp.id)
            print(f"Removed photo {a[1]} of {after.name} ({smp.source or 'no source'}); "
                  f"{_plural(after.sample_count, 'photo')} left.")
        elif args.action == "move":
            person, smp = numbered(a[0], a[1])
            other = lookup(a[2])
            after = gallery.move_sample(smp.id, other.id)
            print(f"Moved photo {a[1]} of {person.name} to {after.name}, who now has "
                  f"{_plural(after.sample_count, 'photo')}.")
        elif args.action == "main-photo":
            person, smp = numbered(a[0], a[1])
            gallery.set_main_sample(smp.id)
            print(f"Photo {a[1]} is now the main photo of {person.name}.")
        elif args.action == "merge":
            src, dst = lookup(a[0]), lookup(a[1])
            after = gallery.merge(src.id, dst.id)
            print(f"Merged {src.name} into {after.name}, who now has {_plural(after.sample_count, 'photo')}.")
        elif args.action == "rename":
            person = lookup(a[0])
            try:
                p = gallery.rename(person.id, a[1])
            except NameTakenError as exc:
                raise GalleryError(f"{exc.name} is already enrolled; to make them one person, run: "
                                   f"oneshot-face people merge {shlex.quote(person.name)} "
                                   f"{shlex.quote(exc.name)}") from None
            print(f"Renamed {a[0]} to {p.name}.")
        elif args.action == "delete":
            person = lookup(a[0])
            if args.now:
                gallery.delete(person.id)
                print(f"Deleted {person.name} and every photo and embedding of them.")
            else:
                gone = gallery.delete(person.id, undoable=True)
                minutes = gallery.undo_window_s / 60
                print(f"Deleted {person.name} ({_plural(gone.sample_count, 'photo')}). Undo within "
                      f"{minutes:g} minutes with: oneshot-face people undo-delete {shlex.quote(person.name)}; "
                      f"after that every photo and embedding of them is erased.")
        elif args.action == "undo-delete":
            deleted = gallery.find_deleted(a[0])
            if deleted is None:
                raise GalleryError(f"Nobody called {a[0]!r} was deleted in the last "
                                   f"{gallery.undo_window_s / 60:g} minutes.")
            p = gallery.undo_delete(deleted.id)
            print(f"Restored {p.name} with {_plural(p.sample_count, 'photo')}.")
        elif args.action == "export":
            from app.backup import export_gallery
            done = export_gallery(gallery, a[0])
            print(f"Exported {done.people} people ({done.samples} photos) to {done.path}. "
                  f"It holds face data: keep it private.")
    return 0


def _add_photos(args) -> int:
    """`people add NAME PHOTO...`: every photo must hold exactly one face that passes the quality
    gate; if one does not, nothing is added (one line says which and why)."""
    from pathlib import Path

    from app.errors import ImageError, MultipleFacesError, NoFaceError, OneShotError
    from app.gallery import Gallery
    from app.imageio import load_image
    name, photos = args.args[0], args.args[1:]
    with Gallery() as gallery:  # refuse an unknown name before loading any model
        if gallery.find(name) is None:
            raise OneShotError(f"Nobody called {name!r} is enrolled; enrol them first (oneshot-face enroll).")
    engine = _engine(args)
    try:
        person = engine.gallery.find(name)
        if person is None:
            raise OneShotError(f"Nobody called {name!r} is enrolled.")
        good, bad = [], []
        for photo in photos:
            try:
                cand = engine.enrol_candidate(load_image(photo), name=str(photo))
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
        added = engine.add_candidates(person.id, [(c, src) for c, src, _ in good])
        after = engine.gallery.person(person.id)
        numbers = {s.id: i for i, s in enumerate(engine.gallery.samples(person.id), 1)}
    finally:
        engine.close()
    for cand, _, photo in good:
        if cand.nearest.known and cand.nearest.name != person.name:
            print(f"note: the face in {photo} is also close to {cand.nearest.name} "
                  f"(distance {cand.nearest.distance:.3f})", file=sys.stderr)
    if args.json:
        print(json.dumps({"name": after.name, "photos": after.sample_count,
                          "added": [{"photo": str(photo), "number": numbers.get(s.id), "quality": round(s.quality, 3)}
                                    for (_, _, photo), s in zip(good, added)]}, ensure_ascii=False))
    else:
        for (_, _, photo), s in zip(good, added):
            print(f"Added {photo} as photo {numbers.get(s.id)} (quality {s.quality:.2f}).")
        print(f"{after.name} now has {_plural(after.sample_count, 'photo')}.")
    return 0


def _import_people(args) -> int:
    from app.backup import read_backup
    from app.errors import GalleryError
    if len(args.args) != 1:
        raise GalleryError("Usage: oneshot-face people import FILE [--merge]")
    saved = read_backup(args.args[0])  # a damaged or newer file is refused before any model is loaded
    engine = _engine(args)
    bar = console_progress("re-embedding ")

    def progress(d: int, t: int, m: str = "") -> None:
        if t:  # nothing to re-embed: no bar
            bar(d, t, m)

    try:
        report, reembedded = engine.import_gallery(saved, merge=args.merge, progress=progress)
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
        text += f" {reembedded} re-embedded for model {engine.encoder.version}."
    print(text)
    return 0


def cmd_watch(args) -> int:
    import time

    from app.live_analysis import LiveAnalyser
    from app.sources import RetryingSource, describe_source, open_source
    from app.tracking import LiveLabeller
    review = None
    if args.keep_unknown is not None:
        from app.recent import check_review_folder
        if args.per_frame:
            raise OneShotError("--keep-unknown groups tracked faces; leave out --per-frame.")
        review = check_review_folder(args.keep_unknown)  # refused before any model is loaded
    engine = _engine(args, args.tau)
    info = engine.describe()
    print(f"detector: {info['detector']}, encoder: {info['encoder']}, device: {info['device']}, "
          f"rule: {info['rule']}", file=sys.stderr)
    recent, clock = None, {"t": 0.0}
    n = 0
    interrupted = False
    try:
        # A camera or stream that drops out is re-opened until it returns (Ctrl-C stops);
        # files and folders end when they end.
        live = RetryingSource(args.source, on_status=lambda m: print(m, file=sys.stderr, flush=True))
        if review is not None:
            from app.recent import RecentFaces
            # Every track of the run is kept (up to MAX_ENTRIES), timed by the source: a video's
            # position, a camera's wall clock.
            recent = RecentFaces(window_s=float("inf"), clock=time.time if live.is_live else lambda: clock["t"])
            recent.configure_from(engine)
        analyser = None if args.per_frame else LiveAnalyser(engine, LiveLabeller(engine.identify, recent=recent))
        source_cm = live if live.is_live else open_source(args.source)
        with source_cm as source:
            while args.max_frames is None or n < args.max_frames:
                frame = source.read()
                if frame is None:
                    break
                clock["t"] = frame.timestamp
                t0 = time.perf_counter()
                faces: list[tuple]  # _face_json's arguments
                if analyser is None:
                    recs = engine.analyse(frame.rgb)
                    tau = engine.threshold
                    faces = [(r.face.box, r.match.name, r.match.distance, None, r.match.nearest, tau,
                              r.match.raw_distance) for r in recs]
                else:  # as the app's live view: settled faces carry their name over (app.live_analysis)
                    labels = analyser(frame.rgb, when=None if live.is_live else frame.timestamp,
                                      frame_index=frame.index).labels
                    tau = engine.threshold
                    faces = [(lab.box, lab.name, lab.distance, lab.track_id, lab.nearest, tau) for lab in labels]
                ms = (time.perf_counter() - t0) * 1000
                if args.json:
                    print(json.dumps({"frame": frame.index, "faces": [_face_json(*f) for f in faces]},
                                     ensure_ascii=False), flush=True)
                else:
                    names = ", ".join(f"{f[1]} ({f[2]:.2f})" for f in faces) or "no face"
                    print(f"frame {frame.index}: {names}  [{ms:.1f} ms]", flush=True)
                n += 1
    except KeyboardInterrupt:
        interrupted = True  # how a camera watch ends: the unknown faces are still written
    finally:
        engine.close()
    if recent is not None and review is not None:  # (recent is made only with a review folder)
        from app.recent import write_review_folder
        recent.end_all()
        groups = recent.groups()
        write_review_folder(groups, review, {
            "source": describe_source(args.source), "model": info["encoder"],
            "time": "seconds into the video" if not live.is_live else "seconds since 1970 (UTC)",
            "frames": n})
        tracks = sum(g.count for g in groups)
        print(f"Kept {_plural(len(groups), 'unknown face')} ({_plural(tracks, 'track')}) in {review} for "
              f"review (index.json); they are face data: keep them private.", file=sys.stderr)
    if interrupted:
        raise KeyboardInterrupt
    print(f"{n} frames processed; source ended.", file=sys.stderr)
    return 0


def _check_input_size(size, flag: str) -> None:
    from app.errors import DatasetError
    if not isinstance(size, int) or size < 32 or size % 16:
        raise DatasetError(f"{flag} must be a multiple of 16 and at least 32, not {size}.")


ARCH_KEYS = ("input_size", "widths", "blocks", "dim", "dropout", "crop_box", "head")


def parse_arch(text: str, base: dict) -> dict:
    """`base` with the keys of the JSON object `text` changed; a one-line DatasetError unless the
    result builds a network (so a typo fails before the data is prepared, not after)."""
    from app.encoder import FaceNet, crop_box_of
    from app.errors import DatasetError
    try:
        change = json.loads(text)
    except ValueError as exc:
        raise DatasetError(f"--arch is not JSON: {exc}.") from None
    if not isinstance(change, dict) or set(change) - set(ARCH_KEYS):
        raise DatasetError(f"--arch takes a JSON object with keys among {', '.join(ARCH_KEYS)}, not {text}.")
    arch = {**base, **change}
    _check_input_size(arch["input_size"], "--arch input_size")
    try:
        crop_box_of(arch)
        FaceNet(**arch)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise DatasetError(f"--arch {text} does not make a network: {str(exc).splitlines()[0]}.") from None
    return arch


def parse_crop_box(text: str) -> list[float]:
    """"X0,Y0,SIDE" → a square inside the canonical frame, or a one-line DatasetError."""
    from app.alignment import checked_box
    from app.errors import DatasetError
    try:
        return list(checked_box(text.split(",")))
    except ValueError as exc:
        raise DatasetError(f"--crop-box: {exc}.") from None


# `train` options (argparse dests) that set the TrainConfig field of the same name, or of the
# name given; None (not given) leaves TrainConfig's default.
TRAIN_OPTIONS = {"exclude_people": "exclude_people", "epochs": "epochs", "loss": "loss", "margin": "margin",
                 "distill": "distill", "mix": "mix", "lr": "lr", "seed": "seed", "device": "device",
                 "max_images": "max_images", "init": "init_weights", "detector": "detector", "members": "members",
                 "precision": "precision", "rotate": "rotate", "zoom": "zoom", "augment": "augment",
                 "unlabelled": "unlabelled", "unlabelled_per_batch": "unlabelled_per_batch", "freeze": "freeze"}


def train_config(args):
    """The TrainConfig of `train`'s arguments (teachers and architecture not yet applied)."""
    from app.training import TrainConfig
    given = {field: getattr(args, dest) for dest, field in TRAIN_OPTIONS.items() if getattr(args, dest) is not None}
    return TrainConfig(datasets=args.datasets, out=args.out, **given)


def cmd_train(args) -> int:
    from app.training import train
    cfg = train_config(args)
    from app.teachers import available_teachers, parse_teacher_models, parse_teachers
    cfg.teachers = [list(t) for t in parse_teachers(args.teacher or (available_teachers()[:1] or ["dlib"]))]
    cfg.teacher_models = parse_teacher_models(args.teacher_model)
    if cfg.unlabelled_per_batch < 0:
        from app.errors import DatasetError
        raise DatasetError("--unlabelled-per-batch must be 0 or more.")
    if not (0 <= cfg.rotate <= 45 and 0 <= cfg.zoom < 0.5):
        from app.errors import DatasetError
        raise DatasetError("--rotate takes 0 to 45 degrees and --zoom 0 to below 0.5.")
    if cfg.mix < 0 or (cfg.mix > 0 and cfg.distill <= 0):
        from app.errors import DatasetError
        raise DatasetError("--mix must be 0 or more, and blends need the teacher (--distill above 0).")
    if cfg.members < 1 or (cfg.members > 1 and args.init):
        from app.errors import DatasetError
        raise DatasetError("--members must be 1 or more, and fine-tuning (--init) takes one network (--members 1).")
    if args.arch is not None:
        cfg.arch = parse_arch(args.arch, cfg.arch)
    if args.input_size is not None:
        _check_input_size(args.input_size, "--input-size")
        cfg.arch["input_size"] = args.input_size
    if args.crop_box is not None:
        cfg.arch["crop_box"] = parse_crop_box(args.crop_box)
    cancel = CancelToken()

    def on_sigint(signum, frame):
        if cancel.cancelled:
            raise KeyboardInterrupt
        print("\nStopping after this step and saving a checkpoint (Ctrl-C again to abort)...", file=sys.stderr)
        cancel.cancel()

    old = signal.signal(signal.SIGINT, on_sigint)
    try:
        res = train(cfg, resume=args.resume, progress=console_progress("train "), cancel=cancel,
                    on_epoch=lambda s: print(f"\nepoch {s.epoch}: loss {s.loss:.4f} (metric {s.metric_loss:.4f}, "
                                             f"teacher {s.distill_loss:.4f}) {s.seconds:.0f}s", file=sys.stderr))
    finally:
        signal.signal(signal.SIGINT, old)
    print(f"Saved {res.path} (tau {res.card.tau:.3f}, {len(res.history)} epochs, "
          f"{res.card.training['seconds']:.0f}s).")
    return 0


def cmd_evaluate(args) -> int:
    from app.encoder import Encoder, card_path_for
    from app.evaluation import evaluate_identification, evaluate_verification
    from app.evaluation_model import make_embed_paths
    lfw = None if args.folder else _lfw_dir(args.lfw)
    encoder = Encoder.load(args.weights, args.device)
    embed_paths = make_embed_paths(encoder, _detector(args), args.detector_model,
                                   progress=console_progress("embedding "))
    cancel = CancelToken()
    if args.protocol == "verification":
        if lfw is None:
            raise OneShotError("Verification is on LFW's pairs (--lfw); --folder is for identification and open-set.")
        result = evaluate_verification(lfw, embed_paths, cancel=cancel)
    elif args.protocol == "open-set":
        from app.evaluation import OPEN_SET_DRAWS, OPEN_SET_SEED, evaluate_open_set
        from app.open_set import threshold_for
        enrol_paths = make_embed_paths(encoder, _detector(args), args.detector_model, enrolment=True)
        rule = encoder.open_set_rule
        result = evaluate_open_set(lfw_dir=None if args.folder else lfw, folder=args.folder,
                                   embed_paths=embed_paths, embed_enrolment_paths=enrol_paths,
                                   decide_threshold=lambda m: threshold_for(m, rule, encoder.tau, args.tau),
                                   cancel=cancel, draws=args.draws or OPEN_SET_DRAWS,
                                   seed=OPEN_SET_SEED if args.seed is None else args.seed, scorer=encoder.scorer)
        result["rule"] = (f"fixed tau {args.tau}" if args.tau is not None else
                          "open-set table" if rule is not None else f"one-to-one tau {encoder.tau:.4f}")
        result["scoring"] = "cohort-normalised" if encoder.scorer is not None else "plain distance"
    else:  # enrolment images embedded as the app enrols them, probes as live faces
        enrol_paths = make_embed_paths(encoder, _detector(args), args.detector_model, enrolment=True)
        result = evaluate_identification(lfw_dir=None if args.folder else lfw, folder=args.folder,
                                         embed_paths=embed_paths, cancel=cancel,
                                         embed_enrolment_paths=enrol_paths)
    result = {"model": encoder.version, "detector": _detector(args), **result}
    if args.write_card and encoder.path is not None:
        from app.encoder import ModelCard, write_card
        card = ModelCard.from_file(card_path_for(encoder.path))
        card.metrics[f"{args.protocol.replace('-', '_')}_{result['detector']}"] = result
        write_card(card, encoder.path)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k}: {v}")
    return 0


def _lfw_dir(given: str | None) -> str:
    from app import paths
    found = paths.lfw_dir(given)
    if found is None:
        raise OneShotError("Give --lfw DIR (LFW with images/ and protocol/).")
    return found


def cmd_calibrate(args) -> int:
    from app.calibration import VALIDATION_TAG
    from app.encoder import ModelCard, card_path_for, shipped_weights
    from app.open_set import OpenSetRule
    from app.training import calibrate_card
    weights = args.weights or shipped_weights()
    card = ModelCard.from_file(card_path_for(weights))
    do_tau, do_open = args.only != "open-set", args.only != "tau"
    background = None
    if do_open:
        if args.background:
            background = args.background
        elif (card.training.get("data") or {}).get("held_out") == VALIDATION_TAG:
            background = "validation"  # the LFW training people this model was trained without
        else:
            raise OneShotError("This model was not trained with LFW's validation people held out, so "
                               "nothing tells which faces it has never seen: give --background DIR "
                               "(photos of people it never trained on, a folder per person) or --only tau.")
    do_tau = do_tau or background == "validation"  # a new cohort changes the distances τ is set on
    lfw = _lfw_dir(args.lfw) if do_tau else None
    card = calibrate_card(weights, lfw, _detector(args), progress=console_progress("calibrating "),
                          background=background, cancel=CancelToken(), tau=do_tau)
    if do_tau:
        print(f"tau = {card.tau:.4f} written to the model card of {weights}")
    if do_open:
        rule = OpenSetRule.from_card(card.open_set)
        assert rule is not None  # calibrate_card has just written the table
        taus = ", ".join(f"{n}: {rule.threshold(n):.3f}" for n in (1, 10, 100, 1000))
        print(f"open-set table from {rule.source} written to the model card; τ for "
              f"{100 * rule.target:g}% of strangers named, by photos enrolled: {taus}")
    return 0


def cmd_combine(args) -> int:
    from pathlib import Path

    from app.encoder import combine_models
    from app.training import calibrate_card
    try:
        lfw = _lfw_dir(args.lfw)
    except OneShotError as exc:
        lfw, why = None, str(exc)
    if args.lfw and not (Path(args.lfw) / "protocol" / "pairsDevTrain.txt").is_file():  # lfw is args.lfw
        raise OneShotError(f"{lfw} has no protocol/pairsDevTrain.txt to calibrate τ on.")
    card = combine_models(args.models, args.out)
    if lfw is None:
        print(f"Saved {args.out} ({len(args.models)} networks) with the members' mean τ {card.tau:.3f}; "
              f"not calibrated: {why}")
        return 0
    card = calibrate_card(args.out, lfw, _detector(args), progress=console_progress("calibrating "))
    print(f"Saved {args.out} ({len(args.models)} networks), tau {card.tau:.4f} from {lfw}/protocol/pairsDevTrain.txt")
    return 0


def cmd_fetch_models(args) -> int:
    from app.fetch import fetch_yunet
    kw = {"url": args.url} if args.url else {}
    path = fetch_yunet(progress=console_progress("download "), **kw)
    print(f"YuNet detector ready at {path}")
    return 0


def cmd_bench(args) -> int:
    from app.bench import run_bench
    result = run_bench(args)
    print(json.dumps(result) if args.json else "\n".join(f"{k}: {v}" for k, v in result.items()))
    return 0


# Each command of build_parser and the function that runs it: a new command is a sub-parser
# there and a line here (tests/test_cli.py checks that the two agree).
COMMANDS = {"enroll": cmd_enroll, "identify": cmd_identify, "people": cmd_people, "watch": cmd_watch,
            "train": cmd_train, "evaluate": cmd_evaluate, "calibrate": cmd_calibrate, "combine": cmd_combine,
            "fetch-models": cmd_fetch_models, "bench": cmd_bench}
