"""The optimisers' updates: one numba call per parameter group and step.

Each kernel walks a group's flat buffers (see optimizer.py: the parameters' values and
gradients gathered end to end, and the state buffers the per-parameter state tensors view)
once, element by element, doing torch's single-tensor arithmetic in torch's order -- ``add(x,
alpha=a)`` is ``x + a * y``, ``addcmul(t1, t2, value=v)`` is ``x + v * t1 * t2``,
``addcdiv(t1, t2, value=v)`` is ``x + v * t1 / t2``, left to right, as torch's CPU kernels --
so float64 results agree with torch's to the last bits over many steps.  (Each segment's
loop runs over slices, indices from 0: numba's negative-index wraparound is then provably
dead and LLVM vectorises the loop -- sqrt and division four at a time.)  Options are
arguments (one compiled kernel per algorithm, not one per combination); an unused state buffer
is passed empty, so every call has the same types and one cached compilation serves all.

What depends on a parameter's step count (Adam's bias corrections, Adagrad's decayed rate) is
computed in Python with torch's own float formulas and passed per *segment*: a run of elements
``ends[s-1]:ends[s]`` sharing those numbers.  All parameters usually share their step, so the
whole group is one segment.

The kernels are :class:`tapegrad.kernels.jit.Lazy`: numba is imported and the code compiled
(or loaded from numba's disk cache) by the first step, never by ``import tapegrad.optim``.
IEEE semantics (``error_model="numpy"``) and no fastmath: a NaN or inf gradient propagates as
in torch.
"""

from __future__ import annotations

import math

from ..kernels.jit import Lazy, jit

_kernel = jit(cache=True, error_model="numpy")


def _fused(a: float, b: float, c: float) -> float:
    """``a * b + c`` rounded once (LLVM's ``llvm.fma``; in numba code only)."""
    raise NotImplementedError("fma is called from the numba kernels only")


def _make_fma(_: object) -> object:
    from llvmlite import ir
    from numba import types
    from numba.extending import intrinsic

    @intrinsic
    def fma(typingctx, a, b, c):
        sig = types.float64(types.float64, types.float64, types.float64)

        def codegen(context, builder, signature, args):
            d = ir.DoubleType()
            fn = builder.module.declare_intrinsic("llvm.fma", [d], ir.FunctionType(d, [d] * 3))
            return builder.call(fn, args)
        return sig, codegen
    return fma


#: torch's vectorised CPU kernels compute ``add(x, y, alpha=a)`` as ``fmadd(y, a, x)`` and
#: ``lerp`` with ``fmadd`` too: one rounding, which these kernels reproduce
fma = Lazy(_fused, _make_fma)


@_kernel
def sgd(p, g, buf, ends, fresh, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """SGD.  ``fresh[s]``: segment ``s``'s momentum buffer is made from this gradient (torch's
    first step: ``buf = grad.clone()``)."""
    keep = 1.0 - dampening
    start = 0
    for s in range(ends.size):
        end = ends[s]
        first = fresh[s]
        ps, gs, bs = p[start:end], g[start:end], buf[start:end]
        for i in range(ps.size):
            gi = gs[i]
            if maximize:
                gi = -gi
            if weight_decay != 0.0:
                gi = fma(ps[i], weight_decay, gi)
            if momentum != 0.0:
                if first:
                    b = gi
                else:
                    b = fma(gi, keep, bs[i] * momentum)
                bs[i] = b
                if nesterov:
                    gi = fma(b, momentum, gi)
                else:
                    gi = b
            ps[i] = fma(gi, -lr, ps[i])
        start = end


@_kernel
def adam(p, g, exp_avg, exp_avg_sq, max_exp_avg_sq, ends, step_size, bias_correction2_sqrt,
         lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, maximize):
    """Adam and AdamW (``decoupled``), with AMSGrad."""
    weight = 1.0 - beta1  # exp_avg.lerp_(grad, 1 - beta1)
    near = abs(weight) < 0.5  # (torch.lerp's two forms keep it exact at both ends)
    far = weight - 1.0
    value = 1.0 - beta2
    decay = 1.0 - lr * weight_decay
    start = 0
    for s in range(ends.size):
        end = ends[s]
        neg_step = -step_size[s]
        bc2 = bias_correction2_sqrt[s]
        ps, gs, ms, vs = p[start:end], g[start:end], exp_avg[start:end], exp_avg_sq[start:end]
        tops = max_exp_avg_sq[start:end]
        for i in range(ps.size):
            gi = gs[i]
            pi = ps[i]
            if maximize:
                gi = -gi
            if weight_decay != 0.0:
                if decoupled:
                    pi = pi * decay
                else:
                    gi = fma(pi, weight_decay, gi)
            m = ms[i]
            if near:  # (torch's lerp_vec)
                m = fma(weight, gi - m, m)
            else:
                m = fma(far, gi - m, gi)
            ms[i] = m
            v = fma(value * gi, gi, vs[i] * beta2)
            vs[i] = v
            if amsgrad:
                top = tops[i]
                if top > v or top != top:  # (torch.maximum: a NaN wins)
                    v = top
                tops[i] = v
            denom = math.sqrt(v) / bc2 + eps
            ps[i] = pi + neg_step * m / denom
        start = end


@_kernel
def rmsprop(p, g, square_avg, grad_avg, momentum_buffer, lr, alpha, eps, weight_decay,
            momentum, centered, maximize):
    """RMSprop, centered or not, with momentum or not."""
    value = 1.0 - alpha
    near = abs(value) < 0.5  # grad_avg.lerp_(grad, 1 - alpha)
    far = value - 1.0
    for i in range(p.size):
        gi = g[i]
        if maximize:
            gi = -gi
        if weight_decay != 0.0:
            gi = fma(p[i], weight_decay, gi)
        sq = fma(value * gi, gi, square_avg[i] * alpha)
        square_avg[i] = sq
        if centered:
            ga = grad_avg[i]
            if near:
                ga = fma(value, gi - ga, ga)
            else:
                ga = fma(far, gi - ga, gi)
            grad_avg[i] = ga
            avg = math.sqrt(fma(-1.0 * ga, ga, sq))
        else:
            avg = math.sqrt(sq)
        avg = avg + eps
        if momentum > 0.0:
            b = momentum_buffer[i] * momentum + gi / avg
            momentum_buffer[i] = b
            p[i] = fma(b, -lr, p[i])
        else:
            p[i] = p[i] + (-lr) * gi / avg


@_kernel
def adagrad(p, g, state_sum, ends, clr, weight_decay, eps, maximize):
    """Adagrad; ``clr[s]``: segment ``s``'s decayed learning rate."""
    start = 0
    for s in range(ends.size):
        end = ends[s]
        neg_clr = -clr[s]
        ps, gs, sums = p[start:end], g[start:end], state_sum[start:end]
        for i in range(ps.size):
            gi = gs[i]
            if maximize:
                gi = -gi
            if weight_decay != 0.0:
                gi = fma(ps[i], weight_decay, gi)
            total = fma(1.0 * gi, gi, sums[i])
            sums[i] = total
            std = math.sqrt(total) + eps
            ps[i] = ps[i] + neg_clr * gi / std
        start = end
