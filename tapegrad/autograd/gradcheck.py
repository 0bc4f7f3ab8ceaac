"""gradcheck and gradgradcheck with torch.autograd's signatures.  Being written (issue 18)."""

from ..gradcheck import gradcheck  # noqa: F401 (re-exported)


def gradgradcheck(*args, **kwargs):
    raise NotImplementedError("tapegrad.autograd.gradgradcheck is not implemented yet")
