"""Starting the student from a published network: Faceplugin's MobileFaceNet or EdgeFace's EdgeNeXt.

A student trained from scratch on the few thousand labelled people here stays far below the
teachers however it is distilled (docs/experiments.md); one that starts from a network already
trained on many people only has to be moved into the gallery's 128 dimensions. Faceplugin's file
is a MobileFaceNet (app.recognition.networks.MobileFaceNet) with its batch norms folded into the
convolutions, so its weights are copied layer for layer; EdgeFace's is EdgeNeXt-x-small
(app.recognition.edgenext.EdgeNeXt), copied by name, its linear layers in graph order.

Reading an ONNX file's weights needs the `onnx` package (training only; not in the bundle).
"""

from __future__ import annotations

import os
from typing import Callable

import numpy as np
import torch
from torch import nn

from app.errors import ModelError
from app.recognition.edgenext import EdgeNeXt
from app.recognition.networks import MobileFaceNet

# Faceplugin's pixel scaling, (p - 127) / 128; the app feeds (p - 127.5) / 127.5, folded into the
# first convolution so the copied network computes exactly what the original does.
_MEAN, _STD = 127.0, 128.0


def _onnx_graph(path: str | os.PathLike) -> tuple[dict[str, np.ndarray], list[tuple[str, list[np.ndarray]]]]:
    """The graph's named weights, and (op type, weights) of each of its nodes, in graph order."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise ModelError("Starting from a published network's weights needs the onnx package "
                         "(pip install onnx==1.23.1).") from None
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf raises several types for a damaged file
        raise ModelError(f"{path} could not be read as an ONNX model ({type(exc).__name__}).") from None
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return inits, [(n.op_type, [inits[i] for i in n.input if i in inits]) for n in model.graph.node]


def _onnx_weights(path: str | os.PathLike) -> list[tuple[str, list[np.ndarray]]]:
    """(op type, weights) of each Conv and PRelu node of the graph, in graph order."""
    return [(op, w) for op, w in _onnx_graph(path)[1] if op in ("Conv", "PRelu")]


def mobilefacenet_from_faceplugin(path: str | os.PathLike, dim: int = 128) -> MobileFaceNet:
    """A MobileFaceNet whose body is Faceplugin's network (its 512-d output is `features`), the
    128-d head left at random: `fit_head` sets it. ModelError if the file is not that network."""
    net = MobileFaceNet(dim=dim)
    layers = [m for m in net.body.modules() if isinstance(m, (nn.Conv2d, nn.PReLU))]
    nodes = _onnx_weights(path)
    if len(nodes) != len(layers):
        raise ModelError(f"{path} is not Faceplugin's MobileFaceNet ({len(nodes)} layers, expected {len(layers)}).")
    with torch.no_grad():
        for layer, (op, weights) in zip(layers, nodes):
            if isinstance(layer, nn.Conv2d) and op == "Conv" and len(weights) == 2:
                w, b = (torch.from_numpy(np.array(a, np.float32)) for a in weights)
            elif isinstance(layer, nn.PReLU) and op == "PRelu" and len(weights) == 1:
                w, b = torch.from_numpy(np.array(weights[0], np.float32)).reshape(-1), None
            else:
                raise ModelError(f"{path} is not Faceplugin's MobileFaceNet (a {op} where a "
                                 f"{type(layer).__name__} belongs).")
            if w.shape != layer.weight.shape:
                raise ModelError(f"{path} is not Faceplugin's MobileFaceNet (weights {tuple(w.shape)} "
                                 f"where {tuple(layer.weight.shape)} belong).")
            layer.weight.copy_(w)
            if b is not None:
                assert isinstance(layer, nn.Conv2d) and layer.bias is not None  # only a Conv has one
                layer.bias.copy_(b)
        first = layers[0]
        assert isinstance(first, nn.Conv2d) and first.bias is not None  # the network's first layer
        scale = 127.5 / _STD
        first.bias.add_(first.weight.sum(dim=(1, 2, 3)) * (127.5 - _MEAN) / _STD)
        first.weight.mul_(scale)
    return net


# EdgeFace's checkpoint names → EdgeNeXt's (`body` is a sequence of named parts)
_EDGEFACE_PREFIXES = (("model.stem.", "body.stem."), ("model.head.", "body.feature."),
                      *((f"model.stages.{i}.", f"body.stage{i}.") for i in range(4)))


def edgenext_from_edgeface(path: str | os.PathLike, dim: int = 128) -> EdgeNeXt:
    """An EdgeNeXt whose body is EdgeFace-XS (its 512-d output is `features`), the 128-d head left
    at random: `fit_head` sets it. The export names every weight but the linear layers inside the
    blocks, which come as MatMul constants (transposed) in the order the blocks run. ModelError if
    the file is not that network."""
    net = EdgeNeXt(dim=dim)
    inits, nodes = _onnx_graph(path)
    state = net.state_dict()
    new: dict[str, torch.Tensor] = {}
    for name, array in inits.items():
        for old, ours in _EDGEFACE_PREFIXES:
            if name.startswith(old):
                key = ours + name[len(old):]
                if key not in state or state[key].numel() != array.size:
                    raise ModelError(f"{path} is not EdgeFace-XS ({name} {array.shape} has no place in EdgeNeXt).")
                new[key] = torch.from_numpy(np.array(array, np.float32)).reshape(state[key].shape)
    matmuls = [w[0] for op, w in nodes if op == "MatMul" and len(w) == 1]
    linears = [k for k in state if k.endswith(".weight") and k not in new and k != "head.weight"]
    if len(matmuls) != len(linears):
        raise ModelError(f"{path} is not EdgeFace-XS ({len(matmuls)} inner linear layers, expected {len(linears)}).")
    for key, w in zip(linears, matmuls):
        if w.T.shape != state[key].shape:
            raise ModelError(f"{path} is not EdgeFace-XS (weights {tuple(w.shape)} where {tuple(state[key].shape)} belong).")
        new[key] = torch.from_numpy(np.array(w.T, np.float32))
    missing = [k for k in state if k not in new and not k.startswith("head.")]
    if missing:
        raise ModelError(f"{path} is not EdgeFace-XS ({len(missing)} weights missing, {missing[0]} first).")
    new.update({k: v for k, v in state.items() if k.startswith("head.")})
    net.load_state_dict(new)
    return net


def fit_head(net: MobileFaceNet | EdgeNeXt, crops: torch.Tensor, targets: torch.Tensor, ridge: float = 1e-2) -> None:
    """Set the 128-d head to the least-squares map from the network's features of `crops` (already
    normalised, N×3×112×112) to `targets` (N×128, the teacher's projected embeddings): the student
    starts in the teacher's geometry, where the distillation terms can pull it closer."""
    net.eval()
    with torch.no_grad():
        feats = torch.cat([net.features(crops[i:i + 256]) for i in range(0, len(crops), 256)]).double()
        t = targets.double()
        mean, t_mean = feats.mean(0), t.mean(0)
        f = feats - mean
        gram = f.T @ f
        gram += ridge * gram.trace() / len(gram) * torch.eye(len(gram), dtype=gram.dtype)  # ridge relative to the features' scale
        w = torch.linalg.solve(gram, f.T @ (t - t_mean))  # 512 × dim
        net.head.weight.copy_(w.T.float())
        net.head.bias.copy_((t_mean - mean @ w).float())


# --init NAME: a published network to start from, instead of a saved encoder, and the function that
# copies its file into our network
COPY_PUBLISHED: dict[str, Callable[[str | os.PathLike, int], MobileFaceNet | EdgeNeXt]] = {
    "faceplugin": mobilefacenet_from_faceplugin, "edgeface": edgenext_from_edgeface}
PRETRAINED = tuple(COPY_PUBLISHED)
