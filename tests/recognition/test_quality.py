import numpy as np

from app.recognition.alignment import TEMPLATE_112
from app.recognition.detection import Face
from app.recognition.quality import MIN_BRIGHTNESS, MIN_SHARPNESS, MIN_SIDE_PX, assess, cut_off, sharpness


def _face(x: float = 10.0, y: float = 10.0, side: float = 100.0) -> Face:
    return Face((x, y, side, side), 0.9, TEMPLATE_112 * side / 112 + np.array([x, y]))


def _checker(low: int, high: int) -> np.ndarray:
    # A 1-px checkerboard: sharp everywhere (Laplacian ±4·(high-low) at every pixel).
    board = np.indices((112, 112)).sum(axis=0) % 2
    return np.repeat(np.where(board, high, low).astype(np.uint8)[:, :, None], 3, axis=2)


def test_sharpness_by_hand():
    assert sharpness(np.full((112, 112, 3), 128, np.uint8)) == 0.0     # flat: no detail at all
    # Checkerboard 0/100: the Laplacian is +400 on dark and -400 on bright pixels, half each: var 400².
    assert sharpness(_checker(0, 100)) == 400.0 ** 2


def test_cut_off_by_hand():
    assert not cut_off((0, 0, 100, 100), (100, 100, 3))     # touching the edges is inside
    assert cut_off((-1, 0, 50, 50), (100, 100, 3))
    assert cut_off((60, 60, 50, 30), (100, 100))           # x + w = 110 > 100


def test_one_gate_one_list_of_reasons():
    good = assess(_face(), _checker(60, 200), (300, 300, 3))
    assert good.ok and good.reasons == () and good.brightness == 130.0
    dark = assess(_face(), _checker(0, 90))                 # mean 45 < 50, still sharp
    assert dark.brightness == 45.0 < MIN_BRIGHTNESS and dark.reasons == ("the face is dark",)
    assert dark.ok                                          # light alone warns, never refuses
    flat = assess(_face(side=MIN_SIDE_PX - 1), np.full((112, 112, 3), 128, np.uint8), (300, 300, 3))
    assert flat.reasons == (f"the face is too small ({MIN_SIDE_PX - 1} px; at least {MIN_SIDE_PX} px needed)",
                            f"the face is blurred (sharpness 0; at least {MIN_SHARPNESS:.0f} needed)")
    edge = assess(_face(x=250.0), _checker(60, 200), (300, 300, 3))
    assert edge.ok and edge.reasons == ("the face is cut off at the edge of the photo",)  # warns only
    edge_blurred = assess(_face(x=250.0), np.full((112, 112, 3), 128, np.uint8), (300, 300, 3))
    assert not edge_blurred.ok and edge_blurred.reasons[0] == "the face is cut off at the edge of the photo"
    assert assess(_face(x=250.0), _checker(60, 200)).ok     # no image: framing is not judged
