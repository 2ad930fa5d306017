"""EdgeNeXt-x-small as EdgeFace-XS has it, with the gallery's 128-d head: the student that starts
from EdgeFace's published weights (app.training.pretrained).

Why this network: it names turned heads from the same aligned crops far more often than
Faceplugin's MobileFaceNet, and distilling it into MobileFaceNet on the near-frontal photos of
`../shared` did not carry that over (docs/experiments.md, "Turned heads" and "EdgeFace's own
network as the encoder"). The layers follow timm's `edgenext_x_small` (Maaz et al. 2022) with the names
EdgeFace's checkpoint uses, so its weights copy one to one; the module is written out here rather
than taken from timm, which would bring torchvision into the app and the bundle for one network.

Pixels go in as the app scales them, (p - 127.5) / 127.5, which is EdgeFace's own scaling.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

# EdgeNeXt-x-small: channels, blocks and depthwise kernel per stage; the last block of stages 1-3 is a
# split depth-wise transposed attention (SDTA) block over this many channel groups; stage 1's has
# the positional encoding.
DIMS = (32, 64, 100, 192)
DEPTHS = (3, 3, 9, 3)
KERNELS = (3, 5, 7, 9)
SCALES = (2, 2, 3, 4)
HEADS = 4
FEATURE_DIM = 512
_EPS = 1e-6


class _LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an N×C×H×W map."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return y.permute(0, 3, 1, 2)


class _Mlp(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class _ConvBlock(nn.Module):
    """Depthwise k×k convolution, then a channels-last inverted bottleneck, scaled, residual."""

    def __init__(self, dim: int, kernel: int):
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=_EPS)
        self.mlp = _Mlp(dim)
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.gamma * self.mlp(self.norm(self.conv_dw(x).permute(0, 2, 3, 1)))
        return x + y.permute(0, 3, 1, 2)


class _PositionalEncoding(nn.Module):
    """Fourier features of each place's (y, x), projected to the channels. The same for every
    face, so it is made for one and broadcast over the batch."""

    def __init__(self, dim: int, hidden: int = 32, temperature: float = 10000.0):
        super().__init__()
        self.token_projection = nn.Conv2d(2 * hidden, dim, 1)
        self.hidden, self.temperature = hidden, temperature

    def forward(self, h: int, w: int) -> torch.Tensor:
        dev = self.token_projection.weight.device
        ys = torch.arange(1, h + 1, device=dev, dtype=torch.float32)[:, None].expand(h, w) / (h + _EPS) * 2 * math.pi
        xs = torch.arange(1, w + 1, device=dev, dtype=torch.float32)[None, :].expand(h, w) / (w + _EPS) * 2 * math.pi
        d = torch.arange(self.hidden, device=dev, dtype=torch.float32)
        d = self.temperature ** (2 * torch.div(d, 2, rounding_mode="floor") / self.hidden)
        px, py = xs[..., None] / d, ys[..., None] / d
        px = torch.stack((px[..., 0::2].sin(), px[..., 1::2].cos()), dim=3).flatten(2)
        py = torch.stack((py[..., 0::2].sin(), py[..., 1::2].cos()), dim=3).flatten(2)
        pos = torch.cat((py, px), dim=2).permute(2, 0, 1)[None]  # 1 × 2·hidden × h × w
        return self.token_projection(pos.to(self.token_projection.weight.dtype))


class _CrossCovarianceAttention(nn.Module):
    """Attention across channels (a C×C map per head), not across places: linear in the image size."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.temperature = nn.Parameter(torch.ones(heads, 1, 1))
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 4, 1).unbind(0)
        attn = (F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)) * self.temperature
        return self.proj((attn.softmax(dim=-1) @ v).permute(0, 3, 1, 2).reshape(b, n, c))


class _SDTABlock(nn.Module):
    """Split depth-wise transposed attention: channel groups through a cascade of depthwise 3×3
    convolutions, cross-covariance attention, then the inverted bottleneck; residual."""

    def __init__(self, dim: int, scales: int, heads: int, positional: bool):
        super().__init__()
        width = max(int(math.ceil(dim / scales)), dim // scales)
        self.convs = nn.ModuleList(nn.Conv2d(width, width, 3, padding=1, groups=width) for _ in range(max(1, scales - 1)))
        self.pos_embd = _PositionalEncoding(dim) if positional else None
        self.norm_xca = nn.LayerNorm(dim, eps=_EPS)
        self.gamma_xca = nn.Parameter(torch.ones(dim))
        self.xca = _CrossCovarianceAttention(dim, heads)
        self.norm = nn.LayerNorm(dim, eps=_EPS)
        self.mlp = _Mlp(dim)
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        parts = x.chunk(len(self.convs) + 1, dim=1)
        out: list[torch.Tensor] = []
        sp = parts[0]
        for i, conv in enumerate(self.convs):
            sp = conv(sp if i == 0 else sp + parts[i])
            out.append(sp)
        out.append(parts[-1])
        x = torch.cat(out, 1)
        b, c, h, w = x.shape
        if self.pos_embd is not None:
            x = x + self.pos_embd(h, w)
        x = x.flatten(2).transpose(1, 2)  # b × hw × c
        x = x + self.gamma_xca * self.xca(self.norm_xca(x))
        x = self.gamma * self.mlp(self.norm(x.reshape(b, h, w, c)))
        return shortcut + x.permute(0, 3, 1, 2)


class _Stage(nn.Module):
    def __init__(self, cin: int, cout: int, depth: int, kernel: int, scales: int, positional: bool, first: bool):
        super().__init__()
        self.downsample: nn.Module = (nn.Identity() if first else
                                      nn.Sequential(_LayerNorm2d(cin, eps=_EPS), nn.Conv2d(cin, cout, 2, 2)))
        last: nn.Module = _ConvBlock(cout, kernel) if first else _SDTABlock(cout, scales, HEADS, positional)
        self.blocks = nn.Sequential(*[_ConvBlock(cout, kernel) for _ in range(depth - 1)], last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class _Feature(nn.Module):
    """Global average pool, LayerNorm, linear: EdgeFace's 512-d embedding."""

    def __init__(self, dim: int):
        super().__init__()
        self.norm = _LayerNorm2d(dim, eps=_EPS)
        self.fc = nn.Linear(dim, FEATURE_DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(x.mean((2, 3), keepdim=True)).flatten(1))


class EdgeNeXt(nn.Module):
    """EdgeNeXt-x-small at 112×112: EdgeFace's 512-d feature (`features`), then a linear map to
    the gallery's 128 dimensions, L2-normalised. `body` is a sequence (stem, four stages, the
    feature) so `--freeze N` keeps its first N parts as they start."""

    def __init__(self, input_size: int = 112, dim: int = 128, crop_box: list[float] | None = None,
                 net: str = "edgenext"):
        super().__init__()
        if input_size != 112:
            raise ValueError(f"edgenext takes 112 pixel crops, not {input_size}")
        self.input_size = input_size
        self.memory_format = torch.contiguous_format
        parts: OrderedDict[str, nn.Module] = OrderedDict(
            stem=nn.Sequential(nn.Conv2d(3, DIMS[0], 4, 4), _LayerNorm2d(DIMS[0], eps=_EPS)))
        for i in range(4):
            parts[f"stage{i}"] = _Stage(DIMS[max(i - 1, 0)], DIMS[i], DEPTHS[i], KERNELS[i], SCALES[i],
                                        positional=i == 1, first=i == 0)
        parts["feature"] = _Feature(DIMS[-1])
        self.body = nn.Sequential(parts)
        self.head = nn.Linear(FEATURE_DIM, dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 512-d feature before the gallery head (the published network's own output)."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.features(x)), dim=1)
