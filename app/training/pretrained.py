"""Starting the student from a published network: Faceplugin's MobileFaceNet weights.

A student trained from scratch on the few thousand labelled people here stays far below the
teachers however it is distilled (docs/experiments.md); one that starts from a network already
trained on many people only has to be moved into the teacher's geometry and the gallery's 128
dimensions. Faceplugin's file is a MobileFaceNet (app.recognition.networks.MobileFaceNet) with its batch norms
folded into the convolutions, so its weights are copied layer for layer.

Reading an ONNX file's weights needs the `onnx` package (training only; not in the bundle).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from app.errors import ModelError
from app.recognition.networks import MobileFaceNet

# --init NAME: a published network to start from, instead of a saved encoder
PRETRAINED = ("faceplugin",)

# Faceplugin's pixel scaling, (p - 127) / 128; the app feeds (p - 127.5) / 127.5, folded into the
# first convolution so the copied network computes exactly what the original does.
_MEAN, _STD = 127.0, 128.0


def _onnx_weights(path: str | os.PathLike) -> list[tuple[str, list[np.ndarray]]]:
    """(op type, weights) of each Conv and PRelu node of the graph, in graph order."""
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise ModelError("Starting from Faceplugin's weights needs the onnx package "
                         "(pip install onnx==1.23.1).") from None
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf raises several types for a damaged file
        raise ModelError(f"{path} could not be read as an ONNX model ({type(exc).__name__}).") from None
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return [(n.op_type, [inits[i] for i in n.input if i in inits])
            for n in model.graph.node if n.op_type in ("Conv", "PRelu")]


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


def fit_head(net: MobileFaceNet, crops: torch.Tensor, targets: torch.Tensor, ridge: float = 1e-2) -> None:
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
