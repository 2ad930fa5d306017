"""The face networks: the nn.Modules that map an aligned crop to a unit 128-d vector, and
`build_net`, which builds the one a model card's `arch` describes.

Kept apart from loading and inference (app.recognition.encoder) and from the card format
(app.recognition.model_card) because training builds and changes these networks directly, while
the app only ever runs one through an `Encoder`. "Siamese" is how a network is used, not a second
copy of weights: both faces of a pair (and anchor, positive and negative of a triplet) go through
the same module.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from app.recognition.edgenext import EdgeNeXt

DEFAULT_ARCH: dict[str, Any] = {"input_size": 80, "widths": [32, 64, 128, 256], "blocks": [1, 2, 2, 1],
                                "dim": 128}


class _Block(nn.Module):
    """Basic residual block (conv-BN-ReLU); ReLU rather than PReLU: 1.6x faster training on CPU."""

    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.act2 = nn.ReLU(inplace=True)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act1(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.act2(y + (x if self.short is None else self.short(x)))


class FaceNet(nn.Module):
    """Small ResNet: stem → 4 stages (each halves the resolution) → flatten (keeps where a feature
    sits on the face, which pooling would lose) → linear 128 → BN → L2 normalise."""

    def __init__(self, input_size: int = DEFAULT_ARCH["input_size"], widths: list[int] | None = None,
                 blocks: list[int] | None = None, dim: int = 128, dropout: float = 0.2,
                 crop_box: list[float] | None = None, head: str = "flatten"):
        super().__init__()
        # crop_box is how faces are cut for this net (alignment's business, see Encoder.crop_box);
        # accepted here so a card's whole `arch` builds the net.
        widths = widths or DEFAULT_ARCH["widths"]
        blocks = blocks or DEFAULT_ARCH["blocks"]
        self.input_size = input_size
        # channels_last runs oneDNN's fastest convolution kernels on CPU (~1.5x here), but torch
        # 2.13's backward corrupts the heap (and kills the process) on odd batches when the stem
        # is narrower than 16 channels, so such small nets keep the plain layout.
        self.memory_format = torch.channels_last if widths[0] >= 16 else torch.contiguous_format
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True))
        layers: list[nn.Module] = []
        cin = widths[0]
        for w, n in zip(widths, blocks):
            for i in range(n):
                layers.append(_Block(cin, w, 2 if i == 0 else 1))
                cin = w
        self.body = nn.Sequential(*layers)
        spatial = input_size // 2 ** len(widths)
        # dropout has no weights: cards without the key (all before it) load as 0.2
        if head == "flatten":
            self.head = nn.Sequential(nn.BatchNorm2d(cin), nn.Dropout(dropout), nn.Flatten(),
                                      nn.Linear(cin * spatial * spatial, dim, bias=False),
                                      nn.BatchNorm1d(dim))
        elif head == "gdc":  # MobileFaceNet's global depthwise conv: one weight per channel and place;
            # a third fewer weights, but lower rank-1 on held-out training people (README)
            self.head = nn.Sequential(nn.BatchNorm2d(cin),
                                      nn.Conv2d(cin, cin, spatial, groups=cin, bias=False),
                                      nn.BatchNorm2d(cin), nn.Dropout(dropout), nn.Flatten(),
                                      nn.Linear(cin, dim, bias=False), nn.BatchNorm1d(dim))
        else:
            raise ValueError(f"unknown head {head!r} (flatten or gdc)")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.contiguous(memory_format=self.memory_format)
        return F.normalize(self.head(self.body(self.stem(x))), dim=1)


class _ConvAct(nn.Sequential):
    """Convolution with bias (batch norm folded in, as in the published weights) and PReLU."""

    def __init__(self, cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1, act: bool = True):
        layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups)]
        if act:
            layers.append(nn.PReLU(cout))
        super().__init__(*layers)


class _Bottleneck(nn.Module):
    """MobileFaceNet's inverted bottleneck: expand (1×1), depthwise 3×3, project (1×1, linear)."""

    def __init__(self, cin: int, hidden: int, cout: int, stride: int):
        super().__init__()
        self.expand = _ConvAct(cin, hidden)
        self.dw = _ConvAct(hidden, hidden, 3, stride, hidden)
        self.project = _ConvAct(hidden, cout, act=False)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.dw(self.expand(x)))
        return x + y if self.residual else y


# (input channels, hidden, output channels, stride, repeats): the MobileFaceNet of Chen et al. 2018
# as Faceplugin's weights have it, so the student can start from them (app.training.pretrained)
MOBILEFACENET_STAGES = ((64, 128, 64, 2, 1), (64, 128, 64, 1, 4), (64, 256, 128, 2, 1), (128, 256, 128, 1, 6),
                        (128, 512, 128, 2, 1), (128, 256, 128, 1, 2))


class MobileFaceNet(nn.Module):
    """MobileFaceNet at 112×112 (the teachers' frame): a 512-d face feature, then a linear map to
    the gallery's 128 dimensions, L2-normalised. Chosen over `FaceNet` because a well-trained
    network of this shape exists to start from; the small ResNet trained here from scratch stayed
    far below the teachers (docs/experiments.md)."""

    def __init__(self, input_size: int = 112, dim: int = 128, crop_box: list[float] | None = None,
                 net: str = "mobilefacenet"):
        super().__init__()
        if input_size != 112:
            raise ValueError(f"mobilefacenet takes 112 pixel crops, not {input_size}")
        self.input_size = input_size
        self.memory_format = torch.channels_last
        layers: list[nn.Module] = [_ConvAct(3, 64, 3, 2), _ConvAct(64, 64, 3, 1, 64)]
        for cin, hidden, cout, stride, n in MOBILEFACENET_STAGES:
            layers += [_Bottleneck(cin if i == 0 else cout, hidden, cout, stride if i == 0 else 1) for i in range(n)]
        layers += [_ConvAct(128, 512), nn.Conv2d(512, 512, 7, groups=512), nn.Conv2d(512, 512, 1)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(512, dim)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The 512-d feature before the gallery head (the pretrained network's own output)."""
        return self.body(x.contiguous(memory_format=self.memory_format)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.head(self.features(x)), dim=1)


# the networks a published file's weights are copied into (app.training.pretrained): 112 px, one
# network, no mirror-image pass
PUBLISHED_NETS: dict[str, type[MobileFaceNet] | type[EdgeNeXt]] = {"mobilefacenet": MobileFaceNet, "edgenext": EdgeNeXt}
Published = MobileFaceNet | EdgeNeXt
NETS = ("resnet", *PUBLISHED_NETS)


class FaceEnsemble(nn.Module):
    """Several `FaceNet`s trained alike from different seeds; a face's embedding is the
    re-normalised mean of theirs. Averaging independent students cancels much of what each one
    learned by chance (three of them: one-shot rank-1 0.771 → 0.805 with the earlier runs)."""

    def __init__(self, members: int, **arch: Any):
        super().__init__()
        if members < 2:
            raise ValueError(f"an ensemble needs two or more members, not {members}")
        self.members = nn.ModuleList(FaceNet(**arch) for _ in range(members))
        self.input_size = self.members[0].input_size
        self.memory_format = self.members[0].memory_format

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(sum(m(x).float() for m in self.members), dim=1)


def member_arch(arch: dict[str, Any]) -> dict[str, Any]:
    """The arch of one network of `arch` (whose "members" key, if any, counts the networks)."""
    return {k: v for k, v in arch.items() if k != "members"}


def build_net(arch: dict[str, Any]) -> FaceNet | FaceEnsemble | MobileFaceNet | EdgeNeXt:
    """The network a card's `arch` describes: an EdgeNeXt (`"net": "edgenext"`), a MobileFaceNet
    (`"net": "mobilefacenet"`), or one FaceNet, or an ensemble of them when members > 1."""
    members = arch.get("members", 1)
    if not isinstance(members, int) or members < 1:
        raise ValueError(f"members must be a whole number of at least 1, not {members!r}")
    kind = arch.get("net", "resnet")
    if kind not in NETS:
        raise ValueError(f"unknown network {kind!r} (one of {', '.join(NETS)})")
    if kind in PUBLISHED_NETS:
        if members != 1:
            raise ValueError(f"a {kind} model is one network")
        return PUBLISHED_NETS[kind](**member_arch(arch))
    one = {k: v for k, v in member_arch(arch).items() if k != "net"}
    return FaceNet(**one) if members == 1 else FaceEnsemble(members, **one)
