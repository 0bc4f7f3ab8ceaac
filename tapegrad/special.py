"""``tapegrad.special``: torch.special's functions that tapegrad has, under torch.special's names,
and the gamma family's two functions that take a number besides the tensor (``polygamma``,
``mvlgamma``, also ``Tensor`` methods and ``tapegrad.`` functions as torch's).

>>> import tapegrad as tg
>>> tg.special.gammaln(tg.tensor([1.0, 2.0, 3.0]))
tensor([0.0000, 0.0000, 0.6931])
"""

from __future__ import annotations

import math

import numpy as np

from . import recording
from .fastpath import _arithmetic, _unary
from .ops import BY_KEY
from .surface import with_out
from .tensor import Tensor

# (the rest of torch.special's names that tapegrad has come from ``__getattr__`` below)
__all__ = ["polygamma", "mvlgamma", "i0e", "i1", "i1e", "ndtr", "ndtri", "log_ndtr", "erfcx",
           "xlog1py", "entr"]


def _floating(input) -> Tensor:
    t = recording._as_tensor(input)
    if t._v.dtype.kind != "f":  # (torch's math on integers: the default dtype)
        t = recording._wrap(np.asarray(t._v, recording._DEFAULT_FLOAT))
    return t


def _out(name: str, out, inputs: tuple, compute, *args) -> Tensor:
    return compute(*args) if out is None else with_out(name, out, inputs, compute, *args)


def polygamma(n: int, input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The ``n``-th derivative of the digamma function, as ``torch.polygamma``.

    >>> import tapegrad as tg
    >>> tg.polygamma(1, tg.tensor([1.0])).item()  # pi^2 / 6
    1.6449340668482264
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"polygamma(): argument 'n' (position 1) must be int, not "
                        f"{type(n).__name__}")
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return _out("polygamma", out, (input,), lambda t: _arithmetic(t, float(n), None,
                                                                  BY_KEY["polygamma"]),
                _floating(input))


def mvlgamma(input: Tensor, p: int, *, out: Tensor | None = None) -> Tensor:
    """The log of the multivariate gamma function of dimension ``p``, as ``torch.mvlgamma``:
    ``sum(lgamma(input - i / 2) for i < p) + p (p - 1) / 4 log(pi)``.

    >>> import tapegrad as tg
    >>> tg.mvlgamma(tg.tensor([2.5]), 2)
    tensor([0.8023])
    """
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")

    def compute(t):
        shifts = recording._wrap(np.asarray(-0.5 * np.arange(p), t._v.dtype))
        terms = (t.unsqueeze(-1) + shifts).lgamma()
        return terms.sum(-1) + p * (p - 1) / 4.0 * math.log(math.pi)

    return _out("mvlgamma", out, (input,), compute, _floating(input))


def _polygamma_method(self, n: int) -> Tensor:
    return polygamma(n, self)


def _mvlgamma_method(self, p: int) -> Tensor:
    return mvlgamma(self, p)


_polygamma_method.__name__ = _polygamma_method.__qualname__ = "polygamma"
_polygamma_method.__doc__ = "``polygamma(n, self)``, as ``torch.Tensor.polygamma``."
_mvlgamma_method.__name__ = _mvlgamma_method.__qualname__ = "mvlgamma"
_mvlgamma_method.__doc__ = "``mvlgamma(self, p)``, as ``torch.Tensor.mvlgamma``."
Tensor.polygamma = _polygamma_method
Tensor.mvlgamma = _mvlgamma_method


def _table(key: str, name: str):
    op = BY_KEY[key]

    def function(input: Tensor, *, out: Tensor | None = None) -> Tensor:
        return _out(name, out, (input,), lambda t: _unary(t, op), recording._as_tensor(input))

    function.__name__ = function.__qualname__ = name
    function.__doc__ = (f"Elementwise ``{name}``, as ``torch.special.{name}``.\n\n"
                        f"    >>> import tapegrad as tg\n    >>> tg.special.{name}(tg.ones(2))"
                        ".shape\n    tapegrad.Size([2])\n")
    return function


i0e = _table("special_i0e", "i0e")
i1 = _table("special_i1", "i1")
i1e = _table("special_i1e", "i1e")
ndtri = _table("special_ndtri", "ndtri")
log_ndtr = _table("special_log_ndtr", "log_ndtr")
erfcx = _table("special_erfcx", "erfcx")
entr = _table("special_entr", "entr")


def xlog1py(input, other, *, out: Tensor | None = None) -> Tensor:
    """``input * log1p(other)``, 0 where ``input`` is 0 (unless ``other`` is NaN), as
    ``torch.special.xlog1py``.

    >>> import tapegrad as tg
    >>> tg.special.xlog1py(tg.tensor([0.0, 2.0]), tg.tensor([-1.0, 0.0]))
    tensor([0., 0.])
    """
    op = BY_KEY["special_xlog1py"]
    a, b = recording._as_tensor(input), recording._as_tensor(other)
    return _out("xlog1py", out, (a, b), lambda x, y: _arithmetic(x, y, op), a, b)


def ndtr(input: Tensor, *, out: Tensor | None = None) -> Tensor:
    """The standard normal distribution function, ``(1 + erf(x / sqrt 2)) / 2``, as
    ``torch.special.ndtr`` (which is that composition, its gradient too).

    >>> import tapegrad as tg
    >>> tg.special.ndtr(tg.tensor([0.0]))
    tensor([0.5000])
    """
    return _out("ndtr", out, (input,), lambda t: (1.0 + (t * math.sqrt(0.5)).erf()) * 0.5,
                _floating(input))


def _alias(name: str, target):
    def function(*args, **kwargs):
        return target(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"``{name}``, as ``torch.special.{name}`` (``{target.__name__}``)."
    return function


def __getattr__(name: str):
    # the names that are tapegrad's own functions under torch.special's names, looked up on
    # use (tapegrad's namespace is complete only once it is imported)
    import tapegrad

    targets = {"gammaln": "lgamma", "digamma": "digamma", "psi": "digamma",
               "multigammaln": None, "i0": "i0", "erf": "erf", "erfc": "erfc",
               "erfinv": "erfinv", "expit": "sigmoid", "xlogy": "xlogy", "exp2": "exp2",
               "expm1": "expm1", "log1p": "log1p", "round": "round", "softmax": "softmax",
               "log_softmax": "log_softmax", "logsumexp": "logsumexp"}
    if name == "multigammaln":
        return mvlgamma
    if name in targets:
        target = getattr(tapegrad, targets[name])
        return target if name == targets[name] else _alias(name, target)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
