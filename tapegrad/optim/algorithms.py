"""SGD, Adam, AdamW, RMSprop and Adagrad: each update is one numba call over a parameter
group's flat buffers (see optimizer.py and kernels.py), with torch's arithmetic in torch's
order."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from . import kernels
from .optimizer import Optimizer, _check, _Flat

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]

#: the kernels' stand-in for a state buffer an option leaves unused (same type as a real one,
#: so one compilation serves every combination of options)
_NONE = np.empty(0)
_NOT_FRESH = np.zeros(1, dtype=np.bool_)


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
        momentum = float(group["momentum"])
        # torch's first step makes a momentum buffer of the gradient itself ("fresh")
        if flat.fresh.any():
            ends, fresh = flat.segments(flat.fresh)
            fresh = np.array(fresh, dtype=np.bool_)
        else:
            ends, fresh = flat.whole, _NOT_FRESH
        kernels.sgd(p, g, flat.bufs["momentum_buffer"] if momentum != 0 else _NONE, ends,
                    fresh, float(group["lr"]), momentum,
                    float(group["dampening"]), float(group["weight_decay"]),
                    bool(group["nesterov"]), bool(group["maximize"]))
        flat.scatter_params(p)


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
        beta1, beta2 = group["betas"]
        lr = group["lr"]
        ends, steps = self._steps(flat)
        # (torch's Python float arithmetic, per segment: the same numbers to the last bit)
        step_size = [lr / (1 - beta1 ** step) for step in steps]
        bias_correction2_sqrt = [(1 - beta2 ** step) ** 0.5 for step in steps]
        amsgrad = bool(group["amsgrad"])
        bufs = flat.bufs
        kernels.adam(p, g, bufs["exp_avg"], bufs["exp_avg_sq"],
                     bufs["max_exp_avg_sq"] if amsgrad else _NONE, ends,
                     np.array(step_size, dtype=np.float64),
                     np.array(bias_correction2_sqrt, dtype=np.float64), float(lr), float(beta1),
                     float(beta2), float(group["eps"]), float(group["weight_decay"]),
                     bool(group["decoupled_weight_decay"]), amsgrad, bool(group["maximize"]))
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
        self._steps(flat)
        momentum = float(group["momentum"])
        centered = bool(group["centered"])
        bufs = flat.bufs
        kernels.rmsprop(p, g, bufs["square_avg"], bufs["grad_avg"] if centered else _NONE,
                        bufs["momentum_buffer"] if momentum > 0 else _NONE, float(group["lr"]),
                        float(group["alpha"]), float(group["eps"]),
                        float(group["weight_decay"]), momentum, centered,
                        bool(group["maximize"]))
        flat.scatter_params(p)


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
        ends, steps = self._steps(flat)
        lr, lr_decay = group["lr"], group["lr_decay"]
        clr = [lr / (1 + (step - 1) * lr_decay) for step in steps]
        kernels.adagrad(p, g, flat.bufs["sum"], ends, np.array(clr, dtype=np.float64),
                        float(group["weight_decay"]), float(group["eps"]),
                        bool(group["maximize"]))
        flat.scatter_params(p)
