"""``tapegrad.linalg``: torch.linalg's LAPACK-based functions (issue 19).

numba has no LAPACK without SciPy (not a dependency), so these are not ops of the op table:
each is a custom :class:`tapegrad.autograd.Function` whose forward is NumPy's ``np.linalg`` and
whose backward is written in tensor operations (matmul, ``mT``, and the Functions here), so a
gradient taken with ``create_graph=True`` can be differentiated again.  Their records hand the
numba sweep over to Python once per call (not per element), and ``tg.compile`` replays them by
handing off to Python the same way.  ``grad_fn.name()`` answers torch's node names
(``LinalgInvExBackward0``, ...).  torch's top-level names (``tg.inverse``, ``tg.det``,
``tg.logdet``, ``tg.slogdet``, ``tg.cholesky``, ``tg.cross``, ``tg.svd``, ``tg.qr``,
``tg.pinverse``) are in :data:`TOP_LEVEL`, served by ``tapegrad.__getattr__``.

The package's modules, one job each: ``_common`` (argument checks, torch's errors),
``solvers``, ``determinants``, ``decompositions``, ``norms``, ``products``.

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

from . import decompositions, determinants, products, solvers
from ._common import LinAlgError
from .decompositions import cholesky, eigh, eigvalsh, qr, svd, svdvals
from .determinants import det, logdet, slogdet
from .norms import matrix_norm, norm, vector_norm
from .products import cross
from .solvers import inv, lstsq, pinv, solve

__all__ = ["LinAlgError", "inv", "solve", "det", "slogdet", "logdet", "cholesky", "vector_norm",
           "matrix_norm", "norm", "cross", "eigh", "eigvalsh", "svd", "svdvals", "qr", "pinv",
           "lstsq"]

# torch's top-level names for these (tg.inverse, tg.det, ...): tapegrad/__init__.py's
# __getattr__ reads this table
TOP_LEVEL = {"inverse": inv, "det": det, "logdet": logdet,
             "slogdet": determinants._slogdet_top, "cholesky": decompositions._cholesky_top,
             "cross": products._cross_top, "svd": decompositions._svd_top,
             "qr": decompositions._qr_top, "pinverse": solvers._pinverse_top}
