"""tapegrad: reverse-mode automatic differentiation with PyTorch's autograd semantics.

Operations append integer records to a flat Wengert tape; ``backward`` replays the tape in
reverse inside numba.

>>> import tapegrad as tg
>>> x = tg.ones(2, 2, requires_grad=True)
>>> y = x + 2
>>> y
tensor([[3., 3.],
        [3., 3.]], grad_fn=<AddBackward0>)
"""

import math as _math
import warnings as _warnings

from .compiled import CompiledTape, GuardError, compile
from .creation import (
    arange,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    manual_seed,
    ones,
    ones_like,
    rand,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from .device import device
from .dtypes import (
    bool,
    double,
    dtype,
    float,
    float16,
    float32,
    float64,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    short,
    uint8,
)
from .functional import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp
from .functions import FUNCTIONS as _FUNCTIONS
from .functions import is_tensor, lerp
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .gradcheck import GradcheckError, gradcheck
from .printing import set_printoptions
from .products import bmm, dot, einsum, ger, inner, kron, mm, mv, outer, tensordot
from .reductions import (
    amax,
    amin,
    aminmax,
    argmax,
    argmin,
    cumprod,
    cumsum,
    logcumsumexp,
    prod,
    std,
    var,
)
from .shapes import (  # (issue 19: indexing and shape)
    chunk,
    diag,
    diag_embed,
    diagonal,
    flatten,
    flip,
    gather,
    index_add,
    index_select,
    masked_fill,
    masked_select,
    meshgrid,
    moveaxis,
    movedim,
    narrow,
    roll,
    scatter,
    scatter_add,
    split,
    take,
    tile,
    trace,
    tril,
    triu,
    unbind,
    unflatten,
)
from .tensor import Size, Tensor

# tapegrad.exp, tapegrad.sum, tapegrad.where ...: every function the op table names
globals().update(_FUNCTIONS)

# -- the names torch programs use in their first lines (issue 19): constants, default
# dtype/device, random creation, the legacy tensor types (tg.FloatTensor ...)
from .creation import (  # noqa: E402
    empty_like,
    get_default_device,
    get_default_dtype,
    normal,
    rand_like,
    randint,
    randint_like,
    randperm,
    set_default_device,
    set_default_dtype,
)
from .legacy import (  # noqa: E402
    BoolTensor,
    ByteTensor,
    CharTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
    ShortTensor,
)

pi, e, inf, nan = _math.pi, _math.e, _math.inf, _math.nan

__version__ = "0.1.0"

__all__ = [
    "gradcheck", "GradcheckError", "compile", "CompiledTape", "GuardError", "grad",
    "value_and_grad", "vjp", "jacobian", "hvp", "hessian", "jvp",
    "Tensor", "Size", "dtype", "device", "tensor", "from_numpy", "zeros", "ones", "empty", "full",
    "arange", "linspace", "eye", "randn", "rand", "zeros_like", "ones_like", "full_like",
    "randn_like", "manual_seed", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "inference_mode", "is_inference_mode_enabled",
    "set_printoptions", "float64", "double", "float32", "float", "float16", "half", "int64",
    "long", "int32", "int", "int16", "short", "int8", "uint8", "bool", "is_tensor", "lerp",
    *_FUNCTIONS,
    # (issue 19's torch names)
    "empty_like", "get_default_device", "get_default_dtype", "normal", "rand_like", "randint",
    "randint_like", "randperm", "set_default_device", "set_default_dtype", "BoolTensor",
    "ByteTensor", "CharTensor", "DoubleTensor", "FloatTensor", "HalfTensor", "IntTensor",
    "LongTensor", "ShortTensor", "pi", "e", "inf", "nan", "cuda", "backends",
    "dot", "mv", "mm", "bmm", "outer", "ger", "inner", "tensordot", "kron", "einsum",
    "prod", "cumsum", "cumprod", "logcumsumexp", "amax", "amin", "argmax", "argmin", "aminmax",
    "var", "std",
    "flatten", "unflatten", "movedim", "moveaxis", "narrow", "flip", "roll", "tile", "split",
    "chunk", "unbind", "gather", "index_select", "take", "masked_select", "masked_fill",
    "scatter", "scatter_add", "index_add", "tril", "triu", "diag", "diagonal", "diag_embed",
    "trace", "meshgrid",
]


def __getattr__(name: str):
    # tg.nn, tg.optim and tg.autograd are imported on first use: ``import tapegrad`` does not
    # pay for them
    if name in ("nn", "optim", "autograd", "cuda", "backends", "linalg"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    # torch's top-level names for tg.linalg's functions
    if name in ("inverse", "det", "logdet", "slogdet", "cholesky", "cross", "svd", "qr",
                "pinverse", "matrix_power", "matrix_exp", "cholesky_solve", "cholesky_inverse",
                "triangular_solve", "lu", "lu_unpack", "lu_solve", "vander", "orgqr"):
        from .linalg import TOP_LEVEL

        return TOP_LEVEL[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# torch computes log(0), 1/0 or sqrt(-1) silently, as IEEE inf/nan; NumPy would print a
# RuntimeWarning from tapegrad's eager forwards for each.  Those warnings -- only those raised
# inside tapegrad's own modules -- are ignored: a per-op np.errstate would cost more than
# recording the op.
_warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"tapegrad(\.|$)")
