"""Metric-learning losses over a batch of unit embeddings with identity labels.

Triplet loss follows FaceNet (Schroff et al. 2015): ‖f(a)−f(p)‖² + α < ‖f(a)−f(n)‖², on squared
distances, with negatives mined online inside the P×K batch (semi-hard, or batch-hard as in
Hermans et al. 2017). The contrastive loss is the classic siamese one (Hadsell et al. 2006).
Distillation pulls each student embedding onto the teacher's embedding of the same face, and the
relational term matches the two models' pairwise distances.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def squared_distances(emb: torch.Tensor) -> torch.Tensor:
    """N x N squared Euclidean distances (clamped at 0 against rounding)."""
    sq = (emb * emb).sum(1)
    d = sq[:, None] + sq[None, :] - 2.0 * emb @ emb.t()
    return d.clamp_min(0.0)


def _masks(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    same = labels[:, None] == labels[None, :]
    eye = torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    return same & ~eye, ~same


def triplet_loss(emb: torch.Tensor, labels: torch.Tensor, margin: float = 0.2,
                 mining: str = "semihard") -> torch.Tensor:
    """Mean hinge max(d_ap − d_an + margin, 0) on squared distances.

    semihard: one triplet per (anchor, positive) pair; its negative is the closest one that is
      still farther than the positive (d_an > d_ap); if none is, the farthest negative (as in
      TensorFlow Addons' `triplet_semihard_loss`), so the loss never picks collapsing triplets.
    hard: one triplet per anchor, its farthest positive and closest negative.
    Anchors without a positive or a negative in the batch are skipped.
    """
    d = squared_distances(emb)
    pos, neg = _masks(labels)
    if mining == "hard":
        valid = pos.any(1) & neg.any(1)
        if not valid.any():
            return emb.sum() * 0.0
        d_ap = torch.where(pos, d, torch.full_like(d, -float("inf"))).amax(1)
        d_an = torch.where(neg, d, torch.full_like(d, float("inf"))).amin(1)
        return F.relu(d_ap - d_an + margin)[valid].mean()
    if mining != "semihard":
        raise ValueError(f"unknown mining {mining!r}")
    a_idx, p_idx = pos.nonzero(as_tuple=True)
    if len(a_idx) == 0:
        return emb.sum() * 0.0
    d_ap = d[a_idx, p_idx]                       # (T,)
    d_an_all = d[a_idx]                          # (T, N)
    negs = neg[a_idx]                            # (T, N)
    has_neg = negs.any(1)
    inf = torch.full_like(d_an_all, float("inf"))
    semi = negs & (d_an_all > d_ap[:, None])
    closest_semi = torch.where(semi, d_an_all, inf).amin(1)
    farthest = torch.where(negs, d_an_all, -inf).amax(1)
    d_an = torch.where(semi.any(1), closest_semi, farthest)
    loss = F.relu(d_ap - d_an + margin)
    return loss[has_neg].mean() if has_neg.any() else emb.sum() * 0.0


def contrastive_loss(emb: torch.Tensor, labels: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Mean over all pairs i<j of ½d² (same person) or ½max(margin − d, 0)² (different), d the
    Euclidean distance."""
    d2 = squared_distances(emb)
    n = len(labels)
    iu = torch.triu_indices(n, n, offset=1, device=emb.device)
    d2 = d2[iu[0], iu[1]]
    same = (labels[iu[0]] == labels[iu[1]]).float()
    d = (d2 + 1e-12).sqrt()
    loss = 0.5 * (same * d2 + (1 - same) * F.relu(margin - d) ** 2)
    return loss.mean() if len(loss) else emb.sum() * 0.0


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean squared distance between each student vector and its teacher vector (both unit)."""
    return ((student - teacher) ** 2).sum(1).mean()


def relational_loss(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of the two models' pairwise squared distances: keeps the student's
    geometry between faces like the teacher's, which is what verification thresholds rely on."""
    return ((squared_distances(student) - squared_distances(teacher)) ** 2).mean()
