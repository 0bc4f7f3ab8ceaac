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
"""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable
from types import FunctionType

from . import structural
from .fastpath import SUBCLASSES, _arithmetic, _rdiv, _unary
from .ops import BY_KEY, OPS
from .ops.compare import COMPARISONS
from .recording import _as_tensor
from .structural import _compare
from .tensor import Tensor

#: ``tapegrad.<name>`` -> the function, for every op the table exposes as one (opcode order)
FUNCTIONS: dict[str, Callable] = {}

_P = inspect.Parameter


def _signature(names: tuple[str, ...]) -> inspect.Signature:
    return inspect.Signature([_P(name, _P.POSITIONAL_OR_KEYWORD) for name in names])


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
           doc: str) -> FunctionType:
    """``function`` under torch's name and parameter names (its first ones renamed in a code
    object of its own: only for callables off the per-op paths, which share theirs)."""
    code = function.__code__
    renamed = {"co_varnames": names + code.co_varnames[len(names):], "co_name": name}
    if hasattr(code, "co_qualname"):  # (Python 3.11 on)
        renamed["co_qualname"] = qualname
    code = code.replace(**renamed)
    named = FunctionType(code, function.__globals__, name, function.__defaults__,
                         function.__closure__)
    named.__qualname__ = qualname
    named.__module__ = "tapegrad.tensor" if qualname.startswith("Tensor.") else "tapegrad"
    named.__signature__ = _signature(names)
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
    if surface.operators:  # x.add(y) is x + y; tapegrad.add(2, x) is 2 + x
        python_operator = getattr(operator, surface.operators[0])

        # (closures, not _arithmetic bound: an extra argument must not land on the engine's
        # parameters)
        def method(self, other):
            return python_operator(self, other)

        def function(input, other):
            return python_operator(_as_tensor(input), other)
    else:  # (no number partner: a number operand is a 0-d tensor)
        def method(self, other):
            return _arithmetic(self, _as_tensor(other), op)

        def function(input, other):
            return _arithmetic(_as_tensor(input), _as_tensor(other), op)

    method = _named(method, surface.method, f"Tensor.{surface.method}", ("self", params[1]), doc)
    setattr(Tensor, surface.method, method)
    FUNCTIONS[surface.function] = _named(function, surface.function, surface.function, params,
                                         doc)


def _comparison(op, surface) -> None:
    key = op.key
    if op.arity == 2:
        def method(self, other):
            return _compare(self, other, key)

        def function(input, other):
            return _compare(_as_tensor(input), other, key)
    else:
        def method(self):
            return _compare(self, None, key)

        def function(input):
            return _compare(_as_tensor(input), None, key)
    names = surface.params[1:]
    doc = _COMPARISON_DOCS.get(key, f"Elementwise ``{key}``, as ``torch.{key}``: a bool tensor "
                                    "without history.")
    method = _named(method, surface.method, f"Tensor.{surface.method}", ("self", *names), doc)
    setattr(Tensor, surface.method, method)
    for dunder in surface.operators:
        setattr(Tensor, dunder, method)
    FUNCTIONS[surface.function] = _named(function, surface.function, surface.function,
                                         surface.params, doc)


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
    own = structural.__dict__.get(surface.function)
    if own is not None and getattr(own, "__module__", None) == structural.__name__:
        FUNCTIONS[surface.function] = own
        return
    method = Tensor.__dict__[surface.method]

    def function(input, *args, **kwargs):
        return method(_as_tensor(input), *args, **kwargs)

    function.__name__ = function.__qualname__ = surface.function
    function.__module__ = "tapegrad"
    function.__doc__ = method.__doc__ or f"``{surface.function}``, as ``torch.{surface.function}``."
    # (the method's parameters, ``self`` named as torch names it)
    signature = inspect.signature(method)
    first, *rest = signature.parameters.values()
    function.__signature__ = signature.replace(
        parameters=[first.replace(name=surface.params[0]), *rest])
    FUNCTIONS[surface.function] = function


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
