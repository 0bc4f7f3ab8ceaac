"""Custom autograd Functions (torch.autograd.Function).  Being written (issue 18)."""


class FunctionCtx:
    """The ``ctx`` a Function's forward and backward share."""


class Function:
    """An operation whose forward and backward are written by the user."""

    @classmethod
    def apply(cls, *args):
        raise NotImplementedError("tapegrad.autograd.Function is not implemented yet")


def once_differentiable(fn):
    return fn
