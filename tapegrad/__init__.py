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
from .diagonals import diag, diag_embed, diagonal, trace, tril, triu
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
from .sampling import bernoulli, multinomial, poisson
from .scatters import (
    gather,
    index_add,
    index_select,
    masked_fill,
    masked_select,
    scatter,
    scatter_add,
    take,
)
from .serialization import load, save
from .shapes import (  # (issue 19: indexing and shape)
    chunk,
    flatten,
    flip,
    meshgrid,
    moveaxis,
    movedim,
    narrow,
    roll,
    split,
    tile,
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
    "inference_mode", "is_inference_mode_enabled", "save", "load", "utils",
    "bernoulli", "multinomial", "poisson",
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
    if name in ("nn", "optim", "autograd", "cuda", "backends", "linalg", "utils",
                "distributions", "special"):
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

# -- branch joins: torch's joins, shape functions and fused products ------------------------------
from .joins import (  # noqa: E402
    as_tensor,
    asarray,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    block_diag,
    broadcast_shapes,
    broadcast_tensors,
    broadcast_to,
    cartesian_prod,
    column_stack,
    combinations,
    dstack,
    hstack,
    is_floating_point,
    is_nonzero,
    numel,
    repeat_interleave,
    row_stack,
    tril_indices,
    triu_indices,
    vstack,
)
from .shapes import (  # noqa: E402
    dsplit,
    fliplr,
    flipud,
    hsplit,
    ravel,
    rot90,
    split_with_sizes,
    swapaxes,
    swapdims,
    t,
    tensor_split,
    vsplit,
)

__all__ += [
    "hstack", "vstack", "row_stack", "dstack", "column_stack", "atleast_1d", "atleast_2d",
    "atleast_3d", "broadcast_to", "broadcast_tensors", "broadcast_shapes", "block_diag",
    "cartesian_prod", "combinations", "tril_indices", "triu_indices", "repeat_interleave",
    "numel", "is_floating_point", "is_nonzero", "as_tensor", "asarray", "split_with_sizes",
    "tensor_split", "hsplit", "vsplit", "dsplit", "rot90", "fliplr", "flipud", "ravel", "t",
    "swapaxes", "swapdims",
]
from .fused import (  # noqa: E402
    addbmm,
    addcdiv,
    addcmul,
    addmm,
    addmv,
    addr,
    baddbmm,
    cdist,
    chain_matmul,
    floor_divide,
    positive,
    rsub,
    true_divide,
)

__all__ += [
    "addmm", "addmv", "addbmm", "baddbmm", "addr", "addcmul", "addcdiv", "rsub", "true_divide",
    "floor_divide", "positive", "cdist", "chain_matmul",
]
from .scatters import scatter_reduce  # noqa: E402

__all__ += ["scatter_reduce"]
# -- sorting, selection and statistics (session 13, branch sortstat) --------------------------
from .sorting import (  # noqa: E402
    argsort,
    argwhere,
    bincount,
    bucketize,
    count_nonzero,
    cummax,
    cummin,
    histc,
    kthvalue,
    median,
    mode,
    msort,
    nanmedian,
    nonzero,
    searchsorted,
    sort,
    topk,
    unique,
    unique_consecutive,
)

__all__ += [
    "sort", "argsort", "msort", "topk", "kthvalue", "median", "nanmedian", "mode", "cummax",
    "cummin", "unique", "unique_consecutive", "searchsorted", "bucketize", "bincount", "histc",
    "count_nonzero", "nonzero", "argwhere",
]
from .statistics import (  # noqa: E402
    allclose,
    corrcoef,
    cov,
    diff,
    equal,
    isclose,
    isfinite,
    isinf,
    isnan,
    isneginf,
    isposinf,
    isreal,
    logspace,
    nan_to_num,
    nanmean,
    nanquantile,
    nansum,
    quantile,
    std_mean,
    var_mean,
)

__all__ += [
    "quantile", "nanquantile", "nansum", "nanmean", "var_mean", "std_mean", "cov", "corrcoef",
    "isclose", "allclose", "equal", "isnan", "isinf", "isfinite", "isposinf", "isneginf",
    "isreal", "nan_to_num", "diff", "logspace",
]

# -- lead, session 13: calculus, torch's complex API on real tensors, short compositions ----------
from .calculus import cumulative_trapezoid, gradient, trapezoid, trapz  # noqa: E402
from .realness import (  # noqa: E402
    angle,
    conj,
    conj_physical,
    is_complex,
    is_conj,
    is_neg,
    real,
    resolve_conj,
    resolve_neg,
)
from .shorthands import (  # noqa: E402
    bitwise_and,
    bitwise_left_shift,
    bitwise_not,
    bitwise_or,
    bitwise_right_shift,
    bitwise_xor,
    diagflat,
    dist,
    fmax,
    fmin,
    gcd,
    histogram,
    isin,
    lcm,
    ldexp,
    not_equal,
    pdist,
    renorm,
    select,
    select_scatter,
    slice_scatter,
    take_along_dim,
    unravel_index,
    vdot,
)

__all__ += [
    "trapezoid", "trapz", "cumulative_trapezoid", "gradient", "real", "conj", "conj_physical",
    "resolve_conj", "resolve_neg", "is_complex", "is_conj", "is_neg", "angle", "select",
    "take_along_dim", "diagflat", "vdot", "dist", "isin", "unravel_index", "fmax", "fmin",
    "ldexp", "renorm", "pdist", "select_scatter", "slice_scatter", "histogram", "bitwise_and",
    "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_left_shift", "bitwise_right_shift",
    "gcd", "lcm", "not_equal",
]
from .generator import (  # noqa: E402
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    seed,
    set_rng_state,
)

__all__ += ["Generator", "default_generator", "get_rng_state", "initial_seed", "seed",
            "set_rng_state"]
from .rounding import div, divide, round  # noqa: E402, F401  (rounding_mode=, decimals=)

# -- special functions (torch.special's gamma family): polygamma and mvlgamma take a number
# besides the tensor, so they and their Tensor methods are written in special.py --------------
from .special import mvlgamma, polygamma  # noqa: E402

__all__ += ["polygamma", "mvlgamma"]
