from app.tracking import UNKNOWN, Tracker, iou, majority


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
    t.update([]); t.update([]); t.update([])
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
    import numpy as np

    from app.tracking import SceneCutDetector

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
