"""Tensor hooks: ``register_hook``, ``register_post_accumulate_grad_hook``, as torch's.

>>> import tapegrad as tg
>>> x = tg.tensor([1.0, 2.0], requires_grad=True)
>>> y = x * 3
>>> handle = y.register_hook(lambda g: g * 2)
>>> y.sum().backward()
>>> x.grad
tensor([6., 6.])

Where hooks are kept, and how a backward finds them without looking for them:

* a non-leaf's hooks belong to its tape (``tape.hooks``: slot -> :class:`_Hooks`), as torch's
  belong to the node that made the tensor (they outlive the tensor object).  Registering the
  first hook of a slot also adds an entry to ``tape.watch`` that always reads as changed, with
  the slot written ``-(slot + 1)``: the engine's scan for values changed in place, which it runs
  on every backward anyway, passes it to the sweep with the stale slots, and the sweep flags the
  slot ``HOOKED``.  At the slot's topmost producing record -- its gradient is then complete --
  the sweep stops (status ``HOOK``), the engine runs the hooks on that gradient and resumes.  A
  tape without hooks costs one flag test per record, on a flag the sweep loads anyway.
* a leaf's hooks are the tensor's own (its ``_hooks``/``_post_hooks``); once any leaf has one,
  the engine looks for them among the leaves it delivers to (``engine._leaf_hooks``).

A hook receives a copy of the gradient (it may keep it) in the tensor's dtype; a tensor it
returns replaces the gradient.  Hooks run in the thread of the backward, with grad mode off (on
under ``create_graph``: the Python sweep calls :func:`run_slot_hooks` and :func:`run_leaf_hooks`
in its own mode).
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from .grad_mode import STATE, no_grad
from .kernels.abi import HAS_GRAD

if TYPE_CHECKING:
    from .tensor import Tensor

_ids = itertools.count()
#: what a hooked slot's ``tape.watch`` entry holds as its version box: never at version -1
_ALWAYS_CHANGED = [0]


class _Hooks(dict):
    """Hook id -> hook, in registration order; a non-leaf's also know its gradient's shape."""

    shape: tuple = ()
    dtype: Any = None


class RemovableHandle:
    """What ``register_hook`` returns: ``handle.remove()`` removes the hook (also as a context
    manager, on exit)."""

    def __init__(self, hooks: _Hooks) -> None:
        self.id = next(_ids)
        self._hooks = weakref.ref(hooks)

    def remove(self) -> None:
        hooks = self._hooks()
        if hooks is not None:
            hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()


def register_hook(t: Tensor, hook: Callable) -> RemovableHandle:
    """``t.register_hook(hook)``: ``hook(grad)`` is called with ``t``'s gradient when it is
    computed; a tensor it returns is used instead."""
    if not t.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    _refuse_compile()
    if t.is_leaf:
        hooks = t.__dict__.get("_hooks")
        if hooks is None:
            hooks = t.__dict__["_hooks"] = _Hooks()
        _leaf_hooks_on()
    else:
        tape, slot = t._tape, t._slot
        table = getattr(tape, "hooks", None)
        if table is None:
            table = tape.hooks = {}
        hooks = table.get(slot)
        if hooks is None:
            hooks = table[slot] = _Hooks()
            hooks.shape, hooks.dtype = tuple(t._v.shape), t._v.dtype
            tape.watch.append((_ALWAYS_CHANGED, -1, -(slot + 1), ()))  # (see the docstring)
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def register_post_accumulate_grad_hook(t: Tensor, hook: Callable) -> RemovableHandle:
    """``t.register_post_accumulate_grad_hook(hook)``: ``hook(t)`` is called once a backward
    has accumulated into the leaf ``t``'s ``.grad``."""
    if not t.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    if not t.is_leaf:
        raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
    _refuse_compile()
    hooks = t.__dict__.get("_post_hooks")
    if hooks is None:
        hooks = t.__dict__["_post_hooks"] = _Hooks()
    _leaf_hooks_on()
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return handle


def _refuse_compile() -> None:
    if STATE.compile_tape is not None:
        raise NotImplementedError("tapegrad.compile cannot replay tensor hooks (they are "
                                  "Python): register them outside the compiled function")


def _leaf_hooks_on() -> None:
    from . import engine

    engine._leaf_hooks = True


def _call_hooks(hooks: _Hooks, grad: Tensor) -> Tensor:
    from .tensor import Tensor

    for hook in list(hooks.values()):
        new = hook(grad)
        if new is None:
            continue
        if not isinstance(new, Tensor):
            raise TypeError(f"expected Variable, but hook returned '{type(new).__name__}'")
        if new._v.dtype != grad._v.dtype:  # (torch's order of checks: type, then size)
            raise RuntimeError(
                f"hook '{getattr(hook, '__name__', hook)}' has changed the type of value "
                f"(was {grad.type()} got {new.type()})")
        if new._v.shape != grad._v.shape:
            raise RuntimeError(
                f"hook '{getattr(hook, '__name__', hook)}' has changed the size of value")
        grad = new
    return grad


# -- what the Python sweep (create_graph) calls -------------------------------------------------


def has_slot_hooks(tape) -> bool:
    """Whether any non-leaf of ``tape`` has hooks."""
    table = getattr(tape, "hooks", None)
    return bool(table) and any(table.values())


def run_slot_hooks(tape, slot: int, grad: Tensor) -> Tensor:
    """The hooks of ``tape``'s slot ``slot`` (a non-leaf), on its complete gradient; returns the
    gradient to use from here on."""
    table = getattr(tape, "hooks", None)
    hooks = table.get(slot) if table else None
    if not hooks:
        return grad
    if tuple(grad.shape) != hooks.shape:  # (a sweep may hold it flat)
        grad = grad.reshape(hooks.shape)
    return _call_hooks(hooks, grad)


def run_leaf_hooks(leaf: Tensor, grad: Tensor) -> Tensor:
    """``leaf``'s hooks, on the gradient a backward is about to accumulate into its ``.grad``;
    returns the gradient to accumulate."""
    hooks = leaf.__dict__.get("_hooks")
    return _call_hooks(hooks, grad) if hooks else grad


def run_post_accumulate_hooks(leaf: Tensor) -> None:
    """``leaf``'s post-accumulate-grad hooks (after its ``.grad`` was updated)."""
    hooks = leaf.__dict__.get("_post_hooks")
    if hooks:
        for hook in list(hooks.values()):
            hook(leaf)


# -- what the engine calls, in the numba sweep's hand-offs --------------------------------------
# (``run(fn, *args)`` calls ``fn`` so that a backward run by a hook uses a workspace of its own)


def sweep_slot_hooks(tape, slot: int, region: np.ndarray, run: Callable) -> None:
    """Run slot ``slot``'s hooks on its gradient ``region`` (the sweep's float64 buffer), and
    write a replacement back into it."""
    table = getattr(tape, "hooks", None)
    hooks = table.get(slot) if table else None
    if hooks:
        _in_region(hooks, region, hooks.shape, hooks.dtype, run)


def sweep_leaf_hooks(tape, grads: np.ndarray, offs, flags: np.ndarray, run: Callable,
                     capture: dict | None = None, pending: dict | None = None) -> None:
    """Run the hooks of ``tape``'s leaves that received a gradient (of those in ``capture``
    only, if given), before it is delivered; or, given ``pending``, set those gradients aside
    there (``{id(leaf): (leaf, gradient)}``, summed) and clear their flags: they are delivered
    by :func:`deliver_pending`, once every linked tape is swept."""
    for slot, leaf in tape.leaves:
        hooks = leaf.__dict__.get("_hooks")
        if hooks and flags[slot] & HAS_GRAD and (capture is None or id(leaf) in capture):
            region = grads[offs[slot]:offs[slot + 1]]
            if pending is None:
                _in_region(hooks, region, leaf._v.shape, leaf._v.dtype, run)
                continue
            old = pending.get(id(leaf))
            pending[id(leaf)] = (leaf, region.copy() if old is None else old[1] + region)
            flags[slot] &= ~HAS_GRAD


def deliver_pending(pending: dict, capture: dict | None, run: Callable) -> None:
    """The leaves' gradients set aside by :func:`sweep_leaf_hooks`: their hooks, each on its
    sum, then accumulated into ``.grad`` (and the post-accumulate hooks), or into ``capture``."""
    for leaf, g in pending.values():
        _in_region(leaf.__dict__["_hooks"], g, leaf._v.shape, leaf._v.dtype, run)
        if capture is not None:
            old = capture[id(leaf)]
            capture[id(leaf)] = g if old is None else old + g
        else:
            leaf._accumulate(g.reshape(leaf._v.shape))
            if leaf.__dict__.get("_post_hooks"):
                run(run_post_accumulate_hooks, leaf)


def sweep_post_hooks(tape, flags: np.ndarray, run: Callable) -> None:
    """Run the post-accumulate-grad hooks of ``tape``'s leaves that received a gradient."""
    for slot, leaf in tape.leaves:
        if leaf.__dict__.get("_post_hooks") and flags[slot] & HAS_GRAD:
            run(run_post_accumulate_hooks, leaf)


def _in_region(hooks: _Hooks, region: np.ndarray, shape, dtype, run: Callable) -> None:
    from .recording import _wrap

    grad = _wrap(region.reshape(shape).astype(dtype))  # (a copy: a hook may keep it)
    new = run(_without_grad, hooks, grad)
    # (written back even if no hook returned a tensor: one may have changed ``grad`` in place,
    # which in torch changes the gradient itself)
    region[:] = np.asarray(new._v, dtype=np.float64).reshape(-1)


def _without_grad(hooks: _Hooks, grad: Tensor) -> Tensor:
    with no_grad():
        return _call_hooks(hooks, grad)
