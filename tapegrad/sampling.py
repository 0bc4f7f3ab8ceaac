"""torch's random sampling beyond ``rand``/``randn``: ``bernoulli``, ``multinomial``,
``poisson``, and the in-place fills (``x.uniform_()``, ``x.normal_()`` ...) that ``nn.init``-style
code and hand-written layers call.

Every draw comes from ``generator`` (a ``tg.Generator``) or tapegrad's global random state,
which ``tg.manual_seed`` seeds; the numbers differ from torch's, whose generator is another.
An in-place fill writes through ``x[...] = sample``: it bumps the version counter,
refuses a leaf that requires grad outside ``no_grad`` (as torch), and passes no gradient to the
old value.  ``copy_`` is the same write of another tensor, whose gradient it passes on.
"""

from __future__ import annotations

import numpy as np

from . import dtypes
from .generator import draws as _draws
from .products import add_methods
from .recording import _as_tensor, _wrap
from .tensor import Tensor


def _float_values(t: Tensor, name: str) -> np.ndarray:
    v = np.asarray(t._v)
    if v.dtype.kind != "f":
        raise NotImplementedError(f'"{name}" not implemented for '
                                  f"'{dtypes.SCALAR_NAMES[v.dtype]}'")
    return v


def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """0/1 samples, 1 with probability ``input`` (or ``p``) elementwise, in ``input``'s dtype,
    as ``torch.bernoulli`` (no gradient).

    >>> import tapegrad as tg
    >>> tg.bernoulli(tg.tensor([0.0, 1.0]))
    tensor([0., 1.])
    """
    x = _as_tensor(input)
    probs = np.full(x.shape, p, np.float64) if p is not None else _float_values(x, "bernoulli")
    if np.any((probs < 0) | (probs > 1)) or np.any(np.isnan(probs)):
        raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.")
    dtype = x._v.dtype if x._v.dtype.kind == "f" else np.dtype(np.float64)
    return _wrap((_draws(generator).random(x.shape) < probs).astype(dtype))


def multinomial(input, num_samples: int, replacement: bool = False, *,
                generator=None) -> Tensor:
    """Indices drawn from the categories weighted by each row of ``input`` (1-D or 2-D,
    non-negative, not all zero), as ``torch.multinomial``: int64, without replacement unless
    ``replacement``.

    >>> import tapegrad as tg
    >>> tg.multinomial(tg.tensor([0.0, 3.0, 0.0]), 1)
    tensor([1])
    """
    w = _float_values(_as_tensor(input), "multinomial")
    if w.ndim not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    rows = w.reshape(-1, w.shape[-1]).astype(np.float64)
    n = rows.shape[1]
    if not replacement and num_samples > n:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                           "replacement")
    if not np.all(np.isfinite(rows)) or np.any(rows < 0):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    totals = rows.sum(axis=1)
    if np.any(totals <= 0):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if replacement:  # (inverse CDF: one uniform per draw)
        cdf = np.cumsum(rows, axis=1) / totals[:, None]
        u = _draws(generator).random((rows.shape[0], num_samples))
        out = np.stack([np.minimum(np.searchsorted(c, r, side="right"), n - 1)
                        for c, r in zip(cdf, u, strict=True)])
    else:  # (exponential keys over the weights, smallest first: draws without replacement,
        # zero weights last, as torch's)
        with np.errstate(divide="ignore"):
            keys = _draws(generator).exponential(size=rows.shape) / rows
        out = np.argsort(keys, axis=1, kind="stable")[:, :num_samples]
    out = out.astype(np.int64)
    return _wrap(out.reshape(w.shape[:-1] + (num_samples,)))


def poisson(input, generator=None) -> Tensor:
    """Poisson samples with rates ``input``, in its dtype, as ``torch.poisson`` (no gradient).

    >>> import tapegrad as tg
    >>> tg.poisson(tg.zeros(2))
    tensor([0., 0.])
    """
    rates = _float_values(_as_tensor(input), "poisson")
    if np.any(rates < 0) or np.any(np.isnan(rates)):
        raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
    return _wrap(_draws(generator).poisson(rates).astype(rates.dtype))


# -- in-place fills -------------------------------------------------------------------------------


def _fill(self: Tensor, sample: np.ndarray) -> Tensor:
    self[...] = _wrap(np.asarray(sample).astype(self._v.dtype, copy=False))
    return self


def uniform_(self, from_: float = 0, to: float = 1, *, generator=None) -> Tensor:
    """``self`` filled with uniform samples in ``[from_, to)``, as ``Tensor.uniform_``.

    >>> import tapegrad as tg
    >>> x = tg.empty(3).uniform_(2, 3); bool(((x >= 2) & (x < 3)).all())
    True
    """
    if from_ > to:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={from_}"
                           f" > to={to}")
    return _fill(self, from_ + (to - from_) * _draws(generator).random(self.shape))


def normal_(self, mean: float = 0, std: float = 1, *, generator=None) -> Tensor:
    """``self`` filled with normal samples, as ``Tensor.normal_``."""
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    return _fill(self, _draws(generator).normal(mean, std, self.shape))


def bernoulli_(self, p=0.5, *, generator=None) -> Tensor:
    """``self`` filled with 0/1 samples, 1 with probability ``p`` (a number or a tensor)."""
    probs = np.asarray(p._v if isinstance(p, Tensor) else p, np.float64)
    if np.any((probs < 0) | (probs > 1)):
        raise RuntimeError("bernoulli_ expects p to be in [0, 1], but got p=" + str(p))
    return _fill(self, _draws(generator).random(self.shape) < probs)


def exponential_(self, lambd: float = 1, *, generator=None) -> Tensor:
    """``self`` filled with exponential samples of rate ``lambd``."""
    if lambd <= 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return _fill(self, _draws(generator).exponential(1.0 / lambd, self.shape))


def geometric_(self, p: float, *, generator=None) -> Tensor:
    """``self`` filled with geometric samples (trials to the first success, from 1)."""
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    return _fill(self, _draws(generator).geometric(p, self.shape))


def cauchy_(self, median: float = 0, sigma: float = 1, *, generator=None) -> Tensor:
    """``self`` filled with Cauchy samples."""
    return _fill(self, median + sigma * _draws(generator).standard_cauchy(self.shape))


def log_normal_(self, mean: float = 1, std: float = 2, *, generator=None) -> Tensor:
    """``self`` filled with samples whose log is normal(``mean``, ``std``)."""
    if std <= 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    return _fill(self, _draws(generator).lognormal(mean, std, self.shape))


def random_(self, from_: int = 0, to: int | None = None, *, generator=None) -> Tensor:
    """``self`` filled with integers drawn uniformly from ``[from_, to)`` (``random_(to)``:
    from 0; no bounds: the integers the dtype's mantissa holds exactly, as torch)."""
    if to is None and from_ != 0:
        from_, to = 0, from_
    if to is None:
        kind = self._v.dtype
        to = 2 ** (np.finfo(kind).nmant + 1) + 1 if kind.kind == "f" else \
            int(np.iinfo(kind).max) if kind.kind in "iu" else 2
    if from_ >= to:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} "
                           f">= to={to}")
    return _fill(self, _draws(generator).integers(from_, to, self.shape))


def copy_(self, src, non_blocking: bool = False) -> Tensor:
    """``src``'s values (broadcast, cast to ``self``'s dtype) written into ``self``, as
    ``Tensor.copy_``: the gradient flows to ``src``, none to ``self``'s old value.

    >>> import tapegrad as tg
    >>> tg.zeros(2, 2).copy_(tg.tensor([1.0, 2.0]))
    tensor([[1., 2.],
            [1., 2.]])
    """
    src = _as_tensor(src)
    try:
        if np.broadcast_shapes(src.shape, self.shape) != tuple(self.shape):
            raise ValueError
    except ValueError:
        raise RuntimeError(f"The size of tensor a ({self.shape[-1] if self.dim() else 1}) must "
                           f"match the size of tensor b ({src.shape[-1] if src.dim() else 1}) at "
                           "non-singleton dimension "
                           f"{max(self.dim() - 1, 0)}") from None
    if src._v.dtype != self._v.dtype:
        src = src.to(dtypes.from_numpy_dtype(self._v.dtype))
    self[...] = src
    return self


add_methods(bernoulli, multinomial, uniform_, normal_, bernoulli_, exponential_, geometric_,
            cauchy_, log_normal_, random_, copy_)
