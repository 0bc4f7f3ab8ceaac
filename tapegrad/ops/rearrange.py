"""A gather by a flat map made from shapes alone (issue 19: ``repeat``, ``flip``, ``roll``,
``diagonal``, ``tril`` ... in tapegrad/shapes.py): the index op's kernels, under torch's
``RepeatBackward0``, keeping nothing.  The index op's node keeps its index tensor, as torch's
IndexBackward0 does, so a second backward through it is refused; torch's FlipBackward0,
RepeatBackward0 ... keep nothing, and a second backward through them is allowed."""

from .graphs import int_params, scatter_add
from .registry import defgraph, register
from .shape import _gather_fwd, _gather_vjp


def _np_take(a, flat_map):
    return a.reshape(-1)[flat_map]


REPEAT = register("repeat", "RepeatBackward0", 1, _np_take, _gather_fwd, _gather_vjp, 0)


@defgraph(REPEAT)
def _repeat_graph(g, a, b, y, r):
    return scatter_add(g, int_params(r, g.numel()), a.numel(), a.shape), None
