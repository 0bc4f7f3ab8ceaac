"""The API made from the op table: ``Tensor``'s methods and operators and ``tapegrad``'s functions.

Each op's ``Surface`` (ops/registry.py) names how users reach it; ``install`` makes what it names,
once, when tensor.py is imported:

* an elementwise op with a Python scalar rule gets everything from here: its method and
  function are the fast path bound to the op (``_unary`` for one operand, ``_arithmetic`` for
  two), its operators too -- ``+ - * / **`` take a Python number through the op's
  ``<key>_scalar`` partner (``r<key>_scalar`` for a reflected operator, if the table has one),
  and ``c / x`` is ``_rdiv`` (the reciprocal's operator); the tensor subclasses of fastpath.py
  get their own operators bound the same way;
* a comparison (ops/compare.py: a bool tensor with no history) gets its method, function and
  operators here too, all calling structural.py's ``_compare``;
* any other op's method is written by hand in tensor.py (checked here), and its function is the
  front end's own function of that name (``cat``, ``where``, ``reshape``) or calls the method.

Everything made here shows torch's parameters only (its ``__signature__``): the ops bound as
defaults are the engine's, positional defaults because a call that fills them costs nothing.

The keyword forms torch takes are made here too, once for every function: ``input=``/``other=``
(the parameters carry torch's names), ``out=`` on the functions torch gives one (except the
elementwise math bound to ``_unary``: a keyword there would cost every call), ``alpha=`` on
``add``/``sub``, and ``axis=`` for ``dim=`` on ``cat``/``stack`` (the reductions' methods take
``axis=``/``keepdims=`` themselves, tensor.py).
"""

from __future__ import annotations

import inspect
import operator
import warnings
from collections.abc import Callable
from types import FunctionType

import numpy as np

from . import dtypes, structural
from .fastpath import SUBCLASSES, _arithmetic, _rdiv, _unary
from .grad_mode import STATE
from .ops import BY_KEY, OPS
from .ops.compare import COMPARISONS
from .recording import _as_tensor
from .structural import _compare
from .tensor import Tensor

#: ``tapegrad.<name>`` -> the function, for every op the table exposes as one (opcode order)
FUNCTIONS: dict[str, Callable] = {}

_P = inspect.Parameter


def _signature(names: tuple[str, ...], keywords: tuple = ()) -> inspect.Signature:
    """``names`` as positional parameters, then ``keywords`` ((name, default) pairs) as
    keyword-only ones."""
    return inspect.Signature([_P(name, _P.POSITIONAL_OR_KEYWORD) for name in names] +
                             [_P(name, _P.KEYWORD_ONLY, default=d) for name, d in keywords])


# -- out= --------------------------------------------------------------------------------------

#: the functions (other than the elementwise ones made here) that take ``out=``, as torch's
OUT = frozenset({"sum", "mean", "logsumexp", "clamp", "norm", "cat", "stack", "matmul", "where"})


def _requires_grad(x) -> bool:
    if isinstance(x, Tensor):
        return x.requires_grad
    if isinstance(x, (list, tuple)):
        return any(_requires_grad(t) for t in x)
    return False


def with_out(name: str, out, inputs: tuple, compute: Callable, *args, **kwargs) -> Tensor:
    """``compute(*args, **kwargs)`` written into ``out`` (and ``out`` returned), as torch's
    ``out=``: refused while an argument requires grad in grad mode, cast to ``out``'s dtype where
    torch casts, ``out`` resized (with torch's warning unless it is empty) when the shapes
    differ."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if STATE.grad_enabled and (out.requires_grad or _requires_grad(inputs)):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support "
                           "automatic differentiation, but one of the arguments requires grad.")
    if name == "sum" and kwargs.get("dtype") is None:
        kwargs["dtype"] = out.dtype  # (torch sums in out's dtype: the input is cast first)
    result = compute(*args, **kwargs)
    r, o = np.asarray(result._v), out._v
    if r.dtype != o.dtype:
        _check_out_dtype(name, r.dtype, o.dtype)
    if o.shape == r.shape:
        out[...] = result  # (in place: views of ``out`` see it, its version counts it)
    else:
        if o.size:
            warnings.warn(
                f"An output with one or more elements was resized since it had shape "
                f"[{', '.join(map(str, o.shape))}], which does not match the required output "
                f"shape [{', '.join(map(str, r.shape))}]. This behavior is deprecated, and in a "
                "future PyTorch release outputs will not be resized unless they have zero "
                "elements. You can explicitly reuse an out tensor t by resizing it, inplace, to "
                "zero elements with t.resize_(0).", UserWarning, stacklevel=3)
        if o.__class__ is np.ndarray and o.flags.c_contiguous and r.size <= o.size:
            # (torch keeps the storage when the result fits: views of ``out`` see the result)
            new = o.reshape(-1)[:r.size].reshape(r.shape)
            new[...] = r
        else:
            new = r.astype(o.dtype)
        out.data = new
    return out


def _check_out_dtype(name: str, result: np.dtype, out: np.dtype) -> None:
    """torch's rule for writing a result into an ``out`` of another dtype: ``sum`` casts to
    any, ``matmul`` to none, the others within a kind (float64 to float32, int to float),
    each refusing with its own message."""
    if name == "sum":
        return
    if name == "matmul":
        raise RuntimeError(f"Expected out tensor to have dtype {dtypes.CPP_NAMES[result]}, but "
                           f"got {dtypes.CPP_NAMES[out]} instead")
    if np.can_cast(result, out, "same_kind"):
        return
    if name in ("cat", "stack"):
        raise TypeError("torch.cat(): input types can't be cast to the desired output type "
                        f"{dtypes.SCALAR_NAMES[out]}")
    if name == "clamp":
        raise RuntimeError(f"Found dtype {dtypes.SCALAR_NAMES[out]} but expected "
                           f"{dtypes.SCALAR_NAMES[result]}")
    raise RuntimeError(f"result type {dtypes.SCALAR_NAMES[result]} can't be cast to the "
                       f"desired output type {dtypes.SCALAR_NAMES[out]}")


def _alpha(input, other, alpha):
    """``alpha * other`` for ``add``/``sub``: torch refuses a float ``alpha`` with integral
    operands."""
    if isinstance(alpha, float) and not _floating(input) and not _floating(other):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating "
                           "point number.")
    return other * alpha


def _floating(x) -> bool:
    return x._v.dtype.kind == "f" if isinstance(x, Tensor) else isinstance(x, float)


def _bind(function: FunctionType, name: str, qualname: str, defaults: tuple,
          names: tuple[str, ...], doc: str | None = None) -> FunctionType:
    """``function`` with ``defaults`` bound: a function object of its own sharing its code, so
    that an op costs one Python call, not a method calling a helper."""
    bound = FunctionType(function.__code__, function.__globals__, name, defaults)
    bound.__qualname__ = qualname
    bound.__module__ = "tapegrad.tensor" if qualname.startswith("Tensor.") else "tapegrad"
    bound.__signature__ = _signature(names)
    bound.__doc__ = doc
    return bound


def _named(function: FunctionType, name: str, qualname: str, names: tuple[str, ...],
           doc: str, keywords: tuple = ()) -> FunctionType:
    """``function`` under torch's name and parameter names (its first ones renamed in a code
    object of its own: only for callables off the per-op paths, which share theirs)."""
    code = function.__code__
    renamed = {"co_varnames": names + code.co_varnames[len(names):], "co_name": name}
    if hasattr(code, "co_qualname"):  # (Python 3.11 on)
        renamed["co_qualname"] = qualname
    code = code.replace(**renamed)
    named = FunctionType(code, function.__globals__, name, function.__defaults__,
                         function.__closure__)
    named.__kwdefaults__ = function.__kwdefaults__
    named.__qualname__ = qualname
    named.__module__ = "tapegrad.tensor" if qualname.startswith("Tensor.") else "tapegrad"
    named.__signature__ = _signature(names, keywords)
    named.__doc__ = doc
    return named


def _example(key: str, two: bool) -> str:
    operands = "tg.ones(2), tg.ones(2)" if two else "tg.ones(2)"
    return (f"\n\n    >>> import tapegrad as tg\n    >>> tg.{key}({operands}).shape\n"
            "    tapegrad.Size([2])\n")


def _unary_op(op, surface) -> None:
    doc = f"Elementwise ``{op.key}``, as ``torch.{op.key}``." + _example(op.key, False)
    method = _bind(_unary, surface.method, f"Tensor.{surface.method}", (op, None, None),
                   ("self",), doc)
    setattr(Tensor, surface.method, method)
    for dunder in surface.operators:  # (c / x: recorded as reciprocal(x) * c, see _rdiv)
        setattr(Tensor, dunder, _rdiv if dunder == "__rtruediv__" else method)
        if dunder == "__rtruediv__":
            for cls, _, _ in SUBCLASSES:
                setattr(cls, dunder, _rdiv)
    if surface.function:
        FUNCTIONS[surface.function] = _bind(_unary, surface.function, surface.function,
                                            (op, None, None), surface.params, doc)


def _arithmetic_op(op, surface) -> None:
    """A binary elementwise op: its operators, or (no operators) its method and function."""
    params = surface.params
    doc = f"Elementwise ``{op.key}``, as ``torch.{op.key}``." + _example(op.key, True)
    for dunder in surface.operators:
        reflected_op = BY_KEY.get(f"r{op.key}_scalar") if dunder.startswith("__r") else None
        scalar_op = reflected_op or BY_KEY[f"{op.key}_scalar"]
        # a plain tensor's reflected operator reflects only where the op does not commute
        # with a number (its r-partner); a subclass's always does, because Python also asks
        # it first for ``tensor <op> subclass`` (see fastpath.SUBCLASSES)
        setattr(Tensor, dunder, _bind(_arithmetic, dunder, f"Tensor.{dunder}",
                                      (op, scalar_op, reflected_op is not None),
                                      ("self", "other")))
        for cls, function, defaults in SUBCLASSES:
            reflected = dunder.startswith("__r")
            setattr(cls, dunder, _bind(function, dunder, f"Tensor.{dunder}",
                                       (op, scalar_op, reflected, *defaults(op, reflected)),
                                       ("self", "other")))
    name = surface.function
    keywords: tuple = (("out", None),)
    if op.key in ("add", "sub"):  # x.add(y, alpha=2) is x + 2 * y, as torch's
        python_operator = getattr(operator, surface.operators[0])
        keywords = (("alpha", 1), ("out", None))

        def method(self, other, *, alpha=1):
            if alpha != 1:
                other = _alpha(self, other, alpha)
            return python_operator(self, other)

        def function(input, other, *, alpha=1, out=None):
            input = _as_tensor(input)
            if alpha != 1:
                other = _alpha(input, other, alpha)
            if out is None:
                return python_operator(input, other)
            return with_out(name, out, (input, other), python_operator, input, other)
    elif surface.operators:  # x.mul(y) is x * y; tapegrad.mul(2, x) is 2 * x
        python_operator = getattr(operator, surface.operators[0])

        # (closures, not _arithmetic bound: an extra argument must not land on the engine's
        # parameters)
        def method(self, other):
            return python_operator(self, other)

        def function(input, other, *, out=None):
            if out is None:
                return python_operator(_as_tensor(input), other)
            return with_out(name, out, (input, other), python_operator, _as_tensor(input),
                            other)
    else:  # (no number partner: a number operand is a 0-d tensor)
        def method(self, other):
            return _arithmetic(self, _as_tensor(other), op)

        def function(input, other, *, out=None):
            if out is None:
                return _arithmetic(_as_tensor(input), _as_tensor(other), op)
            return with_out(name, out, (input, other), _arithmetic, _as_tensor(input),
                            _as_tensor(other), op)

    method = _named(method, surface.method, f"Tensor.{surface.method}", ("self", params[1]), doc,
                    keywords[:-1])
    setattr(Tensor, surface.method, method)
    FUNCTIONS[surface.function] = _named(function, surface.function, surface.function, params,
                                         doc, keywords)


def _comparison(op, surface) -> None:
    key = op.key
    name = surface.function
    if op.arity == 2:
        def method(self, other):
            return _compare(self, other, key)

        def function(input, other, *, out=None):
            if out is None:
                return _compare(_as_tensor(input), other, key)
            return with_out(name, out, (input, other), _compare, _as_tensor(input), other, key)
    else:
        def method(self):
            return _compare(self, None, key)

        def function(input, *, out=None):
            if out is None:
                return _compare(_as_tensor(input), None, key)
            return with_out(name, out, (input,), _compare, _as_tensor(input), None, key)
    names = surface.params[1:]
    doc = _COMPARISON_DOCS.get(key, f"Elementwise ``{key}``, as ``torch.{key}``: a bool tensor "
                                    "without history.")
    method = _named(method, surface.method, f"Tensor.{surface.method}", ("self", *names), doc)
    setattr(Tensor, surface.method, method)
    for dunder in surface.operators:
        setattr(Tensor, dunder, method)
    FUNCTIONS[surface.function] = _named(function, surface.function, surface.function,
                                         surface.params, doc, (("out", None),))


_COMPARISON_DOCS = {"logical_and": """Elementwise ``and`` of truth values (nonzero is true), as
    a bool tensor; ``&`` on two bool tensors is the same.

    >>> import tapegrad as tg
    >>> x = tg.tensor([-1.0, 0.5, 2.0])
    >>> (x > 0) & (x < 1), tg.logical_not(x > 0)
    (tensor([False,  True, False]), tensor([ True, False, False]))
    """}


def _written_op(op, surface) -> None:
    """An op whose method is written by hand: its function is the front end's own, or calls
    the method on the input made a tensor."""
    if surface.method is not None and not callable(Tensor.__dict__.get(surface.method)):
        raise AssertionError(f"the op table names Tensor.{surface.method}, which is missing")
    if surface.function is None:
        return
    name = surface.function
    own = structural.__dict__.get(name)
    if own is not None and getattr(own, "__module__", None) == structural.__name__:
        FUNCTIONS[name] = _own_function(own, name) if name in OUT else own
        return
    method = Tensor.__dict__[surface.method]
    takes_out = name in OUT

    def function(input, *args, **kwargs):
        if takes_out and "out" in kwargs:
            out = kwargs.pop("out")
            if out is not None:
                return with_out(name, out, (input, *args, *kwargs.values()), method,
                                _as_tensor(input), *args, **kwargs)
        return method(_as_tensor(input), *args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__module__ = "tapegrad"
    function.__doc__ = method.__doc__ or f"``{name}``, as ``torch.{name}``."
    # (the method's parameters, ``self`` named as torch names it)
    signature = inspect.signature(method)
    first, *rest = signature.parameters.values()
    function.__signature__ = signature.replace(
        parameters=_with_out_parameter([first.replace(name=surface.params[0]), *rest],
                                       takes_out))
    FUNCTIONS[name] = function


def _with_out_parameter(parameters: list, takes_out: bool) -> list:
    if takes_out:
        parameters.append(_P("out", _P.KEYWORD_ONLY, default=None))
    return parameters


def _own_function(own: Callable, name: str) -> Callable:
    """A front end's own function (``cat``, ``matmul`` ...) with ``out=``, and ``axis=`` for
    ``dim=`` where it has a ``dim``."""
    takes_dim = "dim" in inspect.signature(own).parameters

    def function(*args, out=None, **kwargs):
        if takes_dim and "axis" in kwargs:
            if "dim" in kwargs or len(args) > 1:
                raise TypeError(f"{name}() got an unexpected keyword argument 'axis'")
            kwargs["dim"] = kwargs.pop("axis")
        if out is None:
            return own(*args, **kwargs)
        return with_out(name, out, (*args, *kwargs.values()), own, *args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__module__ = "tapegrad"
    function.__doc__ = own.__doc__
    signature = inspect.signature(own)
    function.__signature__ = signature.replace(
        parameters=_with_out_parameter(list(signature.parameters.values()), True))
    return function


def install() -> None:
    """Make every method, operator and function the op table names (once, at import)."""
    for op in OPS:
        surface = op.surface
        if surface is None:
            continue
        kind = op.rules[0] if op.rules and op.py is not None else None
        if op.key in COMPARISONS:
            _comparison(op, surface)
        elif kind == "unary":
            _unary_op(op, surface)
        elif kind == "binary":
            _arithmetic_op(op, surface)
        else:
            _written_op(op, surface)
