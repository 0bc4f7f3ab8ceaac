"""The functional API: ``grad``, ``value_and_grad``, ``vjp``, ``jacobian``, and the second-order
``hvp``, ``hessian`` and ``jvp`` (DESIGN.md §4).

These turn a function of tensors into a function that returns derivatives, in the style of
``jax.grad`` / ``torch.func.grad``, on top of the ordinary tape:

* Each differentiated argument is copied into a **fresh leaf** (``requires_grad=True``) before
  ``f`` is called.  The user's tensors are never mutated, never become part of a graph, and their
  ``.grad`` is never touched; a tensor with history is differentiated *as a value* (the result
  has no connection to that history).
* **Types follow the inputs.**  A NumPy array, Python number or list comes back as a NumPy array;
  a tensor comes back as a tensor without history.  Floating inputs keep their dtype (float32 in,
  float32 gradient out); integer and bool inputs are differentiated as float64.
* ``f`` is recorded under ``enable_grad`` so that these functions also work inside ``no_grad``
  (a training loop's evaluation block, say).
* **Inputs the output does not depend on get zeros** (of the input's shape and dtype), as in JAX
  and like ``torch.autograd.grad(..., allow_unused=True, materialize_grads=True)``, rather than
  ``None``: a zero gradient is the mathematically right answer, and an optimiser can consume it.
* Tensors ``f`` closes over (model parameters, say) are constants here: the backward pass may
  reach them, but their ``.grad`` is saved and restored around it.
* There is no module-level mutable state; grad mode and the open tape are thread-local, so the
  returned functions can be called from several threads at once (as long as ``f`` does not
  close over one tensor with history or ``requires_grad`` from several threads: tensors
  themselves are not thread-safe, as in torch).

Non-differentiated positional arguments and keyword arguments are passed to ``f`` unchanged
(a NumPy array stays a NumPy array: tensor operations accept it as a constant).  ``f`` returns a
tensor; a Python number or NumPy array it returns is taken as a constant (zero derivative).

>>> import numpy as np
>>> from tapegrad.functional import grad
>>> grad(lambda x: (x ** 3).sum())(np.array([1.0, 2.0]))
array([ 3., 12.])
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from .grad_mode import enable_grad
from .tensor import Tensor

__all__ = ["grad", "value_and_grad", "vjp", "jacobian", "hvp", "hessian", "jvp"]

Argnums = int | tuple[int, ...]


# --------------------------------------------------------------------------- public API


def grad(f: Callable[..., Tensor], argnums: Argnums = 0) -> Callable[..., Any]:
    """The gradient of scalar-valued ``f`` with respect to positional argument(s) ``argnums``.

    ``f`` must return a one-element tensor (0-d, or shape ``(1,)``, ``(1, 1)``...).  With an int
    ``argnums`` the returned function gives one gradient, shaped like that argument; with a
    tuple it gives a tuple of gradients, in the order of ``argnums``.

    >>> import numpy as np
    >>> import tapegrad as tg
    >>> from tapegrad.functional import grad
    >>> f = lambda x, y: (x * y).sum() + (y ** 2).sum()
    >>> grad(f)(np.array([1.0, 2.0]), np.array([3.0, 4.0]))         # d/dx = y
    array([3., 4.])
    >>> grad(f, argnums=(0, 1))(tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0]))
    (tensor([3., 4.]), tensor([ 7., 10.]))

    A Python number in gives a 0-d NumPy array out:

    >>> grad(lambda x: x.sin())(0.0)
    array(1.)

    An input the output does not depend on gets zeros:

    >>> grad(lambda x, y: (2 * y).sum(), argnums=0)(np.ones(2), np.ones(3))
    array([0., 0.])
    """
    nums, as_tuple = _check_argnums(argnums, "grad")

    def grad_f(*args: Any, **kwargs: Any) -> Any:
        _, grads = _value_and_grad(f, nums, args, kwargs, "grad")
        return grads if as_tuple else grads[0]

    return _named(grad_f, f, "grad")


def value_and_grad(f: Callable[..., Tensor], argnums: Argnums = 0) -> Callable[..., Any]:
    """Like :func:`grad`, but the returned function gives ``(value, gradient)``.

    The value is ``f``'s output without history: a tensor if any differentiated argument is a
    tensor, otherwise a NumPy array (0-d for a scalar), so that ``value_and_grad(f)`` plugs
    straight into ``scipy.optimize.minimize(..., jac=True)``.

    >>> import numpy as np
    >>> from tapegrad.functional import value_and_grad
    >>> value, g = value_and_grad(lambda x: (x ** 2).sum())(np.array([1.0, 2.0]))
    >>> value, g
    (array(5.), array([2., 4.]))
    """
    nums, as_tuple = _check_argnums(argnums, "value_and_grad")

    def value_and_grad_f(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        value, grads = _value_and_grad(f, nums, args, kwargs, "value_and_grad")
        return value, (grads if as_tuple else grads[0])

    return _named(value_and_grad_f, f, "value_and_grad")


def vjp(f: Callable[..., Tensor], *args: Any) -> tuple[Any, Callable[[Any], tuple[Any, ...]]]:
    """``f(*args)`` and a function that pulls a cotangent back through it, as ``jax.vjp``.

    ``vjp_fn(v)``, for ``v`` of ``f``'s output shape, returns ``v^T J`` for every positional
    argument: a tuple with one entry per argument, each shaped like its argument.  ``f`` is
    recorded once; ``vjp_fn`` can be called any number of times (each call is one backward
    sweep over the retained tape).  All arguments are differentiated.

    >>> import numpy as np
    >>> from tapegrad.functional import vjp
    >>> out, vjp_fn = vjp(lambda x, y: x * y, np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    >>> out
    array([3., 8.])
    >>> vjp_fn(np.array([1.0, 10.0]))
    (array([ 3., 40.]), array([ 1., 20.]))
    >>> vjp_fn(np.array([0.0, 1.0]))
    (array([0., 4.]), array([0., 2.]))
    """
    leaves, tensor_in = _leaves(args, range(len(args)))
    out = _call(f, leaves, args, range(len(args)), {}, "vjp")
    out_shape = tuple(out.shape)
    tensor_mode = any(tensor_in)
    value = _export(out, tensor_mode)

    def vjp_fn(v: Any) -> tuple[Any, ...]:
        seed = _cotangent(v, out_shape)
        with _constants_keep_grad(out, leaves) as reaches:
            grads = _sweep(out, leaves, seed, reaches)
        return tuple(_export(g, t) for g, t in zip(grads, tensor_in, strict=True))

    return value, vjp_fn


def jacobian(f: Callable[..., Tensor], argnums: Argnums = 0) -> Callable[..., Any]:
    """The Jacobian of ``f`` with respect to positional argument(s) ``argnums``.

    The Jacobian of an output of shape ``S`` with respect to an argument of shape ``A`` has
    shape ``S + A`` (so for a scalar output it is the gradient), as ``jax.jacrev`` and
    ``torch.func.jacrev``; a tuple ``argnums`` gives a tuple of Jacobians.

    ``f`` is recorded once; the Jacobian is then built one row per output element, each row one
    backward sweep over the retained tape seeded with a unit vector.

    >>> import numpy as np
    >>> from tapegrad.functional import jacobian
    >>> jacobian(lambda x: x ** 2)(np.array([1.0, 2.0, 3.0]))
    array([[2., 0., 0.],
           [0., 4., 0.],
           [0., 0., 6.]])
    >>> A = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    >>> jacobian(lambda A, x: A @ x, argnums=1)(A, np.array([1.0, 1.0]))
    array([[1., 2.],
           [3., 4.],
           [5., 6.]])
    """
    nums, as_tuple = _check_argnums(argnums, "jacobian")

    def jacobian_f(*args: Any, **kwargs: Any) -> Any:
        positions = _positions(nums, len(args), "jacobian")
        leaves, tensor_in = _leaves(args, positions)
        out = _call(f, leaves, args, positions, kwargs, "jacobian")
        n_out = out.numel()
        jacs = [np.empty((n_out,) + tuple(leaf.shape), dtype=leaf.detach().numpy().dtype)
                for leaf in leaves]
        # one recording, one backward sweep per output element (row) over the retained tape
        with _constants_keep_grad(out, leaves) as reaches:
            for r, seed in enumerate(_unit_seeds(tuple(out.shape))):
                for jac, g in zip(jacs, _sweep(out, leaves, seed, reaches), strict=True):
                    jac[r] = g.numpy()
        shape = tuple(out.shape)
        result = tuple(_export_array(jac.reshape(shape + tuple(leaf.shape)), t)
                       for jac, leaf, t in zip(jacs, leaves, tensor_in, strict=True))
        return result if as_tuple else result[0]

    return _named(jacobian_f, f, "jacobian")


def hvp(f: Callable[..., Tensor], argnums: Argnums = 0) -> Callable[..., Any]:
    """The Hessian-vector product of scalar-valued ``f``: ``hvp(f)(*args, v)`` is ``H v``.

    The returned function takes ``f``'s positional arguments followed by ``v``; with an int
    ``argnums``, ``v`` is shaped like that argument and so is the result; with a tuple, ``v``
    is a tuple of tangents (one per argument in ``argnums``) and the result is the tuple of
    the blocks ``sum_j H[i][j] v[j]``.  This is ``jax.jvp(jax.grad(f), args, v)[1]``, computed
    by two reverse sweeps (the second over the recorded gradient, seeded with ``v``), which
    equals it wherever ``f`` is twice continuously differentiable.  Types follow the
    arguments as in :func:`grad`.

    >>> from tapegrad.functional import hvp
    >>> hvp(lambda x: x ** 3)(2.0, 1.0)
    array(12.)
    >>> hvp(lambda x, y: x * y ** 2, argnums=(0, 1))(1.0, 2.0, (1.0, 0.0))  # H = [[0, 4], [4, 2]]
    (array(0.), array(4.))
    """
    nums, as_tuple = _check_argnums(argnums, "hvp")

    def hvp_f(*args_and_v: Any, **kwargs: Any) -> Any:
        if not args_and_v:
            raise TypeError("hvp(f) must be called with f's arguments followed by v")
        *args, v = args_and_v
        positions = _positions(nums, len(args), "hvp")
        tangents = _tangents(v if as_tuple else (v,), [args[i] for i in positions], "hvp",
                             as_tuple)
        leaves, tensor_in = _leaves(args, positions)
        out = _call(f, leaves, args, positions, kwargs, "hvp")
        _check_scalar(out, "hvp")
        products = _second_sweep(out, leaves, None, tangents)
        result = tuple(_export(p, t) for p, t in zip(products, tensor_in, strict=True))
        return result if as_tuple else result[0]

    return _named(hvp_f, f, "hvp")


def hessian(f: Callable[..., Tensor], argnums: Argnums = 0) -> Callable[..., Any]:
    """The Hessian of ``f`` with respect to positional argument(s) ``argnums``, as
    ``jax.hessian``: for an output of shape ``S`` and an argument of shape ``A``, shape
    ``S + A + A``; with a tuple ``argnums``, the nested tuple ``H[i][j]`` of shape
    ``S + A_i + A_j``.

    ``f`` is recorded once; each output element's gradient is recorded on the tape
    (``create_graph``), then differentiated once per element of the gradient.

    >>> from tapegrad.functional import hessian
    >>> hessian(lambda x: x ** 3)(2.0)
    array(12.)
    >>> hessian(lambda x, y: x * y ** 2, argnums=(0, 1))(1.0, 2.0)
    ((array(0.), array(4.)), (array(4.), array(2.)))
    """
    nums, as_tuple = _check_argnums(argnums, "hessian")

    def hessian_f(*args: Any, **kwargs: Any) -> Any:
        from .autograd.api import grad as autograd_grad

        positions = _positions(nums, len(args), "hessian")
        leaves, tensor_in = _leaves(args, positions)
        out = _call(f, leaves, args, positions, kwargs, "hessian")
        out_shape = tuple(out.shape)
        shapes = [tuple(leaf.shape) for leaf in leaves]
        dtypes = [leaf.detach().numpy().dtype for leaf in leaves]
        blocks = [[np.zeros((out.numel(), int(np.prod(a, dtype=np.int64)),
                             int(np.prod(b, dtype=np.int64))), dtype=dt)
                   for b in shapes] for a, dt in zip(shapes, dtypes, strict=True)]
        if out.requires_grad and out.numel():
            with enable_grad():
                for o, seed in enumerate(_unit_seeds(out_shape)):
                    firsts = autograd_grad((out,), leaves, (seed,), retain_graph=True,
                                           create_graph=True, allow_unused=True)
                    for i, g in enumerate(firsts):
                        if g is None or not g.requires_grad:
                            continue  # a gradient that does not depend on the arguments
                        for r, row_seed in enumerate(_unit_seeds(shapes[i])):
                            seconds = autograd_grad((g,), leaves, (row_seed,), retain_graph=True,
                                                    allow_unused=True)
                            for j, h in enumerate(seconds):
                                if h is not None:
                                    blocks[i][j][o, r] = h.numpy().reshape(-1)
        result = tuple(
            tuple(_export_array(blocks[i][j].reshape(out_shape + shapes[i] + shapes[j]),
                                tensor_in[i]) for j in range(len(leaves)))
            for i in range(len(leaves)))
        return result if as_tuple else result[0][0]

    return _named(hessian_f, f, "hessian")


def jvp(f: Callable[..., Tensor], primals: Sequence[Any],
        tangents: Sequence[Any]) -> tuple[Any, Any]:
    """``(f(*primals), J t)``: the Jacobian-vector product, as ``jax.jvp``.

    ``primals`` and ``tangents`` are tuples (or lists) of the same length, a tangent per
    argument, shaped like it; every argument is differentiated.  The product has ``f``'s output
    shape.  tapegrad has no forward mode: ``J t`` is computed by the double-backward trick (the
    backward with respect to a recorded cotangent ``u`` is linear in ``u``; its vector-Jacobian
    product with ``t`` is ``J t``), as ``torch.autograd.functional.jvp`` does.  Types follow
    the primals as in :func:`grad`.

    >>> import numpy as np
    >>> from tapegrad.functional import jvp
    >>> jvp(lambda x, y: x * y, (np.array([1.0, 2.0]), np.array([3.0, 4.0])),
    ...     (np.array([1.0, 0.0]), np.array([0.0, 1.0])))
    (array([3., 8.]), array([3., 2.]))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(
            "primal and tangent arguments to jvp must be tuples or lists; found "
            f"{type(primals).__name__} and {type(tangents).__name__}.")
    if len(primals) != len(tangents):
        raise TypeError(
            "primal and tangent arguments to jvp must have equal types and lengths; got "
            f"{len(primals)} primals and {len(tangents)} tangents.")
    positions = range(len(primals))
    ts = _tangents(tuple(tangents), list(primals), "jvp", True)
    leaves, tensor_in = _leaves(primals, positions)
    out = _call(f, leaves, primals, positions, {}, "jvp")
    tensor_mode = any(tensor_in)
    value = _export(out, tensor_mode)
    return value, _export(_forward_product(out, leaves, ts), tensor_mode)


# --------------------------------------------------------------------------- machinery


def _value_and_grad(f: Callable[..., Tensor], nums: tuple[int, ...], args: tuple,
                    kwargs: dict, api: str) -> tuple[Any, tuple[Any, ...]]:
    positions = _positions(nums, len(args), api)
    leaves, tensor_in = _leaves(args, positions)
    out = _call(f, leaves, args, positions, kwargs, api)
    if out.numel() != 1:
        # torch's words for the same mistake in backward(), plus what to use instead
        raise RuntimeError(
            f"grad can be implicitly created only for scalar outputs: {api}(f) needs f to "
            f"return a one-element tensor, but it returned a tensor of shape "
            f"{list(out.shape)}. Use vjp or jacobian for non-scalar outputs.")
    with _constants_keep_grad(out, leaves) as reaches:
        grads = _sweep(out, leaves, None, reaches)
    value = _export(out, any(tensor_in))
    return value, tuple(_export(g, t) for g, t in zip(grads, tensor_in, strict=True))


def _check_argnums(argnums: Any, api: str) -> tuple[tuple[int, ...], bool]:
    """Validate ``argnums`` when the transform is made (its range is checked per call)."""

    def is_int(n: Any) -> bool:
        return isinstance(n, numbers.Integral) and not isinstance(n, bool)

    if is_int(argnums):
        return (int(argnums),), False
    if isinstance(argnums, tuple) and all(is_int(n) for n in argnums):
        if not argnums:
            raise ValueError(f"{api}: argnums must be non-empty")
        return tuple(int(n) for n in argnums), True
    raise TypeError(f"{api}: argnums must be an int or a tuple of ints, got {argnums!r}")


def _positions(nums: tuple[int, ...], n_args: int, api: str) -> tuple[int, ...]:
    """``argnums`` as non-negative positions into this call's positional arguments."""
    positions = []
    for n in nums:
        if not -n_args <= n < n_args:
            raise TypeError(
                f"{api}: differentiating with respect to argnums={n} needs at least "
                f"{n + 1 if n >= 0 else -n} positional arguments, but f was called with "
                f"{n_args}")
        positions.append(n % n_args)
    if len(set(positions)) != len(positions):
        raise ValueError(f"{api}: argnums must be unique, got {nums} for {n_args} arguments")
    return tuple(positions)


def _leaves(args: Sequence[Any], positions: Sequence[int]) -> tuple[list[Tensor], list[bool]]:
    """Fresh leaf copies of ``args[i]`` for ``i`` in ``positions``, and which were tensors."""
    leaves, tensor_in = [], []
    for i in positions:
        arg = args[i]
        is_tensor = isinstance(arg, Tensor)
        # detach(): read the value only -- never the user's history, grad or requires_grad
        value = arg.detach().numpy() if is_tensor else np.asarray(arg)
        if value.dtype.kind == "f":
            dtype = value.dtype
        elif value.dtype.kind in "iub":
            dtype = np.dtype(np.float64)  # differentiate integers as the default float type
        else:
            raise TypeError(
                f"can only differentiate with respect to real numbers, but argument {i} has "
                f"dtype {value.dtype}")
        leaves.append(Tensor(value, dtype=dtype, requires_grad=True))  # Tensor() copies
        tensor_in.append(is_tensor)
    return leaves, tensor_in


def _call(f: Callable[..., Tensor], leaves: Sequence[Tensor], args: Sequence[Any],
          positions: Sequence[int], kwargs: dict, api: str) -> Tensor:
    call = list(args)
    for i, leaf in zip(positions, leaves, strict=True):
        call[i] = leaf
    # recorded even when the caller is inside no_grad: the derivative is what was asked for
    with enable_grad():
        out = f(*call, **kwargs)
    if isinstance(out, Tensor):
        return out
    # a number or an array cannot depend on the leaves: a constant (its derivative is zero)
    if isinstance(out, (numbers.Real, np.ndarray, np.generic)) and not isinstance(out, bool):
        value = np.asarray(out)
        if value.dtype.kind in "fiu":
            return Tensor(value)
    raise TypeError(f"{api}: expected f to return a Tensor, but it returned "
                    f"{type(out).__name__}")


def _cotangent(v: Any, out_shape: tuple[int, ...]) -> Tensor:
    """``vjp_fn``'s argument as a seed tensor, checked against the output's shape."""
    value = v.detach().numpy() if isinstance(v, Tensor) else np.asarray(v, dtype=np.float64)
    if value.shape != out_shape:
        raise RuntimeError(
            f"Mismatch in shape: grad_output[0] has a shape of {_size(value.shape)} and "
            f"output[0] has a shape of {_size(out_shape)}.")
    return Tensor(value, dtype=np.float64)


def _unit_seeds(shape: tuple[int, ...]) -> Iterator[Tensor]:
    """Seeds ``e_0, e_1, ...`` shaped like the output, one at a time (never all n^2 at once)."""
    buffer = np.zeros(int(np.prod(shape, dtype=np.int64)))
    for r in range(buffer.size):
        buffer[r] = 1.0
        yield Tensor(buffer.reshape(shape))  # Tensor() copies, so the buffer can be reset
        buffer[r] = 0.0


@contextmanager
def _constants_keep_grad(out: Tensor, leaves: Sequence[Tensor]) -> Iterator[bool]:
    """Around backward sweeps from ``out``: the tensors ``f`` closed over keep their ``.grad``.

    Yields whether a backward from ``out`` can reach anything at all: an output that does not
    require grad, or that is a leaf other than ours (a constant closed over), reaches nothing.
    """
    own = {id(leaf) for leaf in leaves}
    reaches = out.requires_grad and (not out.is_leaf or id(out) in own)
    saved = [(t, t.grad) for t in (_foreign_grad_holders(out, own) if reaches else [])]
    try:
        # .grad accumulates in place, into the very tensor held: start them from None
        for t, _ in saved:
            t.grad = None
        yield reaches
    finally:
        for t, g in saved:
            t.grad = g


def _sweep(out: Tensor, leaves: Sequence[Tensor], seed: Tensor | None,
           reaches: bool) -> list[Tensor]:
    """One backward sweep from ``out`` (seeded with ``seed``): the gradients of ``leaves``.

    Always ``retain_graph=True``: ``vjp_fn`` and the jacobian sweep one graph several times, and
    ``f``'s graph may share records with a graph of the caller's (through a non-leaf tensor ``f``
    closes over) that a freeing backward would break for them.  Retaining costs no memory here:
    the tape dies with the last tensor that refers to it.
    """
    for leaf in leaves:
        leaf.grad = None
    if reaches:
        out.backward(seed, retain_graph=True)
    grads = []
    for leaf in leaves:
        g = leaf.grad
        leaf.grad = None
        # no path from the output to this input: its gradient is zero, not None
        grads.append(g if g is not None else Tensor(np.zeros_like(leaf.detach().numpy())))
    return grads


def _foreign_grad_holders(out: Tensor, own: set[int]) -> list[Tensor]:
    """Tensors other than our own leaves whose ``.grad`` a backward from ``out`` may change."""
    if out.is_leaf:
        return []
    return [t for t in out._tape.grad_receivers() if id(t) not in own]


def _export(t: Tensor, tensor_mode: bool) -> Any:
    """A result without history, as a tensor or as a NumPy array, never aliasing the tape."""
    return _export_array(np.array(t.detach().numpy(), copy=True), tensor_mode)


def _export_array(value: np.ndarray, tensor_mode: bool) -> Any:
    return Tensor(value) if tensor_mode else value


def _named(wrapper: Callable, f: Callable, api: str) -> Callable:
    """Give the transformed function ``f``'s name (for tracebacks and reprs) and a docstring."""
    functools.update_wrapper(wrapper, f, assigned=("__module__", "__name__", "__qualname__"),
                             updated=())
    name = getattr(f, "__name__", repr(f))
    wrapper.__doc__ = f"{api} of {name} (made by tapegrad.functional.{api})."
    return wrapper


def _size(shape: tuple[int, ...]) -> str:
    return f"tapegrad.Size([{', '.join(map(str, shape))}])"


# --------------------------------------------------------------------------- second order


def _tangents(v: Any, like: Sequence[Any], api: str, as_tuple: bool) -> list[Tensor]:
    """Tangent vectors as float tensors, one per argument in ``like`` and shaped like it."""
    if not isinstance(v, (tuple, list)):
        raise TypeError(f"{api}: with a tuple argnums, v must be a tuple of tangents, one per "
                        f"differentiated argument, got {type(v).__name__}")
    if len(v) != len(like):
        raise ValueError(f"{api}: expected {len(like)} tangents, one per differentiated "
                         f"argument, got {len(v)}")
    out = []
    for k, (t, arg) in enumerate(zip(v, like, strict=True)):
        value = t.detach().numpy() if isinstance(t, Tensor) else np.asarray(t)
        shape = tuple(arg.shape) if isinstance(arg, Tensor) else np.shape(arg)
        if value.shape != shape:
            which = f"tangent {k}" if as_tuple else "v"
            raise ValueError(
                f"{api}: {which} has shape {value.shape} but the argument it goes with has "
                f"shape {shape}")
        if value.dtype.kind not in "fiub":
            raise TypeError(f"{api}: tangents must be real numbers, got dtype {value.dtype}")
        out.append(Tensor(value, dtype=value.dtype if value.dtype.kind == "f" else np.float64))
    return out


def _check_scalar(out: Tensor, api: str) -> None:
    if out.numel() != 1:
        raise RuntimeError(
            f"grad can be implicitly created only for scalar outputs: {api}(f) needs f to "
            f"return a one-element tensor, but it returned a tensor of shape "
            f"{list(out.shape)}.")


def _zeros(t: Tensor) -> Tensor:
    return Tensor(np.zeros(tuple(t.shape), dtype=t.detach().numpy().dtype))


def _second_sweep(out: Tensor, leaves: Sequence[Tensor], seed: Tensor | None,
                  tangents: Sequence[Tensor]) -> list[Tensor]:
    """``v^T d(grad)/d leaves``: the gradient of ``out`` recorded (``create_graph``), then swept
    back seeded with the tangents.  Zeros where a leaf is not reached."""
    from .autograd.api import grad as autograd_grad

    zeros = [_zeros(leaf) for leaf in leaves]
    if not out.requires_grad:
        return zeros
    with enable_grad():
        firsts = autograd_grad((out,), leaves, None if seed is None else (seed,),
                               retain_graph=True, create_graph=True, allow_unused=True)
        pairs = [(g, t) for g, t in zip(firsts, tangents, strict=True)
                 if g is not None and g.requires_grad]
        if not pairs:
            return zeros
        # retained, as in _sweep: f's graph may share records with one of the caller's
        seconds = autograd_grad(tuple(g for g, _ in pairs), leaves,
                                tuple(t.to(g.dtype) for g, t in pairs), retain_graph=True,
                                allow_unused=True)
    return [z if h is None else h for h, z in zip(seconds, zeros, strict=True)]


def _forward_product(out: Tensor, leaves: Sequence[Tensor], tangents: Sequence[Tensor]) -> Tensor:
    """``J t`` by the double-backward trick; zeros when ``out`` does not depend on the leaves."""
    from .autograd.api import grad as autograd_grad

    if not out.requires_grad:
        return _zeros(out)
    with enable_grad():
        u = _zeros(out).requires_grad_(True)
        firsts = autograd_grad((out,), leaves, (u,), retain_graph=True, create_graph=True,
                               allow_unused=True)
        pairs = [(g, t) for g, t in zip(firsts, tangents, strict=True)
                 if g is not None and g.requires_grad]
        if not pairs:
            return _zeros(out)
        (product,) = autograd_grad(tuple(g for g, _ in pairs), (u,),
                                   tuple(t.to(g.dtype) for g, t in pairs), retain_graph=True,
                                   allow_unused=True)
    return _zeros(out) if product is None else product
