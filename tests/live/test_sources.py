import sys
import time

import cv2
import numpy as np
import pytest

from app.errors import SourceError
from app.live.sources import (
    CameraSource,
    Frame,
    ImageFolderSource,
    RetryingSource,
    StreamSource,
    VideoFileSource,
    _default_camera_backend,
    open_source,
    parse_source,
    redact_url,
    to_rgb,
)
from app.progress import CancelToken

CLIP = "short_hamilton_clip.mp4"


class FakeCapture:
    """Stands in for cv2.VideoCapture: plays a script of frames, None meaning a failed read."""

    def __init__(self, script, opened=True, fps=30.0, then_fail=True):
        self.script = list(script)
        self.opened = opened
        self.fps = fps
        self.then_fail = then_fail
        self.reads = 0
        self.released = False

    def isOpened(self):
        return self.opened

    def read(self):
        self.reads += 1
        item = self.script.pop(0) if self.script else None
        if item is None:
            return False, None
        return True, item

    def get(self, prop):
        return self.fps if prop == cv2.CAP_PROP_FPS else 0.0

    def set(self, prop, value):
        return False

    def release(self):
        self.released = True


def bgr(b, g, r, h=24, w=32):
    img = np.zeros((h, w, 3), np.uint8)
    img[:] = (b, g, r)
    return img


# --------------------------------------------------------------------------- parsing


def test_parse_source():
    assert parse_source("0") == 0 and parse_source(" 2 ") == 2 and parse_source(1) == 1
    assert parse_source("clip.mp4") == "clip.mp4"
    assert parse_source("rtsp://cam/1") == "rtsp://cam/1"
    with pytest.raises(SourceError):
        parse_source(-1)


def test_redact_url_hides_password():
    assert redact_url("rtsp://admin:secret@10.0.0.2:554/s1") == "rtsp://admin:***@10.0.0.2:554/s1"
    assert redact_url("http://host/x") == "http://host/x"


def test_to_rgb_conversions():
    assert to_rgb(bgr(1, 2, 3))[0, 0].tolist() == [3, 2, 1]
    assert to_rgb(np.full((4, 5), 7, np.uint8)).shape == (4, 5, 3)
    bgra = np.zeros((4, 5, 4), np.uint8)
    bgra[..., 0] = 9
    assert to_rgb(bgra)[0, 0].tolist() == [0, 0, 9]
    for junk in (None, np.zeros((0, 0, 3), np.uint8), np.zeros((4, 5, 2), np.uint8),
                 np.zeros((4, 5, 3), np.float32), np.zeros((2, 3, 4, 3), np.uint8), "x"):
        assert to_rgb(junk) is None


# --------------------------------------------------------------------------- the real clip


def test_clip_reads_all_frames_as_rgb(samples_dir):
    path = samples_dir / CLIP
    cap = cv2.VideoCapture(str(path))
    for _ in range(11):
        ok, expected_bgr = cap.read()
    cap.release()
    assert ok

    with open_source(str(path)) as src:
        assert isinstance(src, VideoFileSource)
        assert not src.is_live and src.description == f"video {CLIP}"
        assert src.fps == pytest.approx(29.97, abs=0.1)
        frames = []
        for f in src:
            assert f.rgb.shape == (360, 640, 3) and f.rgb.dtype == np.uint8
            if f.index == 10:
                frames.append(f)
            last = f
    assert last.index == 274  # 275 frames
    assert src.garbage_frames == 0
    np.testing.assert_array_equal(frames[0].rgb, expected_bgr[:, :, ::-1])
    assert frames[0].rgb.flags["C_CONTIGUOUS"]
    assert frames[0].timestamp == pytest.approx(10 / 29.97, abs=0.01)
    assert last.timestamp == pytest.approx(274 / 29.97, abs=0.05)
    with pytest.raises(SourceError, match="closed"):
        src.read()


def test_clip_loop_restarts_at_the_end(samples_dir):
    with open_source(samples_dir / CLIP, loop=True) as src:
        first = src.read()
        stamps = [first.timestamp]
        for _ in range(274):
            stamps.append(src.read().timestamp)
        again = src.read()
        assert again is not None and again.index == 275 and src.loops == 1
        np.testing.assert_array_equal(again.rgb, first.rgb)
        stamps.append(again.timestamp)
    assert all(b > a for a, b in zip(stamps, stamps[1:]))  # time keeps going forward


# --------------------------------------------------------------------------- folders


def test_folder_sorted_rgb_and_corrupt_skipped(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "b.png"), bgr(255, 0, 0))  # blue
    cv2.imwrite(str(folder / "a.png"), bgr(0, 0, 255))  # red
    cv2.imwrite(str(folder / "c.jpg"), bgr(0, 255, 0))  # green
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (folder / "notes.txt").write_text("not a photo")
    (folder / "sub").mkdir()

    src = open_source(str(folder))
    assert isinstance(src, ImageFolderSource) and not src.is_live and src.fps is None
    assert src.description == "folder photos/ (4 images)"
    frames = list(src)
    src.close()
    assert [f.path.name for f in frames] == ["a.png", "b.png", "c.jpg"]
    assert [f.index for f in frames] == [0, 1, 2]
    assert frames[0].rgb[0, 0].tolist() == [255, 0, 0]
    assert frames[1].rgb[0, 0].tolist() == [0, 0, 255]
    assert frames[2].rgb.shape == (24, 32, 3) and frames[2].rgb[5, 5, 1] > 200
    assert src.skipped == 1 and src.skipped_files[0][0].name == "broken.jpg"


def test_empty_folder_is_an_error(tmp_path):
    (tmp_path / "readme.txt").write_text("x")
    with pytest.raises(SourceError, match="no photos"):
        open_source(tmp_path)


# --------------------------------------------------------------------------- opening failures


def test_missing_path(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        open_source(str(tmp_path / "nowhere.mp4"))


def test_text_file_named_mp4(tmp_path):
    fake = tmp_path / "clip.mp4"
    fake.write_bytes(b"this is certainly not a video\n" * 20)
    with pytest.raises(SourceError, match="clip.mp4"):
        open_source(str(fake))


def test_missing_camera_fails_at_once_with_the_native_backend(monkeypatch):
    """A camera number that cannot be opened: tried once, with the platform's own backend (CAP_ANY
    would try every backend in turn, slowly), released, and a SourceError that names it and says
    what to try. cv2.VideoCapture is replaced, so no real camera, present or not, is involved."""
    tries = []

    def video_capture(index, api):
        cap = FakeCapture([], opened=False)
        tries.append((index, api, cap))
        return cap

    monkeypatch.setattr(cv2, "VideoCapture", video_capture)
    with pytest.raises(SourceError, match=r"camera 99 cannot be opened\. .*another camera number"):
        open_source("99")
    assert [(index, api) for index, api, _ in tries] == [(99, _default_camera_backend())]
    if sys.platform.startswith("linux"):
        assert tries[0][1] == cv2.CAP_V4L2 != cv2.CAP_ANY
    assert tries[0][2].released and tries[0][2].reads == 0


def test_capture_that_does_not_open():
    with pytest.raises(SourceError, match="camera 3 cannot be opened.*another camera"):
        CameraSource(3, capture_factory=lambda: FakeCapture([], opened=False))
    with pytest.raises(SourceError, match=r"stream rtsp://u:\*\*\*@cam/x cannot be opened"):
        StreamSource("rtsp://u:pw@cam/x", capture_factory=lambda: FakeCapture([], opened=False))


def test_factory_exception_becomes_source_error():
    def boom():
        raise cv2.error("driver exploded")

    with pytest.raises(SourceError, match="camera 1 cannot be opened"):
        CameraSource(1, capture_factory=boom)


# --------------------------------------------------------------------------- live sources


def test_camera_unplugged_mid_stream():
    cap = FakeCapture([bgr(0, 0, 200), bgr(0, 0, 201), bgr(0, 0, 202)])
    src = CameraSource(0, capture_factory=lambda: cap, max_failures=5, failure_delay=0)
    assert src.is_live and src.fps == 30.0 and src.description == "camera 0"
    frames = [src.read() for _ in range(3)]
    assert [f.index for f in frames] == [0, 1, 2]
    assert frames[2].rgb[0, 0].tolist() == [202, 0, 0]
    assert frames[0].timestamp <= frames[2].timestamp
    with pytest.raises(SourceError, match=r"camera 0 stopped delivering frames \(unplugged\?\)"):
        src.read()
    assert cap.reads == 3 + 5
    src.close()
    assert cap.released


def test_live_source_survives_a_few_failures_and_skips_garbage():
    script = [None, np.zeros((0, 0, 3), np.uint8), None, np.zeros((8, 8, 2), np.uint8),
              bgr(1, 2, 3), np.full((6, 7), 50, np.uint8)]
    cap = FakeCapture(script)
    with StreamSource("http://127.0.0.1:9/feed", capture_factory=lambda: cap,
                      max_failures=5, failure_delay=0) as src:
        f = src.read()
        assert f.rgb[0, 0].tolist() == [3, 2, 1] and f.index == 0
        grey = src.read()
        assert grey.rgb.shape == (6, 7, 3) and grey.index == 1
        assert src.garbage_frames == 2
    assert cap.released


def test_only_garbage_counts_as_failure():
    cap = FakeCapture([np.zeros((0, 0, 3), np.uint8)] * 10)
    src = CameraSource(0, capture_factory=lambda: cap, max_failures=4, failure_delay=0)
    with pytest.raises(SourceError, match="unreadable"):
        src.read()
    assert src.garbage_frames == 4


def test_video_deleted_while_reading(tmp_path):
    path = tmp_path / "v.mp4"
    path.write_bytes(b"placeholder")
    cap = FakeCapture([bgr(0, 0, 1), bgr(0, 0, 2)])
    src = VideoFileSource(path, capture_factory=lambda: cap)
    assert src.read().index == 0 and src.read().index == 1
    path.unlink()
    with pytest.raises(SourceError, match="can no longer be read"):
        src.read()


def test_video_file_end_is_none(tmp_path):
    path = tmp_path / "v.mp4"
    path.write_bytes(b"placeholder")
    cap = FakeCapture([bgr(0, 0, 1), np.zeros((3, 3, 5), np.uint8), bgr(0, 0, 2)])
    with VideoFileSource(path, capture_factory=lambda: cap) as src:
        assert [f.rgb[0, 0, 0] for f in src] == [1, 2]
        assert src.read() is None and src.garbage_frames == 1


# --------------------------------------------------------------------------- retrying


def test_retrying_source_recovers_after_unplug():
    opened = []
    sleeps = []
    statuses = []

    def opener(spec):
        n = len(opened)
        opened.append(spec)
        if n == 0:  # works, then the cable is pulled
            cap = FakeCapture([bgr(0, 0, 10), bgr(0, 0, 11)])
        elif n == 1:  # still unplugged
            cap = FakeCapture([], opened=False)
        else:  # plugged back in
            cap = FakeCapture([bgr(0, 0, 20), bgr(0, 0, 21)])
        return CameraSource(spec, capture_factory=lambda: cap, max_failures=3, failure_delay=0)

    src = RetryingSource("0", opener=opener, sleep=sleeps.append, on_status=statuses.append)
    assert src.is_live and src.description == "camera 0"
    frames = [src.read() for _ in range(4)]
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert [int(f.rgb[0, 0, 0]) for f in frames] == [10, 11, 20, 21]
    assert opened == [0, 0, 0] and sleeps == [2.0, 2.0] and src.reconnects == 1
    assert statuses[0] == "connecting to camera 0..."
    assert statuses[1] == "camera 0 connected"
    assert any("unplugged" in s and "Retrying" in s for s in statuses)
    assert any("cannot be opened" in s for s in statuses)
    assert statuses[-1] == "camera 0 is back"
    assert len(statuses) == 5  # connecting, connected, lost, cannot open, back


def test_retrying_source_reports_repeated_failures_once():
    statuses, attempts = [], []

    def opener(spec):
        attempts.append(spec)
        ok = len(attempts) > 4
        cap = FakeCapture([bgr(0, 0, 1)] if ok else [], opened=ok)
        return CameraSource(spec, capture_factory=lambda: cap)

    src = RetryingSource(0, opener=opener, sleep=lambda s: None, on_status=statuses.append)
    assert src.read() is not None
    assert len(attempts) == 5
    assert statuses[0] == "connecting to camera 0..."
    assert sum("cannot be opened" in s for s in statuses) == 1
    assert statuses[-1] == "camera 0 connected"
    src.close()


def test_retrying_source_gives_up_after_max_retries():
    sleeps = []

    def opener(spec):
        return CameraSource(spec, capture_factory=lambda: FakeCapture([], opened=False))

    src = RetryingSource(5, opener=opener, sleep=sleeps.append, retry_interval=0.5, max_retries=2)
    with pytest.raises(SourceError, match="camera 5 cannot be opened"):
        src.read()
    assert sleeps == [0.5, 0.5]


def test_retrying_source_stops_when_cancelled():
    cancel = CancelToken()

    def opener(spec):
        raise SourceError("camera 0 cannot be opened.")

    def sleep(_seconds):
        cancel.cancel()

    src = RetryingSource(0, opener=opener, sleep=sleep, cancel=cancel)
    assert src.read() is None


def test_retrying_source_passes_through_end_of_file(tmp_path):
    path = tmp_path / "v.mp4"
    path.write_bytes(b"placeholder")

    def opener(spec):
        return VideoFileSource(spec, capture_factory=lambda: FakeCapture([bgr(0, 0, 1)]))

    with RetryingSource(str(path), opener=opener, sleep=lambda s: pytest.fail("no retry")) as src:
        assert not src.is_live
        assert isinstance(src.read(), Frame)
        assert src.read() is None


class _ScriptedSource:
    """A FrameSource-like object replaying Frames whose pixels may be garbage."""

    def __init__(self, pixels):
        self.pixels = list(pixels)
        self.garbage_frames = 0
        self.fps = None
        self.i = 0

    def read(self):
        if not self.pixels:
            return None
        self.i += 1
        return Frame(self.i, self.pixels.pop(0), time.monotonic())

    def close(self):
        pass


GARBAGE = [None, "not pixels", np.zeros((0, 0, 3), np.uint8), np.zeros((24, 32), np.uint8),
           np.zeros((24, 32, 3), np.float64), np.zeros((24, 32, 5), np.uint8)]


def test_retrying_source_skips_garbage_frames_reports_and_recovers():
    noise = np.random.default_rng(0).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    statuses = []
    src = RetryingSource(0, opener=lambda spec: _ScriptedSource([bgr(1, 2, 3), *GARBAGE, noise, bgr(4, 5, 6)]),
                         sleep=lambda s: pytest.fail("no reopen needed"), on_status=statuses.append)
    got = [src.read() for _ in range(3)]
    assert [f.index for f in got] == [0, 1, 2] and np.array_equal(got[1].rgb, noise)
    assert src.garbage_frames == len(GARBAGE)
    assert "camera 0 delivered an unreadable frame; skipping it." in statuses
    assert statuses[-1] == "camera 0 is back"


def test_retrying_source_reopens_a_source_that_only_delivers_garbage():
    opened, sleeps = [], []

    def opener(spec):
        opened.append(spec)
        return _ScriptedSource([None] * 100 if len(opened) == 1 else [bgr(9, 9, 9)])

    statuses = []
    src = RetryingSource(0, opener=opener, sleep=sleeps.append, max_garbage=5, retry_interval=0.1,
                         on_status=statuses.append)
    frame = src.read()
    assert frame is not None and int(frame.rgb[0, 0, 0]) == 9
    assert len(opened) == 2 and sleeps == [0.1] and src.reconnects == 1
    assert any("delivered only unreadable frames (5 in a row)" in s for s in statuses)
    assert statuses[-1] == "camera 0 is back" and src.garbage_frames == 5


def test_source_kind_decides_every_classification(tmp_path):
    from app.live.sources import SourceKind, describe_source, is_live_source, source_kind
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")
    odd = tmp_path / "a:" / "b"                 # "<tmp>/a://b" names this folder, not a stream
    odd.mkdir(parents=True)
    cases = {0: SourceKind.CAMERA, "2": SourceKind.CAMERA, str(tmp_path): SourceKind.FOLDER,
             str(video): SourceKind.FILE, "rtsp://cam.local/live": SourceKind.STREAM,
             str(tmp_path / "a:") + "//b": SourceKind.FOLDER, str(tmp_path / "nope.mp4"): SourceKind.MISSING,
             "": SourceKind.EMPTY}
    for spec, kind in cases.items():
        assert source_kind(spec) is kind, spec
        assert is_live_source(spec) == (kind in (SourceKind.CAMERA, SourceKind.STREAM))
    assert describe_source("rtsp://u:secret@cam/live").startswith("stream ") and "secret" not in describe_source(
        "rtsp://u:secret@cam/live")
    assert describe_source(str(tmp_path)).startswith("folder ") and describe_source(str(video)) == "video clip.mp4"
    assert RetryingSource("rtsp://cam.local/live", opener=lambda s: None).is_live
    assert not RetryingSource(str(video), opener=lambda s: None).is_live
