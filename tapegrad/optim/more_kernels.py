"""The updates of Adadelta, Adamax, NAdam, RAdam, ASGD and Rprop: one numba call per parameter
group and step, in the scheme of kernels.py (read its docstring): flat float64 buffers, torch's
single-tensor arithmetic in torch's order with its fused multiply-adds, options as arguments,
and what depends on a parameter's step (or on its 0-d state: NAdam's ``mu_product``, ASGD's
``eta`` and ``mu``) computed in Python and passed per segment ``ends[s-1]:ends[s]``.

Their own module, so that numba's disk cache of kernels.py's kernels (keyed on that file) is
not invalidated by these, and each is compiled (or loaded from the cache) by the first step
of its optimiser only.
"""

from __future__ import annotations

import math

from ..kernels.jit import jit
from .kernels import fma

_kernel = jit(cache=True, error_model="numpy")


@_kernel
def adadelta(p, g, square_avg, acc_delta, lr, rho, eps, weight_decay, maximize):
    """Adadelta."""
    value = 1.0 - rho
    for i in range(p.size):
        gi = g[i]
        if maximize:
            gi = -gi
        if weight_decay != 0.0:
            gi = fma(p[i], weight_decay, gi)
        sq = fma(value * gi, gi, square_avg[i] * rho)
        square_avg[i] = sq
        std = math.sqrt(sq + eps)
        delta = math.sqrt(acc_delta[i] + eps) / std * gi
        acc_delta[i] = fma(value * delta, delta, acc_delta[i] * rho)
        p[i] = fma(delta, -lr, p[i])


@_kernel
def adamax(p, g, exp_avg, exp_inf, ends, clr, beta1, beta2, eps, weight_decay, maximize):
    """Adamax; ``clr[s]``: segment ``s``'s bias-corrected learning rate."""
    weight = 1.0 - beta1  # exp_avg.lerp_(grad, 1 - beta1), as in kernels.adam
    near = abs(weight) < 0.5
    far = weight - 1.0
    start = 0
    for s in range(ends.size):
        end = ends[s]
        neg_clr = -clr[s]
        ps, gs, ms, us = p[start:end], g[start:end], exp_avg[start:end], exp_inf[start:end]
        for i in range(ps.size):
            gi = gs[i]
            if maximize:
                gi = -gi
            if weight_decay != 0.0:
                gi = fma(ps[i], weight_decay, gi)
            m = ms[i]
            if near:
                m = fma(weight, gi - m, m)
            else:
                m = fma(far, gi - m, gi)
            ms[i] = m
            a = us[i] * beta2
            b = abs(gi) + eps
            u = a if a > b or a != a else b  # (torch.maximum: a NaN wins)
            us[i] = u
            ps[i] = ps[i] + neg_clr * m / u
        start = end


@_kernel
def nadam(p, g, exp_avg, exp_avg_sq, ends, bias_correction2, grad_coef, avg_coef, lr, beta1,
          beta2, eps, weight_decay, decoupled, maximize):
    """NAdam; per segment: ``1 - beta2 ** step`` and the two ``addcdiv`` values (the
    gradient's and the average's, from ``mu_product``)."""
    weight = 1.0 - beta1
    near = abs(weight) < 0.5
    far = weight - 1.0
    value = 1.0 - beta2
    decay = 1.0 - lr * weight_decay
    start = 0
    for s in range(ends.size):
        end = ends[s]
        bc2 = bias_correction2[s]
        c_grad = grad_coef[s]
        c_avg = avg_coef[s]
        ps, gs, ms, vs = p[start:end], g[start:end], exp_avg[start:end], exp_avg_sq[start:end]
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
            if near:
                m = fma(weight, gi - m, m)
            else:
                m = fma(far, gi - m, gi)
            ms[i] = m
            v = fma(value * gi, gi, vs[i] * beta2)
            vs[i] = v
            denom = math.sqrt(v / bc2) + eps
            pi = pi + c_grad * gi / denom
            ps[i] = pi + c_avg * m / denom
        start = end


@_kernel
def radam(p, g, exp_avg, exp_avg_sq, ends, bias_correction1, bias_correction2_sqrt, rect,
          rectified, lr, beta1, beta2, eps, weight_decay, decoupled, maximize):
    """RAdam; per segment: the bias corrections, the rectification term and whether it
    applies (``rectified[s]`` 1.0: torch's ``rho_t > 5``)."""
    weight = 1.0 - beta1
    near = abs(weight) < 0.5
    far = weight - 1.0
    value = 1.0 - beta2
    decay = 1.0 - lr * weight_decay
    start = 0
    for s in range(ends.size):
        end = ends[s]
        bc1 = bias_correction1[s]
        bc2_sqrt = bias_correction2_sqrt[s]
        r = rect[s]
        adaptive = rectified[s] != 0.0
        ps, gs, ms, vs = p[start:end], g[start:end], exp_avg[start:end], exp_avg_sq[start:end]
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
            if near:
                m = fma(weight, gi - m, m)
            else:
                m = fma(far, gi - m, gi)
            ms[i] = m
            v = fma(value * gi, gi, vs[i] * beta2)
            vs[i] = v
            update = m / bc1 * lr
            if adaptive:  # (a float over a tensor is torch's reciprocal, then a product)
                update = update * ((1.0 / (math.sqrt(v) + eps)) * bc2_sqrt) * r
            ps[i] = pi - update
        start = end


@_kernel
def asgd(p, g, ax, ends, eta, decay, mu, weight_decay, maximize):
    """ASGD; per segment: ``eta``, ``1 - lambd * eta`` and ``mu`` (the averaging weight, 1
    until ``t0``: then ``ax`` is the parameter itself)."""
    start = 0
    for s in range(ends.size):
        end = ends[s]
        neg_eta = -eta[s]
        d = decay[s]
        m = mu[s]
        ps, gs, axs = p[start:end], g[start:end], ax[start:end]
        for i in range(ps.size):
            gi = gs[i]
            if maximize:
                gi = -gi
            if weight_decay != 0.0:
                gi = fma(ps[i], weight_decay, gi)
            pi = fma(gi, neg_eta, ps[i] * d)
            ps[i] = pi
            if m != 1.0:
                a = axs[i]
                axs[i] = a + (pi - a) * m
            else:
                axs[i] = pi
        start = end


@_kernel
def rprop(p, g, prev, step_size, etaminus, etaplus, step_size_min, step_size_max, maximize):
    """Rprop: each element's step grows by ``etaplus`` while its gradient keeps its sign and
    shrinks by ``etaminus`` (that gradient then counted as 0) when it flips."""
    for i in range(p.size):
        gi = g[i]
        if maximize:
            gi = -gi
        product = gi * prev[i]
        # torch's sign (0 for NaN), then its three masked assignments in turn
        f = 1.0 if product > 0.0 else (-1.0 if product < 0.0 else 0.0)
        if f > 0.0:
            f = etaplus
        if f < 0.0:
            f = etaminus
        if f == 0.0:
            f = 1.0
        size = step_size[i] * f
        if size < step_size_min:  # (clamp_: a NaN stays)
            size = step_size_min
        if size > step_size_max:
            size = step_size_max
        step_size[i] = size
        if f == etaminus:
            gi = 0.0
        sign = 1.0 if gi > 0.0 else (-1.0 if gi < 0.0 else 0.0)
        p[i] = fma(-1.0 * sign, size, p[i])
        prev[i] = gi
