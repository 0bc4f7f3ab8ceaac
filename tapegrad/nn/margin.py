"""Margin losses, as torch.nn's: ``margin_ranking_loss``, ``hinge_embedding_loss``,
``triplet_margin_loss`` and their modules, with torch's ``reduction=`` modes and legacy
``size_average``/``reduce`` arguments.

>>> import tapegrad as tg, tapegrad.nn.functional as F
>>> F.margin_ranking_loss(tg.tensor([1.0, 2.0]), tg.tensor([2.0, 1.0]), tg.tensor([1.0, 1.0]))
tensor(0.5000)
"""

from __future__ import annotations

from ..tensor import Tensor, where
from .functional import _legacy_reduction, _reduce, pairwise_distance
from .layers import _Loss

__all__ = ["margin_ranking_loss", "hinge_embedding_loss", "triplet_margin_loss",
           "MarginRankingLoss", "HingeEmbeddingLoss", "TripletMarginLoss"]


def _reduction(size_average, reduce, reduction: str) -> str:
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """max(0, -target * (input1 - input2) + margin), reduced.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.margin_ranking_loss(tg.tensor([1.0]), tg.tensor([3.0]), tg.tensor([1.0]), 1.0)
    tensor(3.)
    """
    reduction = _reduction(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim != target.ndim:
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {input1.size()}, input2: {input2.size()}, "
                           f"target: {target.size()} ")
    loss = (-target * (input1 - input2) + margin).clamp(min=0.0)
    return _reduce(loss, reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """x where target is 1, max(0, margin - x) where target is -1 (torch's: both terms for any
    other target value), reduced.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.hinge_embedding_loss(tg.tensor([0.3, 2.0]), tg.tensor([-1.0, 1.0]))
    tensor(1.3500)
    """
    reduction = _reduction(size_average, reduce, reduction)
    margin_part = where(target != 1, (margin - input).clamp(min=0.0), 0.0)
    self_part = where(target != -1, input, 0.0)
    return _reduce(margin_part + self_part, reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean") -> Tensor:
    """max(0, d(a, p) - d(a, n) + margin) with d the p-norm pairwise distance (``swap``: the
    smaller of d(a, n) and d(p, n)), reduced.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> a = tg.tensor([[0.0, 0.0]])
    >>> F.triplet_margin_loss(a, a, a + 3.0, eps=0.0)
    tensor(0.)
    """
    reduction = _reduction(size_average, reduce, reduction)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    nd = anchor.ndim
    if positive.ndim != nd or negative.ndim != nd:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have "
                           f"the same number of dimensions, but got: anchor {nd}D, positive "
                           f"{positive.ndim}D, and negative {negative.ndim}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_swap = pairwise_distance(positive, negative, p, eps)
        d_neg = d_neg.minimum(d_swap)
    loss = (d_pos - d_neg + margin).clamp(min=0.0)
    return _reduce(loss, reduction)


class MarginRankingLoss(_Loss):
    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return margin_ranking_loss(input1, input2, target, margin=self.margin,
                                   reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    def __init__(self, margin: float = 1.0, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return hinge_embedding_loss(input, target, margin=self.margin,
                                    reduction=self.reduction)


class TripletMarginLoss(_Loss):
    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
                 swap: bool = False, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got "
                             f"{margin} instead")
        self.margin = margin
        self.p = p
        self.eps = eps
        self.swap = swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                   eps=self.eps, swap=self.swap, reduction=self.reduction)
