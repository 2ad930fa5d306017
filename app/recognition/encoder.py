"""The encoder: a face network loaded from its weights and model card, checked, and run to embed
aligned crops as unit 128-d vectors, on CPU or CUDA; and `save_model`, which writes both files.

Loading checks everything (the card's sections, the SHA-256, the weights against the card's
architecture), so a damaged or foreign file gives a `ModelError`, never a traceback. The networks
themselves are app.recognition.networks; the card format is app.recognition.model_card.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from app import paths
from app.atomic import atomic_write
from app.errors import ModelError
from app.fetch import sha256_file
from app.recognition.matching import CohortScorer
from app.recognition.model_card import ARCH_NAME, ModelCard, card_path_for, crop_box_of, scorer_from_card, write_card
from app.recognition.networks import FaceEnsemble, FaceNet, Published, build_net
from app.recognition.open_set import OpenSetRule


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


def to_tensor(crops: np.ndarray) -> torch.Tensor:
    """N x S x S x 3 uint8 RGB → normalised N x 3 x S x S float tensor: (x/255 - 0.5) / 0.5."""
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


def shipped_weights() -> Path:
    return paths.shipped_models_dir() / "encoder.pt"


class Encoder:
    """A loaded encoder ready to embed crops, on CPU or CUDA."""

    def __init__(self, net: FaceNet | FaceEnsemble | Published, card: ModelCard, device: str | torch.device | None = None,
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


def save_model(net: FaceNet | FaceEnsemble | Published, card: ModelCard, path: str | os.PathLike) -> Path:
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
