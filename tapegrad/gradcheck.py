"""gradcheck: the tape's gradients against central finite differences, as torch.autograd.gradcheck.

Slow mode builds both Jacobians of every differentiable output with respect to every checked
input: the *numerical* one by central differences (two evaluations of ``func`` per input element,
under ``no_grad``, on float64 copies of the inputs), the *analytical* one from the tape (one
backward per output element, seeded with a unit vector).  Like torch, a Jacobian is laid out with
one **row per input element** and one **column per output element**.

Fast mode replaces the full Jacobians by random projections: for random unit vectors ``u``
(output-sized) and ``v`` (input-sized) it compares ``<u, J v>`` -- central differences of ``func``
along ``v`` -- with ``<J^T u, v>`` -- one backward seeded with ``u``.  That costs two evaluations
per input and one backward per output, whatever the sizes, so it scales to large inputs.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .grad_mode import enable_grad, no_grad
from .tensor import Tensor

__all__ = ["GradcheckError", "gradcheck"]

#: independent random (u, v) draws in fast mode
FAST_DRAWS = 2
#: the seed fast mode uses when none is given: deterministic, and the global RNG is untouched
DEFAULT_SEED = 0

Outputs = Tensor | Sequence[Tensor]


class GradcheckError(RuntimeError):
    """Raised by :func:`gradcheck` when the tape's gradients disagree with finite differences."""


def gradcheck(
    func: Callable[..., Outputs],
    inputs: Tensor | Sequence[Any],
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    fast_mode: bool = False,
    seed: int | None = None,
    nondet_tol: float = 0.0,
) -> bool:
    """Check the tape's gradients of ``func`` against central finite differences.

    ``func(*inputs)`` must return a tensor or a tuple of tensors.  The inputs that are tensors
    with ``requires_grad=True`` are checked (other inputs, tensors or not, are passed through
    unchanged); the outputs that require grad are checked.  An analytical entry ``a`` passes
    against its numerical entry ``n`` when ``|a - n| <= atol + rtol * |n|``.

    Besides the values, it checks -- as torch does -- that the gradients have the shape and dtype
    of their input, and that the backward pass is reproducible (two passes agree within
    ``nondet_tol``).  When no output requires grad, the numerical Jacobian must be zero.

    The user's tensors are neither changed nor given a ``.grad``: ``func`` is called on fresh
    leaf copies of the checked inputs, and the ``.grad`` of any other leaf the graph reaches is
    restored after each backward.

    Precision: the defaults are meant for float64 inputs.  As torch, a checked input of another
    floating dtype gives a ``UserWarning``; unlike torch, the numerical differences are still
    taken on float64 copies (so ``eps`` is not lost to float32 rounding) while the analytical
    Jacobian comes from a forward pass in the input's own dtype -- a correct float32 function
    usually passes with the default tolerances.

    ``fast_mode=True`` compares ``<u, J v>`` (central differences of ``func`` along ``v``) with
    ``<J^T u, v>`` (one backward seeded with ``u``) for each (output, input) pair, for
    ``FAST_DRAWS`` independent draws of Gaussian unit vectors ``u`` (output-sized) and ``v``
    (input-sized), with the same test ``|a - n| <= atol + rtol * |n|`` on the two numbers.  (torch
    draws positive vectors and widens ``atol`` by ``sum(u) * sum(v)``, which on large, sparse
    Jacobians lets a wrong derivative through; mean-zero vectors need no widening.)  ``seed``
    fixes the draws; ``None`` means a fixed default seed, so results are reproducible.

    Positions in messages are positions in ``inputs`` and in the tuple ``func`` returns.

    Returns ``True`` when everything agrees; on a mismatch raises :class:`GradcheckError`
    (a ``RuntimeError``) naming the output, the input and the worst Jacobian element -- the one
    that exceeds its tolerance by the largest factor -- with both values, or returns ``False``
    when ``raise_exception=False``.

    >>> import tapegrad as tg
    >>> from tapegrad.gradcheck import gradcheck
    >>> x = tg.tensor([0.5, -1.0, 2.0], requires_grad=True)
    >>> gradcheck(lambda x: (x.sin() * x).sum(), x)
    True
    >>> gradcheck(lambda x: x * x.detach(), x, raise_exception=False)  # misses a term
    False
    >>> gradcheck(lambda x: x * x.detach(), x)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tapegrad.gradcheck.GradcheckError: Jacobian mismatch for output 0 with respect to input 0,
    ...
    """
    try:
        return _gradcheck(func, inputs, eps=eps, atol=atol, rtol=rtol, fast_mode=fast_mode,
                          seed=seed, nondet_tol=nondet_tol)
    except GradcheckError:
        if raise_exception:
            raise
        return False


# --------------------------------------------------------------------------- driver


class _Problem:
    """The function, its inputs, the leaf copies the tape differentiates and the outputs."""

    def __init__(self, func: Callable[..., Outputs], inputs: Tensor | Sequence[Any],
                 eps: float) -> None:
        self.func = func
        self.eps = eps
        self.args = _as_tuple(inputs)
        self.checked = _check_inputs(self.args)
        # float64 copies that finite differences perturb (never the user's tensors)
        self.base = {i: np.array(self.args[i].detach().numpy(), dtype=np.float64, copy=True)
                     for i in self.checked}
        # fresh leaves for the tape: the user's tensors get no .grad
        self.leaves = {i: Tensor(self.args[i].detach(), requires_grad=True)
                       for i in self.checked}
        call = list(self.args)
        for i, leaf in self.leaves.items():
            call[i] = leaf
        with enable_grad():
            self.outs = _as_outputs(func(*call))
        self.diff = [k for k, o in enumerate(self.outs) if o.requires_grad]

    # -- numerical side ---------------------------------------------------------------------

    def evaluate(self) -> list[np.ndarray]:
        """``func`` at the current (perturbed) float64 values, as float64 arrays."""
        call = list(self.args)
        for i, value in self.base.items():
            call[i] = Tensor(value)  # a copy per call: func may change its inputs in place
        with no_grad():
            outs = _as_outputs(self.func(*call))
        if len(outs) != len(self.outs):
            raise GradcheckError(
                f"func returned {len(outs)} outputs for perturbed inputs but {len(self.outs)} "
                "for the inputs themselves")
        values = []
        for k, (o, ref) in enumerate(zip(outs, self.outs, strict=True)):
            if o.shape != ref.shape:
                raise GradcheckError(
                    f"output {k} has shape {tuple(o.shape)} for perturbed inputs but "
                    f"{tuple(ref.shape)} for the inputs themselves")
            # copy now: an output may alias the input that is perturbed next
            values.append(np.array(o.detach().numpy(), dtype=np.float64, copy=True).ravel())
        return values

    def numerical_jacobians(self, i: int) -> list[np.ndarray]:
        """Per output, d output / d input ``i`` by central differences: (numel_in, numel_out)."""
        flat = self.base[i].reshape(-1)  # a view: perturbing it perturbs the base
        jac = [np.zeros((flat.size, o.numel())) for o in self.outs]
        for r in range(flat.size):
            orig = flat[r]
            flat[r] = orig + self.eps
            plus = self.evaluate()
            flat[r] = orig - self.eps
            minus = self.evaluate()
            flat[r] = orig
            for k in range(len(self.outs)):
                jac[k][r] = (plus[k] - minus[k]) / (2 * self.eps)
        return jac

    def numerical_jvp(self, i: int, v: np.ndarray) -> list[np.ndarray]:
        """Per output, J v for the Jacobian with respect to input ``i``, by central differences."""
        x = self.base[i]
        orig = x.copy()
        step = self.eps * v.reshape(x.shape)
        try:
            np.add(orig, step, out=x)
            plus = self.evaluate()
            np.subtract(orig, step, out=x)
            minus = self.evaluate()
        finally:
            x[...] = orig
        return [(p - m) / (2 * self.eps) for p, m in zip(plus, minus, strict=True)]

    # -- analytical side --------------------------------------------------------------------

    def vjp(self, k: int, grad_output: np.ndarray) -> dict[int, np.ndarray]:
        """The gradients of the checked inputs for one backward of output ``k`` seeded with
        ``grad_output``, checked for shape and dtype; zeros where no gradient flows."""
        out = self.outs[k]
        for leaf in self.leaves.values():
            leaf.grad = None
        foreign = _foreign_grad_holders(out, self.leaves.values())
        saved = [(t, t.grad) for t in foreign]
        for t in foreign:
            t.grad = None
        try:
            out.backward(Tensor(grad_output.reshape(out.shape).astype(out._v.dtype)),
                         retain_graph=True)
        finally:
            for t, g in saved:
                t.grad = g
        grads = {}
        for i, leaf in self.leaves.items():
            g = leaf.grad
            leaf.grad = None
            if g is None:
                grads[i] = np.zeros(leaf.numel())
                continue
            if g.shape != leaf.shape:
                raise GradcheckError(
                    f"Analytical gradient has incorrect size: the gradient of input {i} has "
                    f"shape {tuple(g.shape)}, the input {tuple(leaf.shape)}")
            if g.dtype != leaf.dtype:
                raise GradcheckError(
                    f"Gradient has dtype mismatch: the gradient of input {i} is {g.dtype}, "
                    f"the input {leaf.dtype}")
            grads[i] = np.array(g.numpy(), dtype=np.float64).ravel()
        return grads

    def analytical_jacobians(self, k: int) -> dict[int, np.ndarray]:
        """Per checked input, d output ``k`` / d input by one backward per output element."""
        n_out = self.outs[k].numel()
        jac = {i: np.zeros((leaf.numel(), n_out)) for i, leaf in self.leaves.items()}
        seed = np.zeros(n_out)
        for c in range(n_out):
            seed[c] = 1.0
            for i, g in self.vjp(k, seed).items():
                jac[i][:, c] = g
            seed[c] = 0.0
        return jac


def _gradcheck(func, inputs, *, eps, atol, rtol, fast_mode, seed, nondet_tol) -> bool:
    problem = _Problem(func, inputs, eps)
    if fast_mode:
        return _fast(problem, atol, rtol, seed, nondet_tol)
    return _slow(problem, atol, rtol, nondet_tol)


def _slow(p: _Problem, atol: float, rtol: float, nondet_tol: float) -> bool:
    numerical = {i: p.numerical_jacobians(i) for i in p.checked}
    if not p.diff:
        for i in p.checked:
            for jac in numerical[i]:
                if np.any(jac != 0):
                    raise GradcheckError("Numerical gradient for function expected to be zero")
        return True
    for k in p.diff:
        first = p.analytical_jacobians(k)
        second = p.analytical_jacobians(k)
        for i in p.checked:
            _check_reentrant(first[i], second[i], nondet_tol)
        for i in p.checked:
            a, n = first[i], numerical[i][k]
            if not _allclose(a, n, atol, rtol):
                raise GradcheckError(_mismatch_message(
                    a, n, k, i, p.outs[k].shape, p.leaves[i].shape, atol, rtol))
    return True


def _fast(p: _Problem, atol: float, rtol: float, seed: int | None, nondet_tol: float) -> bool:
    rng = np.random.default_rng(DEFAULT_SEED if seed is None else seed)
    for draw in range(FAST_DRAWS):
        v = {i: _unit(rng, p.leaves[i].numel()) for i in p.checked}
        # u is rounded to the output's dtype: the seed a float32 backward sees
        u = {k: _unit(rng, p.outs[k].numel()).astype(p.outs[k]._v.dtype).astype(np.float64)
             for k in p.diff}
        jvps = {i: p.numerical_jvp(i, v[i]) for i in p.checked}
        if not p.diff:
            for i in p.checked:
                for jvp in jvps[i]:
                    if jvp.size and np.max(np.abs(jvp)) > nondet_tol:
                        raise GradcheckError(
                            "Numerical gradient for function expected to be zero")
            return True
        for k in p.diff:
            first = p.vjp(k, u[k])
            second = p.vjp(k, u[k])
            for i in p.checked:
                _check_reentrant(first[i], second[i], nondet_tol)
            for i in p.checked:
                n = float(np.dot(u[k], jvps[i][k]))
                a = float(np.dot(first[i], v[i]))
                if not _allclose(np.array(a), np.array(n), atol, rtol):
                    raise GradcheckError(_fast_message(a, n, k, i, draw, atol, rtol, seed))
    return True


# --------------------------------------------------------------------------- checks


def _as_tuple(x: Any) -> tuple:
    if isinstance(x, tuple):
        return x
    if isinstance(x, list):
        return tuple(x)
    return (x,)


def _as_outputs(out: Any) -> tuple[Tensor, ...]:
    outs = _as_tuple(out)
    for k, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(
                f"gradcheck expects func to return a Tensor or a tuple of Tensors, but output "
                f"{k} is {type(o).__name__}")
    return outs


def _check_inputs(args: tuple) -> list[int]:
    checked = []
    for i, a in enumerate(args):
        if isinstance(a, Tensor) and a.requires_grad:
            if a.dtype.name != "float64":
                warnings.warn(
                    f"Input #{i} requires gradient and is not a double precision floating "
                    "point. The default tolerances are meant for double precision inputs; "
                    "tapegrad takes the finite differences on float64 copies, but the "
                    "analytical gradients come from a forward pass in the input's dtype.",
                    UserWarning, stacklevel=5)
            checked.append(i)
    if not checked:
        raise ValueError(
            "gradcheck expects at least one input tensor to require gradient, but none of them "
            "have requires_grad=True.")
    return checked


def _check_reentrant(first: np.ndarray, second: np.ndarray, nondet_tol: float) -> None:
    if first.size and np.max(np.abs(first - second)) > nondet_tol:
        raise GradcheckError(
            "Backward is not reentrant, i.e., running backward with same input and grad_output "
            "multiple times gives different values, although analytical gradient matches "
            f"numerical gradient. The tolerance for nondeterminism was {nondet_tol}.")


def _allclose(a: np.ndarray, n: np.ndarray, atol: float, rtol: float) -> bool:
    # written so that a NaN on either side fails, as torch.allclose without equal_nan
    return bool(np.all(np.abs(a - n) <= atol + rtol * np.abs(n)))


def _foreign_grad_holders(out: Tensor, own) -> list[Tensor]:
    """Tensors other than ``own`` whose ``.grad`` a backward from ``out`` would change."""
    if out._tape is None:
        return []
    own_ids = {id(t) for t in own}
    return [t for t in out._tape.grad_receivers() if id(t) not in own_ids]


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    vec = rng.standard_normal(n)
    norm = np.linalg.norm(vec)
    return vec / norm if norm > 0 else vec


# --------------------------------------------------------------------------- messages


def _index_str(flat: int, shape: tuple) -> str:
    return "[" + ", ".join(str(int(i)) for i in np.unravel_index(flat, shape)) + "]"


def _mismatch_message(a: np.ndarray, n: np.ndarray, k: int, i: int, out_shape: tuple,
                      in_shape: tuple, atol: float, rtol: float) -> str:
    err = np.abs(a - n)
    tol = atol + rtol * np.abs(n)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(np.isnan(err), np.inf, err / tol)
    row, col = np.unravel_index(int(np.argmax(ratio)), a.shape)
    nv, av = float(n[row, col]), float(a[row, col])
    return (
        f"Jacobian mismatch for output {k:d} with respect to input {i:d},\n"
        f"numerical:{Tensor(n)!r}\nanalytical:{Tensor(a)!r}\n"
        f"The worst element (largest |analytical - numerical| / (atol + rtol * |numerical|)) "
        f"is at row {row}, column {col} (rows are elements of input {i}, columns elements of "
        f"output {k}, as in torch): "
        f"d output{k}{_index_str(col, tuple(out_shape))} / "
        f"d input{i}{_index_str(row, tuple(in_shape))}: numerical {nv!r}, analytical {av!r}, "
        f"|analytical - numerical| = {abs(av - nv):.6g} > atol + rtol * |numerical| = "
        f"{atol + rtol * abs(nv):.6g}\n")


def _fast_message(a: float, n: float, k: int, i: int, draw: int, atol: float, rtol: float,
                  seed: int | None) -> str:
    return (
        f"Jacobian mismatch for output {k:d} with respect to input {i:d} (fast mode, random "
        f"draw {draw + 1} of {FAST_DRAWS}, seed {DEFAULT_SEED if seed is None else seed}),\n"
        f"numerical:{n!r}   <u, J v>, by central differences of the function along v\n"
        f"analytical:{a!r}   <J^T u, v>, from one backward with gradient u\n"
        f"|analytical - numerical| = {abs(a - n):.6g} > atol + rtol * |numerical| = "
        f"{atol + rtol * abs(n):.6g}; u (output-sized) and v (input-sized) are random unit "
        "vectors. Rerun with fast_mode=False (on a smaller input) to see the worst Jacobian "
        "element.\n")
