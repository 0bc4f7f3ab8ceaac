"""torch's top-level names for tg.linalg's functions (``tg.inverse``, ``tg.det``, ...), read by
``tapegrad.__getattr__``: a table from the name to the function, with torch's top-level
signature where it differs from torch.linalg's."""

from __future__ import annotations

from .decompositions import _cholesky_top, _qr_top, _svd_top
from .determinants import _slogdet_top, det, logdet
from .lu import _lu_solve_top, _lu_top, _lu_unpack_top
from .matrix_functions import _matrix_power_top, matrix_exp
from .products import _cross_top, _vander_top
from .solvers import _pinverse_top, inv
from .tensor_solvers import _orgqr_top
from .triangular import _cholesky_inverse_top, _cholesky_solve_top, _triangular_solve_top

TOP_LEVEL = {
    "inverse": inv, "det": det, "logdet": logdet, "slogdet": _slogdet_top,
    "cholesky": _cholesky_top, "cross": _cross_top, "svd": _svd_top, "qr": _qr_top,
    "pinverse": _pinverse_top, "matrix_power": _matrix_power_top, "matrix_exp": matrix_exp,
    "cholesky_solve": _cholesky_solve_top, "cholesky_inverse": _cholesky_inverse_top,
    "triangular_solve": _triangular_solve_top, "lu": _lu_top, "lu_unpack": _lu_unpack_top,
    "lu_solve": _lu_solve_top, "vander": _vander_top,
    "orgqr": _orgqr_top,
}
