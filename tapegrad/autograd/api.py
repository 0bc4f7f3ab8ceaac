"""``tapegrad.autograd.backward`` and ``grad``, with torch's signatures, defaults and errors.

Both run the numba sweep of ``engine.py`` unless the gradient must be a graph itself
(``create_graph=True``, or inside ``tg.compile``, whose replay recomputes it): then the sweep of
``graph.py``, which records the backward as tensor operations.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import engine, hooks
from ..engine import backward as engine_backward
from ..grad_mode import STATE, set_grad_enabled
from ..recording import _wrap
from ..tape import sweep_order
from ..tensor import Tensor
from . import graph

_TensorOrTensors = Tensor | Sequence[Tensor]


def _tuple(x, what: str) -> tuple:
    if isinstance(x, Tensor):
        return (x,)
    if isinstance(x, (list, tuple)):
        return tuple(x)
    raise TypeError(f"{what}: expected a Tensor or a sequence of Tensors, got "
                    f"{type(x).__name__}")


def _size(shape: tuple) -> str:
    return f"tapegrad.Size([{', '.join(map(str, shape))}])"


def _seeds(outputs: tuple, grad_outputs, create_graph: bool) -> list[Tensor]:
    """The gradients the sweep starts from, checked as torch checks them."""
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    else:
        grad_outputs = _tuple(grad_outputs, "grad_outputs")
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"got {len(outputs)} tensors and {len(grad_outputs)} gradients")
    seeds = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs, strict=True)):
        if not isinstance(out, Tensor):
            raise TypeError(f"element {i} of outputs is not a Tensor "
                            f"({type(out).__name__})")
        if not out.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if out._v.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = _wrap(np.ones(out._v.shape, out._v.dtype))
        else:
            if not isinstance(g, Tensor):
                g = _wrap(np.asarray(g, dtype=out._v.dtype))
            if g._v.shape != out._v.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {_size(g._v.shape)} "
                    f"and output[{i}] has a shape of {_size(out._v.shape)}.")
            if not create_graph and g.requires_grad:
                g = g.detach()
        seeds.append(g)
    return seeds


def _records_gradient(create_graph: bool) -> bool:
    # inside tg.compile the gradient is always recorded: its replay must recompute it
    return create_graph or STATE.compile_tape is not None


def _swept(outputs: tuple, seeds: list, retain_graph: bool, inputs: tuple,
           create_graph: bool = False) -> graph.Found | None:
    """The gradients of the leaves ``inputs`` by the numba sweep (captured, not stored in
    ``.grad``), or None where it cannot give them: a recorded gradient, an output that is a
    leaf, an input that is not."""
    if _records_gradient(create_graph) or not all(t._tape is None for t in inputs) or \
            any(out._tape is None or out._stop for out in outputs):
        return None
    captured = dict.fromkeys(map(id, inputs))
    if len(outputs) == 1:
        engine_backward(outputs[0], seeds[0], retain_graph, _capture=captured)
    else:  # (one sweep of each tape, from all the outputs on it)
        order = sweep_order([out._tape for out in outputs])
        for tape in order:  # (as backward does: closed for good before it is read)
            if tape.closed is not True:
                engine._freeze(tape)
        engine.backward_several(
            [(out._tape, out._slot, np.asarray(g._v, np.float64).ravel())
             for out, g in zip(outputs, seeds, strict=True)], order, retain_graph, captured)
    found = graph.Found()
    for t in inputs:
        g = captured[id(t)]
        if g is not None:
            found.leaves[id(t)] = (t, _wrap(g.reshape(t._v.shape)))
    return found


def _run(outputs: tuple, seeds: list, create_graph: bool, retain_graph: bool,
         targets: tuple | None) -> graph.Found:
    record = _records_gradient(create_graph)
    if STATE.grad_enabled == record:  # (the common case: no mode to switch)
        found = graph.sweep(list(outputs), seeds, record, retain_graph, targets)
    else:
        with set_grad_enabled(record):
            found = graph.sweep(list(outputs), seeds, record, retain_graph, targets)
    if not retain_graph:
        for out in outputs:
            if out._tape is not None:
                out._tape.closed = out._tape.closed or (STATE.compile_tape is not out._tape)
    return found


def _result(found: graph.Found, t: Tensor, create_graph: bool):
    g = found.of(t)
    if g is None:
        return None
    if g._v.shape != t._v.shape:  # (a one-element value's slot keeps no shape)
        g = g.reshape(t._v.shape)
    if g._v.dtype != t._v.dtype and t._v.dtype.kind == "f":
        g = g.to(t.dtype)
    if not create_graph and g._tape is not None:
        if STATE.compile_tape is not None:
            g._stop = True  # recomputed by the replay, but passes no gradient
            g._tape.consts = [*g._tape.consts, g._slot]
        else:
            g = g.detach()
    return g


def grad(outputs: _TensorOrTensors, inputs: _TensorOrTensors,
         grad_outputs: _TensorOrTensors | None = None, retain_graph: bool | None = None,
         create_graph: bool = False, only_inputs: bool = True, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, as a tuple (``.grad`` untouched).

    With ``create_graph=True`` the gradients are recorded, so they can be differentiated again.

    >>> import tapegrad as tg
    >>> x = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> (g,) = tg.autograd.grad((x ** 3).sum(), x, create_graph=True)
    >>> g
    tensor([ 3., 12.], grad_fn=<MulBackward0>)
    >>> tg.autograd.grad(g.sum(), x)
    (tensor([ 6., 12.]),)
    """
    if is_grads_batched:
        raise NotImplementedError("tapegrad.autograd.grad: is_grads_batched=True is not "
                                  "supported")
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True, but got: allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    outputs = _tuple(outputs, "outputs")
    inputs = _tuple(inputs, "inputs")
    if not inputs:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    for t in inputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"inputs: expected Tensors, got {type(t).__name__}")
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    seeds = _seeds(outputs, grad_outputs, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    found = _swept(outputs, seeds, retain_graph, inputs, create_graph) or \
        _run(outputs, seeds, create_graph, retain_graph, inputs)
    result = []
    for i, t in enumerate(inputs):
        g = _result(found, t, create_graph)
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in "
                    "the graph. Set allow_unused=True if this is the desired behavior.")
            if materialize_grads:
                g = _wrap(np.zeros_like(t._v))
        result.append(g)
    return tuple(result)


def backward(tensors: _TensorOrTensors, grad_tensors: _TensorOrTensors | None = None,
             retain_graph: bool | None = None, create_graph: bool = False,
             grad_variables=None, inputs: _TensorOrTensors | None = None) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves (or of
    ``inputs`` only), as ``torch.autograd.backward``.

    >>> import tapegrad as tg
    >>> x = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> tg.autograd.backward([(x * x).sum(), x.sum()])
    >>> x.grad
    tensor([3., 5.])
    """
    if grad_variables is not None:
        grad_tensors = grad_variables
    tensors = _tuple(tensors, "tensors")
    if inputs is not None:
        inputs = _tuple(inputs, "inputs")
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    if not create_graph and inputs is None and len(tensors) == 1 and (
            grad_tensors is None or isinstance(grad_tensors, Tensor) or
            (isinstance(grad_tensors, (list, tuple)) and len(grad_tensors) == 1)):
        g = grad_tensors[0] if isinstance(grad_tensors, (list, tuple)) else grad_tensors
        tensors[0].backward(g, retain_graph)  # the numba sweep
        return
    seeds = _seeds(tensors, grad_tensors, create_graph)
    if retain_graph is None:
        retain_graph = create_graph
    found = inputs is not None and _swept(tensors, seeds, retain_graph, inputs,
                                          create_graph) or \
        _run(tensors, seeds, create_graph, retain_graph, inputs)
    deliver(found, inputs, create_graph)


def deliver(found: graph.Found, inputs: tuple | None, create_graph: bool) -> None:
    """Accumulate a graph sweep's gradients into ``.grad``: of every leaf reached and
    ``retain_grad`` tensor, or of ``inputs`` only (leaves or not)."""
    if inputs is None:
        for kept, g in found.retained:
            _accumulate(kept, g, create_graph)
        for leaf, g in found.leaves.values():
            _accumulate(leaf, g, create_graph)
            hooks.run_post_accumulate_hooks(leaf)
        return
    for t in inputs:
        g = found.of(t)
        if g is not None:
            _accumulate(t, g, create_graph)
            if t.is_leaf:
                hooks.run_post_accumulate_hooks(t)


def _accumulate(t: Tensor, g: Tensor, create_graph: bool) -> None:
    if g._v.dtype != t._v.dtype and t._v.dtype.kind == "f":
        g = g.to(t.dtype)
    if g._v.shape != t._v.shape:
        g = g.reshape(t._v.shape)
    if not create_graph:
        if g._tape is not None:
            g = g.detach()
        if t._grad is None:
            t._grad = _wrap(g._v.copy())
        else:
            t._accumulate(np.asarray(g._v, np.float64))
        return
    # torch: with create_graph the accumulated gradient is a graph too (out of place)
    t._grad = g if t._grad is None else t._grad + g
