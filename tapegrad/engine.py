"""backward(): hand a tape to the numba sweep and deliver the gradients.

The Python work here is per *backward call* (a few NumPy conversions of the tape's lists) and per
*leaf* (storing ``.grad``), never per record: the records are swept by ``backward_sweep``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np

from .kernels import sweep as status
from .kernels.memory import address_of
from .ops import OPS
from .tape import resolve

if TYPE_CHECKING:
    from .tensor import Tensor

_EMPTY_INTS = np.zeros(0, np.int64)

FREED_MESSAGE = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you "
    "call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward.")


class _Workspace(threading.local):
    """A per-thread gradient buffer, reused across backward calls (fresh buffers page-fault)."""

    buffer = np.zeros(0)

    def take(self, n: int) -> np.ndarray:
        if self.buffer.size < n:
            self.buffer = np.zeros(max(n, 2 * self.buffer.size))
        else:
            self.buffer[:n] = 0.0
        return self.buffer


_workspace = _Workspace()


def backward(t: Tensor, gradient: np.ndarray | None, retain_graph: bool) -> None:
    """Accumulate d(t)/d(leaf), weighted by ``gradient``, into every reachable leaf's ``.grad``."""
    seed = _seed(t, gradient)
    if t._tape is None:  # a leaf: its gradient is the seed itself
        t._accumulate(seed.reshape(t._v.shape))
        return
    tape = resolve(t)
    n_recs = len(tape)
    n_slots = len(tape.sizes)

    recs = np.array(tape.recs, dtype=np.int64).reshape(n_recs, 6)
    ints = np.concatenate(tape.ipool, axis=None).astype(np.int64, copy=False) \
        if tape.ipool else _EMPTY_INTS
    floats = np.array(tape.fpool, dtype=np.float64)
    sizes = np.array(tape.sizes, dtype=np.int64)

    # values: small slots packed into one buffer, large ones read where they live
    packed = np.concatenate(tape.vals, axis=None, dtype=np.float64)
    value_offsets = np.cumsum(sizes) - sizes
    value_addr = address_of(packed) + 8 * value_offsets
    if tape.bigs:
        big_slots = np.array([b[0] for b in tape.bigs], dtype=np.int64)
        packed_sizes = sizes.copy()
        packed_sizes[big_slots] = 0
        value_addr = address_of(packed) + 8 * (np.cumsum(packed_sizes) - packed_sizes)
        value_addr[big_slots] = [b[2] for b in tape.bigs]

    grads = _workspace.take(int(sizes.sum()) + 1)
    grad_addr = address_of(grads) + 8 * value_offsets
    out = t._slot
    start = value_offsets[out]
    grads[start:start + sizes[out]] = seed

    need = np.ones(n_slots, np.uint8)
    if tape.consts:
        need[tape.consts] = 0
    has_grad = np.zeros(n_slots, np.uint8)
    has_grad[out] = 1
    stale = np.zeros(n_slots, np.uint8)
    stale_shapes = {}
    for box, version, slot, shape in tape.watch:
        if box[0] != version:
            stale[slot] = 1
            stale_shapes[slot] = (shape, version, box[0])
    if tape.freed.size < n_recs:
        tape.freed = np.concatenate([tape.freed, np.zeros(n_recs - tape.freed.size, np.uint8)])

    code, rec, slot = _sweep()(recs, ints, floats, value_addr, grad_addr, sizes, need,
                                     has_grad, stale, tape.freed, _reads(), n_recs - 1,
                                     retain_graph)
    tape.closed = True  # the next graph from leaves starts on a fresh tape
    if code == status.FREED:
        raise RuntimeError(FREED_MESSAGE)
    if code == status.STALE:
        shape, version, now = stale_shapes[slot]
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [tapegrad.DoubleTensor [{', '.join(map(str, shape))}]], which "
            f"is used by {OPS[recs[rec, 0]].name}, is at version {now}; expected version "
            f"{version} instead.")

    offsets = value_offsets.tolist()
    for slot, leaf in tape.leaves:
        if has_grad[slot]:
            o = offsets[slot]
            leaf._accumulate(grads[o:o + tape.sizes[slot]].reshape(leaf._v.shape))
    for slot, ref in tape.retained:
        kept = ref()
        if kept is not None and has_grad[slot]:
            o = offsets[slot]
            kept._accumulate(grads[o:o + tape.sizes[slot]].reshape(kept._v.shape))


def _sweep():
    # imported on first use: the generated module is written by importing the op table, and
    # a first backward is the moment to load numba's cached kernel anyway
    from .kernels._dispatch import backward_sweep

    return backward_sweep


def _reads():
    from .kernels._dispatch import READS

    return READS


def _seed(t: Tensor, gradient) -> np.ndarray:
    if not t.requires_grad:
        raise RuntimeError(
            "element 0 of tensors does not require grad and does not have a grad_fn")
    if gradient is None:
        if t._v.size != 1:
            raise RuntimeError("grad can be implicitly created only for scalar outputs")
        return np.ones(1)
    g = np.asarray(gradient._v if hasattr(gradient, "_v") else gradient, dtype=np.float64)
    if g.shape != t._v.shape:
        raise RuntimeError(
            f"Mismatch in shape: grad_output[0] has a shape of {_size(g.shape)} and output[0] "
            f"has a shape of {_size(t._v.shape)}.")
    return g.ravel()


def _size(shape: tuple) -> str:
    return f"tapegrad.Size([{', '.join(map(str, shape))}])"
