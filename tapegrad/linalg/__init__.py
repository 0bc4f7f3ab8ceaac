"""``tapegrad.linalg``: torch.linalg's LAPACK-based functions (issue 19).

numba has no LAPACK without SciPy (not a dependency), so these are not ops of the op table:
each is a custom :class:`tapegrad.autograd.Function` whose forward is NumPy's ``np.linalg`` and
whose backward is written in tensor operations (matmul, ``mT``, and the Functions here), so a
gradient taken with ``create_graph=True`` can be differentiated again.  Their records hand the
numba sweep over to Python once per call (not per element), and ``tg.compile`` replays them by
handing off to Python the same way.  ``grad_fn.name()`` answers torch's node names
(``LinalgInvExBackward0``, ...).  torch's top-level names (``tg.inverse``, ``tg.det``,
``tg.logdet``, ``tg.slogdet``, ``tg.cholesky``, ``tg.cross``, ``tg.svd``, ``tg.qr``,
``tg.pinverse``, ``tg.matrix_power``, ``tg.matrix_exp``, ``tg.cholesky_solve``,
``tg.cholesky_inverse``, ``tg.triangular_solve``, ``tg.lu``, ``tg.lu_unpack``, ``tg.lu_solve``,
``tg.vander``, ``tg.orgqr``) are in :data:`TOP_LEVEL`, served by
``tapegrad.__getattr__``.

The package's modules, one job each: ``_common`` (argument checks, torch's errors),
``solvers``, ``triangular``, ``lu``, ``ex`` (the ``_ex`` variants), ``determinants``,
``decompositions``, ``matrix_functions``, ``norms``, ``products``, ``tensor_solvers``,
``unsupported`` (eig, eigvals, ldl_*: NotImplementedError) and ``top_level`` (the table).

>>> import tapegrad as tg
>>> A = tg.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
>>> d = tg.linalg.det(A)
>>> d.grad_fn.name(), round(d.item(), 12)
('LinalgDetBackward0', 5.0)
>>> d.backward()
>>> A.grad.numpy().round(12).tolist()
[[3.0, -1.0], [-1.0, 2.0]]
"""

from __future__ import annotations

from ._common import LinAlgError
from .decompositions import cholesky, eigh, eigvalsh, qr, svd, svdvals
from .determinants import det, logdet, slogdet
from .ex import cholesky_ex, inv_ex, solve_ex
from .lu import lu, lu_factor, lu_factor_ex, lu_solve
from .matrix_functions import matrix_exp, matrix_power, matrix_rank
from .norms import cond, matrix_norm, norm, vector_norm
from .products import cross, diagonal, matmul, multi_dot, vander, vecdot
from .solvers import inv, lstsq, pinv, solve
from .tensor_solvers import householder_product, tensorinv, tensorsolve
from .top_level import TOP_LEVEL  # noqa: F401  (torch's top-level names: tg.__getattr__ reads it)
from .triangular import solve_triangular
from .unsupported import eig, eigvals, ldl_factor, ldl_factor_ex, ldl_solve

__all__ = ["LinAlgError", "inv", "solve", "det", "slogdet", "logdet", "cholesky", "vector_norm",
           "matrix_norm", "norm", "cross", "eigh", "eigvalsh", "svd", "svdvals", "qr", "pinv",
           "lstsq", "matmul", "vecdot", "multi_dot", "diagonal", "vander", "matrix_power",
           "matrix_exp", "matrix_rank", "solve_triangular", "inv_ex", "solve_ex", "cholesky_ex",
           "lu_factor", "lu_factor_ex", "lu", "lu_solve", "cond", "tensorinv", "tensorsolve",
           "householder_product", "eig", "eigvals", "ldl_factor", "ldl_factor_ex", "ldl_solve"]
