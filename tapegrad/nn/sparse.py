"""Embeddings, as torch.nn's: ``F.embedding`` and ``Embedding`` (``padding_idx``, ``max_norm``,
``scale_grad_by_freq``; dense gradients only -- ``sparse=True`` raises).

A lookup is an index of the weight's rows (a recorded gather: rows used twice get both
gradients); the padding row's lookups are detached, so it gets no gradient, as torch's.

>>> import tapegrad as tg
>>> emb = tg.nn.Embedding(10, 3, padding_idx=0)
>>> emb(tg.tensor([[0, 2], [4, 0]])).shape
tapegrad.Size([2, 2, 3])
"""

from __future__ import annotations

import numpy as np

from ..node import rename as _named
from ..tensor import Tensor, _storage, _wrap, where
from . import init
from .module import Module, Parameter

__all__ = ["embedding", "Embedding"]


def _renorm(weight: Tensor, idx: np.ndarray, max_norm: float, norm_type: float) -> None:
    """torch's embedding_renorm_: rows looked up whose norm exceeds ``max_norm`` are scaled
    down in place, outside autograd."""
    rows = np.unique(idx)
    if rows.size == 0:
        return
    dest = _storage(weight)
    norms = np.linalg.norm(dest[rows].astype(np.float64), ord=norm_type, axis=1)
    big = norms > max_norm
    if big.any():
        scale = max_norm / (norms[big] + 1e-7)
        dest[rows[big]] = dest[rows[big]] * scale[:, None].astype(dest.dtype)
        weight._version_box()[0] += 1


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) at the integer ``input``: shape
    ``input.shape + (dim,)``.

    >>> import tapegrad as tg, tapegrad.nn.functional as F
    >>> F.embedding(tg.tensor([1, 0]), tg.tensor([[0.0, 1.0], [2.0, 3.0]]))
    tensor([[2., 3.],
            [0., 1.]])
    """
    if sparse:
        raise NotImplementedError("embedding(sparse=True): tapegrad has no sparse gradients; "
                                  "use sparse=False (a dense gradient of the same values)")
    v = input._v if isinstance(input, Tensor) else np.asarray(input)
    if v.dtype not in (np.int64, np.int32):
        kind = input.type() if isinstance(input, Tensor) else str(v.dtype)
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {kind} instead "
                           f"(while checking arguments for embedding)")
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    rows = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0 and padding_idx >= rows:
            raise AssertionError("Padding_idx must be within num_embeddings")
        if padding_idx < 0:
            if padding_idx < -rows:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = rows + padding_idx
    if v.size and (v.min() < 0 or v.max() >= rows):
        raise IndexError("index out of range in self")
    idx = np.asarray(v, dtype=np.int64)
    if max_norm is not None:
        _renorm(weight, idx, max_norm, norm_type)
    out = weight[idx]
    if scale_grad_by_freq and idx.size:
        # gradient / (the row's count in this batch); the value stays exactly the row
        counts = np.bincount(idx.ravel(), minlength=rows)
        scale = _wrap((1.0 / counts[idx])[..., None].astype(weight._v.dtype))
        scaled = out * scale
        out = out.detach() + (scaled - scaled.detach())
    if padding_idx is not None:
        pad = idx == padding_idx
        if pad.any():
            out = where(_wrap(pad[..., None]), out.detach(), out)
    return _named(out, "EmbeddingBackward0")


class Embedding(Module):
    """A lookup table of ``num_embeddings`` vectors of size ``embedding_dim``, initialised
    N(0, 1) (the padding row zero), as torch's."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: Tensor | None = None, _freeze: bool = False, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        if padding_idx is not None:
            if padding_idx > 0 and padding_idx >= num_embeddings:
                raise AssertionError("Padding_idx must be within num_embeddings")
            if padding_idx < 0:
                if padding_idx < -num_embeddings:
                    raise AssertionError("Padding_idx must be within num_embeddings")
                padding_idx = num_embeddings + padding_idx
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        if _weight is None:
            from .layers import _empty

            self.weight = Parameter(_empty((num_embeddings, embedding_dim), dtype),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if list(_weight.shape) != [num_embeddings, embedding_dim]:
                raise AssertionError("Shape of weight does not match num_embeddings and "
                                     "embedding_dim")
            self.weight = Parameter(_weight, requires_grad=not _freeze)
        self.sparse = sparse

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            _storage(self.weight)[self.padding_idx] = 0
            self.weight._version_box()[0] += 1

    def forward(self, input: Tensor) -> Tensor:
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq, self.sparse)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            s += ", sparse=True"
        return s

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        padding_idx: int | None = None, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding whose weight is ``embeddings`` (frozen unless ``freeze=False``)."""
        if embeddings.ndim != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        return cls(num_embeddings=rows, embedding_dim=cols, _weight=embeddings,
                   _freeze=freeze, padding_idx=padding_idx, max_norm=max_norm,
                   norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq, sparse=sparse)
