"""Where the name labels of the live view go (Qt-free): inside the picture, never over each other.

Each label is placed greedily, faces from the top of the picture down: just above its face's box,
else just below it, else stacked further up or down, always left-aligned with the box and pushed
inside the picture's edges. A label is never wider or taller than the picture. When a crowd leaves
no free place, the label goes where it overlaps the labels already placed least.
"""

from __future__ import annotations

Box = tuple[float, float, float, float]  # x, y, width, height


def _overlap(a: Box, b: Box) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _clamp(v: float, lo: float, hi: float) -> float:
    return lo if hi < lo else min(max(v, lo), hi)


def place_labels(boxes: list[Box], sizes: list[tuple[float, float]], bounds: Box) -> list[Box]:
    """The rectangle of each face's label, in the coordinates of `boxes` and `bounds`.

    boxes: the faces' boxes; sizes: each label's (width, height); bounds: the picture (x, y, w, h).
    Every rectangle returned lies inside `bounds`; two of them overlap only when the picture has
    no room for all the labels.
    """
    if len(boxes) != len(sizes):
        raise ValueError("one label size per box")
    x0, y0, bw_, bh_ = bounds
    x1, y1 = x0 + bw_, y0 + bh_
    placed: list[Box] = []
    out: list[Box | None] = [None] * len(boxes)
    order = sorted(range(len(boxes)), key=lambda i: (boxes[i][1], boxes[i][0]))
    for i in order:
        fx, fy, fw, fh = boxes[i]
        w, h = min(sizes[i][0], bw_), min(sizes[i][1], bh_)
        x = _clamp(fx, x0, x1 - w)
        # just above, just below, then stacked further away on either side
        # a label placed already can block two levels (it need not line up with them): enough
        # levels for every one, but no more than the picture has room for
        ys = []
        for k in range(min(2 * len(placed) + 1, int(bh_ / h) + 1 if h > 0 else 1)):
            ys += [fy - h * (k + 1), fy + fh + h * k]
        best: Box | None = None
        best_cost = None
        for y in ys:
            fits = y0 <= y and y + h <= y1
            r = (x, _clamp(y, y0, y1 - h), w, h)
            cost = sum(_overlap(r, p) for p in placed)
            if fits and cost == 0:
                best = r
                break
            # out of the picture (pushed back in) or overlapping: a fallback, the least bad
            rank = (cost, not fits, abs(r[1] - y))
            if best_cost is None or rank < best_cost:
                best, best_cost = r, rank
        assert best is not None  # ys is never empty, and its first y always sets best
        out[i] = best
        placed.append(best)
    return [r for r in out if r is not None]
