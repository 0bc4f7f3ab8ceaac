"""``tapegrad.nn.utils``, as torch.nn.utils's: gradient clipping (``clip_grad_norm_``,
``clip_grad_value_``, ``get_total_norm``, ``clip_grads_with_norm_``) and the conversion between
parameters and one flat vector (``parameters_to_vector``, ``vector_to_parameters``).

>>> import tapegrad as tg
>>> w = tg.nn.Parameter(tg.tensor([3.0, 4.0]))
>>> w.grad = tg.tensor([3.0, 4.0])
>>> tg.nn.utils.clip_grad_norm_([w], max_norm=1.0)
tensor(5.)
>>> w.grad
tensor([0.6000, 0.8000])
"""

from __future__ import annotations

import math
import types
import warnings
from collections.abc import Iterable

import numpy as np

from ...creation import tensor
from ...grad_mode import no_grad
from ...tensor import Tensor, cat, stack

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_",
           "parameters_to_vector", "vector_to_parameters"]


def _vector_norm(x: Tensor, p: float) -> Tensor:
    """torch.linalg.vector_norm of all of ``x`` (outside autograd)."""
    a = x.reshape(-1).abs()
    if p == math.inf:
        return a.amax() if a.numel() else a.sum()
    if p == -math.inf:
        return a.amin()
    if p == 0:
        return (a != 0).to(x.dtype).sum()
    if p == 1:
        return a.sum()
    if p == 2:
        return (a * a).sum().sqrt()
    return (a ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of the norms of ``tensors`` (the norm of them all, as one
    vector).

    >>> import tapegrad as tg
    >>> tg.nn.utils.get_total_norm([tg.tensor([3.0]), tg.tensor([4.0])])
    tensor(5.)
    """
    tensors = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return tensor(0.0)
    with no_grad():
        norms = [_vector_norm(t.detach(), norm_type) for t in tensors]
        total = _vector_norm(stack(norms), norm_type)
    if error_if_nonfinite and not math.isfinite(float(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           "`parameters` is non-finite, so it cannot be clipped. To disable "
                           "this error and scale the gradients by the non-finite norm anyway, "
                           "set `error_if_nonfinite=False`")
    return total


def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scale the gradients by min(1, max_norm / (total_norm + 1e-6)), in place.

    >>> import tapegrad as tg
    >>> w = tg.nn.Parameter(tg.ones(1)); w.grad = tg.tensor([4.0])
    >>> tg.nn.utils.clip_grads_with_norm_([w], 1.0, tg.tensor(8.0)); w.grad
    tensor([0.5000])
    """
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad for p in parameters if p.grad is not None]
    max_norm = float(max_norm)
    if not grads:
        return
    with no_grad(), np.errstate(invalid="ignore"):  # (an inf norm: inf * 0 is NaN, silently)
        coef = (max_norm / (total_norm + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.to(g.dtype))


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Scale the gradients of ``parameters`` in place so that their total ``norm_type``-norm
    is at most ``max_norm``; returns the total norm before clipping.

    >>> import tapegrad as tg
    >>> w = tg.nn.Parameter(tg.ones(2)); w.grad = tg.tensor([-3.0, 1.0])
    >>> tg.nn.utils.clip_grad_norm_(w, 1.5, norm_type=float("inf"))
    tensor(3.)
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and not parameters:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will "
                          "occur.", stacklevel=2)
    grads = [p.grad for p in parameters if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_value_(parameters, clip_value: float, foreach: bool | None = None) -> None:
    """Clamp the gradients of ``parameters`` into [-clip_value, clip_value], in place.

    >>> import tapegrad as tg
    >>> w = tg.nn.Parameter(tg.ones(2)); w.grad = tg.tensor([-3.0, 0.5])
    >>> tg.nn.utils.clip_grad_value_(w, 1.0); w.grad
    tensor([-1.0000,  0.5000])
    """
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    clip_value = float(clip_value)
    with no_grad():
        for p in parameters:
            if p.grad is not None:
                p.grad[...] = p.grad.clamp(min=-clip_value, max=clip_value)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated into one vector (differentiable).

    >>> import tapegrad as tg
    >>> tg.nn.utils.parameters_to_vector([tg.ones(2, 1), tg.zeros(1)])
    tensor([1., 1., 0.])
    """
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Set each parameter's ``data`` to its slice of ``vec`` (in order).

    >>> import tapegrad as tg
    >>> w = tg.nn.Parameter(tg.zeros(2))
    >>> tg.nn.utils.vector_to_parameters(tg.tensor([1.0, 2.0]), [w]); w.data
    tensor([1., 2.])
    """
    if not isinstance(vec, Tensor):
        kind = type(vec)
        name = kind.__qualname__ if kind.__module__ == "builtins" else \
            f"{kind.__module__}.{kind.__qualname__}"
        raise TypeError(f"expected torch.Tensor, but got: {name}")
    pointer = 0
    for param in parameters:
        n = param.numel()
        param.data = vec[pointer:pointer + n].reshape(param.shape).data
        pointer += n


from . import rnn  # noqa: E402, F401  (nn.utils.rnn.pad_sequence)
