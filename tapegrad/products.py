"""Products in torch's names (issue 19): ``dot``, ``mv``, ``mm``, ``bmm`` with torch's stricter
shape and dtype rules than ``matmul``'s (they record the op table's dot/mv/mm/bmm ops), and
``outer``/``ger``, ``inner``, ``tensordot``, ``kron``, ``einsum`` composed of differentiable
ops (reshape, permute, expand, sum, matmul, mul): their values and gradients are torch's,
their ``grad_fn`` names may differ from torch's.
"""

from __future__ import annotations

import inspect
import math
import numbers

from .dtypes import CPP_NAMES, SCALAR_NAMES
from .recording import _as_tensor
from .structural import matmul
from .tensor import Tensor


def _dims(t: Tensor) -> int:
    return t._v.ndim


def _dtype_name(t: Tensor) -> str:
    return SCALAR_NAMES.get(t._v.dtype, str(t._v.dtype))


def dot(input, tensor) -> Tensor:
    """Inner product of two 1-D tensors of one dtype, as ``torch.dot``.

    >>> import tapegrad as tg
    >>> tg.dot(tg.tensor([1., 2.]), tg.tensor([3., 4.]))
    tensor(11.)
    """
    a, b = _as_tensor(input), _as_tensor(tensor)
    if _dims(a) != 1 or _dims(b) != 1:
        raise RuntimeError(f"1D tensors expected, but got {_dims(a)}D and {_dims(b)}D tensors")
    if a._v.dtype != b._v.dtype:
        raise RuntimeError("dot : expected both vectors to have same dtype, but found "
                           f"{_dtype_name(a)} and {_dtype_name(b)}")
    return matmul(a, b)


def mv(input, vec) -> Tensor:
    """Matrix-vector product, as ``torch.mv``: a 2-D ``input`` and a 1-D ``vec``."""
    a, b = _as_tensor(input), _as_tensor(vec)
    if _dims(a) != 2 or _dims(b) != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {_dims(a)}, {_dims(b)}")
    (m, k), kb = a._v.shape, b._v.shape[0]
    if k != kb:
        raise RuntimeError(f"size mismatch, got input ({m}), mat ({m}x{k}), vec ({kb})")
    if a._v.dtype != b._v.dtype:
        raise RuntimeError("addmv input tensors must have the same dtype, but got "
                           f"{_dtype_name(b)}, {_dtype_name(a)}, and {_dtype_name(b)}")
    return matmul(a, b)


def mm(input, mat2) -> Tensor:
    """Matrix product of two 2-D tensors, as ``torch.mm`` (no broadcasting)."""
    a, b = _as_tensor(input), _as_tensor(mat2)
    if _dims(a) != 2:
        raise RuntimeError("self must be a matrix")
    if _dims(b) != 2:
        raise RuntimeError("mat2 must be a matrix")
    if a._v.shape[1] != b._v.shape[0]:
        (m, k), (kb, n) = a._v.shape, b._v.shape
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({m}x{k} and {kb}x{n})")
    if a._v.dtype != b._v.dtype:
        raise RuntimeError("expected m1 and m2 to have the same dtype, but got: "
                           f"{CPP_NAMES.get(a._v.dtype)} != {CPP_NAMES.get(b._v.dtype)}")
    return matmul(a, b)


def bmm(input, mat2) -> Tensor:
    """Batched matrix product of two 3-D tensors with the same batch size, as ``torch.bmm``
    (no broadcasting)."""
    a, b = _as_tensor(input), _as_tensor(mat2)
    if _dims(a) != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if _dims(b) != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    (batch, _, k), (batch_b, k_b, _) = a._v.shape, b._v.shape
    if (batch, k) != (batch_b, k_b):
        raise RuntimeError("Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{batch}, {k}] but got: [{batch_b}, {k_b}].")
    if a._v.dtype != b._v.dtype:
        raise RuntimeError(f"expected scalar type {_dtype_name(a)} but found {_dtype_name(b)}")
    return matmul(a, b)


def outer(input, vec2) -> Tensor:
    """Outer product of two 1-D tensors, as ``torch.outer`` (``input[:, None] * vec2``)."""
    a, b = _as_tensor(input), _as_tensor(vec2)
    for name, t in (("self", a), ("vec2", b)):
        if _dims(t) != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {_dims(t)}-D")
    return a.reshape(a._v.shape[0], 1) * b


def ger(input, vec2) -> Tensor:
    """``torch.ger``: the old name of :func:`outer`."""
    return outer(input, vec2)


def inner(input, other) -> Tensor:
    """Inner product over the last dims, as ``torch.inner`` (a 0-d operand multiplies)."""
    a, b = _as_tensor(input), _as_tensor(other)
    if _dims(a) == 0 or _dims(b) == 0:
        return a * b
    if a._v.shape[-1] != b._v.shape[-1]:
        raise RuntimeError("inner() the last dimension must match on both input tensors but got "
                           f"shapes {list(a._v.shape)} and {list(b._v.shape)}")
    return tensordot(a, b, ([-1], [-1]))


def tensordot(a, b, dims=2) -> Tensor:
    """Contraction of ``a``'s dims ``dims[0]`` with ``b``'s ``dims[1]`` (an int ``n``: the
    last ``n`` of ``a`` with the first ``n`` of ``b``), as ``torch.tensordot``: a size-1 dim
    contracted with a larger one is summed first, as torch does."""
    a, b = _as_tensor(a), _as_tensor(b)
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, numbers.Integral):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(_dims(a), _dims(b)):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        dims_a, dims_b = [d - dims for d in range(dims)], list(range(dims))
    else:
        if len(dims) != 2:
            raise RuntimeError("tensordot expects dims to be a pair of lists or an int")
        dims_a, dims_b = dims
        dims_a = [dims_a] if isinstance(dims_a, numbers.Integral) else list(dims_a)
        dims_b = [dims_b] if isinstance(dims_b, numbers.Integral) else list(dims_b)
        if len(dims_a) != len(dims_b):
            raise RuntimeError("both dimension lists should have same length")
    if a._v.dtype != b._v.dtype:
        raise RuntimeError("both inputs should have same dtype")
    na, nb = max(_dims(a), 1), max(_dims(b), 1)
    ca, cb = [], []
    for da, db in zip(dims_a, dims_b, strict=True):
        for d, n in ((da, na), (db, nb)):
            if not -n <= d < n:
                raise IndexError(f"Dimension out of range (expected to be in range of "
                                 f"[{-n}, {n - 1}], but got {d})")
        sa, sb = a._v.shape[da], b._v.shape[db]
        if sb == 1 and sa != 1:  # (broadcast: b's size-1 dim meets every element of a's)
            a = a.sum(da, keepdim=True)
        elif sa == 1 and sb != 1:
            b = b.sum(db, keepdim=True)
        elif sa != sb:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {sa} "
                               f"in dim {da} and second has size {sb} in dim {db}")
        ca.append(da % na)
        cb.append(db % nb)
    for c in (ca, cb):
        if len(set(c)) != len(c):
            raise RuntimeError(f"dim {next(d for d in c if c.count(d) > 1)} appears multiple "
                               f"times in the list of dims")
    free_a = [d for d in range(_dims(a)) if d not in ca]
    free_b = [d for d in range(_dims(b)) if d not in cb]
    sa, sb = a._v.shape, b._v.shape
    k = math.prod(sa[d] for d in ca)
    m = math.prod(sa[d] for d in free_a)
    n = math.prod(sb[d] for d in free_b)
    a2 = _permuted(a, free_a + ca).reshape(m, k)
    b2 = _permuted(b, cb + free_b).reshape(k, n)
    return matmul(a2, b2).reshape(*(sa[d] for d in free_a), *(sb[d] for d in free_b))


def kron(input, other) -> Tensor:
    """Kronecker product, as ``torch.kron``: the operands' dims are aligned on the right, and
    the result's dim ``i`` has size ``input.shape[i] * other.shape[i]``."""
    a, b = _as_tensor(input), _as_tensor(other)
    nd = max(_dims(a), _dims(b))
    sa = (1,) * (nd - _dims(a)) + tuple(a._v.shape)
    sb = (1,) * (nd - _dims(b)) + tuple(b._v.shape)
    # a's dims interleaved with b's: a[i, 1, j, 1] * b[1, p, 1, q] is the (i, p, j, q) block
    a2 = a.reshape(*(s for d in sa for s in (d, 1)))
    b2 = b.reshape(*(s for d in sb for s in (1, d)))
    return (a2 * b2).reshape(*(x * y for x, y in zip(sa, sb, strict=True)))


# -- einsum ------------------------------------------------------------------------------------


def einsum(equation: str, *operands) -> Tensor:
    """``torch.einsum``: matrix products, batches, contractions, outer products, sums,
    permutations, diagonals and traces (a subscript repeated within an operand), ``...``
    included -- as diagonals (reshape and index), sums, expands, permutes and batched matrix
    products.

    >>> import tapegrad as tg
    >>> tg.einsum("ij,jk->ik", tg.ones(2, 3), tg.ones(3, 2))
    tensor([[3., 3.],
            [3., 3.]])
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    tensors = [_as_tensor(t) for t in operands]
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) > len(tensors):
        raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                           "equation")
    if len(terms) < len(tensors):
        raise RuntimeError("einsum(): more operands were provided than specified in the "
                           "equation")
    for term in terms + ([rhs] if arrow else []):
        for c in term.replace("...", ""):
            if not c.isalpha():
                raise RuntimeError(f"einsum(): invalid subscript given at index "
                                   f"{equation.index(c)} in the equation string, subscripts "
                                   "must be in [a-zA-Z]")
    # "..." becomes labels of its own, one per broadcast dim, aligned on the right
    ell = max((_dims(t) - len(term.replace("...", ""))
               for term, t in zip(terms, tensors, strict=True) if "..." in term), default=0)
    ell_labels = [chr(0x100 + i) for i in range(ell)]
    labels = []
    for i, (term, t) in enumerate(zip(terms, tensors, strict=True)):
        if "..." in term:
            before, _, after = term.partition("...")
            count = _dims(t) - len(before) - len(after)
            if count < 0:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                                   f"({len(before) + len(after)}) is more than the number of "
                                   f"dimensions ({_dims(t)}) for operand {i}")
            labels.append(list(before) + ell_labels[ell - count:] + list(after))
        else:
            if len(term) != _dims(t):
                raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                                   f"({len(term)}) does not match the number of dimensions "
                                   f"({_dims(t)}) for operand {i} and no ellipsis was given")
            labels.append(list(term))
    seen = [c for ls in labels for c in ls]
    if arrow:
        if "..." in rhs:
            before, _, after = rhs.partition("...")
            out = list(before) + ell_labels + list(after)
        else:
            out = list(rhs)
        for c in out:
            if out.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in "
                                   "the output")
            if c not in seen:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   "equation for any input operand")
    else:  # torch's implicit output: the broadcast dims, then the labels seen once, sorted
        out = ell_labels + sorted(c for c in set(seen) if c not in ell_labels
                                  and seen.count(c) == 1)
    # a subscript repeated within an operand takes its diagonal (then summed: a trace, or kept)
    for i, ls in enumerate(labels):
        for c in dict.fromkeys(ls):
            if ls.count(c) > 1:
                tensors[i], labels[i] = _diagonal(tensors[i], ls, c, i)
                ls = labels[i]
    sizes: dict = {}
    for i, (ls, t) in enumerate(zip(labels, tensors, strict=True)):
        for c, s in zip(ls, t._v.shape, strict=True):
            if sizes.get(c, 1) != 1 and s != 1 and sizes[c] != s:
                name = "..." if c in ell_labels else c
                raise RuntimeError(f"einsum(): subscript {name} has size {s} for operand {i} "
                                   f"which does not broadcast with previously seen size "
                                   f"{sizes[c]}")
            if c not in sizes or sizes[c] == 1:
                sizes[c] = s
    # size-1 dims broadcast (expanded: their gradient is summed back), then labels found in
    # no other operand and not in the output are summed away before any product
    work = []
    for i, (ls, t) in enumerate(zip(labels, tensors, strict=True)):
        full = [sizes[c] for c in ls]
        if list(t._v.shape) != full:
            t = t.expand(*full)
        others = {c for j, o in enumerate(labels) if j != i for c in o} | set(out)
        alone = [d for d, c in enumerate(ls) if c not in others]
        if alone:
            t = t.sum(tuple(alone))
            ls = [c for c in ls if c in others]
        work.append((t, ls))
    t, ls = work[0]
    for i in range(1, len(work)):
        u, lu = work[i]
        keep = set(out) | {c for _, o in work[i + 1:] for c in o}
        batch = [c for c in ls if c in lu and c in keep]
        contract = [c for c in ls if c in lu and c not in keep]
        only_t = [c for c in ls if c not in lu]
        only_u = [c for c in lu if c not in ls]
        t = _pair(t, ls, u, lu, batch, contract, only_t, only_u, sizes)
        ls = batch + only_t + only_u
    if len(work) == 1:  # labels absent from the output are summed (one operand)
        gone = [d for d, c in enumerate(ls) if c not in out]
        if gone:
            t = t.sum(tuple(gone))
            ls = [c for c in ls if c in out]
    return _arranged(t, ls, out)


def _diagonal(t: Tensor, labels: list, c: str, operand: int) -> tuple:
    """The diagonal of ``t`` over every dim labelled ``c``, as its first dim, and the labels
    left: ``t`` with those dims first, flattened, and the diagonal's rows picked."""
    where_c = [d for d, x in enumerate(labels) if x == c]
    shape = t._v.shape
    for d in where_c[1:]:
        if shape[d] != shape[where_c[0]]:
            raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {operand} but "
                               f"the sizes don't match, {shape[d]} != {shape[where_c[0]]}")
    rest = [d for d in range(len(labels)) if d not in where_c]
    n, k = shape[where_c[0]], len(where_c)
    flat = _permuted(t, where_c + rest).reshape(n ** k, *(shape[d] for d in rest))
    step = sum(n ** m for m in range(k))
    return flat[[j * step for j in range(n)]], [c] + [labels[d] for d in rest]


def _pair(t: Tensor, lt: list, u: Tensor, lu: list, batch: list, contract: list, only_t: list,
          only_u: list, sizes: dict) -> Tensor:
    """``t`` and ``u`` (dims labelled ``lt``, ``lu``) multiplied: ``batch`` labels kept,
    ``contract`` summed over -- one batched matrix product ``(B, M, K) @ (B, K, N)``, returned
    with dims ``batch + only_t + only_u``."""
    def size(labels: list) -> int:
        return math.prod(sizes[c] for c in labels)

    nb, m, k, n = size(batch), size(only_t), size(contract), size(only_u)
    t3 = _arranged(t, lt, batch + only_t + contract).reshape(nb, m, k)
    u3 = _arranged(u, lu, batch + contract + only_u).reshape(nb, k, n)
    return matmul(t3, u3).reshape(*(sizes[c] for c in batch + only_t + only_u))


def _arranged(t: Tensor, labels: list, order: list) -> Tensor:
    return _permuted(t, [labels.index(c) for c in order])


def _permuted(t: Tensor, perm: list) -> Tensor:
    return t if perm == list(range(len(perm))) else t.permute(*perm)


def method_signature(f, first: str = "self") -> inspect.Signature:
    """``f``'s signature with its first parameter named ``first`` (a method's ``self``)."""
    signature = inspect.signature(f)
    head, *rest = signature.parameters.values()
    return signature.replace(parameters=[head.replace(name=first), *rest])


def add_methods(*functions) -> None:
    """Each of ``functions`` as ``Tensor.<its name>``, the tensor as its first argument (the
    function's own docstring, and its signature with ``self``)."""
    for f in functions:
        def method(self, *args, _f=f, **kwargs):
            return _f(self, *args, **kwargs)

        method.__name__ = method.__qualname__ = f.__name__
        method.__doc__ = f.__doc__
        method.__signature__ = method_signature(f)
        setattr(Tensor, f.__name__, method)


add_methods(dot, mv, mm, bmm, outer, ger, inner, kron)


def takes_out(f):
    """``f`` as a ``tapegrad.`` function that also takes torch's ``out=`` (surface.with_out:
    refused while an argument requires grad, ``out`` resized as torch resizes it)."""
    name = f.__name__

    def function(*args, out=None, **kwargs):
        if out is None:
            return f(*args, **kwargs)
        from .surface import with_out

        return with_out(name, out, (*args, *kwargs.values()), f, *args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__module__ = "tapegrad"
    function.__doc__ = f.__doc__
    signature = inspect.signature(f)
    function.__signature__ = signature.replace(parameters=[
        *signature.parameters.values(), inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY,
                                                          default=None)])
    return function


# (the functions take out=, as torch's; the methods above do not)
dot, mv, mm, bmm = takes_out(dot), takes_out(mv), takes_out(mm), takes_out(bmm)
outer, ger, inner = takes_out(outer), takes_out(ger), takes_out(inner)
tensordot, kron = takes_out(tensordot), takes_out(kron)

__all__ = ["dot", "mv", "mm", "bmm", "outer", "ger", "inner", "tensordot", "kron", "einsum"]
