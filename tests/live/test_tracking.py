import numpy as np

from app.live.tracking import UNKNOWN, Detection, Tracker, iou, majority, vote
from app.recognition.matching import Match

PEOPLE = {"A": 1, "B": 2, "Lin": 3, "Alex": 4}  # the gallery's person ids of the names the tests use


def det(box, name: str, distance: float, embedding=None) -> Detection:
    """A face as the frame alone matched it: `name` is person PEOPLE[name] (Unknown: nobody)."""
    return Detection(box, Match(name, PEOPLE.get(name), distance), embedding)


def test_iou():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert abs(iou((0, 0, 10, 10), (5, 0, 10, 10)) - 50 / 150) < 1e-9


def test_majority_rules():
    assert majority(["A", "A", "B"]) == "A"
    assert majority(["A", "B"]) == "B"  # tie: most recent
    assert majority(["B", "A"]) == "A"
    assert majority(["A", UNKNOWN]) == "A"  # Unknown wins only as the majority
    assert majority([UNKNOWN, UNKNOWN, "A"]) == UNKNOWN
    assert majority([]) == UNKNOWN
    assert vote([1, 1, 2], None) == 1 and vote([1, None], None) == 1 and vote([None, None, 1], None) is None
    assert vote([], None) is None


def test_flicker_is_smoothed():
    t = Tracker(history=5)
    box = (100, 100, 50, 50)
    seq = ["Lin", "Lin", UNKNOWN, "Lin", "Alex", "Lin"]
    shown = []
    for i, name in enumerate(seq):
        (lab,) = t.update([det((box[0] + i, box[1], 50, 50), name, 0.3)])
        shown.append(lab.name)
        assert lab.raw_name == name
    assert shown == ["Lin"] * 6
    assert len(t.tracks) == 1


def test_two_faces_keep_their_tracks_and_order():
    t = Tracker()
    a, b = (10, 10, 40, 40), (200, 10, 40, 40)
    out = t.update([det(a, "A", 0.2), det(b, "B", 0.3)])
    ids = [o.track_id for o in out]
    out = t.update([det((202, 12, 40, 40), "B", 0.3), det((12, 11, 40, 40), "A", 0.2)])
    assert [o.name for o in out] == ["B", "A"]
    assert [o.track_id for o in out] == ids[::-1]


def test_tracks_expire_after_missed_frames():
    t = Tracker(max_missed=2)
    box = (0, 0, 30, 30)
    first = t.update([det(box, "A", 0.1)])[0].track_id
    t.update([])
    t.update([])
    assert t.update([det(box, UNKNOWN, 0.9)])[0].track_id == first  # still alive: history kept
    for _ in range(3):
        t.update([])
    lab = t.update([det(box, UNKNOWN, 0.9)])[0]
    assert lab.track_id != first and lab.name == UNKNOWN and not lab.known


def test_unknown_takes_over_when_majority():
    t = Tracker(history=5)
    box = (0, 0, 30, 30)
    for _ in range(5):
        t.update([det(box, "A", 0.1)])
    names = [t.update([det(box, UNKNOWN, 0.9)])[0].name for _ in range(5)]
    assert names == ["A", "A", UNKNOWN, UNKNOWN, UNKNOWN]


def test_scene_cut_detector():
    from app.live.tracking import SceneCutDetector

    rng = np.random.default_rng(0)
    a = rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)
    cut = SceneCutDetector()
    assert cut(a) is False                          # first frame
    assert cut(np.clip(a.astype(int) + 5, 0, 255).astype(np.uint8)) is False  # lighting change
    assert cut(255 - a) is True                      # another shot
    dark = np.zeros_like(a)
    assert cut(dark) is True and cut(dark) is False


def test_reset_forgets_names():
    t = Tracker()
    box = (0, 0, 30, 30)
    for _ in range(5):
        t.update([det(box, "A", 0.1)])
    t.reset()
    assert t.update([det(box, UNKNOWN, 0.9)])[0].name == UNKNOWN


def _unit(deg: float) -> np.ndarray:
    return np.array([np.cos(np.radians(deg)), np.sin(np.radians(deg))], dtype=np.float32)


def _identify_against(gallery: dict, tau: float):
    """A hand-made `identify`: nearest of `gallery` (name -> unit vector) if under tau."""

    def identify(q):
        out = []
        for v in q:
            name, d = min(((n, float(np.linalg.norm(v - g))) for n, g in gallery.items()), key=lambda x: x[1])
            out.append(Match(name, PEOPLE[name], d) if d < tau else Match(UNKNOWN, None, d))
        return out
    return identify


def test_pooled_template_names_a_face_no_single_frame_does():
    """Two views 60° either side of A's enrolment vector are each 1.0 away (over τ 0.5); their
    mean points straight at A (distance 0), so from the second frame the track is A."""
    identify = _identify_against({"A": _unit(0)}, tau=0.5)
    t = Tracker(history=5)
    box = (0, 0, 40, 40)
    first = t.update([det(box, UNKNOWN, 1.0, _unit(60))], identify)[0]
    assert first.name == UNKNOWN and abs(first.distance - 1.0) < 1e-6  # alone: 60° → √(2−2cos60°) = 1
    second = t.update([det(box, UNKNOWN, 1.0, _unit(-60))], identify)[0]
    assert second.raw_name == UNKNOWN and abs(second.raw_distance - 1.0) < 1e-6
    assert abs(second.distance) < 1e-6 and second.name == "A" and second.known  # tie → newest, not Unknown


def test_pool_window_forgets_old_views():
    """pool=2: the template is the mean of the last two embeddings only."""
    identify = _identify_against({"A": _unit(0), "B": _unit(90)}, tau=0.3)
    t = Tracker(history=1, pool=2, min_frames=1)
    box = (0, 0, 40, 40)
    names = [t.update([det(box, UNKNOWN, 1.0, _unit(a))], identify)[0].name for a in (0, 0, 90, 90)]
    # templates: 0° → A; mean(0°, 0°) → A; mean(0°, 90°) = 45°, 0.77 from both → Unknown; 90° → B
    assert names == ["A", "A", UNKNOWN, "B"]


def test_live_labeller_resets_on_scene_cut_and_model_change():
    from app.live.tracking import LiveLabeller

    class Rec:  # the parts of pipeline.Recognition the labeller reads
        def __init__(self, emb):
            self.face = type("F", (), {"box": (0, 0, 40, 40)})()
            self.match = Match(UNKNOWN, None, 1.0)
            self.embedding = emb

    lab = LiveLabeller(_identify_against({"A": _unit(0)}, tau=0.5))
    frame = np.full((36, 64, 3), 100, np.uint8)
    ids = [lab(frame, [Rec(_unit(60))], "m1")[0].track_id, lab(frame, [Rec(_unit(-60))], "m1")[0].track_id]
    assert ids[0] == ids[1] and lab.tracker.tracks[0].label == "A"
    assert lab(frame, [Rec(_unit(60))], "m2")[0].name == UNKNOWN      # new model: fresh track
    assert lab(frame, [Rec(_unit(-60))], "m2")[0].name == "A"
    assert lab(255 - frame, [Rec(_unit(60))], "m2")[0].name == UNKNOWN  # scene cut: fresh track


def test_a_frame_sure_of_someone_else_restarts_the_template():
    """A track showing A whose face alone now matches B (two faces crossed, the tracker swapped
    them) drops A's pooled frames and shows B at once, instead of A for another half second."""
    identify = _identify_against({"A": _unit(0), "B": _unit(90)}, tau=0.5)
    t = Tracker(history=5, min_frames=1)
    box = (0, 0, 40, 40)
    for _ in range(10):
        assert t.update([det(box, "A", 0.0, _unit(0))], identify)[0].name == "A"
    lab = t.update([det(box, "B", 0.0, _unit(90))], identify)[0]
    assert lab.name == "B" and lab.distance < 1e-6 and len(t.tracks[0].embeddings) == 1
    # an unsure frame (Unknown alone) does not restart it: it is pooled with the rest
    lab = t.update([det(box, UNKNOWN, 0.8, _unit(45))], identify)[0]
    assert len(t.tracks[0].embeddings) == 2 and lab.name == "B"


def test_a_frame_far_under_tau_restarts_an_unknown_template_from_its_view():
    """A head turning towards the camera: four profile frames (100°, 1.53 from A) make the track
    Unknown; a frontal frame far under τ (0°) joins a template whose mean is still 80° away
    (85.6°, 1.36 > τ 0.5), unless the frame is *sure*: then the template starts again from it, and with
    a second frontal frame (min_frames 2) the track is A."""
    identify = _identify_against({"A": _unit(0)}, tau=0.5)
    box = (0, 0, 40, 40)
    for sure in (False, True):
        t = Tracker(history=1, pool=30, min_frames=2)
        for _ in range(4):
            assert t.update([det(box, UNKNOWN, 1.53, _unit(100))], identify)[0].name == UNKNOWN
        frontal = Detection(box, Match("A", PEOPLE["A"], 0.0), _unit(0), sure=sure)
        first = t.update([frontal], identify)[0]
        assert first.name == UNKNOWN  # one frame: not enough evidence either way
        assert len(t.tracks[0].embeddings) == (1 if sure else 5)
        second = t.update([frontal], identify)[0]
        # the mean of four 100° and two 0° frames points at 71.7°, 1.17 from A: still Unknown
        assert second.name == ("A" if sure else UNKNOWN)


def test_a_sure_frame_never_restarts_a_named_template_or_names_alone():
    identify = _identify_against({"A": _unit(0), "B": _unit(90)}, tau=0.5)
    box = (0, 0, 40, 40)
    t = Tracker(history=1, min_frames=2)
    for _ in range(3):
        t.update([det(box, "A", 0.1, _unit(5))], identify)
    t.update([Detection(box, Match("A", PEOPLE["A"], 0.0), _unit(0), sure=True)], identify)
    assert len(t.tracks[0].embeddings) == 4  # named A already: pooled with the rest
    # a sure frame of an Unknown face that is not matched to anyone (no person) changes nothing
    u = Tracker(history=1, min_frames=2)
    u.update([det(box, UNKNOWN, 1.5, _unit(180))], identify)
    u.update([Detection(box, Match(UNKNOWN, None, 1.5), _unit(180), sure=True)], identify)
    assert len(u.tracks[0].embeddings) == 2


def test_the_labeller_marks_frames_under_the_sure_distance():
    from app.live.tracking import LiveLabeller

    class Rec:
        def __init__(self, distance, pid=1, emb=True):
            self.face = type("F", (), {"box": (0, 0, 40, 40)})()
            self.match = Match("A" if pid else UNKNOWN, pid, distance)
            self.embedding = _unit(0) if emb else None

    seen = []
    lab = LiveLabeller(_identify_against({"A": _unit(0)}, tau=0.5))
    update = lab.tracker.update
    lab.tracker.update = lambda dets, identify=None: seen.append([d.sure for d in dets]) or update(dets, identify)
    frame = np.full((36, 64, 3), 100, np.uint8)
    lab(frame, [Rec(0.2)], "m", sure=0.3)
    lab(frame, [Rec(0.4)], "m", sure=0.3)        # named, but not far under
    lab(frame, [Rec(0.2)], "m")                  # no sure distance given: never
    lab(frame, [Rec(0.2, pid=None)], "m", sure=0.3)  # nobody matched
    lab(frame, [Rec(0.2, emb=False)], "m", sure=0.3)  # carried, not embedded
    assert seen == [[True], [False], [False], [False], [False]]


def test_a_track_is_named_only_after_min_frames_and_keeps_the_nearest_person():
    """One frame is not enough evidence to name someone: by default a track shows Unknown (with
    who is nearest) until its template pools two frames, then the name."""
    identify = _identify_against({"A": _unit(0)}, tau=0.5)
    t = Tracker()
    box = (0, 0, 40, 40)
    first = t.update([det(box, "A", 0.0, _unit(0))], identify)[0]
    assert first.name == UNKNOWN and not first.known and first.nearest == "A"
    second = t.update([det(box, "A", 0.0, _unit(0))], identify)[0]
    assert second.name == "A" and second.known and second.nearest == "A"
    t3 = Tracker(min_frames=3)
    names = [t3.update([det(box, "A", 0.0, _unit(0))], identify)[0].name for _ in range(4)]
    # frame 3 is the first named A, but the shown label is the majority of U, U, A: still Unknown
    assert names == [UNKNOWN, UNKNOWN, UNKNOWN, "A"]


def test_unknown_is_defined_once():
    import app.live.tracking
    import app.recognition.matching
    assert app.live.tracking.UNKNOWN is app.recognition.matching.UNKNOWN


def test_a_track_is_its_persons_id_so_a_rename_shows_at_once_and_keeps_the_template():
    """A settled track of Ann (id 1); then Ann is renamed Annie and Bea (id 2) is renamed Ann.
    The track is still person 1: shown as Annie from the next answer (not as "Ann", now Bea's
    name, by a vote of names), and a frame sure of Annie does not restart the template."""
    people = {1: "Ann", 2: "Bea"}

    def identify(q):
        return [Match(people[1], 1, 0.1, people[1]) for _ in q]

    t = Tracker(history=5, min_frames=1)
    box = (0, 0, 40, 40)
    for _ in range(6):
        lab = t.update([Detection(box, Match("Ann", 1, 0.1), _unit(0))], identify)[0]
    assert (lab.name, lab.person_id) == ("Ann", 1)
    people[1], people[2] = "Annie", "Ann"
    lab = t.update([Detection(box, Match(UNKNOWN, None, 0.7), _unit(0))], identify)[0]  # an unsure frame
    assert (lab.name, lab.person_id, lab.known) == ("Annie", 1, True)
    lab = t.update([Detection(box, Match("Annie", 1, 0.1), _unit(0))], identify)[0]  # a sure one
    assert (lab.name, lab.person_id) == ("Annie", 1) and len(t.tracks[0].embeddings) == 8


def test_two_people_with_one_name_are_never_one_vote():
    """Person 2 called what person 1 is called: a frame sure of person 2 on person 1's track is
    someone else (the template restarts), and votes of the two are not added up."""
    def identify(q):
        return [Match("Ann", 1, 0.1, "Ann") for _ in q]

    t = Tracker(history=5, min_frames=1)
    box = (0, 0, 40, 40)
    for _ in range(6):
        t.update([Detection(box, Match("Ann", 1, 0.1), _unit(0))], identify)
    t.update([Detection(box, Match("Ann", 2, 0.0), _unit(90))], identify)
    assert len(t.tracks[0].embeddings) == 1  # started again from person 2's frame
    # without templates: 3 frames of person 1 and 2 of person 2, all "Ann", are a vote of 3 to 2
    t = Tracker(history=5)
    for pid in (2, 1, 1, 2, 1):
        lab = t.update([Detection(box, Match("Ann", pid, 0.1))])[0]
    assert (lab.name, lab.person_id) == ("Ann", 1)
    assert list(t.tracks[0].votes) == [2, 1, 1, 2, 1]


def unseen(box) -> Detection:
    """A face too blurred or dark to embed, as `Engine.recognise` reports it: Unknown, nobody
    nearest, not judged."""
    return Detection(box, Match(UNKNOWN, None, float("inf")), None, judged=False)


def test_a_face_too_blurred_or_dark_to_judge_keeps_its_tracks_answer():
    t = Tracker(history=5)
    box = (100, 100, 50, 50)
    for _ in range(3):
        (lab,) = t.update([det(box, "Lin", 0.3)])
    assert lab.name == "Lin" and lab.distance == 0.3
    for _ in range(12):  # far longer than the vote's history: the light went down
        (lab,) = t.update([unseen(box)])
        assert (lab.name, lab.known, lab.person_id, lab.distance) == ("Lin", True, PEOPLE["Lin"], 0.3)
        assert lab.raw_name == UNKNOWN
    assert t.tracks[0].names == {PEOPLE["Lin"]: "Lin"}  # its name is not overwritten by "Unknown"
    (lab,) = t.update([det(box, "A", 0.2)])  # seen again: judged as any frame (one vote of five)
    assert lab.name == "Lin" and t.tracks[0].votes[-1] == PEOPLE["A"]
    for _ in range(2):  # unseen again: it repeats the last frame seen (A), not the majority (Lin)
        (lab,) = t.update([unseen(box)])
    assert lab.name == "A" and list(t.tracks[0].votes)[-3:] == [PEOPLE["A"]] * 3


def test_a_face_unseen_for_longer_than_the_hold_says_unknown():
    from app.live.tracking import HOLD_UNJUDGED
    t = Tracker(history=5)
    box = (100, 100, 50, 50)
    for _ in range(3):
        t.update([det(box, "Lin", 0.3)])
    shown = [t.update([unseen(box)])[0].name for _ in range(HOLD_UNJUDGED + 5)]
    assert shown[:HOLD_UNJUDGED] == ["Lin"] * HOLD_UNJUDGED  # held for as long as the hold
    assert shown[HOLD_UNJUDGED + 2:] == [UNKNOWN] * 3     # then Unknown, once it has the majority


def test_a_wrong_name_is_not_kept_alive_by_blurred_frames():
    """A face named at the margin, then judged Unknown between blurred frames: the blurred ones
    repeat the Unknown it was last judged, so the name goes as it would without them."""
    t = Tracker(history=5)
    box = (10, 10, 40, 40)
    for _ in range(5):
        t.update([det(box, "Alex", 1.15)])
    names = []
    for _ in range(3):
        names.append(t.update([det(box, UNKNOWN, 1.17)])[0].name)
        names.append(t.update([unseen(box)])[0].name)
    assert names[-1] == UNKNOWN and names.count("Alex") <= 3


def test_a_track_that_was_never_judged_stays_unknown_and_a_judged_unknown_still_counts():
    t = Tracker(history=5)
    box = (10, 10, 40, 40)
    for _ in range(6):
        (lab,) = t.update([unseen(box)])
        assert lab.name == UNKNOWN and not lab.known and lab.person_id is None
    other = (200, 10, 40, 40)
    t.update([det(other, "A", 0.3)])
    t.update([det(other, "A", 0.3)])
    for _ in range(3):  # seen and judged Unknown: the name goes, as before
        (lab,) = t.update([det(other, UNKNOWN, 0.9)])
    assert lab.name == UNKNOWN
