"""Training views: random changes to aligned crops, on tensors, the same for student and teacher.

Crops are the student's normalised tensors (N,3,S,S in [-1, 1]). The cheap set (flip, shift,
brightness/contrast, grey) is what every model was trained with. The strong set adds what a webcam
meets and the clean photos of LFW rarely show: side lighting and hard shadows, glasses and masks,
blur and low resolution. Occluders are placed by the ArcFace template, so `box` must say which part
of the 112 frame the crop shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from app.recognition.alignment import FULL_BOX

# Where occluders go, as fractions of the 112x112 ArcFace frame (eyes at y≈0.46, mouth ≈0.82).
EYES_Y = (0.38, 0.56)
MASK_TOP = (0.60, 0.70)


@dataclass(frozen=True)
class Augment:
    """Probabilities (0 = never) and ranges of each change."""
    rotate: float = 0.0      # up to ± degrees
    zoom: float = 0.0        # scale in [1 - zoom, 1 + zoom]
    lighting: float = 0.0    # side light (a ramp of gain across the face) or a hard shadow
    occlusion: float = 0.0   # sunglasses, a face mask or a random block
    blur: float = 0.0        # Gaussian blur, sigma 0.6-1.8 px of a 112 crop
    low_res: float = 0.0     # down to 20-45% of the side and back up

    @classmethod
    def strong(cls, rotate: float = 0.0, zoom: float = 0.0) -> "Augment":
        return cls(rotate=rotate, zoom=zoom, lighting=0.3, occlusion=0.2, blur=0.15, low_res=0.15)


def turn(x: torch.Tensor, degrees: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Each image of the batch turned anticlockwise by `degrees` (as seen on screen) and magnified
    by `scale` about its centre, bilinear, edge pixels repeated."""
    angle = torch.deg2rad(degrees.float())
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    zero = torch.zeros_like(cos)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def _chosen(n: int, p: float, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(n, generator=gen) < p


def _frame_coords(s: int, box: tuple[float, float, float]) -> tuple[torch.Tensor, torch.Tensor]:
    """(S,) x and y of each pixel centre in 112-frame fractions."""
    x0, y0, side = box
    t = (torch.arange(s, dtype=torch.float32) + 0.5) / s * side
    return x0 + t, y0 + t


def lighting(x: torch.Tensor, gen: torch.Generator, p: float) -> torch.Tensor:
    """Side light: gain 1 ± a across the face along a random direction; or a hard shadow: one side
    of a random soft-edged line darkened to 25-65%. Applied to linear-ish [0, 1] intensities."""
    n, _, s, _ = x.shape
    pick = _chosen(n, p, gen)
    if not pick.any():
        return x
    idx = pick.nonzero().flatten()
    m = len(idx)
    v = torch.linspace(-1, 1, s)
    yy, xx = torch.meshgrid(v, v, indexing="ij")
    theta = _uniform(m, 0, 2 * torch.pi, gen)
    along = torch.cos(theta)[:, None, None] * xx + torch.sin(theta)[:, None, None] * yy   # (m,S,S)
    ramp = 1 + _uniform(m, 0.4, 0.9, gen)[:, None, None] * along
    edge = torch.sigmoid((along - _uniform(m, -0.4, 0.4, gen)[:, None, None]) * _uniform(m, 4, 25, gen)[:, None, None])
    shadow = 1 - (1 - _uniform(m, 0.25, 0.65, gen))[:, None, None] * edge
    hard = _chosen(m, 0.5, gen)[:, None, None]
    gain = torch.where(hard, shadow, ramp).clamp(0.15, 2.0)[:, None]
    out = x.clone()
    out[idx] = ((x[idx] + 1) * 0.5 * gain).clamp(0, 1) * 2 - 1
    return out


def occlusion(x: torch.Tensor, gen: torch.Generator, p: float,
              box: tuple[float, float, float] = FULL_BOX) -> torch.Tensor:
    """Dark glasses across the eyes, a mask over nose and mouth, or a random grey block."""
    n, _, s, _ = x.shape
    pick = _chosen(n, p, gen)
    if not pick.any():
        return x
    fx, fy = _frame_coords(s, box)
    out = x.clone()
    for i in pick.nonzero().flatten().tolist():
        kind = int(torch.randint(0, 3, (1,), generator=gen))
        if kind == 0:    # sunglasses: two dark lenses joined by a bridge
            top = float(_uniform(1, EYES_Y[0], EYES_Y[0] + 0.05, gen))
            bottom = float(_uniform(1, EYES_Y[1] - 0.04, EYES_Y[1], gen))
            rows = (fy >= top) & (fy <= bottom)
            cols = (fx >= 0.2) & (fx <= 0.8)
            colour = torch.full((3,), float(_uniform(1, -1.0, -0.5, gen)))
        elif kind == 1:  # mask: nose down to the chin, side to side
            rows = fy >= float(_uniform(1, *MASK_TOP, gen))
            cols = (fx >= 0.12) & (fx <= 0.88)
            colour = _uniform(3, -0.2, 1.0, gen) if bool(_chosen(1, 0.7, gen)) else _uniform(3, -1.0, -0.6, gen)
        else:            # a block anywhere, a quarter to a third of the side
            side = float(_uniform(1, 0.25, 0.35, gen))
            cx, cy = float(_uniform(1, 0.2, 0.8, gen)), float(_uniform(1, 0.2, 0.8, gen))
            rows = (fy - cy).abs() <= side / 2
            cols = (fx - cx).abs() <= side / 2
            colour = _uniform(3, -1.0, 1.0, gen)
        region = rows[:, None] & cols[None, :]
        out[i] = torch.where(region[None], colour[:, None, None].expand_as(out[i]), out[i])
    return out


def blur(x: torch.Tensor, gen: torch.Generator, p: float) -> torch.Tensor:
    """Gaussian blur of the chosen crops, one sigma a batch (0.6-1.8 px at 112, scaled)."""
    n, c, s, _ = x.shape
    pick = _chosen(n, p, gen)
    if not pick.any():
        return x
    sigma = float(_uniform(1, 0.6, 1.8, gen)) * s / 112
    r = max(1, int(3 * sigma + 0.5))
    t = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = (k / k.sum()).to(x.dtype)
    sel = x[pick]
    sel = F.pad(sel, (r, r, r, r), mode="replicate")
    sel = F.conv2d(sel, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    sel = F.conv2d(sel, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    out = x.clone()
    out[pick] = sel
    return out


def low_resolution(x: torch.Tensor, gen: torch.Generator, p: float) -> torch.Tensor:
    """The chosen crops shrunk to 20-45% of their side (one factor a batch) and enlarged back: a
    small face far from the camera."""
    n, _, s, _ = x.shape
    pick = _chosen(n, p, gen)
    if not pick.any():
        return x
    small = max(8, int(round(s * float(_uniform(1, 0.2, 0.45, gen)))))
    sel = F.interpolate(x[pick], size=(small, small), mode="bilinear", antialias=True, align_corners=False)
    out = x.clone()
    out[pick] = F.interpolate(sel, size=(s, s), mode="bilinear", align_corners=False)
    return out


def augment(x: torch.Tensor, gen: torch.Generator, aug: Augment = Augment(),
            box: tuple[float, float, float] = FULL_BOX) -> torch.Tensor:
    """One random view of each crop: the geometric changes first (so occluders stay where a face's
    eyes and mouth are), then light, occluders, colour, blur and resolution."""
    n, _, s, _ = x.shape
    if aug.rotate > 0 or aug.zoom > 0:
        x = turn(x, (torch.rand(n, generator=gen) * 2 - 1) * aug.rotate,
                 1 + (torch.rand(n, generator=gen) * 2 - 1) * aug.zoom)
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    pad = max(1, round(4 * s / 80))  # 4 px of an 80 crop
    xp = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    ox = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    oy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    x = torch.stack([xp[i, :, oy[i]:oy[i] + s, ox[i]:ox[i] + s] for i in range(n)])
    if aug.lighting > 0:
        x = lighting(x, gen, aug.lighting)
    if aug.occlusion > 0:
        x = occlusion(x, gen, aug.occlusion, box)
    contrast = 1.0 + (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.5
    bright = (torch.rand(n, 1, 1, 1, generator=gen) - 0.5) * 0.4
    x = x * contrast + bright
    grey = torch.rand(n, generator=gen) < 0.1
    x = torch.where(grey[:, None, None, None], x.mean(1, keepdim=True).expand_as(x), x)
    if aug.blur > 0:
        x = blur(x, gen, aug.blur)
    if aug.low_res > 0:
        x = low_resolution(x, gen, aug.low_res)
    return x.clamp_(-1.0, 1.0)


def student_view(x: torch.Tensor, size: int, box: tuple[float, float, float] = FULL_BOX) -> torch.Tensor:
    """The student's input cut from full-frame views (N,3,112,112): `box` of the frame at `size`,
    area-like resampling as the gallery's `alignment.recrop` does."""
    s = x.shape[-1]
    if tuple(box) != FULL_BOX:
        x0, y0, side = box
        a, b, w = round(x0 * s), round(y0 * s), max(1, round(side * s))
        x = x[:, :, b:b + w, a:a + w]
    if x.shape[-1] == size:
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
