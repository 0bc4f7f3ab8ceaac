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
  front end's own function of that name (``cat``, ``where``, ``reshape``) or calls the method;
* torch's other names for an op (``Surface.aliases``: ``arccos``, ``multiply``, ``clip`` ...)
  are made as its own names are, the same op under another name;
* the ops with a parameter the table has no place for are composed here (``logit``'s ``eps``,
  ``float_power``, ``clamp_min``/``clamp_max``, ``heaviside``'s refused gradient);
* every elementwise op's in-place form (``x.exp_()``, ``x.atan2_(y)``, ``x.clamp_(0, 1)``) is
  one rule, ``_inplace_method``: the out-of-place method computed, then written into ``self``
  as tensor.py's ``+=`` is (indexing.commit_inplace).

Everything made here shows torch's parameters only (its ``__signature__``): the ops bound as
defaults are the engine's, positional defaults because a call that fills them costs nothing.

The keyword forms torch takes are made here too, once for every function: ``input=``/``other=``
(the parameters carry torch's names), ``out=`` on the functions torch gives one (the
elementwise math's methods, bound to ``_unary``, take none: a keyword there would cost every
call; their ``tapegrad.`` functions test ``out`` once and call it), ``alpha=`` on
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
from .fastpath import SUBCLASSES, _arithmetic, _rdiv, _storage, _unary
from .grad_mode import STATE, no_grad
from .indexing import _check_inplace, commit_inplace
from .node import rename
from .ops import BY_KEY, OPS
from .ops.compare import COMPARISONS
from .ops.mathfuncs2 import BOOL_RESULTS, HEAVISIDE_NO_GRADIENT
from .ops.registry import READS_A
from .recording import _as_tensor, _recording
from .structural import _compare
from .tensor import Tensor

_CLONE = BY_KEY["clone"]

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
    if STATE.grad_enabled and name not in _NOT_DIFFERENTIABLE and (
            out.requires_grad or _requires_grad(inputs)):
        raise RuntimeError(f"{_GRAD_NAMES.get(name, name)}(): functions with out=... arguments "
                           "don't support automatic differentiation, but one of the arguments "
                           "requires grad.")
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
    if name in _OWN_OUT_DTYPE_ERRORS:
        raise RuntimeError(_OWN_OUT_DTYPE_ERRORS[name].format(
            out=dtypes.SCALAR_NAMES[out], result=dtypes.SCALAR_NAMES[result]))
    if name == "matmul":
        raise RuntimeError(f"Expected out tensor to have dtype {dtypes.CPP_NAMES[result]}, but "
                           f"got {dtypes.CPP_NAMES[out]} instead")
    if name in _EXACT_OUT:
        raise RuntimeError(f"Found dtype {dtypes.SCALAR_NAMES[out]} but expected "
                           f"{dtypes.SCALAR_NAMES[result]}")
    if np.can_cast(result, out, "same_kind"):
        return
    if name in ("cat", "stack"):
        raise TypeError("torch.cat(): input types can't be cast to the desired output type "
                        f"{dtypes.SCALAR_NAMES[out]}")
    raise RuntimeError(f"result type {dtypes.SCALAR_NAMES[result]} can't be cast to the "
                       f"desired output type {dtypes.SCALAR_NAMES[out]}")


# the functions whose ``out`` must have the result's dtype exactly (torch's structured kernels
# that keep their input's dtype), and those refusing another dtype with words of their own
_EXACT_OUT = frozenset({"clamp", "abs", "neg", "sign", "sgn", "floor", "ceil", "round", "trunc",
                        "frac"})
_OWN_OUT_DTYPE_ERRORS = {
    "signbit": "signbit does not support non-boolean outputs.",
    "heaviside": "heaviside is not yet implemented for tensors with different dtypes.",
    "float_power": "the output given to float_power has dtype {out} but the operation's result "
                   "requires dtype {result}"}
# functions torch computes into ``out`` whatever requires grad (no gradient to refuse), and those
# whose refusal names the op they are made of
_NOT_DIFFERENTIABLE = COMPARISONS | BOOL_RESULTS | {"heaviside"}
_GRAD_NAMES = {"float_power": "pow", "square": "pow"}
# the elementwise functions made here that torch gives no ``out=``
_NO_OUT = frozenset({"relu"})


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
    for alias in surface.aliases:  # (the same op under torch's other name: the same node)
        setattr(Tensor, alias, _bind(_unary, alias, f"Tensor.{alias}", (op, None, None),
                                     ("self",), doc))
    for name in (surface.function, *surface.aliases) if surface.function else ():
        FUNCTIONS[name] = (_bind(_unary, name, name, (op, None, None), surface.params, doc)
                           if name in _NO_OUT else
                           _unary_function(op, name, surface.function, surface.params, doc))


def _unary_function(op, name: str, op_name: str, params: tuple, doc: str) -> FunctionType:
    """``tapegrad.<name>``: ``op`` with torch's ``out=`` (the method and operators, bound to
    ``_unary`` itself, take no keyword: one costs every call there; the function pays one
    test of ``out``)."""

    def function(input, *, out=None):
        if out is None:
            return _unary(input, op)
        return with_out(op_name, out, (input,), _unary, _as_tensor(input), op)

    return _named(function, name, name, params, doc, (("out", None),))


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
    name = surface.function  # (out='s messages name the op, as torch's for an alias)
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
    elif surface.number_name is None:  # (no number partner: a number operand is a 0-d tensor)
        def method(self, other):
            return _arithmetic(self, _as_tensor(other), op)

        def function(input, other, *, out=None):
            if out is None:
                return _arithmetic(_as_tensor(input), _as_tensor(other), op)
            return with_out(name, out, (input, other), _arithmetic, _as_tensor(input),
                            _as_tensor(other), op)
    else:  # (as above, the node named as torch's where the operand is a number)
        number_name = surface.number_name

        def method(self, other):
            if other.__class__ is float or other.__class__ is int:
                return rename(_arithmetic(self, _as_tensor(other), op), number_name)
            return _arithmetic(self, _as_tensor(other), op)

        def function(input, other, *, out=None):
            if out is None:
                return method(_as_tensor(input), other)
            return with_out(name, out, (input, other), method, _as_tensor(input), other)

    for alias in (surface.method, *surface.aliases):
        setattr(Tensor, alias, _named(method, alias, f"Tensor.{alias}", ("self", params[1]), doc,
                                      keywords[:-1]))
    for alias in (surface.function, *surface.aliases):
        FUNCTIONS[alias] = _named(function, alias, alias, params, doc, keywords)


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
    for alias in surface.aliases:  # (torch's other names for it: the same method)
        if alias not in Tensor.__dict__:
            setattr(Tensor, alias, Tensor.__dict__[surface.method])
        _written_function(surface, alias, surface.function in OUT)
    _written_function(surface, surface.function, surface.function in OUT)


def _written_function(surface, name: str, takes_out: bool) -> None:
    own = structural.__dict__.get(name)
    if own is not None and getattr(own, "__module__", None) == structural.__name__:
        FUNCTIONS[name] = _own_function(own, name) if takes_out else own
        return
    method = Tensor.__dict__[surface.method]

    op_name = surface.function  # (torch's out= messages name an alias's op)

    def function(input, *args, **kwargs):
        if takes_out and "out" in kwargs:
            out = kwargs.pop("out")
            if out is not None:
                return with_out(op_name, out, (input, *args, *kwargs.values()), method,
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


# -- compositions: ops with a parameter the table has no place for -----------------------------


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """``log(p / (1 - p))``, as ``torch.logit``; ``eps``: ``input`` clamped to
    ``[eps, 1 - eps]`` first (no gradient flows outside it).

    >>> import tapegrad as tg
    >>> tg.logit(tg.tensor([0.5, 0.0]))
    tensor([0., -inf])
    """
    if eps is not None:
        input = _as_tensor(input).clamp(eps, 1.0 - eps)
    return _unary(input, BY_KEY["logit"])


def float_power(input: Tensor, exponent: Tensor | float) -> Tensor:
    """``input ** exponent`` computed in float64 whatever the dtypes, as ``torch.float_power``.

    >>> import tapegrad as tg
    >>> tg.float_power(tg.tensor([2.0], dtype=tg.float32), 2).dtype
    tapegrad.float64
    """
    input = _as_tensor(input)
    if input._v.dtype != np.float64:
        input = input.to(dtypes.float64)
    if isinstance(exponent, Tensor):
        if exponent._v.dtype != np.float64:
            exponent = exponent.to(dtypes.float64)
    else:
        exponent = float(exponent)
    return input.pow(exponent)


def clamp_min(input: Tensor, min: float) -> Tensor:  # noqa: A002 -- torch's names
    """``input.clamp(min=min)``, as ``torch.clamp_min``.

    >>> import tapegrad as tg
    >>> tg.clamp_min(tg.tensor([-1.0, 2.0]), 0.0)
    tensor([0., 2.])
    """
    return _as_tensor(input).clamp(min=min)


def clamp_max(input: Tensor, max: float) -> Tensor:  # noqa: A002 -- torch's names
    """``input.clamp(max=max)``, as ``torch.clamp_max``.

    >>> import tapegrad as tg
    >>> tg.clamp_max(tg.tensor([-1.0, 2.0]), 0.0)
    tensor([-1.,  0.])
    """
    return _as_tensor(input).clamp(max=max)


def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """0 where ``input < 0``, ``values`` where it is 0, 1 where it is positive, as
    ``torch.heaviside``; like torch's, a gradient reaching the result is refused.

    >>> import tapegrad as tg
    >>> tg.heaviside(tg.tensor([-1.0, 0.0, 2.0]), tg.tensor(0.5))
    tensor([0.0000, 0.5000, 1.0000])
    """
    if not isinstance(values, Tensor):
        raise TypeError(f"heaviside(): argument 'values' (position 2) must be Tensor, not "
                        f"{type(values).__name__}")
    out = _arithmetic(_as_tensor(input), values, BY_KEY["heaviside"])
    if out._tape is not None and STATE.compile_tape is None:
        out.register_hook(_refuse_heaviside)
    return out


def _refuse_heaviside(grad):
    raise RuntimeError(HEAVISIDE_NO_GRADIENT)


# name -> (function, its op (for the in-place form's rule), whether torch's takes out=)
COMPOSED = {"logit": (logit, "logit", True), "float_power": (float_power, "pow", True),
            "clamp_min": (clamp_min, "clamp_min", False),
            "clamp_max": (clamp_max, "clamp_max", False),
            "heaviside": (heaviside, "heaviside", True)}


def _composed() -> list:
    made = []
    for name, (f, key, takes_out) in COMPOSED.items():
        params = tuple(inspect.signature(f).parameters)
        method = _named(f, name, f"Tensor.{name}", ("self", *params[1:]), f.__doc__)
        method.__signature__ = inspect.signature(f).replace(parameters=[
            p.replace(name="self") if i == 0 else p
            for i, p in enumerate(inspect.signature(f).parameters.values())])
        setattr(Tensor, name, method)
        FUNCTIONS[name] = _own_function(f, name) if takes_out else f
        made.append((name, BY_KEY[key]))
    return made


# -- in-place forms: ``x.exp_()``, ``x.atan2_(y)`` ... ------------------------------------------


def _inplace_forms() -> list:
    """(name, op) for every in-place method made from the table: each elementwise op's method
    and aliases (unless its ``Surface.inplace`` is False) and any other op's whose
    ``Surface.inplace`` is True."""
    forms = []
    for op in OPS:
        surface = op.surface
        if surface is None or surface.method is None:
            continue
        elementwise = (op.rules and op.py is not None and op.key not in COMPARISONS
                       and op.key not in BOOL_RESULTS)
        if surface.inplace or (surface.inplace is None and elementwise):
            forms += [(name, op) for name in (surface.method, *surface.aliases)]
    return forms


def _inplace_method(name: str, op) -> Callable:
    """``Tensor.<name>_``: ``Tensor.<name>`` computed, then written into ``self`` as torch's
    in-place ops are: refused on a leaf that requires grad, recorded as the op itself
    (``ExpBackward0``) with ``self`` the output of its new record (indexing.commit_inplace:
    the old value's version is bumped, so a VJP that saved it refuses)."""
    method = getattr(Tensor, name)
    # the VJP reads the old value for self's gradient / for the other operand's: a recorded
    # copy is read instead of the storage about to be overwritten (torch keeps original_self)
    old_for_self = bool(op.reads_a & READS_A)
    old_for_other = bool(op.reads_b & READS_A)
    float64_only = name == "float_power"
    refused = _NO_INPLACE_DERIVATIVE.get(op.key)

    def inplace(self, *args, **kwargs):
        v = _storage(self)
        tensors = [t for t in (*args, *kwargs.values()) if isinstance(t, Tensor)]
        recording = _recording(self, *tensors)
        _check_inplace(self, recording)
        if float64_only and v.dtype != np.float64:
            raise RuntimeError(f"the base given to float_power_ has dtype "
                               f"{dtypes.SCALAR_NAMES[v.dtype]} but the operation's result "
                               "requires dtype Double")
        if tensors:
            shape = np.broadcast_shapes(v.shape, *(t._v.shape for t in tensors))
            if shape != v.shape:
                raise RuntimeError(f"output with shape {list(v.shape)} doesn't match the "
                                   f"broadcast shape {list(shape)}")
        if recording and v.dtype.kind != "f":  # (the dtype refused before anything is recorded)
            with no_grad():
                _check_inplace_dtype(method(self, *args, **kwargs)._v.dtype, v.dtype)
        source = self
        if recording and ((old_for_self and self._tape is not None) or (
                old_for_other and any(t._tape is not None or t._rg for t in tensors))):
            source = _unary(self, op=_CLONE, value=v.copy())
        result = method(source, *args, **kwargs)
        r = result._v
        if r.dtype != v.dtype:
            _check_inplace_dtype(r.dtype, v.dtype)
        np.copyto(v, r, casting="unsafe")
        if recording:
            commit_inplace(self, result)
            if refused is not None and STATE.grad_enabled and STATE.compile_tape is None:
                rename(self, refused[0]).register_hook(refused[1])
            return self
        self._version_box()[0] += 1
        return self

    inplace.__name__ = f"{name}_"
    inplace.__qualname__ = f"Tensor.{name}_"
    inplace.__module__ = "tapegrad.tensor"
    inplace.__signature__ = inspect.signature(method)
    inplace.__doc__ = f"``{name}`` in place, as ``torch.Tensor.{name}_``."
    return inplace


def _refusal(key: str) -> tuple:
    def refuse(grad):
        raise NotImplementedError(f"the derivative for 'inplace version of {key}' is not "
                                  "implemented.")

    return f"{key.capitalize()}Backward1", refuse


# torch records these in-place forms with a node that refuses backward (its formula is missing)
_NO_INPLACE_DERIVATIVE = {key: _refusal(key) for key in ("acosh", "asinh", "atanh")}


def _check_inplace_dtype(result: np.dtype, out: np.dtype) -> None:
    if not np.can_cast(result, out, "same_kind"):
        raise RuntimeError(f"result type {dtypes.SCALAR_NAMES[np.dtype(result)]} can't be cast "
                           f"to the desired output type {dtypes.SCALAR_NAMES[np.dtype(out)]}")


def install() -> None:
    """Make every method, operator and function the op table names (once, at import)."""
    for op in OPS:
        surface = op.surface
        if surface is None:
            continue
        kind = op.rules[0] if op.rules and op.py is not None else None
        if op.key in COMPARISONS or op.key in BOOL_RESULTS:
            _comparison(op, surface)
        elif kind == "unary":
            _unary_op(op, surface)
        elif kind == "binary":
            _arithmetic_op(op, surface)
        else:
            _written_op(op, surface)
    forms = [*_inplace_forms(), *_composed()]
    for name, op in forms:
        if f"{name}_" not in Tensor.__dict__:  # (add_ sub_ mul_ div_: tensor.py's own)
            setattr(Tensor, f"{name}_", _inplace_method(name, op))
    for op in OPS:  # (an alias's in-place form is its op's: multiply_ is mul_)
        surface = op.surface
        if surface is not None and surface.method is not None:
            for alias in surface.aliases:
                if f"{surface.method}_" in Tensor.__dict__:
                    setattr(Tensor, f"{alias}_", Tensor.__dict__[f"{surface.method}_"])
