"""``tapegrad.autograd.grad_mode``: torch.autograd.grad_mode's names."""

from ..grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]
