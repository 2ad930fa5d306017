"""Losses against values worked out by hand on four 1-D embeddings.

x = [0, 0.5, 0.6, 2.0], labels [0, 0, 1, 1]. Squared distances:
d01=0.25 d02=0.36 d03=4 d12=0.01 d13=2.25 d23=1.96
"""

import pytest
import torch

from app.training.losses import contrastive_loss, distillation_loss, relational_loss, squared_distances, triplet_loss

X = torch.tensor([[0.0], [0.5], [0.6], [2.0]])
Y = torch.tensor([0, 0, 1, 1])


def test_squared_distances():
    d = squared_distances(X)
    assert d[0, 1].item() == pytest.approx(0.25)
    assert d[2, 3].item() == pytest.approx(1.96)
    assert d[1, 2].item() == pytest.approx(0.01, abs=1e-6)
    assert torch.allclose(d, d.t())


def test_semihard_by_hand():
    # (a,p)=(0,1): d_ap .25, negatives .36, 4 -> closest farther .36: .25-.36+.2 = .09
    # (1,0): d_ap .25, negatives .01, 2.25 -> 2.25: .25-2.25+.2 < 0 -> 0
    # (2,3): d_ap 1.96, negatives .36, .01, none farther -> farthest .36: 1.96-.36+.2 = 1.8
    # (3,2): d_ap 1.96, negatives 4, 2.25 -> 2.25: 1.96-2.25+.2 < 0 -> 0
    # mean = (.09 + 0 + 1.8 + 0) / 4 = .4725
    assert triplet_loss(X, Y, 0.2, "semihard").item() == pytest.approx(0.4725, abs=1e-5)


def test_batch_hard_by_hand():
    # anchor 0: .25 - .36 + .2 = .09; anchor 1: .25 - .01 + .2 = .44
    # anchor 2: 1.96 - .01 + .2 = 2.15; anchor 3: 1.96 - 2.25 + .2 < 0 -> 0; mean 2.68/4 = .67
    assert triplet_loss(X, Y, 0.2, "hard").item() == pytest.approx(0.67, abs=1e-5)


def test_margin_changes_loss():
    # semi-hard with margin 0: (0,1) -> .25-.36 < 0; (2,3) -> 1.6; mean .4
    assert triplet_loss(X, Y, 0.0, "semihard").item() == pytest.approx(0.4, abs=1e-5)


def test_triplet_without_positives_is_zero_and_differentiable():
    x = torch.randn(3, 4, requires_grad=True)
    loss = triplet_loss(x, torch.tensor([0, 1, 2]))
    assert loss.item() == 0.0
    loss.backward()


def test_contrastive_by_hand():
    # pairs: (0,1) same .5*.25=.125; (0,2) diff d=.6 -> .5*.4^2=.08; (0,3) d=2 -> 0;
    # (1,2) diff d=.1 -> .5*.9^2=.405; (1,3) d=1.5 -> 0; (2,3) same .5*1.96=.98
    # mean = 1.59/6 = .265
    assert contrastive_loss(X, Y, margin=1.0).item() == pytest.approx(0.265, abs=1e-5)


def test_distillation_and_relational_by_hand():
    s = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    t = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    # |(1,-1)|^2 = 2 and 0 -> mean 1
    assert distillation_loss(s, t).item() == pytest.approx(1.0)
    # student sq distances [[0,2],[2,0]], teacher all 0 -> (4+4)/4 = 2
    assert relational_loss(s, t).item() == pytest.approx(2.0)
    assert distillation_loss(t, t).item() == 0.0


def test_losses_train_embeddings_apart():
    torch.manual_seed(0)
    emb = torch.randn(8, 2, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    opt = torch.optim.SGD([emb], lr=0.1)
    first = None
    for _ in range(100):
        e = torch.nn.functional.normalize(emb, dim=1)
        loss = triplet_loss(e, labels, 0.2, "semihard")
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < first
