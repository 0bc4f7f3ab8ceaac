"""A custom ``autograd.Function``'s records: an op whose backward is Python.

A Function call is recorded as a group of consecutive records of this op, one per (output,
pair of differentiable inputs): ``out`` an output's slot, ``a``/``b`` input slots, ``ip`` the
offset of ``[node, first record, n records]`` in the int pool (``node`` indexes the tape's list of
calls in ``tapegrad/autograd/function.py``).  Every output that receives a gradient is then the
output of a record the sweep reaches while an input needs one, so the sweep stops at the group's
topmost such record.

It stops there because this op's VJP is never in the op kernels' table: the sweep reports it
``MISSING`` (before touching the record, as for any op not compiled yet), and the engine, seeing
this opcode, runs the Function's backward in Python for the whole group, then resumes the sweep
below the group's first record.  A tape without Function records costs nothing more.  (The
kernels below exist only because every op has both; nothing calls them.)
"""

from ..kernels.jit import kernel
from .registry import defgraph, register


@kernel
def _function_fwd(y, a, b, I, F, ip, fp):  # (tg.compile refuses a tape holding a Function)
    pass


@kernel
def _function_vjp(g, a, b, y, ga, gb, need_a, need_b, I, F, ip, fp):  # (see the docstring)
    pass


FUNCTION = register("function", "FunctionBackward0", 2, None, _function_fwd, _function_vjp,
                    0, 0, saves=False)
#: the opcodes whose VJP is Python: ``kernels/optable.py`` never fills their table entry
PYTHON_CODES = frozenset({FUNCTION.code})


@defgraph(FUNCTION)
def _function_graph(g, a, b, y, r):
    # (never called: the Python sweep runs a Function's records itself, through
    # autograd.function.graph_call, since one call spans several records)
    raise NotImplementedError("a custom Function's records are swept by "
                              "tapegrad.autograd.function.graph_call, not by a graph rule")
