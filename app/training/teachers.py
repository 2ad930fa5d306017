"""Teacher networks for distillation: ONNX face encoders that embed the student's own augmented
views while it trains.

Every teacher takes a batch of 112x112 ArcFace-frame crops (the project's `align(rgb, face, 112)`)
as the student's normalised tensor (pixel / 127.5 - 1, NCHW RGB) and returns unit embeddings.
Files are found like YuNet's: an explicit path, `$ONESHOT_TEACHER_<NAME>`, the user's model folder,
then `../shared/models` for development. A file whose SHA-256 is not the published one is refused,
so a truncated download never teaches anything. dlib's ResNet (`app.recognition.dlib_teacher`) stays as the
offline teacher: it needs its own alignment, so it can only describe the clean photo.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from app import paths
from app.errors import ModelError
from app.fetch import sha256_file

FRAME = 112  # the ArcFace crop both teachers were trained on


@dataclass(frozen=True)
class TeacherSpec:
    name: str
    filename: str
    sha256: str
    dim: int
    runtime: str          # "onnxruntime" or "cv2.dnn"
    offset: float         # pixel normalisation: (pixel - offset) / scale
    scale: float
    model: str
    licence: str


SPECS: dict[str, TeacherSpec] = {
    "edgeface": TeacherSpec(
        "edgeface", "edgeface_xs.onnx", "d148486cde9d3077674b782c713a812d175bc20095507117650a3ce1d2117ebc",
        512, "onnxruntime", 127.5, 127.5,
        "EdgeFace-XS (Idiap Research Institute; George et al., IEEE T-BIOM 2024)",
        "CC BY-NC-SA 4.0 weights (trained on WebFace260M, research only): non-commercial, share-alike; "
        "a model distilled from it carries the same terms and credits EdgeFace"),
    "faceplugin": TeacherSpec(
        "faceplugin", "faceplugin_fr_feature.onnx",
        "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581",
        512, "cv2.dnn", 127.0, 128.0,
        "Faceplugin face feature model (npm faceplugin-face-recognition-js 0.0.1), MobileFaceNet-style",
        "MIT as packaged; the origin of the weights and their training data are not disclosed"),
}
OFFLINE = ("dlib",)   # teachers that describe the clean photo only, cached once (app.recognition.dlib_teacher)
NAMES = (*SPECS, *OFFLINE)


def parse_teachers(texts: list[str] | None) -> list[tuple[str, float]]:
    """["edgeface", "faceplugin:0.5"] → [("edgeface", 1.0), ("faceplugin", 0.5)]: weights relative to
    each other (the training's `distill` weight scales them all)."""
    out: list[tuple[str, float]] = []
    for text in texts or []:
        name, _, weight = text.partition(":")
        name = name.strip().lower()
        if name not in NAMES:
            raise ModelError(f"Unknown teacher {name!r}; choose from {', '.join(NAMES)}.")
        try:
            w = float(weight) if weight else 1.0
        except ValueError:
            raise ModelError(f"Teacher weight in {text!r} is not a number.") from None
        if not w > 0:
            raise ModelError(f"Teacher weight in {text!r} must be above 0.")
        if name in (n for n, _ in out):
            raise ModelError(f"Teacher {name!r} is given twice.")
        out.append((name, w))
    return out


def find_teacher_model(name: str, explicit: str | os.PathLike | None = None) -> Path | None:
    """The teacher's ONNX file: explicit path, $ONESHOT_TEACHER_<NAME>, the user's model folder,
    ../shared/models; None when none is there."""
    spec = SPECS[name]
    if explicit:
        return Path(explicit)
    env = os.environ.get(f"ONESHOT_TEACHER_{name.upper()}")
    if env:
        return Path(env)
    for folder in (paths.user_models_dir(create=False), paths.shipped_models_dir()):
        if (folder / spec.filename).is_file():
            return folder / spec.filename
    shared = paths.shared_dir()
    if shared is not None and (shared / "models" / spec.filename).is_file():
        return shared / "models" / spec.filename
    return None


def runtime_available(name: str) -> bool:
    """Whether this install can run the teacher (the bundle leaves onnxruntime out; cv2 is always there)."""
    import importlib.util
    return SPECS[name].runtime != "onnxruntime" or importlib.util.find_spec("onnxruntime") is not None


def available_teachers() -> list[str]:
    """The ONNX teachers this install can run and whose files are on this machine, best first."""
    return [n for n in SPECS if runtime_available(n) and find_teacher_model(n) is not None]


def model_teacher(training: dict) -> str | None:
    """The ONNX teacher a model was made with (its card's `training` section), else None.

    Why Retrain starts from it: a fine-tune pulls the active model's 128-d space onto its
    teacher's projected one; the same teacher keeps the geometry the model already has, another
    one moves every distance (docs/experiments.md: a head refitted onto EdgeFace's space lost
    3 points of rank-1 against Faceplugin's own)."""
    for t in training.get("teachers") or []:
        name = t.get("name") if isinstance(t, dict) else None
        if name in SPECS:
            return str(name)
    return None


class OnnxTeacher:
    """One ONNX teacher, loaded and checked. `embed` is called from the training loop, every step."""

    def __init__(self, name: str, model_path: str | os.PathLike | None = None, threads: int | None = None):
        if name not in SPECS:
            raise ModelError(f"{name!r} is not an ONNX teacher ({', '.join(SPECS)}).")
        self.spec = spec = SPECS[name]
        path = find_teacher_model(name, model_path)
        if path is None:
            raise ModelError(
                f"The {name} teacher ({spec.filename}) was not found. Give its file with --teacher-model "
                f"{name}=PATH, set ONESHOT_TEACHER_{name.upper()}, or put it in {paths.user_models_dir(create=False)}.")
        if not path.is_file():
            raise ModelError(f"The {name} teacher file {path} does not exist.")
        digest = sha256_file(path)
        if digest != spec.sha256:
            raise ModelError(f"The {name} teacher file {path} is damaged or not {spec.filename} "
                             f"(SHA-256 {digest[:12]}…, expected {spec.sha256[:12]}…).")
        self.path = path
        threads = threads or max(1, min(4, os.cpu_count() or 1))
        try:
            if spec.runtime == "onnxruntime":
                if not runtime_available(name):
                    raise ModelError(f"The {name} teacher needs onnxruntime (`pip install onnxruntime==1.32.0`), "
                                     "which this install lacks.")
                import onnxruntime as ort
                opts = ort.SessionOptions()
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
                opts.log_severity_level = 3
                self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
                self._input = self._session.get_inputs()[0].name
            else:
                self._net = cv2.dnn.readNet(str(path))
        except ModelError:
            raise
        except Exception as exc:  # onnxruntime and OpenCV raise their own types for a bad graph
            raise ModelError(f"The {name} teacher file {path} could not be loaded: {exc}") from None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dim(self) -> int:
        return self.spec.dim

    def describe(self, weight: float) -> dict:
        """What the model card records of this teacher."""
        return {"name": self.name, "model": self.spec.model, "file": self.spec.filename,
                "sha256": self.spec.sha256, "weight": weight, "licence": self.spec.licence}

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(N,3,112,112) student-normalised views (pixel/127.5 - 1) → (N,dim) unit float32 vectors."""
        if x.ndim != 4 or tuple(x.shape[1:]) != (3, FRAME, FRAME):
            raise ValueError(f"teachers take N x 3 x {FRAME} x {FRAME} crops, not {tuple(x.shape)}")
        if len(x) == 0:
            return torch.zeros((0, self.dim))
        pixels = (x.detach().float().cpu() + 1.0) * 127.5
        blob = ((pixels - self.spec.offset) / self.spec.scale).numpy()
        if self.spec.runtime == "onnxruntime":
            out = self._session.run(None, {self._input: np.ascontiguousarray(blob)})[0]
        else:  # cv2.dnn takes a blob of n faces; the graph's last reshape flattens them
            self._net.setInput(np.ascontiguousarray(blob))
            out = self._net.forward().reshape(len(blob), -1)
        out = torch.from_numpy(np.asarray(out, np.float32))
        return torch.nn.functional.normalize(out, dim=1)

    def embed_crops(self, crops: np.ndarray, batch: int = 64) -> np.ndarray:
        """(N,112,112,3) uint8 RGB crops → (N,dim) unit vectors, in batches."""
        from app.recognition.encoder import to_tensor
        parts = [self.embed(to_tensor(crops[i:i + batch])).numpy() for i in range(0, len(crops), batch)]
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32)


def load_teachers(chosen: list[tuple[str, float]], models: dict[str, str] | None = None
                  ) -> list[tuple[OnnxTeacher, float]]:
    """The online teachers among `chosen`, loaded (ModelError if one is missing or damaged)."""
    models = models or {}
    return [(OnnxTeacher(name, models.get(name)), w) for name, w in chosen if name in SPECS]


def parse_teacher_models(texts: list[str] | None) -> dict[str, str]:
    """["edgeface=/path/x.onnx"] → {"edgeface": "/path/x.onnx"}."""
    out: dict[str, str] = {}
    for text in texts or []:
        name, sep, path = text.partition("=")
        name = name.strip().lower()
        if not sep or name not in SPECS or not path:
            raise ModelError(f"--teacher-model takes NAME=PATH with NAME one of {', '.join(SPECS)}, not {text!r}.")
        out[name] = path
    return out
