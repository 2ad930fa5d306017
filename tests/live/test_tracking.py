import numpy as np

from app.live.tracking import UNKNOWN, Tracker, iou, majority


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


def test_flicker_is_smoothed():
    t = Tracker(history=5)
    box = (100, 100, 50, 50)
    seq = ["Lin", "Lin", UNKNOWN, "Lin", "Alex", "Lin"]
    shown = []
    for i, name in enumerate(seq):
        (lab,) = t.update([((box[0] + i, box[1], 50, 50), name, 0.3)])
        shown.append(lab.name)
        assert lab.raw_name == name
    assert shown == ["Lin"] * 6
    assert len(t.tracks) == 1


def test_two_faces_keep_their_tracks_and_order():
    t = Tracker()
    a, b = (10, 10, 40, 40), (200, 10, 40, 40)
    out = t.update([(a, "A", 0.2), (b, "B", 0.3)])
    ids = [o.track_id for o in out]
    out = t.update([((202, 12, 40, 40), "B", 0.3), ((12, 11, 40, 40), "A", 0.2)])
    assert [o.name for o in out] == ["B", "A"]
    assert [o.track_id for o in out] == ids[::-1]


def test_tracks_expire_after_missed_frames():
    t = Tracker(max_missed=2)
    box = (0, 0, 30, 30)
    first = t.update([(box, "A", 0.1)])[0].track_id
    t.update([])
    t.update([])
    assert t.update([(box, UNKNOWN, 0.9)])[0].track_id == first  # still alive: history kept
    for _ in range(3):
        t.update([])
    lab = t.update([(box, UNKNOWN, 0.9)])[0]
    assert lab.track_id != first and lab.name == UNKNOWN and not lab.known


def test_unknown_takes_over_when_majority():
    t = Tracker(history=5)
    box = (0, 0, 30, 30)
    for _ in range(5):
        t.update([(box, "A", 0.1)])
    names = [t.update([(box, UNKNOWN, 0.9)])[0].name for _ in range(5)]
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
        t.update([(box, "A", 0.1)])
    t.reset()
    assert t.update([(box, UNKNOWN, 0.9)])[0].name == UNKNOWN


def _unit(deg: float) -> np.ndarray:
    return np.array([np.cos(np.radians(deg)), np.sin(np.radians(deg))], dtype=np.float32)


def _identify_against(gallery: dict, tau: float):
    """A hand-made `identify`: nearest of `gallery` (name -> unit vector) if under tau."""

    def identify(q):
        out = []
        for v in q:
            name, d = min(((n, float(np.linalg.norm(v - g))) for n, g in gallery.items()), key=lambda x: x[1])
            out.append((name if d < tau else UNKNOWN, d))
        return out
    return identify


def test_pooled_template_names_a_face_no_single_frame_does():
    """Two views 60° either side of A's enrolment vector are each 1.0 away (over τ 0.5); their
    mean points straight at A (distance 0), so from the second frame the track is A."""
    identify = _identify_against({"A": _unit(0)}, tau=0.5)
    t = Tracker(history=5)
    box = (0, 0, 40, 40)
    first = t.update([(box, UNKNOWN, 1.0, _unit(60))], identify)[0]
    assert first.name == UNKNOWN and abs(first.distance - 1.0) < 1e-6  # alone: 60° → √(2−2cos60°) = 1
    second = t.update([(box, UNKNOWN, 1.0, _unit(-60))], identify)[0]
    assert second.raw_name == UNKNOWN and abs(second.raw_distance - 1.0) < 1e-6
    assert abs(second.distance) < 1e-6 and second.name == "A" and second.known  # tie → newest, not Unknown


def test_pool_window_forgets_old_views():
    """pool=2: the template is the mean of the last two embeddings only."""
    identify = _identify_against({"A": _unit(0), "B": _unit(90)}, tau=0.3)
    t = Tracker(history=1, pool=2, min_frames=1)
    box = (0, 0, 40, 40)
    names = [t.update([(box, UNKNOWN, 1.0, _unit(a))], identify)[0].name for a in (0, 0, 90, 90)]
    # templates: 0° → A; mean(0°, 0°) → A; mean(0°, 90°) = 45°, 0.77 from both → Unknown; 90° → B
    assert names == ["A", "A", UNKNOWN, "B"]


def test_live_labeller_resets_on_scene_cut_and_model_change():
    from app.live.tracking import LiveLabeller

    class Rec:  # the parts of pipeline.Recognition the labeller reads
        def __init__(self, emb):
            self.face = type("F", (), {"box": (0, 0, 40, 40)})()
            self.match = type("M", (), {"name": UNKNOWN, "distance": 1.0})()
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
        assert t.update([(box, "A", 0.0, _unit(0))], identify)[0].name == "A"
    lab = t.update([(box, "B", 0.0, _unit(90))], identify)[0]
    assert lab.name == "B" and lab.distance < 1e-6 and len(t.tracks[0].embeddings) == 1
    # an unsure frame (Unknown alone) does not restart it: it is pooled with the rest
    lab = t.update([(box, UNKNOWN, 0.8, _unit(45))], identify)[0]
    assert len(t.tracks[0].embeddings) == 2 and lab.name == "B"


def test_a_track_is_named_only_after_min_frames_and_keeps_the_nearest_person():
    """One frame is not enough evidence to name someone: by default a track shows Unknown (with
    who is nearest) until its template pools two frames, then the name."""
    identify = _identify_against({"A": _unit(0)}, tau=0.5)
    t = Tracker()
    box = (0, 0, 40, 40)
    first = t.update([(box, "A", 0.0, _unit(0))], identify)[0]
    assert first.name == UNKNOWN and not first.known and first.nearest == "A"
    second = t.update([(box, "A", 0.0, _unit(0))], identify)[0]
    assert second.name == "A" and second.known and second.nearest == "A"
    t3 = Tracker(min_frames=3)
    names = [t3.update([(box, "A", 0.0, _unit(0))], identify)[0].name for _ in range(4)]
    # frame 3 is the first named A, but the shown label is the majority of U, U, A: still Unknown
    assert names == [UNKNOWN, UNKNOWN, UNKNOWN, "A"]


def test_unknown_is_defined_once():
    import app.live.tracking
    import app.recognition.matching
    assert app.live.tracking.UNKNOWN is app.recognition.matching.UNKNOWN
