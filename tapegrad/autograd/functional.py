"""``tapegrad.autograd.functional``: torch.autograd.functional's ``vjp``, ``jvp``, ``jacobian``,
``hessian``, ``hvp`` and ``vhp``.

torch 2.13's contract, names, defaults and messages included: inputs and results are tensors or
tuples of tensors, nested exactly as torch nests them; the derivatives are computed with
:func:`tapegrad.autograd.grad`.  As in torch, forward-mode products (``jvp``, ``hvp``) use the
*double-backward trick*: the backward of the backward with respect to its (zero) cotangent, which
is linear in that cotangent, gives ``J v``.

Where torch computes by forward mode (``strategy="forward-mode"`` with ``vectorize=True``),
tapegrad, which has no forward mode, computes the same numbers by reverse mode; the combinations
torch refuses are refused with torch's error.  ``vectorize=True`` is accepted and computes as
``vectorize=False`` does (one backward per output element).

>>> import tapegrad as tg
>>> from tapegrad.autograd.functional import hessian
>>> hessian(lambda x: (x ** 3).sum(), tg.tensor([1.0, 2.0]))
tensor([[ 6.,  0.],
        [ 0., 12.]])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..grad_mode import enable_grad, is_grad_enabled, set_grad_enabled
from ..tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]

Tensors = Tensor | tuple[Tensor, ...]


# --------------------------------------------------------------------------- helpers (torch's)


def _as_tuple_nocheck(x: Any) -> tuple:
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _as_tuple(inp: Any, arg_name: str | None = None, fn_name: str | None = None) -> Any:
    """``(was a tuple, as a tuple of tensors)``, with torch's TypeError for a non-tensor."""
    if arg_name is None and fn_name is None:
        return _as_tuple_nocheck(inp)
    is_inp_tuple = True
    if not isinstance(inp, tuple):
        inp = (inp,)
        is_inp_tuple = False
    for i, el in enumerate(inp):
        if not isinstance(el, Tensor):
            if is_inp_tuple:
                raise TypeError(
                    f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of "
                    f"Tensors but the value at index {i} has type {type(el)}.")
            raise TypeError(
                f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors "
                f"but the given {arg_name} has type {type(el)}.")
    return is_inp_tuple, inp


def _tuple_postprocess(res: Any, to_unpack: bool | tuple[bool, bool]) -> Any:
    """Undo :func:`_as_tuple`: one level of tuple per ``False`` in ``to_unpack``."""
    if isinstance(to_unpack, tuple):
        if not to_unpack[1]:
            res = tuple(el[0] for el in res)
        if not to_unpack[0]:
            res = res[0]
    elif not to_unpack:
        res = res[0]
    return res


def _grad_preprocess(inputs: tuple, create_graph: bool, need_graph: bool) -> tuple:
    """New tensor objects for the inputs: differentiable views of them when the result must stay
    connected to them (``create_graph``), otherwise detached leaves.  Always new objects, so
    that tensors ``func`` closes over are told apart from the inputs (torch issue 32576)."""
    res = []
    for inp in inputs:
        if create_graph and inp.requires_grad:
            res.append(inp.view(tuple(inp.shape)))
        else:
            res.append(inp.detach().requires_grad_(need_graph))
    return tuple(res)


def _grad_postprocess(inputs: tuple, create_graph: bool) -> tuple:
    """Results without history unless ``create_graph`` (nested tuples of tensors too)."""
    if isinstance(inputs[0], Tensor):
        if not create_graph:
            return tuple(inp.detach() for inp in inputs)
        return inputs
    return tuple(_grad_postprocess(inp, create_graph) for inp in inputs)


def _validate_v(v: tuple, other: tuple, is_other_tuple: bool) -> None:
    if len(other) != len(v):
        if is_other_tuple:
            raise RuntimeError(
                f"v is a tuple of invalid length: should be {len(other)} but got {len(v)}.")
        raise RuntimeError("The given v should contain a single Tensor.")
    for idx, (el_v, el_other) in enumerate(zip(v, other, strict=True)):
        if el_v.size() != el_other.size():
            prepend = f"Entry {idx} in " if is_other_tuple else ""
            raise RuntimeError(
                f"{prepend}v has invalid size: should be {el_other.size()} but got "
                f"{el_v.size()}.")


def _check_requires_grad(inputs: tuple, input_type: str, strict: bool) -> None:
    """In strict mode, torch's errors for results that cannot depend on the inputs."""
    if not strict:
        return
    for i, inp in enumerate(inputs):
        if inp is None:
            raise RuntimeError(
                f"The output of the user-provided function is independent of input {i}. This "
                "is not allowed in strict mode.")
        if not inp.requires_grad:
            if input_type == "hessian":
                raise RuntimeError(
                    f"The hessian of the user-provided function with respect to input {i} is "
                    "independent of the input. This is not allowed in strict mode. You should "
                    "ensure that your function is thrice differentiable and that the hessian "
                    "depends on the inputs.")
            if input_type == "jacobian":
                raise RuntimeError(
                    "While computing the hessian, found that the jacobian of the user-provided "
                    f"function with respect to input {i} is independent of the input. This is "
                    "not allowed in strict mode. You should ensure that your function is twice "
                    "differentiable and that the jacobian depends on the inputs (this would be "
                    "violated by a linear function for example).")
            if input_type == "grad_inputs":
                raise RuntimeError(
                    f"The gradient with respect to input {i} is independent of the inputs of "
                    "the user-provided function. This is not allowed in strict mode.")
            raise RuntimeError(
                f"Output {i} of the user-provided function does not require gradients. The "
                "outputs must be computed in a differentiable manner from the input when "
                "running in strict mode.")


def _autograd_grad(outputs: tuple, inputs: tuple, grad_outputs: tuple | None = None,
                   create_graph: bool = False, retain_graph: bool | None = None) -> tuple:
    """``autograd.grad`` over the outputs that require grad (``None`` entries allowed); ``None``
    for every input when there is none."""
    from .api import grad  # (the module imports this one's package)

    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    new_outputs: tuple = ()
    new_grad_outputs: tuple = ()
    for out, grad_out in zip(outputs, grad_outputs, strict=True):
        if out is not None and out.requires_grad:
            new_outputs += (out,)
            new_grad_outputs += (grad_out,)
    if not new_outputs:
        return (None,) * len(inputs)
    return tuple(grad(new_outputs, inputs, new_grad_outputs, allow_unused=True,
                      create_graph=create_graph, retain_graph=retain_graph))


def _zeros_like(t: Tensor) -> Tensor:
    return Tensor(np.zeros(tuple(t.shape), dtype=t.detach().numpy().dtype))


def _fill_in_zeros(grads: tuple, refs: tuple, strict: bool, create_graph: bool,
                   stage: str) -> tuple:
    """``None`` gradients as zeros shaped like ``refs``, or torch's strict-mode errors."""
    res: tuple = ()
    for i, grads_i in enumerate(grads):
        if grads_i is None:
            if strict:
                if stage == "back":
                    raise RuntimeError(
                        "The output of the user-provided function is independent of input "
                        f"{i}. This is not allowed in strict mode.")
                if stage == "back_trick":
                    raise RuntimeError(
                        f"The gradient with respect to the input is independent of entry {i} in "
                        "the grad_outputs when using the double backward trick to compute "
                        "forward mode gradients. This is not allowed in strict mode.")
                if stage == "double_back":
                    raise RuntimeError(
                        f"The jacobian of the user-provided function is independent of input "
                        f"{i}. This is not allowed in strict mode.")
                raise RuntimeError(
                    "The hessian of the user-provided function is independent of entry "
                    f"{i} in the grad_jacobian. This is not allowed in strict mode as it "
                    "prevents from using the double backward trick to replace forward mode AD.")
            grads_i = _zeros_like(refs[i])
        elif strict and create_graph and not grads_i.requires_grad:
            what = "hessian" if "double" in stage else "jacobian"
            raise RuntimeError(
                f"The {what} of the user-provided function is independent of input {i}. This "
                "is not allowed in strict mode when create_graph=True.")
        res += (grads_i,)
    return res


def _prepare_v(v: Any, against: tuple, is_against_tuple: bool, create_graph: bool,
               fn_name: str) -> tuple | None:
    """``v`` as a tuple of tensors checked against the shapes it pairs with (None stays)."""
    if v is None:
        return None
    _, v = _as_tuple(v, "v", fn_name)
    v = _grad_preprocess(v, create_graph=create_graph, need_graph=False)
    _validate_v(v, against, is_against_tuple)
    return v


def _single_output(outputs: tuple, is_outputs_tuple: bool, fn_name: str) -> None:
    if is_outputs_tuple or not isinstance(outputs[0], Tensor):
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor")
    if outputs[0].numel() != 1:
        raise RuntimeError(
            f"The Tensor returned by the function given to {fn_name} should contain a single "
            "element")


_V_NONE_INPUT = ("The vector v can only be None if the input to the user-provided function is "
                 "a single Tensor with a single element.")


# --------------------------------------------------------------------------- public API


def vjp(func: Callable[..., Tensors], inputs: Tensors, v: Tensors | None = None,
        create_graph: bool = False, strict: bool = False) -> tuple[Tensors, Tensors]:
    r"""``(func(inputs), v^T J)``: the vector-Jacobian product at ``inputs``, as
    ``torch.autograd.functional.vjp``.

    ``v`` has the output's shape(s); it may be omitted when ``func`` returns a single
    one-element tensor.  The product has the inputs' shapes; an input the outputs do not depend
    on gets zeros (``strict=True``: an error instead).  With ``create_graph=True`` output and
    product are differentiable.

    >>> import tapegrad as tg
    >>> from tapegrad.autograd.functional import vjp
    >>> def adder(x, y):
    ...     return 2 * x + 3 * y
    >>> out, (gx, gy) = vjp(adder, (tg.ones(2), tg.ones(2)), tg.ones(2))
    >>> gx, gy
    (tensor([2., 2.]), tensor([3., 3.]))
    """
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(
            outputs, "outputs of the user-provided function", "vjp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        if v is None and (len(outputs) != 1 or outputs[0].numel() != 1):
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
        v = _prepare_v(v, outputs, is_outputs_tuple, create_graph, "vjp")
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(outputs, inputs, v, create_graph=create_graph)
        result = _fill_in_zeros(grad_res, inputs, strict, create_graph, "back")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return (_tuple_postprocess(outputs, is_outputs_tuple),
            _tuple_postprocess(result, is_inputs_tuple))


def jvp(func: Callable[..., Tensors], inputs: Tensors, v: Tensors | None = None,
        create_graph: bool = False, strict: bool = False) -> tuple[Tensors, Tensors]:
    r"""``(func(inputs), J v)``: the Jacobian-vector product at ``inputs``, as
    ``torch.autograd.functional.jvp``, by the double-backward trick.

    ``v`` has the inputs' shape(s); it may be omitted when the input is a single one-element
    tensor.  The product has the outputs' shapes.

    >>> import tapegrad as tg
    >>> from tapegrad.autograd.functional import jvp
    >>> def adder(x, y):
    ...     return 2 * x + 3 * y
    >>> jvp(adder, (tg.ones(2), tg.ones(2)), (tg.ones(2), tg.ones(2)))[1]
    tensor([5., 5.])
    """
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        if v is None and (len(inputs) != 1 or inputs[0].numel() != 1):
            raise RuntimeError(_V_NONE_INPUT)
        v = _prepare_v(v, inputs, is_inputs_tuple, create_graph, "jvp")
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(
            outputs, "outputs of the user-provided function", "jvp")
        _check_requires_grad(outputs, "outputs", strict=strict)
        # the backward is linear in grad_outputs: their value does not matter (zeros: no
        # inf or nan), only that the backward graph depends on them
        grad_outputs = tuple(_zeros_like(out).requires_grad_(True) for out in outputs)
        grad_inputs = _autograd_grad(outputs, inputs, grad_outputs, create_graph=True)
        _check_requires_grad(grad_inputs, "grad_inputs", strict=strict)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(grad_inputs, grad_outputs, v, create_graph=create_graph)
        result = _fill_in_zeros(grad_res, outputs, strict, create_graph, "back_trick")
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return (_tuple_postprocess(outputs, is_outputs_tuple),
            _tuple_postprocess(result, is_outputs_tuple))


def jacobian(func: Callable[..., Tensors], inputs: Tensors, create_graph: bool = False,
             strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode") -> Any:
    r"""The Jacobian of ``func`` at ``inputs``, as ``torch.autograd.functional.jacobian``.

    One input and one output give one tensor of shape ``output.shape + input.shape``; a tuple
    on either side gives a tuple; tuples on both give ``J[i][j]`` for output ``i`` and input
    ``j``.  Each row is one backward sweep seeded with a unit vector.

    >>> import tapegrad as tg
    >>> from tapegrad.autograd.functional import jacobian
    >>> def exp_adder(x, y):
    ...     return 2 * x.exp() + 3 * y
    >>> jacobian(exp_adder, (tg.zeros(2), tg.zeros(2)))
    (tensor([[2., 0.],
            [0., 2.]]), tensor([[3., 0.],
            [0., 3.]]))
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError(
            'Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
            'function has more outputs than inputs, "forward-mode" tends to be more performant. '
            'Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError(
                "torch.autograd.functional.jacobian: `create_graph=True` and "
                '`strategy="forward-mode"` are not supported together (yet). Please either set '
                '`create_graph=False` or `strategy="reverse-mode"`.')
        if strict:
            raise RuntimeError(
                "torch.autograd.functional.jacobian: `strict=True` and "
                '`strategy="forward-mode"` are not supported together (yet). Please either set '
                '`strict=False` or `strategy="reverse-mode"`.')
        _as_tuple(inputs, "inputs", "jacobian")
        if not vectorize:
            raise NotImplementedError(
                "Computing Jacobian using forward-AD or forward-over-reverse Hessian is"
                "only implemented for `vectorize=True`.")
    forward = strategy == "forward-mode"  # (torch's numbers, computed by reverse mode)
    with enable_grad():
        is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
        inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
        outputs = func(*inputs)
        is_outputs_tuple, outputs = _as_tuple(
            outputs, "outputs of the user-provided function", "jacobian")
        _check_requires_grad(outputs, "outputs", strict=strict)
        if vectorize and strict:
            raise RuntimeError(
                "torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
                "supported together. Please either set `strict=False` or `vectorize=False`.")
        result: tuple = ()
        for i, out in enumerate(outputs):
            rows: tuple[list, ...] = tuple([] for _ in inputs)
            for seed in _unit_seeds(out):
                vj = _autograd_grad((out,), inputs, (seed,), retain_graph=True,
                                    create_graph=create_graph)
                for el_idx, (row, vj_el, inp_el) in enumerate(
                        zip(rows, vj, inputs, strict=True)):
                    if vj_el is not None:
                        if strict and create_graph and not vj_el.requires_grad:
                            # (torch names the output's index here, not the input's)
                            raise RuntimeError(
                                "The jacobian of the user-provided function is independent of "
                                f"input {i}. This is not allowed in strict mode when "
                                "create_graph=True.")
                        row.append(vj_el)
                    else:
                        if strict:
                            raise RuntimeError(
                                f"Output {i} of the user-provided function is independent of "
                                f"input {el_idx}. This is not allowed in strict mode.")
                        row.append(_zeros_like(inp_el))
            result += (tuple(_stack(row, out, inp)
                             for row, inp in zip(rows, inputs, strict=True)),)
        result = _grad_postprocess(result, create_graph)
        if forward:  # torch's forward mode nests in lists where its reverse mode has tuples
            result = [list(row) for row in result]
        return _tuple_postprocess(result, (is_outputs_tuple, is_inputs_tuple))


def _unit_seeds(out: Tensor):
    """``e_0, e_1, ...`` shaped like ``out`` (in its dtype), one at a time."""
    buffer = np.zeros(out.numel(), dtype=out.detach().numpy().dtype)
    shape = tuple(out.shape)
    for r in range(buffer.size):
        buffer[r] = 1
        yield Tensor(buffer.reshape(shape))  # Tensor() copies: the buffer can be reset
        buffer[r] = 0


def _stack(rows: list[Tensor], out: Tensor, inp: Tensor) -> Tensor:
    shape = tuple(out.shape) + tuple(inp.shape)
    if not rows:  # an empty output: torch stacks its empty list of rows, and raises
        raise RuntimeError("stack expects a non-empty TensorList")
    if len(rows) == 1 and tuple(rows[0].shape) == shape:
        # a 0-d output's one row is its Jacobian already (hessian's inner Jacobian, always):
        # torch's stack and view of it would add two records to differentiate through
        return rows[0]
    from ..functions import FUNCTIONS

    return FUNCTIONS["stack"](rows, dim=0).view(shape)


def hessian(func: Callable[..., Tensor], inputs: Tensors, create_graph: bool = False,
            strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode") -> Any:
    r"""The Hessian of scalar ``func`` at ``inputs``, as ``torch.autograd.functional.hessian``:
    the Jacobian of its gradient.  One input gives one tensor of shape
    ``input.shape + input.shape``; a tuple of inputs gives ``H[i][j]``.

    >>> import tapegrad as tg
    >>> from tapegrad.autograd.functional import hessian
    >>> def pow_adder_reducer(x, y):
    ...     return (2 * x.pow(2) + 3 * y.pow(2)).sum()
    >>> hessian(pow_adder_reducer, (tg.ones(2), tg.ones(2)))[1][1]
    tensor([[6., 0.],
            [0., 6.]])
    """
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def ensure_single_output_function(*inp: Tensor) -> Tensor:
        out = func(*inp)
        is_out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(t_out, "outputs", strict=strict)
        _single_output(t_out, is_out_tuple, "hessian")
        # (squeezing a 0-d tensor changes nothing but would record an op)
        return out if out.dim() == 0 else out.squeeze()

    def jac_func(*inp: Tensor) -> tuple:
        if outer_jacobian_strategy == "forward-mode":
            inp = tuple(t.requires_grad_(True) for t in inp)
        jac = jacobian(ensure_single_output_function, inp, create_graph=True)
        _check_requires_grad(jac, "jacobian", strict=strict)
        return jac

    res = jacobian(jac_func, inputs, create_graph=create_graph, strict=strict,
                   vectorize=vectorize, strategy=outer_jacobian_strategy)
    return _tuple_postprocess(res, (is_inputs_tuple, is_inputs_tuple))


def vhp(func: Callable[..., Tensor], inputs: Tensors, v: Tensors | None = None,
        create_graph: bool = False, strict: bool = False) -> tuple[Tensor, Tensors]:
    r"""``(func(inputs), v^T H)``: the vector-Hessian product of scalar ``func``, as
    ``torch.autograd.functional.vhp`` (two backward sweeps).

    >>> import tapegrad as tg
    >>> from tapegrad.autograd.functional import vhp
    >>> def pow_adder_reducer(x, y):
    ...     return (2 * x.pow(2) + 3 * y.pow(2)).sum()
    >>> vhp(pow_adder_reducer, (tg.ones(2), tg.ones(2)), (tg.zeros(2), tg.ones(2)))[1]
    (tensor([0., 0.]), tensor([6., 6.]))
    """
    with enable_grad():
        inputs, v, outputs, jac, tuples = _first_derivative(func, inputs, v, create_graph,
                                                            strict, "vhp")
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(jac, inputs, v, create_graph=create_graph)
        result = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back")
    return _second_order_result(outputs, result, create_graph, tuples)


def _first_derivative(func, inputs, v, create_graph: bool, strict: bool, name: str) -> tuple:
    """vhp's and hvp's common start (under enable_grad): the inputs and ``v`` checked and
    prepared, ``func``'s single output and its gradient recorded, whether inputs and outputs
    came as tuples."""
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", name)
    inputs = _grad_preprocess(inputs, create_graph=create_graph, need_graph=True)
    if v is None and (len(inputs) != 1 or inputs[0].numel() != 1):
        raise RuntimeError(_V_NONE_INPUT)
    v = _prepare_v(v, inputs, is_inputs_tuple, create_graph, name)
    outputs = func(*inputs)
    is_outputs_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", name)
    _check_requires_grad(outputs, "outputs", strict=strict)
    _single_output(outputs, is_outputs_tuple, name)
    jac = _autograd_grad(outputs, inputs, create_graph=True)
    _check_requires_grad(jac, "jacobian", strict=strict)
    return inputs, v, outputs, jac, (is_inputs_tuple, is_outputs_tuple)


def _second_order_result(outputs, result, create_graph: bool, tuples: tuple) -> tuple:
    is_inputs_tuple, is_outputs_tuple = tuples
    outputs = _grad_postprocess(outputs, create_graph)
    result = _grad_postprocess(result, create_graph)
    return (_tuple_postprocess(outputs, is_outputs_tuple),
            _tuple_postprocess(result, is_inputs_tuple))


def hvp(func: Callable[..., Tensor], inputs: Tensors, v: Tensors | None = None,
        create_graph: bool = False, strict: bool = False) -> tuple[Tensor, Tensors]:
    r"""``(func(inputs), H v)``: the Hessian-vector product of scalar ``func``, as
    ``torch.autograd.functional.hvp``, by the double-backward trick (three backward sweeps;
    for a twice continuously differentiable ``func``, :func:`vhp` gives the same in two).

    >>> import tapegrad as tg
    >>> from tapegrad.autograd.functional import hvp
    >>> def pow_adder_reducer(x, y):
    ...     return (2 * x.pow(2) + 3 * y.pow(2)).sum()
    >>> hvp(pow_adder_reducer, (tg.ones(2), tg.ones(2)), (tg.zeros(2), tg.ones(2)))[1]
    (tensor([0., 0.]), tensor([6., 6.]))
    """
    with enable_grad():
        inputs, v, outputs, jac, tuples = _first_derivative(func, inputs, v, create_graph,
                                                            strict, "hvp")
        grad_jac = tuple(_zeros_like(inp).requires_grad_(True) for inp in inputs)
        double_back = _autograd_grad(jac, inputs, grad_jac, create_graph=True)
        _check_requires_grad(jac, "hessian", strict=strict)
    with set_grad_enabled(True if create_graph else is_grad_enabled()):
        grad_res = _autograd_grad(double_back, grad_jac, v, create_graph=create_graph)
        result = _fill_in_zeros(grad_res, inputs, strict, create_graph, "double_back_trick")
    return _second_order_result(outputs, result, create_graph, tuples)
