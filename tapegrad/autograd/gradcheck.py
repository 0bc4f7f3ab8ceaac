"""``gradcheck`` and ``gradgradcheck`` with torch.autograd's signatures.

``gradcheck`` is :func:`tapegrad.gradcheck.gradcheck` (central differences against the tape's
vector-Jacobian products) behind torch's keyword arguments.  ``gradgradcheck`` is, as torch
defines it, the ``gradcheck`` of the function ``(inputs, grad_outputs) -> autograd.grad(
func(inputs), inputs, grad_outputs, create_graph=True)``: it checks the recorded gradient
computation, i.e. second derivatives.

The checks tapegrad cannot make -- forward-mode AD (``check_forward_ad``,
``check_fwd_over_rev``, ``check_batched_forward_grad``) and batched gradients through vmap
(``check_batched_grad``) -- raise ``NotImplementedError`` naming the argument, rather than
passing unchecked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..grad_mode import enable_grad
from ..gradcheck import DEFAULT_SEED, GradcheckError, _as_tuple
from ..gradcheck import gradcheck as _gradcheck
from ..tensor import Tensor

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]

Outputs = Tensor | Sequence[Tensor]


def _unsupported(**flags: bool) -> None:
    for name, value in flags.items():
        if value:
            raise NotImplementedError(
                f"gradcheck: {name}=True is not supported by tapegrad (it has no forward-mode "
                "AD and no vmap); the reverse-mode check (the default) is.")


def gradcheck(
    func: Callable[..., Outputs],
    inputs: Tensor | Sequence[Any],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_batched_forward_grad: bool = False,
    check_forward_ad: bool = False,
    check_backward_ad: bool = True,
    fast_mode: bool = False,
    masked: bool | None = None,
) -> bool:
    """Check the tape's gradients of ``func`` at ``inputs`` against central finite differences
    in float64, as ``torch.autograd.gradcheck``: ``True``, or :class:`GradcheckError` (a
    ``RuntimeError``) naming the output, the input and the worst Jacobian element, or ``False``
    with ``raise_exception=False``.

    The inputs that are tensors with ``requires_grad=True`` are checked.  tapegrad always
    checks the gradients' dtypes (``check_grad_dtypes``) and treats an undefined output
    gradient as zeros (what ``check_undefined_grad`` checks); ``masked`` concerns sparse
    tensors, which tapegrad does not have.  See :func:`tapegrad.gradcheck.gradcheck`.

    >>> import tapegrad as tg
    >>> x = tg.tensor([0.5, -1.0], requires_grad=True)
    >>> tg.autograd.gradcheck(lambda x: x.exp() * x, (x,))
    True
    """
    if not (check_forward_ad or check_backward_ad):
        raise AssertionError(
            "Expected at least one of check_forward_ad or check_backward_ad to be True")
    _unsupported(check_forward_ad=check_forward_ad,
                 check_batched_forward_grad=check_batched_forward_grad,
                 check_batched_grad=check_batched_grad)
    return _gradcheck(func, inputs, eps=eps, atol=atol, rtol=rtol,
                      raise_exception=raise_exception, fast_mode=fast_mode,
                      nondet_tol=nondet_tol)


def gradgradcheck(
    func: Callable[..., Outputs],
    inputs: Tensor | Sequence[Any],
    grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    gen_non_contig_grad_outputs: bool = False,
    raise_exception: bool = True,
    nondet_tol: float = 0.0,
    check_undefined_grad: bool = True,
    check_grad_dtypes: bool = False,
    check_batched_grad: bool = False,
    check_fwd_over_rev: bool = False,
    check_rev_over_rev: bool = True,
    fast_mode: bool = False,
    masked: bool = False,
) -> bool:
    """Check second derivatives, as ``torch.autograd.gradgradcheck``: :func:`gradcheck` of
    ``(*inputs, *grad_outputs) -> autograd.grad(func(*inputs), inputs, grad_outputs,
    create_graph=True)``, so the derivatives of the gradients with respect to both the inputs
    and the output gradients are checked.

    ``grad_outputs`` defaults, as in torch, to random tensors uniform in ``[-1, 1)`` shaped
    like ``func``'s differentiable outputs, requiring grad (drawn from a fixed seed: the global
    random state is untouched).  Positions in messages count ``inputs`` then ``grad_outputs``.
    (``gen_non_contig_grad_outputs`` is accepted; tapegrad's tensors are always contiguous.)

    >>> import tapegrad as tg
    >>> x = tg.tensor([0.5, -1.0], requires_grad=True)
    >>> tg.autograd.gradgradcheck(lambda x: x.sin() * x, (x,))
    True
    >>> tg.autograd.gradgradcheck(lambda x: x * x.detach() ** 2, (x,), raise_exception=False)
    False
    """
    if not (check_fwd_over_rev or check_rev_over_rev):
        raise AssertionError(
            "Expected at least one of check_fwd_over_rev or check_rev_over_rev to be True")
    if check_undefined_grad and not check_rev_over_rev:
        raise AssertionError(
            "Setting check_undefined_grad=True requires check_rev_over_rev to be True")
    if check_batched_grad and not check_rev_over_rev:
        raise AssertionError(
            "Setting check_batched_grad=True requires check_rev_over_rev to be True")
    _unsupported(check_fwd_over_rev=check_fwd_over_rev, check_batched_grad=check_batched_grad)
    tupled_inputs = _as_tuple(inputs)
    if grad_outputs is None:
        with enable_grad():
            outputs = _differentiable_outputs(func(*tupled_inputs))
        rng = np.random.default_rng(DEFAULT_SEED)
        tupled_grad_outputs = tuple(_random_like(o, rng) for o in outputs)
    else:
        tupled_grad_outputs = _as_tuple(grad_outputs)
    num_outputs = len(tupled_grad_outputs)
    diff_input_args_indices = {
        i for i, x in enumerate(tupled_inputs) if isinstance(x, Tensor) and x.requires_grad}
    diff_grad_output_indices = {
        i for i, x in enumerate(tupled_grad_outputs) if isinstance(x, Tensor) and x.requires_grad}

    def new_func(*args: Any) -> tuple[Tensor, ...]:
        from .api import grad  # (api imports this package)

        split = len(args) - num_outputs
        # gradcheck evaluates the finite differences on copies without requires_grad, under
        # no_grad: the inner gradient needs both back
        with enable_grad():
            input_args = tuple(x.requires_grad_() if i in diff_input_args_indices else x
                               for i, x in enumerate(args[:split]))
            outputs = _differentiable_outputs(func(*input_args))
            grads_out = tuple(x.requires_grad_() if i in diff_grad_output_indices else x
                              for i, x in enumerate(args[split:]))
            diff_input_args = tuple(x for i, x in enumerate(input_args)
                                    if i in diff_input_args_indices)
            grad_inputs = grad(outputs, diff_input_args, grads_out, create_graph=True,
                               allow_unused=True)
        return tuple(g for g in grad_inputs if g is not None)

    return gradcheck(new_func, tupled_inputs + tupled_grad_outputs, eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception, nondet_tol=nondet_tol,
                     check_undefined_grad=check_undefined_grad,
                     check_grad_dtypes=check_grad_dtypes, fast_mode=fast_mode, masked=masked)


def _differentiable_outputs(x: Any) -> tuple[Tensor, ...]:
    return tuple(o for o in _as_tuple(x) if o.requires_grad)


def _random_like(t: Tensor, rng: np.random.Generator) -> Tensor:
    dtype = t.detach().numpy().dtype
    if dtype.kind != "f":
        dtype = np.dtype(np.float64)
    return Tensor(rng.uniform(-1.0, 1.0, tuple(t.shape)).astype(dtype), requires_grad=True)
