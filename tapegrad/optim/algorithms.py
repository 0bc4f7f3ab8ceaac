"""SGD, Adam, AdamW, RMSprop and Adagrad: each update is vectorised over a parameter group's
flat buffers (see optimizer.py), with torch's arithmetic in torch's order -- ``add(x,
alpha=a)`` is ``x + a * y``, ``addcmul(t1, t2, value=v)`` is ``x + v * t1 * t2`` and
``addcdiv(t1, t2, value=v)`` is ``x + v * t1 / t2``, left to right, as torch's CPU kernels."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, _check, _Flat

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


def _lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """torch.lerp's formula (the two forms keep it exact at both ends)."""
    if abs(weight) < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1.0 - weight)


def _check_lr(lr: Any) -> None:
    _check(0.0 <= lr, f"Invalid learning rate: {lr}")


class SGD(Optimizer):
    """Stochastic gradient descent, with momentum, dampening, Nesterov momentum, weight decay
    and ``maximize``, as ``torch.optim.SGD``."""

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check_lr(lr)
        _check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening,
                    "weight_decay": weight_decay, "nesterov": nesterov, "maximize": maximize,
                    "foreach": foreach, "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    _with_step = False
    _copy_first = ("momentum_buffer",)

    def _state_names(self, group: dict) -> tuple:
        return ("momentum_buffer",) if group["momentum"] != 0 else ()

    def _update(self, group: dict, flat: _Flat) -> None:
        p = flat.gather_params()
        g = flat.gather_grads()
        if group["maximize"]:
            g = -g
        wd, momentum, lr = group["weight_decay"], group["momentum"], group["lr"]
        if wd != 0:
            g = g + wd * p
        if momentum != 0:
            buf = flat.bufs["momentum_buffer"]
            new = buf * momentum + (1 - group["dampening"]) * g
            if flat.fresh.any():  # torch's first step: the buffer is the gradient itself
                first = flat.per_element(flat.fresh)
                new[first] = g[first]
            buf[...] = new
            g = g + momentum * buf if group["nesterov"] else buf
        flat.scatter_params(p + (-lr) * g)


class Adam(Optimizer):
    """Adam (and AMSGrad, and AdamW's decoupled weight decay), as ``torch.optim.Adam``."""

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False) -> None:
        _check_lr(lr)
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "amsgrad": amsgrad, "maximize": maximize, "foreach": foreach,
                    "capturable": capturable, "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _state_names(self, group: dict) -> tuple:
        return ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if group["amsgrad"] else \
            ("exp_avg", "exp_avg_sq")

    def _update(self, group: dict, flat: _Flat) -> None:
        p = flat.gather_params()
        g = flat.gather_grads()
        if group["maximize"]:
            g = -g
        beta1, beta2 = group["betas"]
        lr, wd, eps = group["lr"], group["weight_decay"], group["eps"]
        step = self._steps(flat)
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p = p * (1 - lr * wd)
            else:
                g = g + wd * p
        exp_avg, exp_avg_sq = flat.bufs["exp_avg"], flat.bufs["exp_avg_sq"]
        # (in place, into one scratch vector: the same operations in the same order as above
        # would allocate a vector each; on a large model the step is memory-bound)
        tmp = np.empty_like(g)
        weight = 1 - beta1
        if abs(weight) < 0.5:  # torch.lerp's two forms
            np.subtract(g, exp_avg, out=tmp)
            tmp *= weight
            exp_avg += tmp
        else:
            exp_avg[...] = _lerp(exp_avg, g, weight)
        exp_avg_sq *= beta2
        np.multiply(g, 1 - beta2, out=tmp)
        tmp *= g
        exp_avg_sq += tmp
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2 ** 0.5
        if group["amsgrad"]:
            top = flat.bufs["max_exp_avg_sq"]
            np.maximum(top, exp_avg_sq, out=top)
            np.sqrt(top, out=tmp)
        else:
            np.sqrt(exp_avg_sq, out=tmp)
        tmp /= bias_correction2_sqrt
        tmp += eps  # the denominator
        update = np.multiply(exp_avg, -step_size)
        update /= tmp
        p += update
        flat.scatter_params(p)


class AdamW(Adam):
    """Adam with decoupled weight decay (default 1e-2), as ``torch.optim.AdamW``."""

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)


class RMSprop(Optimizer):
    """RMSprop (centered, with momentum, weight decay and ``maximize``), as
    ``torch.optim.RMSprop``."""

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False, foreach: bool | None = None,
                 maximize: bool = False, differentiable: bool = False) -> None:
        _check_lr(lr)
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        _check(0.0 <= momentum, f"Invalid momentum value: {momentum}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        _check(0.0 <= alpha, f"Invalid alpha value: {alpha}")
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps,
                    "centered": centered, "weight_decay": weight_decay, "capturable": capturable,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, defaults)

    def _state_names(self, group: dict) -> tuple:
        names = ("square_avg",)
        if group["momentum"] > 0:
            names += ("momentum_buffer",)
        if group["centered"]:
            names += ("grad_avg",)
        return names

    def _update(self, group: dict, flat: _Flat) -> None:
        p = flat.gather_params()
        g = flat.gather_grads()
        if group["maximize"]:
            g = -g
        self._steps(flat)
        alpha, lr, eps = group["alpha"], group["lr"], group["eps"]
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        square_avg = flat.bufs["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * g * g
        if group["centered"]:
            grad_avg = flat.bufs["grad_avg"]
            grad_avg[...] = _lerp(grad_avg, g, 1 - alpha)
            avg = np.sqrt(square_avg + -1.0 * grad_avg * grad_avg)
        else:
            avg = np.sqrt(square_avg)
        avg = avg + eps
        if group["momentum"] > 0:
            buf = flat.bufs["momentum_buffer"]
            buf *= group["momentum"]
            buf += g / avg
            flat.scatter_params(p + (-lr) * buf)
        else:
            flat.scatter_params(p + (-lr) * g / avg)


class Adagrad(Optimizer):
    """Adagrad (learning-rate decay, weight decay, initial accumulator, ``maximize``), as
    ``torch.optim.Adagrad``.  Its state exists from construction, as torch's."""

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        _check_lr(lr)
        _check(0.0 <= lr_decay, f"Invalid lr_decay value: {lr_decay}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        _check(0.0 <= initial_accumulator_value,
               f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        from ..tensor import _wrap

        for group in self.param_groups:
            for p in group["params"]:
                st = self.state[p]
                st["step"] = _wrap(np.array(0.0))
                st["sum"] = _wrap(np.full(p._v.shape, float(group["initial_accumulator_value"]),
                                          dtype=p._v.dtype))

    _buffers = ("sum",)

    def _update(self, group: dict, flat: _Flat) -> None:
        p = flat.gather_params()
        g = flat.gather_grads()
        step = self._steps(flat)
        if group["maximize"]:
            g = -g
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * p
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        state_sum = flat.bufs["sum"]
        state_sum += 1 * g * g
        std = np.sqrt(state_sum) + group["eps"]
        flat.scatter_params(p + (-clr) * g / std)
