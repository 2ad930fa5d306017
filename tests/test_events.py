"""The typed events front ends follow instead of reading words: `SourceState` from a
RetryingSource, `TrainingProgress` from `train` (its `loss` feeds the GUI's loss curve)."""

import numpy as np

from app.errors import SourceError
from app.live.sources import Frame, FrameSource, RetryingSource, SourceState
from app.training.loop import CALIBRATING, PREPARING, TRAINING, TrainConfig, TrainingProgress, train

TINY = {"input_size": 32, "widths": [8, 16], "blocks": [1, 1], "dim": 128}


class Scripted(FrameSource):
    """Frames (arrays), None for the end, or a SourceError to raise, in order."""

    def __init__(self, items):
        super().__init__()
        self.items = list(items)

    def read(self):
        item = self.items.pop(0) if self.items else None
        if isinstance(item, Exception):
            raise item
        return None if item is None else Frame(0, item, 0.0)


def _rgb(v=0):
    return np.full((8, 8, 3), v, np.uint8)


def test_retrying_source_tells_its_state_with_each_status():
    opened = []

    def opener(spec):
        opened.append(spec)
        if len(opened) == 1:
            return Scripted([_rgb(1), SourceError("camera 0 was unplugged.")])
        if len(opened) == 2:
            raise SourceError("camera 0 cannot be opened.")
        return Scripted([_rgb(2), np.zeros((2, 2), np.uint8), _rgb(3), None])

    states, statuses = [], []
    src = RetryingSource(0, opener=opener, sleep=lambda s: None, on_status=statuses.append,
                         on_state=lambda st, m: states.append((st, m)))
    frames = list(src)
    assert len(frames) == 3
    assert [m for _, m in states if m] == statuses  # one state for each status message, in order
    assert [st for st, _ in states] == [SourceState.CONNECTING, SourceState.LIVE, SourceState.RETRYING,
                                        SourceState.RETRYING, SourceState.LIVE, SourceState.UNREADABLE_FRAME,
                                        SourceState.LIVE, SourceState.ENDED]
    assert states[1][1] == "camera 0 connected" and states[4][1] == "camera 0 is back"
    assert states[-1] == (SourceState.ENDED, "")


def test_retrying_source_says_unavailable_when_it_gives_up():
    def opener(spec):
        raise SourceError("camera 5 cannot be opened.")

    states = []
    src = RetryingSource(5, opener=opener, sleep=lambda s: None, max_retries=1,
                         on_state=lambda st, m: states.append(st))
    try:
        src.read()
    except SourceError:
        pass
    assert states == [SourceState.CONNECTING, SourceState.RETRYING, SourceState.UNAVAILABLE]


def test_training_progress_carries_the_running_loss(shared, tmp_path):
    cfg = TrainConfig(datasets=[str(shared / "datasets" / "celeba_faces")], out=str(tmp_path / "m.pt"),
                      epochs=2, p=4, k=4, singles=0, distill=0.0, max_images=96, arch=dict(TINY), workers=1)
    events: list[TrainingProgress] = []
    texts: list[str] = []
    train(cfg, progress=lambda d, t, m="": texts.append(m), on_progress=events.append)
    assert [e.message for e in events if e.phase != CALIBRATING] == \
        [m for m in texts if not m.startswith(CALIBRATING)]  # the words are unchanged
    steps = [e for e in events if e.phase == TRAINING]
    assert steps and all(e.loss is not None and np.isfinite(e.loss) for e in steps)
    assert {e.epoch for e in steps} == {1, 2}
    assert all(f"epoch {e.epoch}/2 loss {e.loss:.4f}" == e.message for e in steps)
    assert steps[-1].done == steps[-1].total
    assert events[0].phase == PREPARING and events[0].loss is None
    assert {e.phase for e in events} <= {PREPARING, TRAINING, CALIBRATING}
