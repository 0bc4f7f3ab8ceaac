"""``tapegrad.autograd.backward`` and ``grad``.  Being written (issue 18)."""


def backward(*args, **kwargs):
    raise NotImplementedError("tapegrad.autograd.backward is being written")


def grad(*args, **kwargs):
    raise NotImplementedError("tapegrad.autograd.grad is being written")
