"""Adadelta, Adamax, NAdam, RAdam, ASGD and Rprop, as torch.optim's: each update is one numba
call over a parameter group's flat buffers (see optimizer.py and more_kernels.py), with torch's
arithmetic in torch's order; the numbers that depend on a parameter's step are computed here
with torch's own Python float formulas."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np

from . import more_kernels as kernels
from .algorithms import _check_lr
from .optimizer import Optimizer, _check, _Flat

__all__ = ["Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"]


def _check_betas(betas: tuple[float, float]) -> None:
    _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
    _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")


def _by_segment(flat: _Flat, fn: Callable, *columns: np.ndarray) -> tuple[np.ndarray,
                                                                             np.ndarray]:
    """``fn(*values)`` (a tuple of floats) for each run of parameters sharing their values in
    ``columns`` (per-parameter arrays): ``(ends, table)``, ``table[k]`` the ``k``-th number of
    every segment.  The whole group is one segment when all parameters share them (the common
    case); else each parameter is one, ``fn`` called once per distinct values."""
    if all((c == c[0]).all() for c in columns):
        rows = [fn(*(c[0].item() for c in columns))]
        ends = flat.whole
    else:
        memo: dict = {}
        rows = []
        for key in zip(*(c.tolist() for c in columns), strict=True):
            row = memo.get(key)
            if row is None:
                row = memo[key] = fn(*key)
            rows.append(row)
        ends = flat.ends
    return ends, np.array(rows, dtype=np.float64).T.copy()


class Adadelta(Optimizer):
    """Adadelta (weight decay, ``maximize``), as ``torch.optim.Adadelta``.

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.Adadelta([w], lr=1.0)
    >>> (w * w).sum().backward(); opt.step(); w
    tensor([ 0.9968, -1.9968], requires_grad=True)
    """

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        _check(0.0 <= rho <= 1.0, f"Invalid rho value: {rho}")
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "capturable": capturable, "foreach": foreach,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    _buffers = ("square_avg", "acc_delta")

    def _update(self, group: dict, flat: _Flat) -> None:
        p = flat.gather_params()
        g = flat.gather_grads()
        flat.steps += 1.0
        kernels.adadelta(p, g, flat.bufs["square_avg"], flat.bufs["acc_delta"],
                         float(group["lr"]), float(group["rho"]), float(group["eps"]),
                         float(group["weight_decay"]), bool(group["maximize"]))
        flat.scatter_params(p)


class Adamax(Optimizer):
    """Adamax (Adam with the infinity norm), as ``torch.optim.Adamax``.

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.Adamax([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); w
    tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(self, params: Iterable, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        _check_lr(lr)
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        _check_betas(betas)
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "foreach": foreach, "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    _buffers = ("exp_avg", "exp_inf")

    def _update(self, group: dict, flat: _Flat) -> None:
        p = flat.gather_params()
        g = flat.gather_grads()
        beta1, beta2 = group["betas"]
        lr = group["lr"]
        ends, steps = self._steps(flat)
        clr = [lr / (1 - beta1 ** step) for step in steps]
        kernels.adamax(p, g, flat.bufs["exp_avg"], flat.bufs["exp_inf"], ends,
                       np.array(clr, dtype=np.float64), float(beta1), float(beta2),
                       float(group["eps"]), float(group["weight_decay"]),
                       bool(group["maximize"]))
        flat.scatter_params(p)


class NAdam(Optimizer):
    """NAdam (Adam with Nesterov momentum; ``momentum_decay``, and NAdamW's
    ``decoupled_weight_decay``), as ``torch.optim.NAdam``.

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.NAdam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); w
    tensor([ 0.8944, -1.8944], requires_grad=True)
    """

    def __init__(self, params: Iterable, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        _check_betas(betas)
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        _check(0.0 <= momentum_decay, f"Invalid momentum_decay value: {momentum_decay}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
                    "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    _scalars = ("mu_product",)
    _buffers = ("exp_avg", "exp_avg_sq")

    def _init_value(self, group: dict, name: str, p) -> float:
        return 1.0 if name == "mu_product" else 0.0

    def _update(self, group: dict, flat: _Flat) -> None:
        p = flat.gather_params()
        g = flat.gather_grads()
        beta1, beta2 = group["betas"]
        lr = group["lr"]
        momentum_decay = group["momentum_decay"]

        def mu_at(step: float) -> float:
            return beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))

        steps = flat.steps
        steps += 1.0
        # ``mu_product *= mu``: a 0-d tensor of the default dtype, so rounded to it
        product = flat.scalars["mu_product"]
        if (steps == steps[0]).all():
            product *= product.dtype.type(mu_at(steps[0].item()))
        else:
            product *= np.array([mu_at(step) for step in steps.tolist()]).astype(product.dtype)

        def numbers(step: float, mu_product: float) -> tuple[float, float, float]:
            bias_correction2 = 1 - beta2 ** step
            mu = mu_at(step)
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
            mu_product_next = mu_product * mu_next
            return (bias_correction2, -lr * (1.0 - mu) / (1.0 - mu_product),
                    (-lr * mu_next) / (1.0 - mu_product_next))

        ends, table = _by_segment(flat, numbers, steps, product)
        kernels.nadam(p, g, flat.bufs["exp_avg"], flat.bufs["exp_avg_sq"], ends, table[0],
                      table[1], table[2], float(lr), float(beta1), float(beta2),
                      float(group["eps"]), float(group["weight_decay"]),
                      bool(group["decoupled_weight_decay"]), bool(group["maximize"]))
        flat.scatter_params(p)


class RAdam(Optimizer):
    """RAdam (rectified Adam; ``decoupled_weight_decay``), as ``torch.optim.RAdam``.

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.RAdam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); w
    tensor([ 0.8000, -1.6000], requires_grad=True)
    """

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        _check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        _check_betas(betas)
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "decoupled_weight_decay": decoupled_weight_decay,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    _buffers = ("exp_avg", "exp_avg_sq")

    def _update(self, group: dict, flat: _Flat) -> None:
        p = flat.gather_params()
        g = flat.gather_grads()
        beta1, beta2 = group["betas"]
        lr = group["lr"]
        flat.steps += 1.0

        def numbers(step: float) -> tuple[float, float, float, float]:
            bias_correction1 = 1 - beta1 ** step
            bias_correction2 = 1 - beta2 ** step
            rho_inf = 2 / (1 - beta2) - 1
            rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
            if rho_t > 5.0:
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf /
                        ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                return bias_correction1, bias_correction2 ** 0.5, rect, 1.0
            return bias_correction1, 0.0, 0.0, 0.0

        ends, table = _by_segment(flat, numbers, flat.steps)
        kernels.radam(p, g, flat.bufs["exp_avg"], flat.bufs["exp_avg_sq"], ends, table[0],
                      table[1], table[2], table[3], float(lr), float(beta1), float(beta2),
                      float(group["eps"]), float(group["weight_decay"]),
                      bool(group["decoupled_weight_decay"]), bool(group["maximize"]))
        flat.scatter_params(p)


class ASGD(Optimizer):
    """Averaged SGD (``lambd``, ``alpha``, ``t0``; the average in ``state[p]["ax"]``), as
    ``torch.optim.ASGD``.

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.ASGD([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); w
    tensor([ 0.8000, -1.6000], requires_grad=True)
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        _check_lr(lr)
        _check(0.0 <= weight_decay, f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0,
                    "weight_decay": weight_decay, "foreach": foreach, "maximize": maximize,
                    "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    _scalars = ("eta", "mu")
    _buffers = ("ax",)

    def _init_value(self, group: dict, name: str, p) -> float:
        return {"eta": float(group["lr"]), "mu": 1.0}.get(name, 0.0)

    def _update(self, group: dict, flat: _Flat) -> None:
        p = flat.gather_params()
        g = flat.gather_grads()
        lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
        flat.steps += 1.0
        eta, mu = flat.scalars["eta"], flat.scalars["mu"]
        ends, table = _by_segment(flat, lambda e, m: (e, 1 - lambd * e, m), eta, mu)
        kernels.asgd(p, g, flat.bufs["ax"], ends, table[0], table[1], table[2],
                     float(group["weight_decay"]), bool(group["maximize"]))
        flat.scatter_params(p)
        # the next step's eta and mu (0-d tensors of the default dtype: rounded to it)
        _, table = _by_segment(flat, lambda step: (lr / ((1 + lambd * lr * step) ** alpha),
                                                   1 / max(1, step - t0)), flat.steps)
        eta[:] = table[0]
        mu[:] = table[1]


class Rprop(Optimizer):
    """Resilient backpropagation (``etas``, ``step_sizes``), as ``torch.optim.Rprop``.

    >>> import tapegrad as tg
    >>> w = tg.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.Rprop([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step(); w
    tensor([ 0.9000, -1.9000], requires_grad=True)
    """

    def __init__(self, params: Iterable, lr: float = 1e-2,
                 etas: tuple[float, float] = (0.5, 1.2),
                 step_sizes: tuple[float, float] = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check_lr(lr)
        _check(0.0 < etas[0] < 1.0 < etas[1], f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = {"lr": lr, "etas": etas, "step_sizes": step_sizes, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable,
                    "capturable": capturable}
        super().__init__(params, defaults)

    _buffers = ("prev", "step_size")

    def _init_value(self, group: dict, name: str, p) -> float:
        return float(group["lr"]) if name == "step_size" else 0.0

    def _update(self, group: dict, flat: _Flat) -> None:
        p = flat.gather_params()
        g = flat.gather_grads()
        flat.steps += 1.0
        etaminus, etaplus = group["etas"]
        step_size_min, step_size_max = group["step_sizes"]
        kernels.rprop(p, g, flat.bufs["prev"], flat.bufs["step_size"], float(etaminus),
                      float(etaplus), float(step_size_min), float(step_size_max),
                      bool(group["maximize"]))
        flat.scatter_params(p)
