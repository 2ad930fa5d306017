"""The siamese encoder: one CNN, shared by every face, mapping an aligned crop to a unit 128-d vector.

"Siamese" is how it is used, not a second copy of weights: both faces of a pair (and anchor,
positive and negative of a triplet) go through the same `FaceNet` module. Weights travel with a
JSON model card (architecture, input size, training, metrics, calibrated τ, SHA-256), and loading
checks all of it so a damaged or foreign file gives a `ModelError`, never a traceback.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from app import paths
from app.errors import ModelError
from app.fetch import sha256_file
from app.recognition.alignment import FULL_BOX, checked_box
from app.recognition.matching import CohortScorer
from app.recognition.open_set import OpenSetRule
from app.store.atomic import atomic_write

ARCH_NAME = "oneshot-resnet-v1"
DEFAULT_ARCH: dict[str, Any] = {"input_size": 80, "widths": [32, 64, 128, 256], "blocks": [1, 2, 2, 1],
                                "dim": 128}
# Pixel normalisation: (x/255 - 0.5) / 0.5.
ENROL_SHIFT = 0.025  # 2 px of an 80-pixel crop: chosen on held-out training people (README)


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


NETS = ("resnet", "mobilefacenet")


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


def build_net(arch: dict[str, Any]) -> FaceNet | FaceEnsemble | MobileFaceNet:
    """The network a card's `arch` describes: a MobileFaceNet (`"net": "mobilefacenet"`), or one
    FaceNet, or an ensemble of them when members > 1."""
    members = arch.get("members", 1)
    if not isinstance(members, int) or members < 1:
        raise ValueError(f"members must be a whole number of at least 1, not {members!r}")
    kind = arch.get("net", "resnet")
    if kind not in NETS:
        raise ValueError(f"unknown network {kind!r} (one of {', '.join(NETS)})")
    if kind == "mobilefacenet":
        if members != 1:
            raise ValueError("a mobilefacenet model is one network")
        return MobileFaceNet(**member_arch(arch))
    one = {k: v for k, v in member_arch(arch).items() if k != "net"}
    return FaceNet(**one) if members == 1 else FaceEnsemble(members, **one)


@functools.lru_cache(maxsize=1)
def bf16_native() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX), where oneDNN runs
    the encoder about 1.8x as fast in it; elsewhere bfloat16 is emulated and slower. Asked once:
    `Encoder.embed` checks it on every frame."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _check_enrol_shift(value: Any) -> None:
    """A card's `inference.enrol_shift`: a fraction of the crop side, 0 (off) up to below 0.25."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 0.25:
        raise ValueError(f"enrol_shift must be a number from 0 to below 0.25, not {value!r}")


def crop_box_of(arch: dict[str, Any]) -> tuple[float, float, float]:
    """The arch's crop box (ValueError if malformed); the full frame when it has none."""
    box = arch.get("crop_box")
    return FULL_BOX if box is None else checked_box(box)


def to_tensor(crops: np.ndarray) -> torch.Tensor:
    """N x S x S x 3 uint8 RGB → normalised N x 3 x S x S float tensor."""
    t = torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float()
    return t.div_(127.5).sub_(1.0)


def resolve_device(device: str | None) -> torch.device:
    """"cuda" when asked and present, "cpu" when asked; None → CUDA when available, else CPU."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("--device cuda was asked for, but no CUDA device is available.")
    if device not in ("cpu", "cuda"):
        raise ModelError(f"Unknown device {device!r}; use cpu or cuda.")
    return torch.device(device)


@dataclass
class ModelCard:
    """What a weights file is and how good it is; stored as JSON next to the weights."""

    arch: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_ARCH))
    architecture: str = ARCH_NAME
    tau: float = 0.6
    version: str = "untrained"
    weights_sha256: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)  # distance histograms for the UI
    # The open-set table (app.recognition.open_set): strangers named per τ and gallery size, measured on
    # background faces the model never trained on; empty: decide with the one-to-one `tau`.
    open_set: dict[str, Any] = field(default_factory=dict)
    # Cohort normalisation (app.recognition.matching.CohortScorer): this model's embeddings of a fixed set of
    # training people's faces ("embeddings": float16 little-endian, base64), "k" and "offset";
    # empty: plain distances.
    cohort: dict[str, Any] = field(default_factory=dict)
    # flip_tta: embed each crop and its mirror image and average them (+2.3 points of DevTest
    # accuracy for the 48-epoch single model, at twice the embedding cost).
    # bf16_cpu: on CPUs with native bfloat16 (see `bf16_native`), embed under bfloat16 autocast:
    # 516 against 290 faces/s here (`bench`, the weights shipped before), the same LFW figures but
    # rank-1 0.773 against 0.771.
    # enrol_shift: an enrolment photo is embedded as the mean of its crop and four copies shifted
    # by this fraction of the crop side (see `Encoder.embed_enrolment`); 0 or absent: off.
    inference: dict[str, Any] = field(default_factory=lambda: {"flip_tta": True, "bf16_cpu": True,
                                                               "enrol_shift": ENROL_SHIFT})

    @property
    def input_size(self) -> int:
        return int(self.arch["input_size"])

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True)

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> "ModelCard":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(**data)
        except FileNotFoundError:
            raise ModelError(f"Model card {path} is missing.") from None
        except (ValueError, TypeError) as exc:
            raise ModelError(f"Model card {path} is damaged: {exc}") from None


def cohort_section(embeddings: np.ndarray, k: int, offset: float, source: str) -> dict[str, Any]:
    """A card's `cohort` section for these unit embeddings (stored as float16: 256 bytes a face)."""
    import base64
    e = np.asarray(embeddings, dtype="<f2")
    return {"faces": int(e.shape[0]), "dim": int(e.shape[1]), "k": int(k), "offset": round(float(offset), 6),
            "source": source, "embeddings": base64.b64encode(e.tobytes()).decode("ascii")}


def scorer_from_card(card: "ModelCard") -> CohortScorer | None:
    """The CohortScorer of a card's `cohort` section; ValueError if it is damaged."""
    import base64
    import binascii
    c = card.cohort
    if not c:
        return None
    try:
        raw = base64.b64decode(c["embeddings"], validate=True)
        faces, dim = int(c["faces"]), int(c["dim"])
        emb = np.frombuffer(raw, dtype="<f2").astype(np.float32).reshape(faces, dim)
        scorer = CohortScorer(emb, int(c["k"]), float(c["offset"]))
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise ValueError(f"cohort section is damaged: {exc}") from None
    if dim != int(card.arch.get("dim", 128)) or not np.all(np.isfinite(emb)) or not np.isfinite(scorer.offset):
        raise ValueError("cohort section is damaged: wrong size or non-finite values")
    return scorer


def card_path_for(weights: str | os.PathLike) -> Path:
    return Path(weights).with_suffix(".json")


def shipped_weights() -> Path:
    return paths.shipped_models_dir() / "encoder.pt"


class Encoder:
    """A loaded encoder ready to embed crops, on CPU or CUDA."""

    def __init__(self, net: FaceNet | FaceEnsemble | MobileFaceNet, card: ModelCard, device: str | torch.device | None = None,
                 path: Path | None = None):
        self.device = device if isinstance(device, torch.device) else resolve_device(device)
        # ignore: torch's stub overloads of Module.to leave out memory_format, which it takes
        self.net = net.to(self.device, memory_format=net.memory_format).eval()  # type: ignore[call-overload]
        self.card = card
        self.path = path
        self._frozen: dict[bool, Any] = {}  # bf16 → the frozen graph, or None where freezing failed

    @property
    def bf16(self) -> bool:
        """Whether `embed` runs in bfloat16: the card allows it and the CPU does it natively."""
        return self.device.type == "cpu" and bool(self.card.inference.get("bf16_cpu", False)) and bf16_native()

    @property
    def input_size(self) -> int:
        return self.card.input_size

    @property
    def crop_box(self) -> tuple[float, float, float]:
        """The part of the ArcFace frame this model was trained on (FULL_BOX if the card does not
        say); checked when the model is loaded."""
        return crop_box_of(self.card.arch)

    @property
    def version(self) -> str:
        return self.card.version

    @property
    def tau(self) -> float:
        """The one-to-one τ (verification pairs); the app decides with `open_set_rule` when the
        card has one."""
        return self.card.tau

    @functools.cached_property
    def scorer(self) -> CohortScorer | None:
        """The card's cohort normalisation (checked at load), None for plain distances."""
        return scorer_from_card(self.card)

    @functools.cached_property
    def open_set_rule(self) -> OpenSetRule | None:
        """The card's gallery-size-aware rule (checked at load), None for cards without one."""
        return OpenSetRule.from_card(self.card.open_set)

    @classmethod
    def load(cls, weights: str | os.PathLike | None = None, device: str | None = None) -> "Encoder":
        """Load weights + card, checking presence, SHA-256, architecture and shapes."""
        path = Path(weights) if weights else shipped_weights()
        if not path.is_file():
            raise ModelError(f"Encoder weights {path} are missing.")
        card = ModelCard.from_file(card_path_for(path))
        if card.architecture != ARCH_NAME:
            raise ModelError(f"{path} is a {card.architecture!r} model; this app runs {ARCH_NAME!r}.")
        try:
            crop_box_of(card.arch)
            build_net(card.arch)
            _check_enrol_shift(card.inference.get("enrol_shift", 0.0))
            OpenSetRule.from_card(card.open_set)
            scorer_from_card(card)
        except (ValueError, TypeError) as exc:
            raise ModelError(f"Model card of {path} is damaged: {exc}.") from None
        actual = sha256_file(path)
        if card.weights_sha256 and actual != card.weights_sha256:
            raise ModelError(f"Encoder weights {path} are damaged or replaced: SHA-256 {actual[:12]}… "
                             f"does not match the model card's {card.weights_sha256[:12]}….")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for a bad file
            raise ModelError(f"Encoder weights {path} could not be read ({type(exc).__name__}); "
                             "the file is damaged or not a weights file.") from None
        try:
            net = build_net(card.arch)
            net.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError) as exc:
            raise ModelError(f"Encoder weights {path} do not fit the architecture in its model card: "
                             f"{str(exc).splitlines()[0]}") from None
        return cls(net, card, device, path)

    @classmethod
    def load_or_shipped(cls, weights: str | os.PathLike | None = None,
                        device: str | None = None) -> tuple["Encoder", str | None]:
        """Load `weights`; if they are missing, damaged or of another architecture, load the
        shipped model instead and return why as a warning, so a bad file never stops the app.
        Errors of the shipped model itself (or of the device) are raised as they are."""
        try:
            return cls.load(weights, device), None
        except ModelError as exc:
            shipped = shipped_weights()
            if not weights or Path(weights).resolve() == shipped.resolve():
                raise
            reason = str(exc)
        return cls.load(shipped, device), f"{reason} Using the shipped model instead."

    @property
    def enrol_views(self) -> int:
        """How many crops `embed_enrolment` embeds per face: the crop and its 4 shifts, or just it."""
        return 5 if self.enrol_shift_px else 1

    @property
    def enrol_shift_px(self) -> int:
        """How far `embed_enrolment` shifts its extra views, in pixels of the crop (0: no views)."""
        frac = float(self.card.inference.get("enrol_shift", 0.0))
        return max(1, round(frac * self.input_size)) if frac > 0 else 0

    def embed_enrolment(self, crops: np.ndarray) -> np.ndarray:
        """Embeddings for the gallery: each crop and four copies shifted up, down, left and right
        (edge pixels repeated, as training's shift augmentation does), averaged and made unit.

        Why: a person is enrolled from one photo, so where the aligner happened to put that one
        face weighs on every later match; the mean over small shifts is nearer the person's
        other photos. Held-out training people: one-shot rank-1 0.742 → 0.759 (README). It costs
        five embeddings once per enrolment, nothing per live frame.
        """
        s = self.enrol_shift_px
        if s == 0 or len(crops) == 0:
            return self.embed(crops)
        n = crops.shape[1]
        padded = np.pad(crops, ((0, 0), (s, s), (s, s), (0, 0)), mode="edge")
        views = np.concatenate([padded[:, s - dy:s - dy + n, s - dx:s - dx + n]
                                for dy, dx in ((0, 0), (0, s), (0, -s), (s, 0), (-s, 0))])
        total = self.embed(views).astype(np.float64).reshape(5, len(crops), -1).sum(0)  # one pass for all
        return (total / np.linalg.norm(total, axis=1, keepdims=True)).astype(np.float32)

    @torch.inference_mode()
    def embed(self, crops: np.ndarray, batch_size: int = 16) -> np.ndarray:
        """N aligned crops (uint8 RGB, input_size²) → N x 128 float32 unit vectors. Batches of 16:
        a 112 px MobileFaceNet batch of 64 no longer fits the CPU's caches and costs about twice
        as much a face on one thread (benchmarks/embed_speed.py --batch)."""
        if len(crops) == 0:
            return np.zeros((0, int(self.card.arch.get("dim", 128))), np.float32)
        flip = bool(self.card.inference.get("flip_tta", False))
        bf16 = self.bf16
        out = []
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for i in range(0, len(crops), batch_size):
                x = to_tensor(crops[i:i + batch_size]).to(self.device)
                if flip:
                    n = len(x)
                    both = self._run(torch.cat([x, x.flip(3)]), bf16).float()
                    y = F.normalize(both[:n] + both[n:], dim=1)
                else:
                    y = self._run(x, bf16).float()
                    y = F.normalize(y, dim=1) if bf16 else y  # unit again after bfloat16 rounding
                out.append(y.cpu().numpy())
        return np.concatenate(out)


    def _run(self, x: torch.Tensor, bf16: bool) -> torch.Tensor:
        """The network on CPU through a frozen TorchScript graph: weights packed for oneDNN once
        and no Python between layers, which is most of a single face's cost for MobileFaceNet's
        ~60 small layers (benchmarks/embed_speed.py). Eager where freezing is not possible (CUDA,
        or a torch that cannot trace this network); the outputs are the same to float rounding."""
        if self.device.type != "cpu":
            return self.net(x)
        if bf16 not in self._frozen:
            self._frozen[bf16] = _freeze(self.net, x)
        graph = self._frozen[bf16]
        return self.net(x) if graph is None else graph(x)


def _freeze(net: nn.Module, example: torch.Tensor) -> Any:
    """`net` traced on `example` and frozen for inference, or None if torch cannot do it. The
    graph takes any batch size: nothing in these networks depends on it."""
    try:
        with warnings.catch_warnings():  # TorchScript is deprecated in favour of torch.compile, which
            warnings.simplefilter("ignore")  # needs a C++ compiler on the user's machine: not an option
            graph = torch.jit.freeze(torch.jit.trace(net.eval(), example, check_trace=False))
            graph = torch.jit.optimize_for_inference(graph)
            graph(example)
        return graph
    except Exception:  # any failure means "run eagerly", never a broken embedding
        return None


def combine_models(weights: list[str | os.PathLike], out: str | os.PathLike) -> ModelCard:
    """Save one `FaceEnsemble` made of already trained single-network models of one architecture
    (say, runs of one command with different seeds), so it can be evaluated and used like any
    model. τ starts as the members' mean; calibrate it (`training.loop.calibrate_card`) before use."""
    if len(weights) < 2:
        raise ModelError("Combining needs two or more models.")
    encs = [Encoder.load(w, "cpu") for w in weights]
    arch = encs[0].card.arch

    def shape(a: dict[str, Any]) -> dict[str, Any]:  # dropout changes training only, not the weights
        return {**a, "dropout": None}

    for e in encs:
        if not isinstance(e.net, FaceNet):
            raise ModelError(f"{e.path} is already an ensemble; combine single-network models.")
        if shape(e.card.arch) != shape(arch):
            raise ModelError(f"{e.path} has another architecture ({e.card.arch}) than {encs[0].path} ({arch}).")
    net = FaceEnsemble(len(encs), **arch)
    for member, e in zip(net.members, encs):
        member.load_state_dict(e.net.state_dict())
    card = ModelCard(arch={**arch, "members": len(encs)}, version=f"{Path(out).stem}-{int(time.time())}",
                     tau=float(np.mean([e.tau for e in encs])),
                     inference={**ModelCard().inference, **encs[0].card.inference})
    card.training = {"combined_from": [{"path": str(e.path), "version": e.version,
                                        "weights_sha256": e.card.weights_sha256} for e in encs],
                     "signals": list(encs[0].card.training.get("signals", []))
                                + [f"mean of {len(encs)} networks trained separately"]}
    save_model(net.eval(), card, out)
    return card


def save_model(net: FaceNet | FaceEnsemble | MobileFaceNet, card: ModelCard, path: str | os.PathLike) -> Path:
    """Write weights then card atomically (temp file + fsync + rename), card carrying the SHA-256."""
    path = Path(path)
    state = {k: v.detach().cpu() for k, v in net.state_dict().items()}
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    card.weights_sha256 = hashlib.sha256(data).hexdigest()
    card.architecture = ARCH_NAME
    with atomic_write(path) as f:
        f.write(data)
    write_card(card, path)  # a crash between the two leaves a SHA mismatch: a clear ModelError
    return path


def write_card(card: ModelCard, weights: str | os.PathLike) -> Path:
    """Rewrite the card beside `weights` atomically (metrics, τ); the weights are untouched."""
    path = card_path_for(weights)
    text = card.to_json()
    with atomic_write(path, text=True) as f:
        f.write(text)
    return path
